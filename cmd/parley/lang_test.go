package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// menuFlow writes the complete menu example of docs/language.md to a file
// and returns its path.
func menuFlow(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/language.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## A menu, forgetting and withdrawing.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/language.md has no menu example")
	}
	path := filepath.Join(t.TempDir(), "menu.yaml")
	if err := os.WriteFile(path, m[1], 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestChatMenuAndForget: through parley chat on a real vault, a menu pick
// stores nothing, and a forget step leaves neither the answers nor their
// consent: the export lists no field, and the master-key attacker reading
// every version Badger keeps finds neither the name nor the email.
func TestChatMenuAndForget(t *testing.T) {
	e := newEnv(t)
	flowFile := menuFlow(t)
	lines := []string{"hi", "Book a visit", "YES", canaryName, canaryEmail, "2"}
	r := e.must(strings.Join(lines, "\n")+"\n", "chat", "--flow", flowFile, "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	for _, want := range []string{"What can I do for you?", "[2] Opening hours", "to book your visit", "Shall we keep your details, " + canaryName, "Done."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("transcript lacks %q:\n%s", want, r.stdout)
		}
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	if len(ex.Fields) != 0 {
		t.Errorf("export still holds fields %s after forget", fieldNames(ex))
	}
	withdrawn := false
	for _, c := range ex.Consents {
		if c.Purpose == "booking" && c.Decision == "withdrawn" {
			withdrawn = true
		}
	}
	if !withdrawn {
		t.Errorf("forget left the booking consent standing: %+v", ex.Consents)
	}
	// Control: before a purge, Badger still keeps the old versions.
	if leaks, _ := e.attackerReads(e.dir, []string{canaryName}); len(leaks) == 0 {
		t.Fatal("the attacker reads nothing even before the purge: the check below proves nothing")
	}
	// The purge (every 10 minutes under serve) removes every version of a
	// forgotten answer, as it does for one deleted by STOP.
	e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if leaks, _ := e.attackerReads(e.dir, []string{canaryName, canaryEmail}); len(leaks) > 0 {
		t.Errorf("after the purge the master-key attacker still reads forgotten answers: %v", leaks)
	}
	if leaks, _ := e.attackerReads(e.dir, []string{"Book a visit"}); len(leaks) > 0 {
		t.Errorf("the menu answer was stored: %v", leaks)
	}
	e.scanLogs(canaries)
}

// nilCaller is an integration that accepts every call.
type nilCaller struct{}

func (nilCaller) Call(context.Context, runtime.Call) (runtime.Reply, error) { return nil, nil }

// TestWithdrawStepTellsOnStop: a withdraw step, run by the engine on the
// session store of a real vault (as serve runs it), records the
// withdrawal, deletes the answer held on the purpose and queues the stop
// notice for the integration (with on_stop) that received it, exactly as
// typing STOP would; a customer who stays causes no notice.
func TestWithdrawStepTellsOnStop(t *testing.T) {
	e := newEnv(t)
	res, err := check.File(menuFlow(t))
	if err != nil || res.Program == nil {
		t.Fatalf("menu example: %v %v", err, res.Diags)
	}
	now := time.Now()
	v := e.openVault(e.dir, now)
	defer v.Close()
	store := session.New(v)
	eng := &runtime.Engine{Programs: map[string]*compile.Program{res.Program.ID(): res.Program}, Store: store, Caller: nilCaller{}, Now: func() time.Time { return now }}
	chat := func(user string, lines ...string) {
		for i, l := range lines {
			in := runtime.Inbound{ID: fmt.Sprintf("wamid.%s.%d", user, i), Text: runtime.Answer(l)}
			if _, _, err := eng.HandleFlow(t.Context(), store.Subject("whatsapp", user), "", in); err != nil {
				t.Fatal(err)
			}
		}
	}
	chat(canaryPhone, "hi", "Newsletter", "YES", canaryEmail, "Unsubscribe me")
	chat("15550001111", "hi", "Newsletter", "YES", "stay@example.org", "Stay")

	ex, err := session.ExportSubject(v, vault.SubjectID(store.Subject("whatsapp", canaryPhone)), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Fields) != 0 {
		t.Errorf("export still holds %s after withdraw", fieldNames(ex))
	}
	var decisions []string
	for _, c := range ex.Consents {
		decisions = append(decisions, c.Purpose+"="+c.Decision)
	}
	if strings.Join(decisions, " ") != "news=granted news=withdrawn" {
		t.Errorf("consent history %v, want news granted then withdrawn", decisions)
	}
	ns, err := v.DueNotices(now.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Integration != "mailer" || ns[0].URL != "https://mail.acme.example/stop" || ns[0].Event != vault.NoticeStop {
		t.Errorf("queued notices %+v, want one stop notice to the mailer", ns)
	}
}
