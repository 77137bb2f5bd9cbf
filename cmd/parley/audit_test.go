package main

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/parleyhq/parley/engine/vault"
)

// These tests attack the audit log and the restore path the way someone
// holding the data directory and the master key would, and check what the
// real commands say afterwards.

// copyLedger copies erasures.log from one data directory into another, as
// docs/privacy.md tells operators to before restoring into a new directory.
func copyLedger(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, "erasures.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(to, "erasures.log"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// attackerDB opens the vault's Badger files directly with the master key
// (the storage key is derived from it as the published source does).
func (e *env) attackerDB(dir string) *badger.DB {
	e.t.Helper()
	master, _, err := vault.LoadMasterKey("", e.key, "")
	if err != nil {
		e.t.Fatal(err)
	}
	k, err := hkdf.Key(sha256.New, master, nil, "parley/vault/badger-encryption/v1", 32)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, "db")).WithEncryptionKey(k).
		WithIndexCacheSize(16 << 20).WithBlockCacheSize(32 << 20).WithLogger(nil))
	if err != nil {
		e.t.Fatal(err)
	}
	return db
}

// rawAudit is an audit entry in its stored (canonical JSON) form.
type rawAudit struct {
	Seq     uint64            `json:"seq"`
	At      time.Time         `json:"at"`
	Actor   string            `json:"actor"`
	Action  string            `json:"action"`
	Subject string            `json:"subject,omitempty"`
	Detail  map[string]string `json:"detail,omitempty"`
	Prev    string            `json:"prev"`
}

// rechain rewrites the audit log in the store: edit gets the entries, oldest
// first, and returns the ones to keep; every hash and the store's head are
// recomputed, so the chain is consistent in itself.
func (e *env) rechain(dir string, edit func([]rawAudit) []rawAudit) {
	e.t.Helper()
	db := e.attackerDB(dir)
	defer db.Close()
	var entries []rawAudit
	err := db.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("a/")})
		var keys [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			var a rawAudit
			b, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &a); err != nil {
				return err
			}
			entries = append(entries, a)
			keys = append(keys, it.Item().KeyCopy(nil))
		}
		it.Close()
		for _, k := range keys {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		prev := ""
		var at time.Time
		kept := edit(entries)
		for i := range kept {
			kept[i].Seq, kept[i].Prev = uint64(i+1), prev
			b, err := json.Marshal(kept[i])
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			prev, at = hex.EncodeToString(sum[:]), kept[i].At
			if err := txn.Set(fmt.Appendf(nil, "a/%016x", kept[i].Seq), b); err != nil {
				return err
			}
		}
		head, _ := json.Marshal(map[string]any{"seq": len(kept), "hash": prev, "at": at})
		return txn.Set([]byte("m/audit-head"), head)
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(entries) < 4 {
		e.t.Fatalf("only %d audit entries to tamper with", len(entries))
	}
}

// auditEntries runs audit show --format json with extra flags.
func (e *env) auditEntries(dir string, flags ...string) []vault.AuditEntry {
	e.t.Helper()
	r := e.must("", append([]string{"audit", "show", "--data", dir, "--key-file", e.key, "--format", "json"}, flags...)...)
	var out []vault.AuditEntry
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		e.t.Fatalf("audit show printed no JSON: %v\n%s", err, r.stdout)
	}
	return out
}

func (e *env) verify(dir string) cliResult {
	e.t.Helper()
	return e.parley("", "audit", "verify", "--data", dir, "--key-file", e.key)
}

// auditedVault has a conversation and a few rights requests on record.
func auditedVault(t *testing.T) *env {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	for range 4 {
		e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	}
	if r := e.verify(e.dir); r.code != exitOK || !strings.Contains(r.stdout, "audit log intact: 4 entries") {
		t.Fatalf("audit verify before tampering: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	return e
}

func wantBroken(t *testing.T, r cliResult, why string) {
	t.Helper()
	if r.code != exitFindings || !strings.Contains(r.stdout, "audit log BROKEN") || !strings.Contains(r.stdout, why) {
		t.Errorf("audit verify: exit %d, stdout %q; want exit %d and BROKEN: %s", r.code, r.stdout, exitFindings, why)
	}
}

// TestAuditVerifyCatchesTruncationRechainAndRollback: entries removed from
// the end and the rest re-chained, an entry altered and everything after it
// re-chained, and an older copy of the store put back all fail verify,
// through the real files and the master key; a restore is the one rollback
// that verifies.
func TestAuditVerifyCatchesTruncationRechainAndRollback(t *testing.T) {
	t.Run("last entries removed and re-chained", func(t *testing.T) {
		e := auditedVault(t)
		e.rechain(e.dir, func(es []rawAudit) []rawAudit { return es[:len(es)-2] })
		wantBroken(t, e.verify(e.dir), "removed from the end")
	})
	t.Run("an entry altered and re-chained", func(t *testing.T) {
		e := auditedVault(t)
		e.rechain(e.dir, func(es []rawAudit) []rawAudit {
			es[1].Action = "subject.rectify:ok"
			return es
		})
		wantBroken(t, e.verify(e.dir), "not the one the head file recorded")
	})
	t.Run("the head file deleted too", func(t *testing.T) {
		e := auditedVault(t)
		e.rechain(e.dir, func(es []rawAudit) []rawAudit { return es[:len(es)-1] })
		if err := os.Remove(filepath.Join(e.dir, "audit.head")); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, e.verify(e.dir), "head file")
	})
	t.Run("an older copy of the store put back", func(t *testing.T) {
		e := auditedVault(t)
		old := filepath.Join(filepath.Dir(e.dir), "db-copy")
		if err := copyDir(filepath.Join(e.dir, "db"), old); err != nil {
			t.Fatal(err)
		}
		e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
		if err := os.RemoveAll(filepath.Join(e.dir, "db")); err != nil {
			t.Fatal(err)
		}
		if err := copyDir(old, filepath.Join(e.dir, "db")); err != nil {
			t.Fatal(err)
		}
		wantBroken(t, e.verify(e.dir), "older copy")
		// New entries on the rolled-back store do not cover it up.
		e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
		e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
		wantBroken(t, e.verify(e.dir), "older copy")
	})
	t.Run("a restore verifies and says what it replaced", func(t *testing.T) {
		e := auditedVault(t)
		backup := filepath.Join(filepath.Dir(e.dir), "b.pvb")
		e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)
		e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
		before := e.auditEntries(e.dir)
		if err := os.RemoveAll(filepath.Join(e.dir, "db")); err != nil {
			t.Fatal(err)
		}
		e.must("", "restore", "--data", e.dir, "--key-file", e.key, "--in", backup)
		if r := e.verify(e.dir); r.code != exitOK {
			t.Errorf("audit verify after a restore: exit %d: %s", r.code, r.stdout)
		}
		after := e.auditEntries(e.dir)
		last := after[len(after)-1]
		if last.Action != "restore" || last.Detail["replaced_seq"] != "6" || last.Detail["replaced_hash"] == "" || last.Detail["backup_id"] == "" {
			t.Errorf("last entry after restore = %+v, want a restore replacing the head at 6 (had %d entries)", last, len(before))
		}
		e.scanLogs(canaries)
	})
}

// TestNowNeverBackdatesHistory: --now on a rights command decides what has
// expired; audit entries and the erasure are dated by the real clock.
func TestNowNeverBackdatesHistory(t *testing.T) {
	e := newEnv(t)
	start := time.Now().Add(-time.Second)
	e.chat(canaryUser, bookingWithCanaries...)
	past := "2001-01-01T00:00:00Z"
	e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--now", past)
	r := e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser, "--now", past)
	e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", past)
	end := time.Now().Add(time.Second)
	entries := e.auditEntries(e.dir)
	if len(entries) != 3 {
		t.Fatalf("audit log has %d entries, want 3 (export, erase, purge): %+v", len(entries), entries)
	}
	for _, a := range entries {
		if a.At.Before(start) || a.At.After(end) {
			t.Errorf("audit entry %d (%s) dated %s, want the real time between %s and %s", a.Seq, a.Action, a.At, start, end)
		}
	}
	var receipt struct {
		ErasedAt time.Time `json:"erased_at"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &receipt); err != nil || receipt.ErasedAt.Before(start) {
		t.Errorf("erasure receipt dated %s (err %v), want the real time", receipt.ErasedAt, err)
	}
	ledger, err := os.ReadFile(filepath.Join(e.dir, "erasures.log"))
	if err != nil || !bytes.Contains(ledger, []byte(receipt.ErasedAt.UTC().Format("2006-01-02"))) || bytes.Contains(ledger, []byte("2001-")) {
		t.Errorf("erasures.log = %q (err %v), want the erasure at the real time", ledger, err)
	}
}

// TestAuditShow: text and JSON, filtered by customer (given as CHANNEL:ID,
// shown only as the pseudonym) and by time; nothing personal is printed.
func TestAuditShow(t *testing.T) {
	e := newEnv(t)
	other := "whatsapp:15550001111"
	e.chat(canaryUser, bookingWithCanaries...)
	e.chat(other, "hi", "NO")
	exA := e.export(e.dir, canaryUser, time.Now())
	exB := e.export(e.dir, other, time.Now())
	e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", other)

	text := e.must("", "audit", "show", "--data", e.dir, "--key-file", e.key)
	lines := strings.Split(strings.TrimSpace(text.stdout), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "1 ") || !strings.Contains(lines[0], " cli subject.export:ok subject="+exA.Subject) ||
		!strings.Contains(lines[2], "subject.erase:ok subject="+exB.Subject) {
		t.Errorf("audit show (text) =\n%s\nwant 3 lines: export A, export B, erase B", text.stdout)
	}

	mine := e.auditEntries(e.dir, "--subject", other)
	if len(mine) != 2 || mine[0].Subject != exB.Subject || mine[1].Action != "subject.erase:ok" {
		t.Errorf("audit show --subject %s = %+v, want its export and erase only", other, mine)
	}
	if got := e.auditEntries(e.dir, "--since", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(got) != 0 {
		t.Errorf("audit show --since in an hour = %+v, want nothing", got)
	}
	if got := e.auditEntries(e.dir, "--since", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)); len(got) != 3 {
		t.Errorf("audit show --since an hour ago: %d entries, want 3", len(got))
	}
	if r := e.parley("", "audit", "show", "--data", e.dir, "--key-file", e.key, "--format", "xml"); r.code != exitUsage || !strings.Contains(r.stderr, "text or json") {
		t.Errorf("--format xml: exit %d, %q", r.code, r.stderr)
	}
	if r := e.parley("", "audit", "show", "--data", e.dir, "--key-file", e.key, "--subject", "15550001111"); r.code != exitUsage || !strings.Contains(r.stderr, "CHANNEL:ID") {
		t.Errorf("--subject without a channel: exit %d, %q", r.code, r.stderr)
	}
	if r := e.parley("", "audit", "show", "--help"); r.code != exitOK || !strings.Contains(r.stderr, "--since") || !strings.Contains(r.stderr, "--subject") {
		t.Errorf("audit show --help: exit %d:\n%s", r.code, r.stderr)
	}
	e.scanLogs(append(canaries, "15550001111"))
}

// TestMyDataAndPrivacyInChatAreAudited: the access keywords are audit
// events with the pseudonym, the right and the flow, and nothing shown.
func TestMyDataAndPrivacyInChatAreAudited(t *testing.T) {
	e := newEnv(t)
	chat := e.chat(canaryUser, "hi", "YES", canaryName, "MY DATA", "PRIVACY")
	if !strings.Contains(chat.stdout, canaryName) {
		t.Fatalf("MY DATA did not show the name:\n%s", chat.stdout)
	}
	ex := e.export(e.dir, canaryUser, time.Now())
	got := e.auditEntries(e.dir, "--subject", canaryUser)
	var access []string
	for _, a := range got {
		if strings.HasPrefix(a.Action, "access.") {
			access = append(access, a.Action)
			if a.Subject != ex.Subject || a.Detail["flow"] != "booking" || a.Detail["via"] != "chat" || len(a.Detail) != 2 {
				t.Errorf("access entry %+v: want the pseudonym, flow booking, via chat and nothing else", a)
			}
		}
	}
	if strings.Join(access, ",") != "access.my_data,access.privacy" {
		t.Errorf("access entries = %v, want access.my_data then access.privacy", access)
	}
	if r := e.verify(e.dir); r.code != exitOK {
		t.Errorf("audit verify: %s", r.stdout)
	}
	e.scanLogs(canaries)
}

// TestRestoreRefusesWithoutTheLedger: a backup restored without an erasure
// ledger at least as new as it is refused and nothing is restored; with the
// current ledger it restores and the erasure holds; --without-ledger
// restores, warns and is audited.
func TestRestoreRefusesWithoutTheLedger(t *testing.T) {
	e := newEnv(t)
	root := filepath.Dir(e.dir)
	e.chat(canaryUser, bookingWithCanaries...)
	stale := filepath.Join(root, "stale")
	copyLedger(t, e.dir, stale) // a ledger from before the backup
	backup := filepath.Join(root, "b.pvb")
	e.must("", "backup", "--data", e.dir, "--key-file", e.key, "--out", backup)
	e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)

	for name, dir := range map[string]string{"no ledger": filepath.Join(root, "bare"), "a ledger older than the backup": stale} {
		r := e.parley("", "restore", "--data", dir, "--key-file", e.key, "--in", backup)
		if r.code != exitFindings || !strings.Contains(r.stderr, "nothing was restored") ||
			!strings.Contains(r.stderr, "erasures.log") || !strings.Contains(r.stderr, "--without-ledger") {
			t.Errorf("%s: restore exit %d, stderr %q; want exit 1 saying to copy erasures.log or use --without-ledger", name, r.code, r.stderr)
		}
		if ents, _ := os.ReadDir(filepath.Join(dir, "db")); len(ents) != 0 {
			t.Errorf("%s: a refused restore left %d files in db", name, len(ents))
		}
	}

	good := filepath.Join(root, "good")
	copyLedger(t, e.dir, good)
	e.must("", "restore", "--data", good, "--key-file", e.key, "--in", backup)
	if ex := e.export(good, canaryUser, time.Now()); len(ex.Fields) != 0 || len(ex.Consents) != 0 {
		t.Errorf("restored with the ledger: erased customer back with %q", fieldNames(ex))
	}

	forced := filepath.Join(root, "forced")
	r := e.must("", "restore", "--data", forced, "--key-file", e.key, "--in", backup, "--without-ledger")
	if !strings.Contains(r.stderr, "WARNING: restored WITHOUT checking the erasure ledger") {
		t.Errorf("--without-ledger gave no loud warning:\n%s", r.stderr)
	}
	entries := e.auditEntries(forced)
	if last := entries[len(entries)-1]; last.Action != "restore" || last.Detail["without_ledger"] != "true" {
		t.Errorf("last audit entry = %+v, want a restore without_ledger=true", last)
	}
	// The documented price of --without-ledger: a later erasure is lost.
	if ex := e.export(forced, canaryUser, time.Now()); len(ex.Fields) != 3 {
		t.Errorf("restored without the ledger: %d fields; docs/privacy.md says the customer comes back", len(ex.Fields))
	}
	e.scanLogs(canaries)
}

// TestPurgeNowCannotExpireHistory: purge --now far in the future removes
// expired fields, but audit entries and erasures go by the real clock.
func TestPurgeNowCannotExpireHistory(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	e.must("", "subject", "erase", "--data", e.dir, "--key-file", e.key, "--user", "whatsapp:15550001111")
	r := e.must("", "purge", "--data", e.dir, "--key-file", e.key, "--now", "2099-01-01T00:00:00Z")
	if !strings.Contains(r.stdout, "expired fields removed: 3") || !strings.Contains(r.stdout, "old audit entries removed: 0") ||
		!strings.Contains(r.stdout, "old erasures forgotten: 0") {
		t.Errorf("purge --now 2099:\n%s\nwant the 3 fields expired and no audit entry or erasure removed", r.stdout)
	}
	if got := e.auditEntries(e.dir); len(got) != 2 {
		t.Errorf("audit log after purge --now 2099: %d entries, want 2", len(got))
	}
	ledger, err := os.ReadFile(filepath.Join(e.dir, "erasures.log"))
	if err != nil || !bytes.Contains(ledger, []byte(`"receipt"`)) {
		t.Errorf("erasures.log after purge --now 2099 = %q (%v), want the erasure kept", ledger, err)
	}
}
