package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
	"github.com/parleyhq/parley/engine/vault"
)

// TestChatExportEraseOnPostgres runs the booking conversation with
// `parley chat --store postgres://…`, then `subject export` (the URL from
// PARLEY_STORE_URL) and `subject erase` on the same database, through the
// real command entry point. After the erasure nothing is left to export,
// and neither the database's raw files (after a CHECKPOINT) nor anything
// the commands printed holds the personal data.
func TestChatExportEraseOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	e := newEnv(t)
	stdin := strings.Join(bookingWithCanaries, "\n") + "\n"
	chat := e.must(stdin, "chat", "--flow", bookingFlow, "--store", url, "--key-file", e.key, "--user", canaryUser)
	if !strings.Contains(chat.stdout, "All set, "+canaryName) || !strings.Contains(chat.stdout, canaryEmail) {
		t.Fatalf("conversation did not complete:\n%s", chat.stdout)
	}
	if leaks := findLeaks(pgtest.Raw(t, url), []string{canaryUser}); len(leaks) != 0 {
		t.Errorf("the database holds the customer id in the clear: %v", leaks)
	}

	t.Setenv("PARLEY_STORE_URL", url)
	ex := e.must("", "subject", "export", "--key-file", e.key, "--user", canaryUser)
	var got session.Export
	if err := json.Unmarshal([]byte(ex.stdout), &got); err != nil {
		t.Fatalf("subject export printed no JSON: %v\n%s", err, ex.stdout)
	}
	if names := fieldNames(&got); names != "date,email,name" {
		t.Fatalf("export on PostgreSQL holds %q, want date,email,name", names)
	}
	if leaks := findLeaks([]byte(ex.stdout), []string{canaryName, canaryEmail}); len(leaks) < 2 {
		t.Fatalf("export does not show the stored values (found %v)", leaks)
	}

	e.must("", "subject", "erase", "--store", url, "--key-file", e.key, "--user", canaryUser)
	after := e.must("", "subject", "export", "--store", url, "--key-file", e.key, "--user", canaryUser)
	got = session.Export{}
	if err := json.Unmarshal([]byte(after.stdout), &got); err != nil || len(got.Fields) != 0 || len(got.Consents) != 0 {
		t.Errorf("export after erase = %+v, %v; want nothing", got, err)
	}
	e.must("", "audit", "verify", "--store", url, "--key-file", e.key)
	e.must("", "purge", "--store", url, "--key-file", e.key)
	if r := e.parley("", "backup", "--store", url, "--key-file", e.key, "--out", filepath.Join(t.TempDir(), "b.pvb")); r.code == 0 || !strings.Contains(r.stderr, "pg_dump") {
		t.Errorf("backup --store: exit %d, stderr %q; want a refusal that points at pg_dump", r.code, r.stderr)
	}
	if leaks := findLeaks(pgtest.Raw(t, url), canaries); len(leaks) != 0 {
		t.Errorf("after erase the database files hold: %v", leaks)
	}
	e.scanLogs(canaries)
}

// TestStoreFlagErrorsSayWhatToDo: a --store that is not PostgreSQL, or one
// without a configured master key, is refused in plain words, and backup
// and restore point at the database's own tools.
func TestStoreFlagErrorsSayWhatToDo(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"subject", "export", "--store", "mysql://db/parley", "--key-file", e.key, "--user", canaryUser}, "takes a PostgreSQL URL"},
		{[]string{"subject", "export", "--store", "postgres://127.0.0.1:1/parley", "--user", canaryUser}, "set the master key with PARLEY_MASTER_KEY or --key-file"},
		{[]string{"restore", "--store", "postgres://127.0.0.1:1/parley", "--key-file", e.key, "--in", "x"}, "pg_restore"},
	} {
		r := e.parley("", tc.args...)
		if r.code == 0 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("parley %s: exit %d, stderr %q; want a failure saying %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
}

// TestServeOnPostgres runs `parley serve` with PARLEY_STORE_URL: a signed
// WhatsApp booking conversation completes with its confirmation, the
// conversation is in the database (`subject export --store` sees it) and
// nothing of the vault is written to --data.
func TestServeOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	g := &killGraph{got: map[string][]string{}, changed: make(chan struct{})}
	gs := httptest.NewServer(g)
	defer gs.Close()
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	p := startServe(t, flows, data, gs.URL, "PARLEY_STORE_URL="+url)
	defer func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("server log:\n%s", p.output())
		}
	}()
	const user = "15550007777"
	deadline := time.Now().Add(60 * time.Second)
	want := 0
	for k, turn := range []struct {
		text    string
		replies int
	}{{"hi", 2}, {"YES", 1}, {"Pat Postgres", 1}, {"pat@example.com", 1}, {"2", 1}} {
		body := whatsapptest.TextWebhook(killPNID, user, fmt.Sprintf("wamid.PG.%d", k), turn.text, time.Now())
		if st := p.postWebhook(t, body); st != http.StatusOK {
			t.Fatalf("webhook %d answered %d", k, st)
		}
		want += turn.replies
		if !g.waitFor(deadline, func() bool { return len(g.replies(user)) >= want }) {
			t.Fatalf("turn %d (%q): %d replies, want %d: %q", k+1, turn.text, len(g.replies(user)), want, g.replies(user))
		}
	}
	if r := g.replies(user); !strings.Contains(r[len(r)-1], "Pat Postgres") {
		t.Errorf("last reply %q, want the confirmation with the name", r[len(r)-1])
	}
	if exists, err := vault.Exists(data); err != nil || exists {
		t.Errorf("vault.Exists(--data) = %v, %v; want no vault on disk with --store", exists, err)
	}

	e := newEnv(t)
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	ex := e.must("", "subject", "export", "--store", url, "--user", "whatsapp:"+user)
	var got session.Export
	if err := json.Unmarshal([]byte(ex.stdout), &got); err != nil {
		t.Fatalf("subject export printed no JSON: %v\n%s", err, ex.stdout)
	}
	if names := fieldNames(&got); names != "date,email,name" {
		t.Errorf("export of the served conversation holds %q, want date,email,name", names)
	}
}
