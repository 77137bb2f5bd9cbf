package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemaPrintsEachSchema: an author outside this repository gets the
// schema of flows, of flow tests and of the policy file from the binary,
// byte for byte the files the repository's modelines point at.
func TestSchemaPrintsEachSchema(t *testing.T) {
	for _, tc := range []struct {
		args []string
		file string
	}{{nil, "flow.schema.json"}, {[]string{"--test"}, "flowtest.schema.json"}, {[]string{"--policy"}, "policy.schema.json"}} {
		want, err := os.ReadFile(filepath.Join("..", "..", "schemas", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := run(append([]string{"schema"}, tc.args...), strings.NewReader(""), &out, &errb); code != exitOK || !bytes.Equal(out.Bytes(), want) {
			t.Errorf("parley schema %v = %d (%d bytes, stderr %q), want %d and schemas/%s", tc.args, code, out.Len(), errb.String(), exitOK, tc.file)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"schema", "--test", "--policy"}, strings.NewReader(""), &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "pick one") {
		t.Errorf("parley schema --test --policy = %d %q, want %d saying to pick one", code, errb.String(), exitUsage)
	}
}
