package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// These tests prove the privacy claims of docs/privacy.md through the real
// command entry point, run in-process. They use a master key file kept
// outside the data directory, as production should.

const (
	canaryName    = "Zephyrine Quillfeather"
	canaryEmail   = "zq.canary@example.org"
	canaryPhone   = "15550009876"
	canaryUser    = "whatsapp:" + canaryPhone
	canaryGreet   = "hello-canary-Xq9T"     // typed where no save: takes it
	canaryBadMail = "bad-email-canary-K7pW" // an invalid answer, never saved
	bookingFlow   = "../../flows/booking.yaml"
)

// canaries are the personal data the scans look for: each whole value and
// the parts of it that would identify the person on their own.
var canaries = []string{canaryName, "Zephyrine", "Quillfeather", canaryEmail, "zq.canary", canaryPhone, canaryGreet, canaryBadMail}

// bookingWithCanaries is the reference booking conversation with canary
// values, the unsaved first message and an invalid email included.
var bookingWithCanaries = []string{canaryGreet, "YES", canaryName, canaryBadMail, canaryEmail, "2"}

type cliResult struct {
	code           int
	stdout, stderr string
}

// env is one test's data directory, key file and everything the commands
// printed that counts as a log.
type env struct {
	t    *testing.T
	dir  string // vault data directory
	key  string // master key file, outside dir
	logs []logStream
}

type logStream struct {
	name string
	data string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	// run() reads the key from the environment first; keep it out.
	t.Setenv("PARLEY_MASTER_KEY", "")
	root := t.TempDir()
	key := filepath.Join(root, "master.key")
	if err := os.WriteFile(key, []byte(base64.StdEncoding.EncodeToString(randomKey(t))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: filepath.Join(root, "data"), key: key}
}

func randomKey(t *testing.T) []byte {
	k := make([]byte, vault.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// parley runs one command in-process. Its stderr is always a log; its
// stdout is one too unless the command is chat (a transcript, which
// legitimately echoes the bot's replies) or subject export (the access
// right: it must show the data).
func (e *env) parley(stdin string, args ...string) cliResult {
	e.t.Helper()
	var out, errb bytes.Buffer
	code := run(args, strings.NewReader(stdin), &out, &errb)
	r := cliResult{code: code, stdout: out.String(), stderr: errb.String()}
	name := strings.Join(args[:min(2, len(args))], " ")
	e.logs = append(e.logs, logStream{name + " (stderr)", r.stderr})
	if args[0] != "chat" && !(args[0] == "subject" && len(args) > 1 && args[1] == "export") {
		e.logs = append(e.logs, logStream{name + " (stdout)", r.stdout})
	}
	return r
}

// must is parley that fails the test on a non-zero exit.
func (e *env) must(stdin string, args ...string) cliResult {
	e.t.Helper()
	r := e.parley(stdin, args...)
	if r.code != 0 {
		e.t.Fatalf("parley %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

func (e *env) chat(user string, lines ...string) cliResult {
	e.t.Helper()
	return e.chatIn(e.dir, user, lines...)
}

func (e *env) chatIn(dir, user string, lines ...string) cliResult {
	e.t.Helper()
	return e.must(strings.Join(lines, "\n")+"\n", "chat", "--flow", bookingFlow, "--data", dir, "--key-file", e.key, "--user", user)
}

func (e *env) export(dir, user string, now time.Time) *session.Export {
	e.t.Helper()
	r := e.must("", "subject", "export", "--data", dir, "--key-file", e.key, "--user", user, "--now", now.UTC().Format(time.RFC3339))
	var ex session.Export
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil {
		e.t.Fatalf("subject export printed no JSON: %v\n%s", err, r.stdout)
	}
	return &ex
}

// openVault opens dir the way an operator's tool would, with the same key.
func (e *env) openVault(dir string, now time.Time) *vault.Vault {
	e.t.Helper()
	key, _, err := vault.LoadMasterKey("", e.key, "")
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := vault.Open(vault.Options{Dir: dir, MasterKey: key, Now: func() time.Time { return now }, PurgeDelay: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { v.Close() })
	return v
}

// leakForms returns the byte patterns that would reveal s: plain text,
// lower case, hex (lower and upper) and base64 (standard and URL alphabet,
// padded or not) at each of the three alignments s can have in a longer
// encoded buffer. For base64 only the characters that depend on s alone are
// kept, so the pattern matches whatever bytes surround s.
func leakForms(s string) map[string]string {
	forms := map[string]string{
		"plain":     s,
		"lowercase": strings.ToLower(s),
		"hex":       hex.EncodeToString([]byte(s)),
		"HEX":       strings.ToUpper(hex.EncodeToString([]byte(s))),
	}
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"base64", base64.RawStdEncoding}, {"base64url", base64.RawURLEncoding}} {
		for k := range 3 {
			buf := append(make([]byte, k), s...)
			full := enc.e.EncodeToString(buf)
			// Character i covers bits [6i, 6i+6); keep those inside s's bits.
			first := (8*k + 5) / 6
			last := (8*(k+len(s)) - 6) / 6
			forms[enc.name+"@"+string(rune('0'+k))] = full[first : last+1]
		}
	}
	return forms
}

// findLeaks lists every canary form found in data, as "canary (form)".
func findLeaks(data []byte, secrets []string) []string {
	var found []string
	for _, s := range secrets {
		for form, pat := range leakForms(s) {
			if bytes.Contains(data, []byte(pat)) {
				found = append(found, s+" ("+form+")")
			}
		}
	}
	return found
}

// scanDir fails the test for every file under dir that holds a canary.
func scanDir(t *testing.T, dir string, secrets []string) (files int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if leaks := findLeaks(b, secrets); len(leaks) > 0 {
			t.Errorf("%s holds personal data: %s", path, strings.Join(leaks, ", "))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s: the scan proved nothing", dir)
	}
	return files
}

func scanFile(t *testing.T, path string, secrets []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) == 0 {
		t.Fatalf("%s is empty: the scan proved nothing", path)
	}
	if leaks := findLeaks(b, secrets); len(leaks) > 0 {
		t.Errorf("%s holds personal data: %s", path, strings.Join(leaks, ", "))
	}
}

func (e *env) scanLogs(secrets []string) {
	e.t.Helper()
	for _, l := range e.logs {
		if leaks := findLeaks([]byte(l.data), secrets); len(leaks) > 0 {
			e.t.Errorf("output of parley %s holds personal data: %s\n%s", l.name, strings.Join(leaks, ", "), l.data)
		}
	}
}

// TestLeakFormsFindEncodedCanaries shows the scanner is able to fail: it
// finds a canary inside longer plain, hex and base64 buffers at every
// alignment, and nothing in unrelated data.
func TestLeakFormsFindEncodedCanaries(t *testing.T) {
	for pre := range 3 {
		raw := append([]byte(strings.Repeat("#", pre)), canaryEmail+"\x00tail"...)
		for name, enc := range map[string]func([]byte) string{
			"plain":     func(b []byte) string { return string(b) },
			"hex":       hex.EncodeToString,
			"HEX":       func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) },
			"base64":    base64.StdEncoding.EncodeToString,
			"base64url": base64.URLEncoding.EncodeToString,
			"rawurl":    base64.RawURLEncoding.EncodeToString,
		} {
			data := []byte("prefix " + enc(raw) + " suffix")
			if len(findLeaks(data, []string{canaryEmail})) == 0 {
				t.Errorf("%s at offset %d: canary not found in %s", name, pre, data)
			}
		}
	}
	if leaks := findLeaks([]byte("nothing personal here "+strings.Repeat("A", 200)), canaries); len(leaks) > 0 {
		t.Errorf("false positives: %v", leaks)
	}
}

// TestChatLeavesNoPersonalDataOnDiskInBackupsOrLogs runs the booking flow on
// the vault with canary values, then the operator's commands, and scans
// every file of the data directory, a backup, a restored copy and every
// log stream for the canaries in plain, hex and base64 form.
func TestChatLeavesNoPersonalDataOnDiskInBackupsOrLogs(t *testing.T) {
	e := newEnv(t)
	chat := e.chat(canaryUser, bookingWithCanaries...)
	// Control: the transcript and the export do show the values, so a scan
	// that finds nothing elsewhere is meaningful.
	if !strings.Contains(chat.stdout, "All set, "+canaryName) || !strings.Contains(chat.stdout, canaryEmail) {
		t.Fatalf("conversation did not complete:\n%s", chat.stdout)
	}
	ex := e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	if leaks := findLeaks([]byte(ex.stdout), []string{canaryName, canaryEmail}); len(leaks) < 2 {
		t.Fatalf("export does not show the stored values (found %v):\n%s", leaks, ex.stdout)
	}

	backup := filepath.Join(filepath.Dir(e.dir), "backup.pvb")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)
	e.must("", "audit", "verify", "--data", e.dir, "--key-file", e.key)
	e.must("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--field", "date", "--value", "wed", "--flows", bookingFlow)
	e.must("", "purge", "--data", e.dir, "--key-file", e.key)
	// Errors are logs too: a rectify of a field that is not held, and one
	// of a user with no data, print no values.
	if r := e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--field", "phone", "--value", "x", "--flows", bookingFlow); r.code != exitFindings {
		t.Errorf("rectify of a missing field: exit %d, want %d", r.code, exitFindings)
	}
	if r := e.parley("", "subject", "rectify", "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:15550000000", "--field", "name", "--value", canaryName, "--flows", bookingFlow); r.code != exitFindings {
		t.Errorf("rectify of an unknown subject: exit %d, want %d", r.code, exitFindings)
	}
	restored := filepath.Join(filepath.Dir(e.dir), "restored")
	copyLedger(t, e.dir, restored)
	e.must("", "restore", "--data", restored, "--key-file", e.key, "--in", backup)

	n := scanDir(t, e.dir, canaries)
	scanFile(t, backup, canaries)
	m := scanDir(t, restored, canaries)
	e.scanLogs(canaries)
	t.Logf("scanned %d files in the data directory, %d in the restored copy, the backup and %d log streams", n, m, len(e.logs))

	// The restored copy really holds the data (so its scan meant something).
	if got := e.export(restored, canaryUser, time.Now()); len(got.Fields) != 3 {
		t.Errorf("restored copy holds %d fields, want 3", len(got.Fields))
	}
}

// TestStorageKeysArePseudonyms checks that the subject id printed by the
// CLI is a keyed hash: not the phone number, not its plain SHA-256 and
// different in another vault (another pepper).
func TestStorageKeysArePseudonyms(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, "hi", "NO")
	a := e.export(e.dir, canaryUser, time.Now()).Subject
	other := filepath.Join(filepath.Dir(e.dir), "other")
	e.chatIn(other, canaryUser, "hi", "NO")
	b := e.export(other, canaryUser, time.Now()).Subject
	if len(a) != 64 || strings.Contains(a, canaryPhone) || len(findLeaks([]byte(a), []string{canaryPhone, canaryUser})) > 0 {
		t.Errorf("subject id %q reveals the user id", a)
	}
	if a == b {
		t.Errorf("two vaults gave the same subject id %q: not keyed by a per-vault pepper", a)
	}
}

// TestRetentionExpiryAndPurge: within retention the export shows the
// fields; after it the export does not, and parley purge removes them
// physically, so even a read "as of" collection time finds nothing.
func TestRetentionExpiryAndPurge(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.chat(canaryUser, bookingWithCanaries...)

	before := e.export(e.dir, canaryUser, start.Add(29*24*time.Hour))
	if names := fieldNames(before); names != "date,email,name" {
		t.Fatalf("export at +29d holds %q, want date,email,name", names)
	}
	for _, f := range before.Fields {
		exp, err := time.Parse(time.RFC3339, f.ExpiresAt)
		if err != nil || exp.Before(start.Add(30*24*time.Hour).Truncate(time.Second)) || exp.After(time.Now().Add(30*24*time.Hour)) {
			t.Errorf("%s expires_at %q, want collection time + 30d", f.Field, f.ExpiresAt)
		}
		if f.Purpose != "booking" || f.Basis != "consent" || f.Flow != "booking" || f.FlowVersion != 1 {
			t.Errorf("%s: purpose/basis/flow = %s/%s/%s v%d", f.Field, f.Purpose, f.Basis, f.Flow, f.FlowVersion)
		}
	}
	after := e.export(e.dir, canaryUser, start.Add(31*24*time.Hour))
	if len(after.Fields) != 0 {
		t.Errorf("export at +31d still holds %q", fieldNames(after))
	}
	if len(after.Consents) != 1 {
		t.Errorf("export at +31d has %d consent records, want the 1 that proves the collection was lawful", len(after.Consents))
	}

	// Control: before the purge the records are physically there; a read
	// as of collection time returns them.
	v := e.openVault(e.dir, start)
	s := v.SubjectID("whatsapp", canaryPhone)
	if ex, err := v.Export(s, start); err != nil || len(ex.Fields) != 3 {
		t.Fatalf("before purge: %d fields (err %v), want 3", len(ex.Fields), err)
	}
	v.Close()

	purge := e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", start.Add(31*24*time.Hour).UTC().Format(time.RFC3339))
	if !strings.Contains(purge.stdout, "expired fields removed: 3") {
		t.Errorf("purge printed:\n%s\nwant 3 expired fields removed", purge.stdout)
	}
	v = e.openVault(e.dir, start)
	ex, err := v.Export(s, start)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Fields) != 0 {
		t.Errorf("after purge a read as of collection time still finds %d fields", len(ex.Fields))
	}
	st, err := v.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Fields != 0 || st.Consents != 1 {
		t.Errorf("after purge: %d field records, %d consent records; want 0 and 1", st.Fields, st.Consents)
	}
}

func fieldNames(ex *session.Export) string {
	var names []string
	for _, f := range ex.Fields {
		names = append(names, f.Field)
	}
	return strings.Join(names, ",")
}

// TestEraseSurvivesRestoreOfOlderBackup: subject erase leaves nothing to
// export, prints a receipt without personal data, and a backup taken
// before the erasure, restored the documented ways, brings nothing back.
func TestEraseSurvivesRestoreOfOlderBackup(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	root := filepath.Dir(e.dir)
	backup := filepath.Join(root, "before-erase.pvb")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)

	r := e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	var receipt session.ErasureReceipt
	if err := json.Unmarshal([]byte(r.stdout), &receipt); err != nil {
		t.Fatalf("erase printed no receipt: %v\n%s", err, r.stdout)
	}
	if !receipt.KeyDestroyed || receipt.Fields != 3 || receipt.Consents != 1 || len(receipt.Receipt) != 64 {
		t.Errorf("receipt = %+v, want the key destroyed, 3 fields and 1 consent record", receipt)
	}
	if leaks := findLeaks([]byte(r.stdout), canaries); len(leaks) > 0 {
		t.Errorf("the receipt holds personal data: %v\n%s", leaks, r.stdout)
	}
	wantNothing := func(where string, ex *session.Export) {
		t.Helper()
		if len(ex.Fields) != 0 || len(ex.Consents) != 0 || ex.Conversation != nil {
			t.Errorf("%s: export holds fields %q, %d consents, conversation %+v; want nothing", where, fieldNames(ex), len(ex.Consents), ex.Conversation)
		}
	}
	wantNothing("after erase", e.export(e.dir, canaryUser, time.Now()))
	scanDir(t, e.dir, canaries)

	// Restore into a fresh directory with the ledger copied over.
	fresh := filepath.Join(root, "fresh")
	if err := os.MkdirAll(fresh, 0o700); err != nil {
		t.Fatal(err)
	}
	ledger, err := os.ReadFile(filepath.Join(e.dir, "erasures.log"))
	if err != nil || !strings.Contains(string(ledger), receipt.Subject) || strings.Contains(string(ledger), canaryPhone) {
		t.Fatalf("erasures.log = %q (err %v): want the pseudonym only", ledger, err)
	}
	if err := os.WriteFile(filepath.Join(fresh, "erasures.log"), ledger, 0o600); err != nil {
		t.Fatal(err)
	}
	e.must("", "restore", "--data", fresh, "--key-file", e.key, "--in", backup)
	wantNothing("restored into a fresh directory with erasures.log", e.export(fresh, canaryUser, time.Now()))
	if st, err := e.openVault(fresh, time.Now()).Stats(); err != nil || st.Fields != 0 || st.Consents != 0 {
		t.Errorf("fresh restore: %+v (err %v), want no field or consent records", st, err)
	}

	// Restore in place: the database goes, erasures.log stays.
	if err := os.RemoveAll(filepath.Join(e.dir, "db")); err != nil {
		t.Fatal(err)
	}
	e.must("", "restore", "--data", e.dir, "--key-file", e.key, "--in", backup)
	wantNothing("restored in place", e.export(e.dir, canaryUser, time.Now()))
	scanDir(t, fresh, canaries)
	e.scanLogs(canaries)
}

// TestBackupKnowsErasuresMadeBeforeIt: a backup taken after an erasure
// carries the erasure, so even a restore without erasures.log (which needs
// --without-ledger) keeps the subject erased.
func TestBackupKnowsErasuresMadeBeforeIt(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	backup := filepath.Join(filepath.Dir(e.dir), "after.pvb")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)
	scanFile(t, backup, canaries)
	bare := filepath.Join(filepath.Dir(e.dir), "bare")
	e.must("", "restore", "--data", bare, "--key-file", e.key, "--in", backup, "--without-ledger")
	if got := e.export(bare, canaryUser, time.Now()); len(got.Fields) != 0 || len(got.Consents) != 0 {
		t.Errorf("erased subject back from a later backup: %q, %d consents", fieldNames(got), len(got.Consents))
	}
}

// TestDeclinedConsentCollectsNothing: after No the fields are never asked,
// nothing is stored, and the consent history shows the refusal.
func TestDeclinedConsentCollectsNothing(t *testing.T) {
	e := newEnv(t)
	chat := e.chat(canaryUser, "hi", "NO", canaryName)
	if !strings.Contains(chat.stdout, "No problem, we won't ask for anything") {
		t.Errorf("no goodbye after declining:\n%s", chat.stdout)
	}
	for _, q := range []string{"What's your name?", "What's your email", "Which day"} {
		if strings.Contains(chat.stdout, q) {
			t.Errorf("asked %q after consent was declined:\n%s", q, chat.stdout)
		}
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	if len(ex.Fields) != 0 {
		t.Errorf("fields stored after a decline: %q", fieldNames(ex))
	}
	if len(ex.Consents) != 1 {
		t.Fatalf("consent history = %+v, want one refusal", ex.Consents)
	}
	c := ex.Consents[0]
	if c.Purpose != "booking" || c.Decision != "declined" || c.MessageID != "cli-2" || len(c.NoticeHash) != 64 || c.Flow != "booking" || c.FlowVersion != 1 {
		t.Errorf("consent record = %+v, want booking declined by message cli-2 with the notice hash", c)
	}
	if ex.Conversation == nil || ex.Conversation.Status != "ended" || ex.Conversation.Step != "" {
		t.Errorf("conversation = %+v, want ended with no current step", ex.Conversation)
	}
	e.scanLogs(canaries)
}

// TestUnsavedTextIsNeverStored: a message no save: takes (the first one
// here) and an invalid answer are used for routing, then dropped. The raw
// files cannot show this (they are encrypted), so the vault is also opened
// with the key and everything held for the subject is searched decrypted.
func TestUnsavedTextIsNeverStored(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	unsaved := []string{canaryGreet, canaryBadMail}
	scanDir(t, e.dir, unsaved)

	v := e.openVault(e.dir, time.Now())
	ex, err := v.Export(v.SubjectID("whatsapp", canaryPhone), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	all.Write(ex.State)
	for _, f := range ex.Fields {
		all.WriteString(f.Name + "=" + string(f.Value) + "\n")
	}
	for _, c := range ex.Consents {
		all.WriteString(c.MessageID + " " + c.NoticeHash + "\n")
	}
	// Control: the decrypted view does hold what was saved.
	if !strings.Contains(all.String(), canaryName) || !strings.Contains(all.String(), canaryEmail) {
		t.Fatalf("decrypted subject data lacks the saved answers:\n%q", all.String())
	}
	if leaks := findLeaks(all.Bytes(), unsaved); len(leaks) > 0 {
		t.Errorf("unsaved text was stored: %v", leaks)
	}
	e.scanLogs(canaries)
}

// TestRightsKeywordsInChat: MY DATA shows what is held, STOP withdraws
// consent and deletes the fields held on it, DELETE MY DATA then YES erases
// everything.
func TestRightsKeywordsInChat(t *testing.T) {
	e := newEnv(t)
	chat := e.chat(canaryUser, "hi", "YES", canaryName, canaryEmail, "MY DATA", "STOP")
	for _, want := range []string{"This is what we hold about you:", canaryName, canaryEmail, "Which day suits you?", "you have withdrawn your consent"} {
		if !strings.Contains(chat.stdout, want) {
			t.Errorf("transcript lacks %q:\n%s", want, chat.stdout)
		}
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	if len(ex.Fields) != 0 {
		t.Errorf("after STOP the export still holds %q", fieldNames(ex))
	}
	if len(ex.Consents) != 2 || ex.Consents[0].Decision != "granted" || ex.Consents[1].Decision != "withdrawn" ||
		ex.Consents[1].MessageID != "cli-6" || ex.Consents[1].NoticeHash != ex.Consents[0].NoticeHash {
		t.Errorf("consent history after STOP = %+v, want granted then withdrawn (by cli-6, same notice)", ex.Consents)
	}

	other := "whatsapp:15550001111"
	chat = e.chat(other, "hi", "YES", canaryName, "DELETE MY DATA", "YES")
	if !strings.Contains(chat.stdout, "erase everything we hold about you") || !strings.Contains(chat.stdout, "has been erased") {
		t.Errorf("erasure not asked and confirmed:\n%s", chat.stdout)
	}
	ex = e.export(e.dir, other, time.Now())
	if len(ex.Fields) != 0 || len(ex.Consents) != 0 || ex.Conversation != nil {
		t.Errorf("after DELETE MY DATA the export holds %q, %d consents, %+v", fieldNames(ex), len(ex.Consents), ex.Conversation)
	}
	audit := e.must("", "audit", "verify", "--data", e.dir, "--key-file", e.key)
	if !strings.Contains(audit.stdout, "audit log intact") {
		t.Errorf("audit verify: %s", audit.stdout)
	}
	// The first subject is unaffected by the second one's erasure.
	if ex := e.export(e.dir, canaryUser, time.Now()); len(ex.Consents) != 2 {
		t.Errorf("erasing one subject touched another: %d consents left", len(ex.Consents))
	}
	e.scanLogs(canaries)
}

// TestDevelopmentKeyWarnsLoudly: without a configured key the CLI creates a
// development key in the data directory and says so on stderr, and says so
// again on every later run that uses it.
func TestDevelopmentKeyWarnsLoudly(t *testing.T) {
	t.Setenv("PARLEY_MASTER_KEY", "")
	dir := filepath.Join(t.TempDir(), "data")
	var out, errb bytes.Buffer
	if code := run([]string{"chat", "--flow", bookingFlow, "--data", dir, "--user", canaryUser}, strings.NewReader("hi\nNO\n"), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "WARNING: no master key configured") || !strings.Contains(errb.String(), "DEVELOPMENT key") {
		t.Errorf("no dev key warning on stderr:\n%s", errb.String())
	}
	if fi, err := os.Stat(filepath.Join(dir, vault.DevKeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("dev key file: %v, %v; want mode 0600", fi, err)
	}
	errb.Reset()
	if code := run([]string{"subject", "export", "--data", dir, "--user", canaryUser}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("second run: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "WARNING: no master key configured") {
		t.Errorf("no warning once the key exists; every start that uses it must warn:\n%s", errb.String())
	}
	// A wrong key does not open the data, and changes nothing.
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte(base64.StdEncoding.EncodeToString(randomKey(t))), 0o600); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"subject", "export", "--data", dir, "--key-file", bad, "--user", canaryUser}, strings.NewReader(""), &out, &errb); code != exitFailure ||
		!strings.Contains(errb.String(), "does not open the data") {
		t.Errorf("wrong key: exit %d, stderr %q", code, errb.String())
	}
}
