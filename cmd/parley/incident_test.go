//go:build linux

package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// cli runs one parley command in-process and returns exit code, stdout and
// stderr.
func runParley(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// converseOver posts texts from a customer to a serve process, waiting for
// the given number of replies after each.
func converseOver(t *testing.T, p *serverProc, g *killGraph, user string, turns ...string) {
	t.Helper()
	replies := map[string]int{"hi": 2, "YES": 1, "NO": 1, "Ada": 1, "ada@example.com": 1, "2": 1}
	want := len(g.replies(user))
	for i, text := range turns {
		body := whatsapptest.TextWebhook(killPNID, user, fmt.Sprintf("wamid.INC.%s.%d", user[len(user)-2:], i), text, time.Now())
		if st := p.postWebhook(t, body); st != http.StatusOK {
			t.Fatalf("webhook answered %d", st)
		}
		want += replies[text]
		if !g.waitFor(time.Now().Add(30*time.Second), func() bool { return len(g.replies(user)) >= want }) {
			t.Fatalf("customer %s: %d replies after %q, want %d:\n%s", user[len(user)-2:], len(g.replies(user)), text, want, p.output())
		}
	}
}

// stopServe stops a serve process gracefully (its outbox is flushed).
func stopServe(t *testing.T, p *serverProc) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		t.Fatalf("parley serve did not stop within 30s of SIGTERM")
	}
}

// templatesSent returns the customers that received the named template.
func templatesSent(g *killGraph, name string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var to []string
	for user, texts := range g.got {
		for _, tx := range texts {
			if strings.HasPrefix(tx, "template:"+name+"[") {
				to = append(to, user)
			}
		}
	}
	slices.Sort(to)
	return to
}

// TestIncidentNotifyReachesExactlyTheAffected: over a real parley serve
// with the fake Graph API, four WhatsApp customers: Ann booked (fields and
// a consent), Bob declined (a consent record only), Dan only said hi (a
// conversation state), Cat booked and was then erased. An incident on
// fields and consents of purpose booking concerns Ann and Bob; notify
// queues the template for them, the restarted server sends it to exactly
// them, once, and a second notify is refused; the audit log has the count.
// The numbers are held sealed to the address key, so the master-key
// attacker reads none of them an hour later.
func TestIncidentNotifyReachesExactlyTheAffected(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	const ann, bob, cat, dan = "15550004401", "15550004402", "15550004403", "15550004404"
	dir := t.TempDir()
	data, keyFile := filepath.Join(dir, "data"), filepath.Join(dir, "address.key")
	pub := addressKeygen(t, keyFile)
	g, graphURL, flows := newKillGraph(t)
	p := startServe(t, flows, data, graphURL, "PARLEY_ADDRESS_KEY="+pub)
	defer func() { p.cmd.Process.Kill(); <-p.exited }()
	booking := []string{"hi", "YES", "Ada", "ada@example.com", "2"}
	converseOver(t, p, g, ann, booking...)
	converseOver(t, p, g, bob, "hi", "NO")
	converseOver(t, p, g, cat, booking...)
	converseOver(t, p, g, dan, "hi")
	stopServe(t, p)
	if code, _, errs := runParley("subject", "erase", "--data", data, "--user", "whatsapp:"+cat); code != exitOK {
		t.Fatalf("subject erase: exit %d: %s", code, errs)
	}

	code, out, errs := runParley("incident", "add", "--data", data, "--flows", flows, "--what", "backup disk lost",
		"--kinds", "fields,consents", "--purposes", "booking", "--detected", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code != exitOK || !strings.Contains(out, "2 customers estimated") {
		t.Fatalf("incident add: exit %d, stdout %q, stderr %q; want 2 customers estimated (Ann and Bob)", code, out, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	code, out, _ = runParley("incident", "notify", id, "--data", data, "--template", "breach_notice", "--language", "en", "--dry-run")
	if code != exitOK || !strings.Contains(out, "concerns 2 customers; 2 can be reached") {
		t.Fatalf("notify --dry-run: exit %d, %q", code, out)
	}
	// A wrong private key opens no number.
	other := filepath.Join(dir, "other.key")
	runParley("incident", "keygen", "--out", other)
	if code, _, errs := runParley("incident", "notify", id, "--data", data, "--template", "breach_notice", "--language", "en", "--address-key", other); code != exitUsage || !strings.Contains(errs, "not the private half") {
		t.Fatalf("notify with another key: exit %d, %q", code, errs)
	}
	code, out, errs = runParley("incident", "notify", id, "--data", data, "--template", "breach_notice", "--language", "en", "--address-key", keyFile)
	if code != exitOK || !strings.Contains(out, "2 of 2 customers queued") {
		t.Fatalf("notify: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if len(templatesSent(g, "breach_notice")) != 0 {
		t.Fatal("a template reached the Graph API before parley serve ran")
	}

	p = startServe(t, flows, data, graphURL, "PARLEY_ADDRESS_KEY="+pub)
	if !g.waitFor(time.Now().Add(30*time.Second), func() bool { return len(templatesSent(g, "breach_notice")) >= 2 }) {
		t.Fatalf("the notification did not reach Ann and Bob:\n%s", p.output())
	}
	stopServe(t, p)
	if got, want := templatesSent(g, "breach_notice"), []string{ann, bob}; !slices.Equal(got, want) {
		t.Errorf("the template went to %v, want exactly %v (not the erased customer, not the one holding only a conversation)", got, want)
	}
	if code, _, errs := runParley("incident", "notify", id, "--data", data, "--template", "breach_notice", "--language", "en", "--address-key", keyFile); code != exitUsage || !strings.Contains(errs, "was notified on") {
		t.Errorf("a second notify: exit %d, %q; want it refused", code, errs)
	}
	code, out, _ = runParley("audit", "show", "--data", data)
	if code != exitOK || !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool {
		return strings.Contains(l, "incident.notify:ok ") && strings.Contains(l, "incident="+id) && strings.Contains(l, " queued=2 ")
	}) {
		t.Errorf("the audit log does not record the notification with its count:\n%s", out)
	}
	code, out, _ = runParley("incident", "list", "--data", data)
	if code != exitOK || !strings.Contains(out, id) || !strings.Contains(out, "2 customers,") {
		t.Errorf("incident list does not show the notification:\n%s", out)
	}

	// An hour later no customer's number is readable by someone holding
	// the data directory and the master key: the held numbers are sealed
	// to the address key, whose private half is not on the server.
	r := attackAnHourLater(t, data)
	if !r.Contains([]byte("ada@example.com")) {
		t.Fatal("control: the attacker cannot read Ann's saved email, so the check below proves nothing")
	}
	if leaks := findLeaks(bytes.Join(r.Plaintext, []byte("\n")), []string{ann, bob, cat, dan}); len(leaks) > 0 {
		t.Errorf("an hour after the notification the master-key attacker reads %v", leaks)
	}
	if b, err := os.ReadFile(keyFile); err != nil || !strings.Contains(string(b), "=") {
		t.Fatalf("the private key file is unreadable: %v", err)
	}
}

// checkIncidentGolden compares out with testdata/incident/name (go test
// ./cmd/parley -run IncidentGolden -update rewrites it).
func checkIncidentGolden(t *testing.T, name, out string) {
	t.Helper()
	golden := filepath.Join("testdata", "incident", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/parley -run IncidentGolden -update)", err)
	}
	if string(want) != out {
		t.Errorf("output differs from %s (-update rewrites it):\n%s", golden, out)
	}
}

// TestIncidentGoldenAddAndReport: incident add and incident report on a
// vault where one customer booked through parley chat. The report (art.
// 33 draft with the deadline 72 hours after detection, the controller of
// flows/booking.yaml, and the art. 34 message in English and Italian) is
// golden-tested; it names no customer. show carries the same facts, list
// names the incident, and an unknown id or kind is refused in plain words.
func TestIncidentGoldenAddAndReport(t *testing.T) {
	dir := t.TempDir()
	data, flows := filepath.Join(dir, "data"), filepath.Join(dir, "flows")
	if err := os.MkdirAll(flows, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../flows/booking.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flows, "booking.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	var out, errb bytes.Buffer
	if code := run([]string{"chat", "--flow", filepath.Join(flows, "booking.yaml"), "--data", data, "--user", "whatsapp:15550004501"},
		strings.NewReader("hi\nYES\nAda Canary\nada.canary@example.com\n2\n"), &out, &errb); code != exitOK {
		t.Fatalf("chat: exit %d: %s", code, errb.String())
	}
	code, addOut, errs := runParley("incident", "add", "--data", data, "--flows", flows, "--what", "a laptop holding a backup was stolen",
		"--kinds", "fields,consents", "--purposes", "booking", "--detected", "2026-11-28T09:30:00Z")
	if code != exitOK {
		t.Fatalf("incident add: exit %d: %s", code, errs)
	}
	checkIncidentGolden(t, "add.golden", addOut)
	code, report, errs := runParley("incident", "report", "2026-11-28-1", "--data", data, "--flows", flows, "--now", "2026-11-29T10:00:00Z")
	if code != exitOK {
		t.Fatalf("incident report: exit %d: %s", code, errs)
	}
	checkIncidentGolden(t, "report.golden", report)
	for _, pd := range []string{"Ada Canary", "ada.canary@example.com", "15550004501"} {
		if strings.Contains(report, pd) || strings.Contains(addOut, pd) {
			t.Errorf("the report names a customer's data %q", pd)
		}
	}
	// Past the deadline the draft says the delay needs its reasons.
	if _, late, _ := runParley("incident", "report", "2026-11-28-1", "--data", data, "--flows", flows, "--now", "2026-12-02T10:00:00Z"); !strings.Contains(late, "the deadline passed 24 hours ago") {
		t.Errorf("a late report does not say the deadline passed:\n%s", late)
	}
	code, show, _ := runParley("incident", "show", "2026-11-28-1", "--data", data)
	if code != exitOK || !strings.Contains(show, `"authority_deadline": "2026-12-01T09:30:00Z"`) || !strings.Contains(show, `"estimated_subjects": 1`) {
		t.Errorf("incident show:\n%s", show)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"show", "2026-01-01-9"}, `no incident "2026-01-01-9"`},
		{[]string{"add", "--what", "x", "--kinds", "files"}, `unknown record kind "files"`},
		{[]string{"add", "--kinds", "fields"}, "say what happened with --what"},
		{[]string{"add", "--what", "x", "--kinds", "fields", "--purposes", "marketing", "--flows", flows}, `declares the purpose "marketing"`},
		{[]string{"notify", "2026-11-28-1", "--template", "Breach Notice", "--language", "en"}, "template's name"},
		{[]string{"notify", "2026-11-28-1", "--template", "breach_notice", "--language", "en"}, "--address-key"},
		{[]string{"frobnicate"}, `unknown action "frobnicate"`},
	} {
		code, _, errs := runParley(append(append([]string{"incident"}, tc.args...), "--data", data)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("incident %v: exit %d, %q; want exit 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestIncidentOnPostgres: the incident commands work on --store: add counts
// the customer a chat left, list and report find it, a dry run counts who
// can be reached (a chat holds no number), and the database's raw files
// hold the incident's text only sealed.
func TestIncidentOnPostgres(t *testing.T) {
	url := pgtest.URL(t)
	e := newEnv(t)
	e.must(strings.Join(bookingWithCanaries, "\n")+"\n", "chat", "--flow", bookingFlow, "--store", url, "--key-file", e.key, "--user", canaryUser)
	const what = "incident-text-canary-Pq4"
	add := e.must("", "incident", "add", "--store", url, "--key-file", e.key, "--what", what, "--kinds", "fields", "--detected", "2026-11-28T09:30:00Z")
	if !strings.Contains(add.stdout, "incident 2026-11-28-1 recorded: 1 customers estimated") {
		t.Fatalf("incident add on PostgreSQL: %q", add.stdout)
	}
	if l := e.must("", "incident", "list", "--store", url, "--key-file", e.key); !strings.Contains(l.stdout, "2026-11-28-1") {
		t.Errorf("incident list: %q", l.stdout)
	}
	if r := e.must("", "incident", "report", "2026-11-28-1", "--store", url, "--key-file", e.key, "--flows", filepath.Dir(bookingFlow)); !strings.Contains(r.stdout, "What happened: "+what) {
		t.Errorf("incident report: %q", r.stdout)
	}
	dry := e.must("", "incident", "notify", "2026-11-28-1", "--store", url, "--key-file", e.key, "--template", "breach_notice", "--language", "en", "--dry-run")
	if !strings.Contains(dry.stdout, "concerns 1 customers; 0 can be reached") {
		t.Errorf("notify --dry-run: %q", dry.stdout)
	}
	if leaks := findLeaks(pgtest.Raw(t, url), []string{what}); len(leaks) != 0 {
		t.Errorf("the database holds the incident in the clear: %v", leaks)
	}
}

// TestIncidentNotifyReachesTheRunningServerOnPostgres: on PostgreSQL the
// DPO runs parley incident notify while parley serve keeps running: the
// server sends the notification without a restart, to the affected
// customer only, once.
func TestIncidentNotifyReachesTheRunningServerOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server process; skipped with -short")
	}
	url := pgtest.URL(t)
	const ann, dan = "15550004501", "15550004504"
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "address.key")
	pub := addressKeygen(t, keyFile)
	g, graphURL, flows := newKillGraph(t)
	p := startServe(t, flows, t.TempDir(), graphURL, "PARLEY_ADDRESS_KEY="+pub, "PARLEY_STORE_URL="+url)
	defer func() { p.cmd.Process.Kill(); <-p.exited }()
	converseOver(t, p, g, ann, "hi", "YES", "Ada", "ada@example.com", "2")
	converseOver(t, p, g, dan, "hi")

	code, out, errs := runParley("incident", "add", "--store", url, "--flows", flows, "--what", "laptop stolen",
		"--kinds", "fields", "--purposes", "booking", "--detected", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	if code != exitOK || !strings.Contains(out, "1 customers estimated") {
		t.Fatalf("incident add beside the running server: exit %d, %q, %q", code, out, errs)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	code, out, errs = runParley("incident", "notify", id, "--store", url, "--template", "breach_notice", "--language", "en", "--address-key", keyFile)
	if code != exitOK || !strings.Contains(out, "1 of 1 customers queued") || !strings.Contains(out, "send them now") {
		t.Fatalf("notify beside the running server: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if !g.waitFor(time.Now().Add(30*time.Second), func() bool { return len(templatesSent(g, "breach_notice")) >= 1 }) {
		t.Fatalf("the running server did not send the notification:\n%s", p.output())
	}
	stopServe(t, p)
	if got, want := templatesSent(g, "breach_notice"), []string{ann}; !slices.Equal(got, want) {
		t.Errorf("the template went to %v, want exactly %v", got, want)
	}
}

// addressKeygen sets the master key for runParley, writes an address key
// pair with parley incident keygen (the private half to keyFile) and
// returns the public half.
func addressKeygen(t *testing.T, keyFile string) string {
	t.Helper()
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	code, out, errs := runParley("incident", "keygen", "--out", keyFile)
	pub, ok := strings.CutPrefix(strings.TrimSpace(out), "PARLEY_ADDRESS_KEY=")
	if code != exitOK || !ok {
		t.Fatalf("incident keygen: exit %d, %q %q", code, out, errs)
	}
	return pub
}
