package diag

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMaskSecrets(t *testing.T) {
	tests := []struct{ in, want string }{
		{"url: https://admin:hunter2@crm.example.com/x", "url: https://*************@crm.example.com/x"},
		{"https://example.com/p?token=abc123&lang=en", "https://example.com/p?token=******&lang=en"},
		{"https://example.com/p?lang=en&API_KEY=k", "https://example.com/p?lang=en&API_KEY=*"},
		{"    password: hunter2", "    password: *******"},
		{`  - "api_key": 'k-1'`, `  - "api_key": *****`},
		{"  crm: { url: x, token: abc, purpose: p }", "  crm: { url: x, token: ***, purpose: p }"},
		{`say: "Debug: Bearer abcdefghijklmnopqrstuvwxyz"`, `say: "Debug: *********************************"`},
		{"key sk_live_abcdefghij12 here", "key ******************** here"},
		{"secret_env: sk_live_abcdefghij12", "secret_env: ********************"},
		// Nothing secret: unchanged.
		{"url: https://crm.example.com/leads?lang=en", "url: https://crm.example.com/leads?lang=en"},
		{"    say: Your token is ready, Ada", "    say: Your token is ready, Ada"},
		{`"password" looks like a secret written in the flow`, `"password" looks like a secret written in the flow`},
		{"  description: to book your appointment", "  description: to book your appointment"},
		{"", ""},
	}
	for _, tc := range tests {
		got := MaskSecrets(tc.in)
		if got != tc.want {
			t.Errorf("MaskSecrets(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(tc.in) {
			t.Errorf("MaskSecrets(%q) changed the length: carets would no longer line up", tc.in)
		}
	}
}

// TestRenderersMaskSecrets: a secret in a diagnostic's message, suggestion
// or note, or in the quoted source line, never reaches the text or JSON
// output.
func TestRenderersMaskSecrets(t *testing.T) {
	const secret = "hunter2xyz"
	ds := Diagnostics{{
		Severity: Error, Rule: SecretInFlow, Subject: Range{Filename: "f.yaml", Start: Pos{Line: 2, Column: 5}, End: Pos{Line: 2, Column: 13}},
		Summary: "seen in https://u:" + secret + "@h/", Suggestion: "https://h/?token=" + secret, Detail: "password: " + secret,
	}}
	src := func(string) []byte { return []byte("a: 1\n    password: " + secret + "\n") }
	var text, js, sarif, gh strings.Builder
	if err := WriteText(&text, ds, src); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, []string{"f.yaml"}, ds); err != nil {
		t.Fatal(err)
	}
	if err := WriteSARIF(&sarif, SARIFTool{}, []string{"f.yaml"}, ds); err != nil {
		t.Fatal(err)
	}
	if err := WriteGitHub(&gh, ds); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "password: **********") {
		t.Errorf("text output does not quote the masked source line:\n%s", text.String())
	}
	for name, out := range map[string]string{"text": text.String(), "json": js.String(), "sarif": sarif.String(), "github": gh.String(), "Error()": ds[0].Error()} {
		if strings.Contains(out, secret) {
			t.Errorf("%s output repeats the secret:\n%s", name, out)
		}
	}
}
