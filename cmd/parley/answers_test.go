package main

import (
	"strings"
	"testing"
	"time"
)

// TestSessionAnswerOfTheEndingTurnIsNotKept: in flows/card_limit.yaml an
// under-age date of birth (a session field) ends the conversation in the
// turn that gives it. Through the CLI and the real vault on disk, nothing
// of it is held afterwards: no field record, nothing to export.
func TestSessionAnswerOfTheEndingTurnIsNotKept(t *testing.T) {
	e := newEnv(t)
	now := time.Date(2026, 5, 5, 9, 0, 0, 0, time.UTC)
	r := e.must("hi\n6 May 2008\n", "chat", "--flow", "../../flows/card_limit.yaml", "--data", e.dir, "--key-file", e.key,
		"--user", canaryUser, "--now", now.Format(time.RFC3339))
	if !strings.Contains(r.stdout, "only adults") {
		t.Fatalf("chat did not reach the under-age end:\n%s", r.stdout)
	}
	if ex := e.export(e.dir, canaryUser, now); len(ex.Fields) != 0 {
		t.Errorf("after the conversation ended, export holds %q", fieldNames(ex))
	}
	st, err := e.openVault(e.dir, now).Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Fields != 0 {
		t.Errorf("the vault keeps %d field records after the conversation ended, want 0", st.Fields)
	}
}
