package server_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// These tests attack flows served by parley serve as someone holding the
// data directory AND the master key (vault.AttackerView: every version of
// every key Badger still keeps, decrypted), with the integrations on a
// loopback TLS server.

// exampleFlow reads flows/NAME.yaml with every integration URL on host
// pointed at the fake integration.
func exampleFlow(t *testing.T, name, host, base string) string {
	t.Helper()
	b, err := os.ReadFile("../../flows/" + name + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(string(b), "https://"+host, base)
	if src == string(b) {
		t.Fatalf("flows/%s.yaml names no integration on %s", name, host)
	}
	return src
}

// attackerReads closes the vault and returns which of secrets the
// master-key attacker reads from the backend (the data directory, or every
// row of the database).
func (e *env) attackerReads(t *testing.T, secrets ...string) []string {
	t.Helper()
	if err := e.vault.Close(); err != nil {
		t.Fatal(err)
	}
	r := e.backend.attackerView(t)
	var found []string
	for _, s := range secrets {
		if r.Contains([]byte(s)) {
			found = append(found, s)
		}
	}
	return found
}

// sweepLater reopens the vault and sweeps it at now+d, as serve's sweep
// loop does.
func (e *env) sweepLater(t *testing.T, d time.Duration) {
	t.Helper()
	at := time.Now().Add(d)
	if err := e.vault.Close(); err != nil {
		t.Fatal(err)
	}
	e.vault = e.backend.open(t, vault.Options{MasterKey: masterKey, Now: func() time.Time { return at }})
	if _, err := e.vault.Sweep(at); err != nil {
		t.Fatal(err)
	}
	if err := e.vault.Purge(); err != nil {
		t.Fatal(err)
	}
}

// debugLogger logs everything, down to debug, into a buffer the test scans.
func debugLogger() (*slog.Logger, *syncBuffer) {
	var b syncBuffer
	return slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelDebug})), &b
}

// logHolds fails the test for every secret the log holds (a quiet run
// may log nothing at all).
func logHolds(t *testing.T, logs *syncBuffer, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("the log holds %q", s)
		}
	}
}

// TestAttackOptinWrongCodes: the double opt-in example with the mailer
// answering a code (receives:). Two wrong typed codes (a transient field)
// are never written in any version; once the conversation has ended and
// the vault swept, neither the received code nor the unconfirmed address
// (forget:) can be read.
func TestAttackOptinWrongCodes(t *testing.T) {
	const (
		sent   = "CNRY-SNT-441" // max_length 12
		email  = "optin.canary@example.org"
		wrongA = "WRNG-CNRY-A1"
		wrongB = "WRNG-CNRY-B2"
	)
	t.Setenv("MAILER_TOKEN", "mailer-test-token")
	mailer := newFakeRecipient(t)
	mailer.answer = `{"sent_code":"` + sent + `"}`
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{webChat: true, logger: logger, files: map[string]string{"optin.yaml": exampleFlow(t, "optin", "mailer.orto.example", mailer.URL)},
		caller: &server.HTTPCaller{Client: mailer.Client(), Getenv: os.Getenv}})
	for _, text := range []string{"hi", "YES", email, wrongA} {
		e.webTurn(t, "optin", "visitor", text)
	}
	if got := e.webTurn(t, "optin", "visitor", wrongB); len(got) == 0 || !strings.Contains(got[len(got)-1], "we have not subscribed you") {
		t.Fatalf("replies %q, want the not-confirmed ending", got)
	}
	if c := mailer.all(); len(c) != 1 {
		t.Fatalf("mailer got %d calls, want 1 (the code)", len(c))
	}
	e.shutdown(t)
	logHolds(t, logs, sent, email, wrongA, wrongB)
	// Control: before the sweep the received code is still in some version.
	if found := e.attackerReads(t, sent, wrongA, wrongB); len(found) != 1 || found[0] != sent {
		t.Fatalf("before the sweep the attacker reads %v, want only the received code %q (the control)", found, sent)
	}
	e.sweepLater(t, time.Minute)
	if found := e.attackerReads(t, sent, email, wrongA, wrongB); len(found) > 0 {
		t.Errorf("after the conversation ended and the sweep, the master-key attacker reads %v", found)
	}
}

// TestAttackJobsWithdrawFromPool: the job screening example with the
// recruiting system answering. A candidate joins the talent pool, then
// leaves it (withdraw:). After the sweep the master-key attacker reads no
// version of the pool address, while the application (another purpose)
// stays readable as the control.
func TestAttackJobsWithdrawFromPool(t *testing.T) {
	const (
		cv        = "https://cv.example/canary-cv-Wd4"
		poolEmail = "pool.canary@example.org"
		badMail   = "pool-bad-canary-Zt6"
	)
	t.Setenv("HR_TOKEN", "hr-test-token")
	hr := newFakeRecipient(t)
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{webChat: true, logger: logger, files: map[string]string{"jobs.yaml": exampleFlow(t, "jobs", "hr.rossi.example", hr.URL)},
		caller: &server.HTTPCaller{Client: hr.Client(), Getenv: os.Getenv}})
	var got []string
	for _, text := range []string{"hi", "YES", "DV-204", "00184", cv, "1", "YES", badMail, poolEmail, "2"} {
		got = e.webTurn(t, "jobs", "visitor", text)
	}
	if len(got) == 0 || !strings.Contains(got[len(got)-1], "We will review your application for DV-204") {
		t.Fatalf("replies %q, want the application confirmed after leaving the pool", got)
	}
	if c := hr.all(); len(c) != 1 || c[0].Body["cv"] != cv {
		t.Fatalf("recruiting got %+v, want one application with the CV link", c)
	}
	e.shutdown(t)
	logHolds(t, logs, cv, poolEmail, badMail, "00184")
	if found := e.attackerReads(t, badMail); len(found) > 0 {
		t.Errorf("an invalid email answer was stored: %v", found)
	}
	e.sweepLater(t, time.Minute)
	if found := e.attackerReads(t, cv); len(found) != 1 {
		t.Fatal("control: the master-key attacker cannot read the application kept for screening")
	}
	if found := e.attackerReads(t, poolEmail, badMail); len(found) > 0 {
		t.Errorf("after withdraw: and the sweep, the master-key attacker reads %v", found)
	}
}

// TestAttackOptionsFromInvalidPick: at a question offering an
// integration's list, a typed answer that is no offered option is refused
// and never stored, and neither it nor any offered title is logged.
func TestAttackOptionsFromInvalidPick(t *testing.T) {
	const (
		idA, titleA = "CANARY-ID-Q1", "CANARY-TTL-Q1"
		idB, titleB = "CANARY-ID-Q2", "CANARY-TTL-Q2"
		typed       = "typed-canary-Lp5"
	)
	agenda := newFakeRecipient(t)
	agenda.answer = `{"slots":[{"id":"` + idA + `","title":"` + titleA + `"},{"id":"` + idB + `","title":"` + titleB + `"}]}`
	logger, logs := debugLogger()
	e := newEnv(t, envOptions{webChat: true, logger: logger, files: map[string]string{"slots.yaml": slotsFlow(agenda.URL)}, caller: &server.HTTPCaller{Client: agenda.Client()}})
	e.webTurn(t, "slots", "visitor", "hi")
	if got := e.webTurn(t, "slots", "visitor", typed); len(got) == 0 || strings.Contains(strings.Join(got, "\n"), "Booked") {
		t.Fatalf("replies %q, want the pick refused", got)
	}
	if got := e.webTurn(t, "slots", "visitor", "1"); len(got) != 1 || got[0] != "Booked "+idA+"." {
		t.Fatalf("replies %q, want the first slot booked", got)
	}
	e.shutdown(t)
	logHolds(t, logs, typed, idA, titleA, idB, titleB)
	if found := e.attackerReads(t, idA, typed); len(found) != 1 || found[0] != idA {
		t.Errorf("the master-key attacker reads %v, want only the id picked %q (the control)", found, idA)
	}
	// Older states still hold the offered list until compaction (a known
	// limit); a backup copies the newest state only.
	v, err := vault.Open(vault.Options{Dir: e.dataDir, MasterKey: masterKey})
	if err != nil {
		t.Fatal(err)
	}
	var backup bytes.Buffer
	if err := v.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir()
	ledger, err := os.ReadFile(filepath.Join(e.dataDir, "erasures.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "erasures.log"), ledger, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := vault.Restore(vault.Options{Dir: fresh, MasterKey: masterKey}, &backup); err != nil {
		t.Fatal(err)
	}
	r, err := vault.AttackerView(fresh, masterKey)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Contains([]byte(idA)) {
		t.Fatal("control: the restored vault lacks the id picked")
	}
	for _, s := range []string{titleA, idB, titleB, typed} {
		if r.Contains([]byte(s)) {
			t.Errorf("restored from a backup, the master-key attacker reads %q of the offered list", s)
		}
	}
}

// TestAttackPizzaMenuOverWhatsApp: signed webhooks to the pizza example's
// menu. Text typed at the menu and the routing pick are used, then
// dropped: after the sweep (which purges processed inbound messages) the
// master-key attacker reads neither, nor the phone number.
func TestAttackPizzaMenuOverWhatsApp(t *testing.T) {
	// Badger only: its control reads what the files keep of processed
	// messages; on PostgreSQL a deleted row leaves the attacker's row view
	// at once, and what its pages keep is checked on the raw cluster files
	// (engine/vault TestPostgresErasureAndExpiryLeaveNothing).
	func(backend string) {
		const (
			user = "15550007777"
			junk = "menu-junk-canary-Hh3"
		)
		pizza, err := os.ReadFile("../../flows/pizza.yaml")
		if err != nil {
			t.Fatal(err)
		}
		logger, logs := debugLogger()
		e := newEnv(t, envOptions{backend: backend, logger: logger, waFlow: "pizza", files: map[string]string{"pizza.yaml": string(pizza)}})
		for i, text := range []string{junk, "3"} {
			before := len(e.graph.deliveredTo(user))
			if st := e.post(t, textWebhook(user, fmt.Sprintf("wamid.IN.pizza.%d", i), text, time.Now())); st != http.StatusOK {
				t.Fatalf("webhook answered %d, want 200", st)
			}
			e.graph.waitDelivered(t, user, before+1)
		}
		e.shutdown(t)
		logHolds(t, logs, junk, user)
		// Control: the processed message still waits in the inbox for the sweep.
		if found := e.attackerReads(t, junk); len(found) == 0 {
			t.Fatal("control: the master-key attacker cannot read the inbound message before the sweep")
		}
		e.sweepLater(t, time.Minute)
		if found := e.attackerReads(t, junk, user); len(found) > 0 {
			t.Errorf("after the sweep the master-key attacker reads %v", found)
		}
	}("badger")
}
