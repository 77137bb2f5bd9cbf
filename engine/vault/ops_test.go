package vault

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestAuditChainDetectsTampering(t *testing.T) {
	setup := func(t *testing.T) *Vault {
		c := newClock()
		v := openMem(t, c)
		for i := range 5 {
			c.Add(time.Minute)
			if err := v.Audit("dpo@cli", "subject.export", "subj-"+fmt.Sprint(i), map[string]string{"reason": "art15", "ticket": fmt.Sprint(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := v.AuditVerify(); n != 5 || err != nil {
			t.Fatalf("AuditVerify = %d, %v; want 5, nil", n, err)
		}
		return v
	}
	// The tampering writes the backend directly, below the audit code.
	raw := func(t *testing.T, v *Vault, fn func(txn kvTxn) error) {
		t.Helper()
		if err := v.update(fn); err != nil {
			t.Fatal(err)
		}
	}
	get := func(txn kvTxn, seq uint64) []byte {
		item, err := txn.Get(auditKey(seq))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := item.ValueCopy(nil)
		return b
	}
	cases := []struct {
		name   string
		tamper func(txn kvTxn) error
	}{
		{"an entry edited", func(txn kvTxn) error {
			return txn.Set(auditKey(2), []byte(strings.Replace(string(get(txn, 2)), "export", "erase", 1)))
		}},
		{"the last entry edited", func(txn kvTxn) error {
			return txn.Set(auditKey(5), []byte(strings.Replace(string(get(txn, 5)), "art15", "art17", 1)))
		}},
		{"an entry removed", func(txn kvTxn) error { return txn.Delete(auditKey(3)) }},
		{"the last entry removed", func(txn kvTxn) error { return txn.Delete(auditKey(5)) }},
		{"two entries swapped", func(txn kvTxn) error {
			a, b := get(txn, 2), get(txn, 3)
			if err := txn.Set(auditKey(2), b); err != nil {
				return err
			}
			return txn.Set(auditKey(3), a)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := setup(t)
			raw(t, v, tc.tamper)
			if _, err := v.AuditVerify(); !errors.Is(err, ErrAuditTampered) {
				t.Errorf("AuditVerify = %v, want ErrAuditTampered", err)
			}
		})
	}
}

func TestInboxDedupesAcrossReopen(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	for i, id := range []string{"wamid.A", "wamid.B", "wamid.C"} {
		if dup, err := v.InboxPut(id, s, []byte(fmt.Sprint("msg", i)), c.Now()); dup || err != nil {
			t.Fatalf("InboxPut(%s) = %v, %v", id, dup, err)
		}
	}
	if err := v.InboxDone("wamid.A"); err != nil {
		t.Fatal(err)
	}
	v.Close()
	v = openDisk(t, dir, c)
	defer v.Close()
	c.Add(2 * day)
	for _, id := range []string{"wamid.A", "wamid.B"} {
		if dup, err := v.InboxPut(id, s, []byte("again"), c.Now()); !dup || err != nil {
			t.Errorf("InboxPut(%s) redelivered after reopen = %v, %v; want dup", id, dup, err)
		}
	}
	in, err := v.InboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(in) != 2 || in[0].MsgID != "wamid.B" || in[1].MsgID != "wamid.C" || string(in[0].Payload) != "msg1" || in[0].Subject != s {
		t.Errorf("InboxPending = %+v, want B then C", in)
	}
	// After the window the id is forgotten (and swept).
	c.Add(8 * day)
	st, err := v.Sweep(c.Now())
	if err != nil || st.Dedupe != 3 {
		t.Errorf("Sweep = %+v, %v; want all 3 dedupe markers removed", st, err)
	}
	if dup, _ := v.InboxPut("wamid.A", s, []byte("new"), c.Now()); dup {
		t.Error("InboxPut after the dedupe window = dup, want new")
	}
	if err := v.InboxDone("wamid.nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("InboxDone(unknown) = %v, want ErrNotFound", err)
	}
}

func TestOutboxLifecycle(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	seq1, err := v.OutboxPut(s, []byte("hello "+canaries[0]))
	if err != nil {
		t.Fatal(err)
	}
	seq2, _ := v.OutboxPut(s, []byte("second"))
	if err := v.OutboxUpdate(seq1, OutboxUpdate{Status: "sent", Attempts: 1, ChannelMsgID: "wamid.OUT1"}); err != nil {
		t.Fatal(err)
	}
	out, err := v.OutboxPending()
	if err != nil || len(out) != 2 || out[0].Seq != seq1 || out[0].Status != "sent" || string(out[1].Payload) != "second" {
		t.Fatalf("OutboxPending = %+v, %v", out, err)
	}
	if err := v.OutboxDone(seq1); err != nil {
		t.Fatal(err)
	}
	got, gs, err := v.OutboxByChannelID("wamid.OUT1")
	if err != nil || got != seq1 || gs != s {
		t.Errorf("OutboxByChannelID = %d, %v, %v; want %d", got, gs, err, seq1)
	}
	if _, _, err := v.OutboxByChannelID("wamid.none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("OutboxByChannelID(unknown) = %v, want ErrNotFound", err)
	}
	if err := v.OutboxUpdate(seq1, OutboxUpdate{Status: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("OutboxUpdate(done) = %v, want ErrNotFound", err)
	}
	if out, _ := v.OutboxPending(); len(out) != 1 || out[0].Seq != seq2 {
		t.Errorf("OutboxPending after done = %+v", out)
	}
}

// TestConsentSurvivesSIGKILL re-runs this test binary as a child that
// commits a consent record and is then killed without any chance to close
// the vault; the parent reopens the directory and finds the record.
func TestConsentSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv("PARLEY_VAULT_CRASH_DIR"); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestConsentSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "PARLEY_VAULT_CRASH_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf) // the child prints "committed" once Commit returned
	if !strings.Contains(string(buf[:n]), "committed") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, want committed", buf[:n])
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	c := newClock()
	v := openDisk(t, dir, c)
	defer v.Close()
	ex, err := v.Export(v.SubjectID("whatsapp", canaries[2]), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Consents) != 1 || ex.Consents[0].MessageID != "wamid.CONSENT1" {
		t.Errorf("consents after SIGKILL = %+v, want the committed record", ex.Consents)
	}
}

func crashChild(dir string) {
	c := newClock()
	v, err := Open(diskOpts(dir, c))
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	s := v.SubjectID("whatsapp", canaries[2])
	if err := v.Commit(s, bookingChange(c)); err != nil {
		fmt.Println("commit:", err)
		os.Exit(1)
	}
	fmt.Println("committed")
	select {} // wait to be killed, vault still open
}

func TestConcurrentTurnsAndErasures(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	const workers, turns = 16, 60
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range turns {
				s := v.SubjectID("whatsapp", fmt.Sprint("user-", (w*turns+i)%40)) // subjects shared between workers
				if _, _, err := v.LoadSubject(s, c.Now()); err != nil {
					errs <- err
					return
				}
				ch := Change{State: []byte(fmt.Sprint("turn ", i)), Put: []FieldRecord{{Name: "name", Value: []byte("v"), ExpiresAt: c.Now().Add(day)}}}
				if i%10 == 0 {
					ch.Consents = []ConsentRecord{{Purpose: "p", Granted: true, At: c.Now()}}
				}
				if err := v.Commit(s, ch); err != nil {
					errs <- err
					return
				}
				switch i % 20 {
				case 7:
					if _, err := v.Erase(s, c.Now()); err != nil {
						errs <- err
						return
					}
				case 13:
					if err := v.Audit("test", "poke", string(s), nil); err != nil {
						errs <- err
						return
					}
				case 17:
					if _, err := v.InboxPut(fmt.Sprint("m", w, i), s, []byte("x"), c.Now()); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if err := v.Purge(); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := v.AuditVerify(); err != nil || n != workers*turns/20 {
		t.Errorf("AuditVerify = %d, %v; want %d", n, err, workers*turns/20)
	}
}

func TestLoadMasterKey(t *testing.T) {
	want := testKey(7)
	b64 := base64.StdEncoding.EncodeToString(want)
	t.Run("env", func(t *testing.T) {
		k, gen, err := LoadMasterKey(b64, "", "")
		if err != nil || gen || string(k) != string(want) {
			t.Errorf("LoadMasterKey(env) = %x, %v, %v", k, gen, err)
		}
	})
	t.Run("key file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "k")
		os.WriteFile(p, []byte(b64+"\n"), 0o600)
		k, _, err := LoadMasterKey("", p, "")
		if err != nil || string(k) != string(want) {
			t.Errorf("LoadMasterKey(file) = %x, %v", k, err)
		}
	})
	t.Run("malformed keys are clear errors without the key", func(t *testing.T) {
		for _, bad := range []string{"not base64!!", base64.StdEncoding.EncodeToString([]byte("short"))} {
			_, _, err := LoadMasterKey(bad, "", "")
			if err == nil || strings.Contains(err.Error(), bad) {
				t.Errorf("LoadMasterKey(%q) = %v, want an error that does not echo the key", bad, err)
			}
		}
		if _, _, err := LoadMasterKey(b64, "/some/file", ""); err == nil {
			t.Error("LoadMasterKey(env and file) = nil, want an error")
		}
	})
	t.Run("development key created once", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		k1, gen1, err := LoadMasterKey("", "", dir)
		if err != nil || !gen1 || len(k1) != MasterKeySize {
			t.Fatalf("first LoadMasterKey = %v, %v", gen1, err)
		}
		info, err := os.Stat(filepath.Join(dir, DevKeyFile))
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("master.key mode = %v, %v; want 0600", info.Mode().Perm(), err)
		}
		k2, gen2, err := LoadMasterKey("", "", dir)
		if err != nil || gen2 || string(k2) != string(k1) {
			t.Errorf("second LoadMasterKey = %v, %v; want the same key, not generated", gen2, err)
		}
	})
}

func TestStats(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	defer v.Close()
	fillSubject(t, v, c)
	st, err := v.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Subjects != 1 || st.Fields != 3 || st.Consents != 1 || st.InboxPending != 1 || st.OutboxPending != 1 || st.DiskBytes == 0 {
		t.Errorf("Stats = %+v", st)
	}
}
