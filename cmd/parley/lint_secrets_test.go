package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secretCanaries are credentials a careless author wrote into a flow.
var secretCanaries = []string{
	"CanaryTok1xyz",                    // a query token
	"CanaryPw2xyz",                     // the password in a URL
	"CanaryKey3xyz",                    // an api_key query parameter
	"sk_live_Canary4abcdefghij",        // a Stripe key put where a variable name belongs
	"CanaryPw5xyz",                     // password: written as a key
	"CanarySig6xyz",                    // a signature in an http URL
	"Bearer CanaryBearer7abcdefghijkl", // a bearer token in a message
}

// TestLintNeverRepeatsASecret lints flows holding canary secrets in every
// place the checks look (URLs, query strings, secret_env, a password key, a
// message) and scans the text and JSON output, messages, suggestions,
// notes and the quoted source lines, for each canary in plain, hex and
// base64 form. Controls: the findings are reported, and PARLEY-302 still
// suggests the https address, without the credentials.
func TestLintNeverRepeatsASecret(t *testing.T) {
	dir := t.TempDir()
	head := `parley: 1
version: 1
languages: [en]
controller:
  name: Example Ltd
  contact: privacy@example.com
  privacy_url: https://example.com/privacy?token=CanaryTok1xyz
purposes:
  booking: { basis: contract, description: to book your appointment }
fields:
  name: { type: text, purpose: booking, retention: 30d }
`
	// Load errors stop the later checks, so the secrets that load finds
	// and those that validate finds are in two files.
	files := map[string]string{
		"load.yaml": head + `id: load
integrations:
  crm:
    url: https://crm.example.com/leads
    purpose: booking
    sends: [name]
    secret_env: sk_live_Canary4abcdefghij
    password: CanaryPw5xyz
start: push
steps:
  push:
    call: crm
`,
		"validate.yaml": head + `id: validate
integrations:
  crm:
    url: http://admin:CanaryPw2xyz@crm.example.com/leads?api_key=CanaryKey3xyz
    purpose: booking
    sends: [name]
  crm2: { url: "http://crm.example.com/x?sig=CanarySig6xyz&v=2", purpose: booking, sends: [name] }
start: push
steps:
  push:
    call: crm
  push2:
    call: crm2
  done:
    say: "Debug: Bearer CanaryBearer7abcdefghijkl"
    end: true
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e := newEnv(t)
	var all strings.Builder
	for _, format := range []string{"text", "json"} {
		r := e.parley("", "lint", "--format", format, dir)
		if r.code != exitFindings {
			t.Fatalf("lint --format %s: exit %d, want %d\n%s%s", format, r.code, exitFindings, r.stdout, r.stderr)
		}
		out := r.stdout + r.stderr
		all.WriteString(out)
		if leaks := findLeaks([]byte(out), append(secretCanaries, "CanaryBearer7abcdefghijkl")); len(leaks) > 0 {
			t.Errorf("lint --format %s repeats secrets: %s\n%s", format, strings.Join(leaks, ", "), out)
		}
	}
	for _, want := range []string{"PARLEY-304", "PARLEY-302", `https://crm.example.com/leads`, `https://crm.example.com/x?v=2`, "secret_env"} {
		if !strings.Contains(all.String(), want) {
			t.Errorf("lint output lacks %q:\n%s", want, all.String())
		}
	}
	if n := strings.Count(all.String(), "PARLEY-304"); n < 8 {
		t.Errorf("lint reported PARLEY-304 %d times over both formats, want at least 8 (4 per format):\n%s", n, all.String())
	}
}
