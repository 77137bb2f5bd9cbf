package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v5"
)

// sarifSchema compiles the vendored SARIF 2.1.0 schema (see
// testdata/sarif/README.md). Nothing is fetched from the network.
func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	src, err := os.ReadFile("testdata/sarif/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	const url = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
	c := jsonschema.NewCompiler()
	c.Draft = jsonschema.Draft4
	c.AssertFormat = true
	c.LoadURL = func(u string) (io.ReadCloser, error) { return nil, fmt.Errorf("no network in tests: %s", u) }
	if err := c.AddResource(url, bytes.NewReader(src)); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestLintSARIFMatchesSchema runs `parley lint --format sarif` through the
// real entry point on the shipped flows and on broken ones, and validates
// both logs against the SARIF 2.1.0 schema.
func TestLintSARIFMatchesSchema(t *testing.T) {
	schema := sarifSchema(t)
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken dir", "ünïcode.yaml")
	if err := os.MkdirAll(filepath.Dir(broken), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, []byte("parley: 1\nid: b\nversion: 1\nstart: a\nsteps:\n  a:\n    sy: hi\n  b:\n\tsay: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		results  bool
	}{
		{"shipped flows", []string{"lint", "../../flows", "--format", "sarif"}, exitOK, false},
		{"broken flow", []string{"lint", "--format", "sarif", broken}, exitFindings, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, strings.NewReader(""), &stdout, &stderr); code != tc.wantCode {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.wantCode, stderr.String())
			}
			var doc any
			if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Fatalf("SARIF output does not match the 2.1.0 schema: %#v\n%s", err, stdout.String())
			}
			if got := strings.Contains(stdout.String(), `"ruleId"`); got != tc.results {
				t.Errorf("results present = %v, want %v", got, tc.results)
			}
		})
	}
}

// TestSARIFSchemaRejectsBrokenLogs proves the schema check can fail: a log
// with a result level SARIF does not know is refused.
func TestSARIFSchemaRejectsBrokenLogs(t *testing.T) {
	schema := sarifSchema(t)
	var bad any
	if err := json.Unmarshal([]byte(`{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"parley"}},"results":[{"ruleId":"X","level":"fatal","message":{"text":"m"}}]}]}`), &bad); err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(bad); err == nil {
		t.Error("the schema accepted a result with level \"fatal\"")
	}
}
