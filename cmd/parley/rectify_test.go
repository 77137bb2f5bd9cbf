package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// exportValues returns field → value of the subject's export, read through
// the CLI from the vault on disk.
func (e *env) exportValues(user string) map[string]any {
	e.t.Helper()
	out := map[string]any{}
	for _, f := range e.export(e.dir, user, time.Now()).Fields {
		out[f.Field] = f.Value
	}
	return out
}

// TestRectifyChecksTheValueLikeChat: parley subject rectify refuses a value
// that fails the field's own type, max_length, min/max or options (exit 1,
// the reason in plain words, no value echoed) and changes nothing, proved
// by reading the vault back; a valid value is stored normalised exactly as
// the same answer in chat would be.
func TestRectifyChecksTheValueLikeChat(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	before := e.exportValues(canaryUser)
	if before["name"] != canaryName || before["email"] != canaryEmail || before["date"] != "tue" {
		t.Fatalf("export before rectify = %v", before)
	}
	rectify := func(field, value string) cliResult {
		return e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser,
			"--flows", bookingFlow, "--field", field, "--value", value)
	}
	tooLong := "Zq" + strings.Repeat("x", 79) // 81 characters; max_length is 80
	for _, tc := range []struct{ field, value, why string }{
		{"name", tooLong, `"name" takes text of 1 to 80 characters`},
		{"name", "   ", `"name" takes text of 1 to 80 characters`},
		{"email", "canary-not-an-email", `"email" takes an email address`},
		{"email", "canary@@example.org", `"email" takes an email address`},
		{"date", "fri-canary", `"date" takes one of its options: mon, tue, wed`},
		{"date", "4", `"date" takes one of its options: mon, tue, wed`},
	} {
		r := rectify(tc.field, tc.value)
		if r.code != exitFindings || !strings.Contains(r.stderr, tc.why) || !strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("rectify %s=%q: exit %d, stderr %q; want exit %d saying %s and that nothing was changed", tc.field, tc.value, r.code, r.stderr, exitFindings, tc.why)
		}
		if strings.TrimSpace(tc.value) != "" && strings.Contains(r.stderr+r.stdout, tc.value) {
			t.Errorf("rectify %s: the output repeats the refused value:\n%s", tc.field, r.stderr)
		}
		if after := e.exportValues(canaryUser); after["name"] != before["name"] || after["email"] != before["email"] || after["date"] != before["date"] {
			t.Errorf("after the refused rectify %s=%q the vault holds %v, want %v", tc.field, tc.value, after, before)
		}
	}

	// Valid values are stored as chat would store them.
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", bookingFlow, "--field", "email", "--value", "Zq.New@Example.ORG")
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", bookingFlow, "--field", "date", "--value", "Wed 9 Dec, 11:30")
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", bookingFlow, "--field", "name", "--value", "  Zephyrine Q.  ")
	if got := e.exportValues(canaryUser); got["email"] != "Zq.New@example.org" || got["date"] != "wed" || got["name"] != "Zephyrine Q." {
		t.Errorf("after valid rectifies the vault holds %v; want email Zq.New@example.org, date wed, name trimmed", got)
	}

	// Without the flow that collected the field the value cannot be
	// checked: refused, nothing changed.
	other := filepath.Join(t.TempDir(), "other.yaml")
	src, err := os.ReadFile(bookingFlow)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte(strings.Replace(string(src), "id: booking", "id: other", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	r := e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", other, "--field", "date", "--value", "mon")
	if r.code != exitFailure || !strings.Contains(r.stderr, `collected by flow "booking"`) || !strings.Contains(r.stderr, "point --flows at") {
		t.Errorf("rectify without the collecting flow: exit %d, stderr %q; want exit %d naming the flow and --flows", r.code, r.stderr, exitFailure)
	}
	r = e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", filepath.Join(t.TempDir(), "nowhere"), "--field", "date", "--value", "mon")
	if r.code != exitFailure || !strings.Contains(r.stderr, "point --flows at") {
		t.Errorf("rectify with an unreadable --flows: exit %d, stderr %q; want exit %d and how to point --flows", r.code, r.stderr, exitFailure)
	}
	if got := e.exportValues(canaryUser); got["date"] != "wed" {
		t.Errorf("a rectify that could not be checked changed date to %v", got["date"])
	}
	e.scanLogs(canaries)
}

// TestRectifyNumberKeepsMinAndMax: a number field's min and max hold for
// rectification as for the answer in chat.
func TestRectifyNumberKeepsMinAndMax(t *testing.T) {
	e := newEnv(t)
	flowFile := filepath.Join(t.TempDir(), "party.yaml")
	if err := os.WriteFile(flowFile, []byte(`parley: 1
id: party
version: 1
languages: [en]
controller: { name: Acme, contact: dpo@acme.example, privacy_url: https://acme.example/privacy }
purposes:
  booking: { basis: contract, description: to book your table }
fields:
  guests: { type: number, purpose: booking, retention: 30d, min: 1, max: 12 }
start: ask
steps:
  ask:
    ask: How many guests?
    save: guests
  done:
    say: "Table for {{ guests }}."
    end: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	e.must("hi\n4\n", "chat", "--flow", flowFile, "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	for _, bad := range []string{"13", "0", "many"} {
		r := e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", flowFile, "--field", "guests", "--value", bad)
		if r.code != exitFindings || !strings.Contains(r.stderr, `"guests" takes a number between 1 and 12`) {
			t.Errorf("rectify guests=%s: exit %d, stderr %q; want exit %d and the range", bad, r.code, r.stderr, exitFindings)
		}
	}
	if got := e.exportValues(canaryUser); got["guests"] != 4.0 {
		t.Errorf("guests after refused rectifies = %v, want 4", got["guests"])
	}
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--flows", flowFile, "--field", "guests", "--value", "12")
	if got := e.exportValues(canaryUser); got["guests"] != 12.0 {
		t.Errorf("guests after rectify to 12 = %v, want 12", got["guests"])
	}
}
