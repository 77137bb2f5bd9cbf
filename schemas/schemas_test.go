package schemas

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	s, err := Compile()
	if err != nil {
		t.Fatalf("Compile() error = %v", err)
	}
	if err := s.Validate(map[string]any{"parley": json.Number("1")}); err == nil {
		t.Errorf("Validate(flow without id, start, steps) = nil, want an error")
	}
}

// TestEveryPropertyHasDescription keeps editor hovers useful: a property
// without a description shows nothing to the flow author.
func TestEveryPropertyHasDescription(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(FlowJSON, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, v any)
	n := 0
	walk = func(path string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		if props, ok := m["properties"].(map[string]any); ok {
			for name, p := range props {
				n++
				pm, _ := p.(map[string]any)
				if d, _ := pm["description"].(string); strings.TrimSpace(d) == "" {
					t.Errorf("%s/properties/%s has no description", path, name)
				}
			}
		}
		if ap, ok := m["additionalProperties"].(map[string]any); ok {
			if _, ref := ap["$ref"]; !ref {
				if d, _ := ap["description"].(string); d == "" {
					t.Errorf("%s/additionalProperties has no description", path)
				}
			}
		}
		for k, c := range m {
			walk(path+"/"+k, c)
		}
	}
	walk("#", root)
	if n < 40 {
		t.Errorf("found %d properties, want at least 40 (did the walk break?)", n)
	}
}

func TestRemoteRefsRefused(t *testing.T) {
	src := []byte(`{"$ref": "https://example.com/other.json"}`)
	if _, err := compileURL(FlowURL, src); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("compile(schema with remote $ref) error = %v, want \"refused\"", err)
	}
}
