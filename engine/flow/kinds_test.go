package flow_test

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/flow"
)

// TestKindsTableInDocs: the "Which keys go together" table of
// docs/language.md is the rendering of flow.StepKinds.
func TestKindsTableInDocs(t *testing.T) {
	b, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, after, ok := strings.Cut(doc, "## Which keys go together\n\n")
	if !ok {
		t.Fatal("docs/language.md has no section \"Which keys go together\"")
	}
	want := flow.KindsTable()
	if !strings.HasPrefix(after, want) {
		t.Errorf("docs/language.md \"Which keys go together\" differs from flow.StepKinds; replace the table with:\n%s", want)
	}
	for _, k := range flow.StepKinds {
		if !strings.Contains(doc, "### `"+k.Name+"`") {
			t.Errorf("docs/language.md has no section for the step kind %q", k.Name)
		}
	}
}

// TestKindsInSchema: every kind and every key of the table is a step
// property of the schema, and every step property is a kind, a key of one,
// next or end.
func TestKindsInSchema(t *testing.T) {
	b, err := os.ReadFile("../../schemas/flow.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Defs map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	props := s.Defs["step"].Properties
	if len(props) == 0 {
		t.Fatal("schema has no step properties")
	}
	known := []string{"next", "end"}
	for _, k := range flow.StepKinds {
		known = append(known, k.Name)
		known = append(known, k.Keys...)
	}
	for _, key := range known {
		if _, ok := props[key]; !ok {
			t.Errorf("schemas/flow.schema.json: step has no property %q of flow.StepKinds", key)
		}
	}
	for key := range props {
		if !slices.Contains(known, key) {
			t.Errorf("schemas/flow.schema.json: step property %q is in no kind of flow.StepKinds", key)
		}
	}
}

func TestKindsOfPrecedence(t *testing.T) {
	got := flow.KindsOf([]string{"next", "ask", "say", "options"})
	if !slices.Equal(got, []string{"say", "ask"}) {
		t.Errorf("KindsOf = %v, want say before ask as in StepKinds", got)
	}
	s := &flow.Step{Kinds: got}
	if s.Kind() != flow.KindSay {
		t.Errorf("Kind = %q", s.Kind())
	}
	if (&flow.Step{}).Kind() != flow.KindGoto {
		t.Error("a step without a kind key is not a goto")
	}
}
