package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// These tests attack the newer flow features as someone holding the data
// directory AND the master key: vault.AttackerView reads every version of
// every key Badger still keeps and decrypts all it can. What a flow promises
// not to keep must not be there, in any version.

// chatFlow runs parley chat on flow with the env's data directory and key.
func (e *env) chatFlow(flow, user string, lines ...string) cliResult {
	e.t.Helper()
	return e.must(strings.Join(lines, "\n")+"\n", "chat", "--flow", flow, "--data", e.dir, "--key-file", e.key, "--user", user)
}

// attack fails the test for every secret the master-key attacker reads
// from the stopped vault, or finds in the raw files or the logs; control
// (if any) must be readable, or the attack proved nothing.
func (e *env) attack(control string, secrets ...string) {
	e.t.Helper()
	if control != "" {
		if leaks, _ := e.attackerReads(e.dir, []string{control}); len(leaks) == 0 {
			e.t.Fatalf("attacker cannot read the control value %q: the attack proved nothing", control)
		}
	}
	if leaks, _ := e.attackerReads(e.dir, secrets); len(leaks) > 0 {
		e.t.Errorf("the master-key attacker reads %v from some version of some key", leaks)
	}
	scanDir(e.t, e.dir, secrets)
	e.scanLogs(secrets)
}

// purgeNow runs parley purge a minute from now, as serve does every ten
// minutes: it removes every version of a deleted answer.
func (e *env) purgeNow() {
	e.t.Helper()
	e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
}

// TestAttackJobsInvalidAnswersAndForget: invalid pattern, digits and url
// answers are never stored, and forget: leaves no readable version of the
// answers it drops.
func TestAttackJobsInvalidAnswersAndForget(t *testing.T) {
	const (
		badPos    = "ZZ-canary-pos"
		badDigits = "12ab-canary"
		badURL    = "not-a-url-canary"
		goodURL   = "https://cv.example/canary-cv-Jq3"
	)
	e := newEnv(t)
	out := e.chatFlow("../../flows/jobs.yaml", canaryUser, "hi", "YES", badPos, "DV-204", badDigits, "00184", badURL, goodURL, "2")
	if !strings.Contains(out.stdout, "We have not kept your application") {
		t.Fatalf("the drop path was not taken:\n%s", out.stdout)
	}
	// Invalid answers are never written, not even as an old version.
	// Control: before the purge the forgotten link is still in an old version.
	e.attack(goodURL, badPos, badDigits, badURL)
	e.purgeNow()
	e.attack("", badPos, badDigits, badURL, goodURL)
}

// TestAttackPizzaMenuAndCancel: a menu that routes without saving keeps
// neither the choice nor an invalid answer typed at it, and a cancelled
// order (forget:) leaves no readable name or address.
func TestAttackPizzaMenuAndCancel(t *testing.T) {
	const (
		menuJunk = "menu-canary-Vb8"
		addr     = "7 Canary Lane Wzx"
	)
	e := newEnv(t)
	e.chatFlow("../../flows/pizza.yaml", "whatsapp:15550003333", "hi", "1", "1", "Kept Customer", "1 Kept Road Pq2", "1")
	out := e.chatFlow("../../flows/pizza.yaml", canaryUser, menuJunk, "1", "2", canaryName, addr, "2")
	if !strings.Contains(out.stdout, "Your order is cancelled") {
		t.Fatalf("the cancel path was not taken:\n%s", out.stdout)
	}
	e.attack("1 Kept Road Pq2", menuJunk, "Make a complaint")
	e.purgeNow()
	e.attack("1 Kept Road Pq2", menuJunk, canaryName, addr)
}

// TestAttackLanguageQuestionAndKeyword: a first message in no known
// language, an unclear answer to the language question and one to the
// question LANGUAGE asks again are routing only: never stored.
func TestAttackLanguageQuestionAndKeyword(t *testing.T) {
	const first, unclear, again = "canary-first-Hq7", "lang-canary-Rt5", "lang2-canary-Mm1"
	e := newEnv(t)
	out := e.chatFlow("../../flows/dental.yaml", canaryUser, first, unclear, "LANGUAGE", again, "LANGUAGE", "2", "06/05/1990")
	if !strings.Contains(out.stdout, "Which language do you prefer?") {
		t.Fatalf("the language question was not asked:\n%s", out.stdout)
	}
	e.attack("1990-05-06", first, unclear, again)
}

// TestAttackAnswerForgottenInItsTurn: parley chat cannot know what the
// mailer answers, so the call fails and on_fail forgets the address in the
// same turn it was typed. The promise is that no version of it is ever
// written: no purge runs before the attacker looks.
func TestAttackAnswerForgottenInItsTurn(t *testing.T) {
	const email = "turn.canary@example.org"
	e := newEnv(t)
	e.chatFlow("../../flows/booking.yaml", "whatsapp:15550004444", "hi", "YES", canaryName)
	out := e.chatFlow("../../flows/optin.yaml", canaryUser, "hi", "YES", email)
	if !strings.Contains(out.stdout, "not subscribed yet") {
		t.Fatalf("the mailer's on_fail was not taken:\n%s", out.stdout)
	}
	e.attack(canaryName, email)
}

// TestAttackSessionAnswerGoneAfterPurge: the dental example keeps the date
// of birth only until the conversation ends. Once it has ended and purge
// has run, no version of it can be read; the visit day (90d) stays, as the
// control.
func TestAttackSessionAnswerGoneAfterPurge(t *testing.T) {
	const born = "1977-08-19"
	day := time.Now().AddDate(0, 0, 30).Format("2006-01-02")
	e := newEnv(t)
	out := e.chatFlow("../../flows/dental.yaml", canaryUser, "hello", born, "NO", day)
	if !strings.Contains(out.stdout, "we expect you on "+day) {
		t.Fatalf("the booking did not complete:\n%s", out.stdout)
	}
	e.attack(born)
	e.purgeNow()
	e.attack(day, born)
}

// TestAttackBackupAfterForget: a backup taken after a forget: step but
// before any purge must not carry the forgotten answer: neither the backup
// file nor a directory restored from it lets the master-key attacker read
// it.
func TestAttackBackupAfterForget(t *testing.T) {
	const cv = "https://cv.example/backup-canary-Yu2"
	e := newEnv(t)
	e.chatFlow("../../flows/booking.yaml", "whatsapp:15550005555", "hi", "YES", canaryName)
	e.chatFlow("../../flows/jobs.yaml", canaryUser, "hi", "YES", "DV-204", "00184", cv, "2")
	fresh := e.backupAndRestore("after-forget", cv, canaryName)
	if leaks, _ := e.attackerReads(fresh, []string{canaryName}); len(leaks) == 0 {
		t.Fatal("control: the restored directory does not hold the booking name")
	}
	if leaks, _ := e.attackerReads(fresh, []string{cv}); len(leaks) > 0 {
		t.Errorf("restored from a backup taken after forget:, the master-key attacker reads %v", leaks)
	}
}

// backupAndRestore backs e.dir up (the file must not hold secrets in any
// encoding) and restores it, with the erasure ledger, into a fresh
// directory, which it returns.
func (e *env) backupAndRestore(name string, secrets ...string) string {
	e.t.Helper()
	root := filepath.Dir(e.dir)
	backup := filepath.Join(root, name+".pvb")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)
	scanFile(e.t, backup, secrets)
	fresh := filepath.Join(root, name)
	if err := os.MkdirAll(fresh, 0o700); err != nil {
		e.t.Fatal(err)
	}
	ledger, err := os.ReadFile(filepath.Join(e.dir, "erasures.log"))
	if err != nil && !os.IsNotExist(err) {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "erasures.log"), ledger, 0o600); err != nil {
		e.t.Fatal(err)
	}
	e.must("", "restore", "--data", fresh, "--key-file", e.key, "--in", backup)
	return fresh
}

// TestAttackBackupAfterRectify: a backup taken after an answer was
// corrected carries the new value only.
func TestAttackBackupAfterRectify(t *testing.T) {
	const fixed = "fixed.canary@example.org"
	e := newEnv(t)
	e.chat(canaryUser, "hi", "YES", canaryName, canaryEmail)
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--field", "email", "--value", fixed, "--flows", bookingFlow)
	fresh := e.backupAndRestore("after-rectify", canaryEmail, fixed)
	if leaks, _ := e.attackerReads(fresh, []string{fixed}); len(leaks) == 0 {
		t.Fatal("control: the restored directory does not hold the corrected email")
	}
	if leaks, _ := e.attackerReads(fresh, []string{canaryEmail}); len(leaks) > 0 {
		t.Errorf("restored from a backup taken after a rectification, the master-key attacker reads the old value %v", leaks)
	}
}

// TestAttackFlowTestsOfEveryExampleLeaveNothing: parley test on every
// shipped example (scripted integration answers, offered lists, forget,
// withdraw, languages included) writes no file in the working directory,
// under TMPDIR or beside the flows.
func TestAttackFlowTestsOfEveryExampleLeaveNothing(t *testing.T) {
	flows, err := filepath.Abs("../../flows")
	if err != nil {
		t.Fatal(err)
	}
	list := func(dir string) []string {
		var files []string
		if err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, p)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return files
	}
	before := strings.Join(list(flows), "\n")
	tmp, cwd := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Chdir(cwd)
	if code, out, errs := runTestCmd(t, flows); code != exitOK || !strings.Contains(out, "optin") || !strings.Contains(out, "jobs") {
		t.Fatalf("parley test %s = %d, want every example run and passing\n%s%s", flows, code, out, errs)
	}
	for _, d := range []string{tmp, cwd} {
		if files := list(d); len(files) > 0 {
			t.Errorf("parley test left files in %s: %v", d, files)
		}
	}
	if after := strings.Join(list(flows), "\n"); after != before {
		t.Errorf("parley test changed the flows directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}
