package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// jsonShaped decodes YAML into the JSON-shaped values the validator takes.
func jsonShaped(t *testing.T, src []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(src, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFlowTestSchemaAcceptsShippedTests: the editor schema agrees with the
// tests that ship, and refuses the mistakes parley test refuses.
func TestFlowTestSchemaAcceptsShippedTests(t *testing.T) {
	s, err := CompileFlowTest()
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../flows/*_test.yaml")
	if len(files) == 0 {
		t.Fatal("no flow tests in ../flows")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(jsonShaped(t, src)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for name, bad := range map[string]string{
		"typo":              "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - sned: hi\n",
		"two things":        "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - send: hi\n        after: 1d\n",
		"bad jump":          "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - after: a month\n",
		"bad consent":       "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - vault: { consents: { booking: yes } }\n",
		"replies on a jump": "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - after: 1d\n        replies: []\n",
		"no flow":           "tests: []\n",
	} {
		if err := s.Validate(jsonShaped(t, []byte(bad))); err == nil {
			t.Errorf("%s: the schema accepts %q", name, bad)
		}
	}
}
