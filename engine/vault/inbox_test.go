package vault

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// rawInbox counts the iq/ entries the inbox DB holds, processed or not.
func rawInbox(t *testing.T, v *Vault) int {
	t.Helper()
	n := 0
	err := v.inboxView(func(txn kvReader) error {
		return txn.Scan(prefixIQ, false, func([]byte, kvItem) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func pendingIDs(t *testing.T, v *Vault) []string {
	t.Helper()
	in, err := v.InboxPending()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range in {
		ids = append(ids, e.MsgID)
	}
	return ids
}

// A message whose turn was committed with InboxDone is not pending any more
// at once, while its payload stays in the inbox DB until the main DB was
// synced; the background loop then purges it, after the main DB sync.
func TestInboxDoneHidesAtOncePurgesAfterMainSync(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	o := diskOpts(dir, c)
	o.SyncInterval = 20 * time.Millisecond
	var v *Vault
	var hold atomic.Bool
	release := make(chan struct{})
	var syncs atomic.Int64
	var purgedBeforeSync atomic.Bool
	o.onSync = func(db string) {
		if db != dbSubdir || !hold.Load() {
			return
		}
		// Main DB syncs wait until the test has looked; the purge cannot
		// run before them. The payload is still in the inbox DB then.
		<-release
		if syncs.Add(1) == 1 && rawInbox(t, v) < 2 {
			purgedBeforeSync.Store(true)
		}
	}
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s := v.SubjectID("whatsapp", canaries[2])
	for _, id := range []string{"wamid.1", "wamid.2"} {
		if _, err := v.InboxPut(id, s, []byte("hi "+id), c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	hold.Store(true)
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), Outbox: [][]byte{[]byte("reply")}, InboxDone: "wamid.1"}); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, v); len(got) != 1 || got[0] != "wamid.2" {
		t.Errorf("InboxPending after CommitTurn(InboxDone) = %v, want [wamid.2]", got)
	}
	if st, err := v.Stats(); err != nil || st.InboxPending != 1 {
		t.Errorf("Stats.InboxPending = %d, %v; want 1", st.InboxPending, err)
	}
	if n := rawInbox(t, v); n != 2 {
		t.Errorf("inbox DB before the main DB sync = %d entries, want 2", n)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for rawInbox(t, v) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("inbox DB still holds %d entries, want the processed one purged", rawInbox(t, v))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if syncs.Load() == 0 || purgedBeforeSync.Load() {
		t.Errorf("purge ran without a main DB sync before it (syncs %d, purged before sync %v)", syncs.Load(), purgedBeforeSync.Load())
	}
	if got := pendingIDs(t, v); len(got) != 1 || got[0] != "wamid.2" {
		t.Errorf("InboxPending after purge = %v, want [wamid.2]", got)
	}
}

// Close syncs the main DB and then purges what was processed.
func TestInboxPurgedAtClose(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	o := diskOpts(dir, c)
	o.SyncInterval = time.Hour // the loop never runs here
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	s := v.SubjectID("whatsapp", canaries[2])
	if _, err := v.InboxPut("wamid.X", s, []byte("x"), c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), InboxDone: "wamid.X"}); err != nil {
		t.Fatal(err)
	}
	if n := rawInbox(t, v); n != 1 {
		t.Fatalf("inbox DB before Close = %d entries, want 1 (purge waits for a main sync)", n)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if n := rawInbox(t, v); n != 0 {
		t.Errorf("inbox DB after Close and reopen = %d entries, want 0", n)
	}
	if dup, err := v.InboxPut("wamid.X", s, []byte("x"), c.Now()); !dup || err != nil {
		t.Errorf("redelivery after purge = %v, %v; want dup", dup, err)
	}
}

// InboxPut never fsyncs the main DB for a subject whose key is on stable
// storage, and a main DB read and commit go through while an inbox fsync is
// in progress (the inbox fsync is held open by the hook until they finish).
func TestInboxPutDoesNotSyncOrBlockMainDB(t *testing.T) {
	c := newClock()
	o := diskOpts(t.TempDir(), c)
	o.SyncInterval = time.Hour
	var mainSyncs, inboxSyncs atomic.Int64
	var hold atomic.Bool
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	o.onSync = func(db string) {
		switch db {
		case dbSubdir:
			mainSyncs.Add(1)
		case inboxSubdir:
			inboxSyncs.Add(1)
			if hold.Load() {
				select {
				case entered <- struct{}{}:
				default:
				}
				<-release
			}
		}
	}
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s := v.SubjectID("whatsapp", canaries[2])
	other := v.SubjectID("whatsapp", "someone-else")

	// The first message of a new subject syncs the main DB once: its data
	// key must be durable before a payload sealed under it is.
	mainSyncs.Store(0)
	if _, err := v.InboxPut("wamid.first", s, []byte("hello"), c.Now()); err != nil {
		t.Fatal(err)
	}
	if n := mainSyncs.Load(); n != 1 {
		t.Errorf("main DB syncs for a new subject's first message = %d, want 1", n)
	}
	if err := v.Commit(other, Change{State: []byte("o"), Consents: []ConsentRecord{{Purpose: "p", Granted: true, At: c.Now()}}}); err != nil {
		t.Fatal(err)
	}

	mainSyncs.Store(0)
	inboxSyncs.Store(0)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := v.InboxPut(fmt.Sprint("wamid.", i), s, []byte("x"), c.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if mainSyncs.Load() != 0 || inboxSyncs.Load() == 0 {
		t.Errorf("20 InboxPut: main DB syncs %d (want 0), inbox DB syncs %d (want > 0)", mainSyncs.Load(), inboxSyncs.Load())
	}

	// Hold an inbox fsync open and run a turn on the main DB meanwhile.
	hold.Store(true)
	put := make(chan error, 1)
	go func() {
		_, err := v.InboxPut("wamid.held", s, []byte("x"), c.Now())
		put <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("InboxPut never reached the inbox fsync")
	}
	turn := make(chan error, 1)
	go func() {
		if _, _, err := v.LoadSubject(other, c.Now()); err != nil {
			turn <- err
			return
		}
		_, err := v.CommitTurn(other, Change{State: []byte("o2"), Outbox: [][]byte{[]byte("r")}})
		turn <- err
	}()
	select {
	case err := <-turn:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Error("LoadSubject+CommitTurn blocked while the inbox DB was syncing")
	}
	hold.Store(false)
	close(release)
	if err := <-put; err != nil {
		t.Error(err)
	}
	if n := mainSyncs.Load(); n != 0 {
		t.Errorf("main DB syncs during InboxPut = %d, want 0", n)
	}
}

// A message put and not processed survives a restart; one processed with
// CommitTurn(InboxDone) does not come back, purged or not.
func TestInboxAcrossRestart(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	o := diskOpts(dir, c)
	o.SyncInterval = time.Hour
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	s := v.SubjectID("whatsapp", canaries[2])
	for _, id := range []string{"wamid.todo", "wamid.done"} {
		if _, err := v.InboxPut(id, s, []byte("p "+id), c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), Consents: []ConsentRecord{{Purpose: "p", Granted: true, At: c.Now(), MessageID: "wamid.done"}}, InboxDone: "wamid.done"}); err != nil {
		t.Fatal(err)
	}
	// Leave the processed payload behind, as a process killed before its
	// purge would: only the release of the databases, no sync-and-purge.
	v.closeMu.Lock()
	v.isClosed = true
	close(v.stop)
	v.closeMu.Unlock()
	v.wg.Wait()
	if err := v.release(); err != nil {
		t.Fatal(err)
	}

	v, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	if n := rawInbox(t, v); n != 2 {
		t.Fatalf("inbox DB after the unpurged stop = %d entries, want 2", n)
	}
	in, err := v.InboxPending()
	if err != nil || len(in) != 1 || in[0].MsgID != "wamid.todo" || string(in[0].Payload) != "p wamid.todo" || in[0].Subject != s {
		t.Fatalf("InboxPending after reopen = %+v, %v; want wamid.todo", in, err)
	}
	if err := v.Close(); err != nil { // purges the leftover found at Open
		t.Fatal(err)
	}
	v, err = Open(o)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if n := rawInbox(t, v); n != 1 {
		t.Errorf("inbox DB after a clean Close = %d entries, want 1", n)
	}
	if got := pendingIDs(t, v); len(got) != 1 || got[0] != "wamid.todo" {
		t.Errorf("InboxPending after second reopen = %v, want [wamid.todo]", got)
	}
	if ex, err := v.Export(s, c.Now()); err != nil || len(ex.Consents) != 1 {
		t.Errorf("consents = %+v, %v; want 1", ex.Consents, err)
	}
}

// Erase removes the subject's inbox entries from the inbox DB and counts
// the unprocessed ones in the receipt; Sweep removes entries sealed under a
// key that was destroyed after they were listed.
func TestEraseDropsInboxEntries(t *testing.T) {
	c := newClock()
	v := openDisk(t, t.TempDir(), c)
	defer v.Close()
	s := v.SubjectID("whatsapp", canaries[2])
	keep := v.SubjectID("whatsapp", "someone-else")
	for i, id := range []string{"wamid.a", "wamid.b", "wamid.c"} {
		if _, err := v.InboxPut(id, s, []byte("x"), c.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := v.InboxPut(fmt.Sprint("wamid.keep", i), keep, []byte("k"), c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), InboxDone: "wamid.a"}); err != nil {
		t.Fatal(err)
	}
	r, err := v.Erase(s, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.Inbox != 2 {
		t.Errorf("receipt Inbox = %d, want 2 (wamid.a was processed)", r.Inbox)
	}
	if n := rawInbox(t, v); n != 3 {
		t.Errorf("inbox DB after Erase = %d entries, want the other subject's 3", n)
	}
	// An orphan: sealed under a key destroyed since (as a message arriving
	// during an erasure would be).
	q := rawIQ{seq: 999, subject: s, at: c.Now(), hash: "00", keyID: make([]byte, 16), sealed: []byte{1}}
	if err := v.inboxUpdate(func(txn kvTxn) error { return txn.Set(seqKey(prefixIQ, 999), q.encode()) }); err != nil {
		t.Fatal(err)
	}
	if got := pendingIDs(t, v); len(got) != 3 {
		t.Errorf("InboxPending = %v, want the other subject's 3", got)
	}
	if _, err := v.Sweep(c.Now()); err != nil {
		t.Fatal(err)
	}
	if n := rawInbox(t, v); n != 3 {
		t.Errorf("inbox DB after Sweep = %d entries, want 3", n)
	}
}

// The inbox DB sits under Dir, encrypted with its own key.
func TestInboxDBIsEncryptedUnderDir(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	fillSubject(t, v, c)
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanaries(t, filepath.Join(dir, inboxSubdir))
	o := diskOpts(dir, c)
	if _, err := badger.Open(badger.DefaultOptions(filepath.Join(dir, inboxSubdir)).WithLogger(nil).WithIndexCacheSize(1 << 20)); err == nil {
		t.Error("inbox DB opened without the encryption key")
	}
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
}

// A store written before the inbox had its own DB keeps its pending
// messages and dedupe markers: Open moves them into the inbox DB.
func TestOpenMovesOldInboxRecords(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	v := openDisk(t, dir, c)
	s := v.SubjectID("whatsapp", canaries[2])
	const oldSeq = 7
	err := v.withSubjectKey(s, c.Now(), func(txn kvTxn, sk *subjectKey) error {
		h := v.inboxHash("wamid.old")
		m := inMarker{seq: oldSeq, subject: string(s), at: c.Now()}
		if err := txn.SetTTL(keyIn(h), m.encode(), time.Hour*24*30); err != nil {
			return err
		}
		qk := seqKey(prefixIQ, oldSeq)
		var pe enc
		pe.str("wamid.old")
		pe.bytes([]byte("old payload"))
		sealed, err := sealValue(sk.aead, qk, valHdr{}, pe.b)
		if err != nil {
			return err
		}
		var e enc
		e.str(string(s))
		e.time(c.Now())
		e.bytes(sealed)
		if err := txn.Set(qk, e.b); err != nil {
			return err
		}
		var seq [8]byte
		seq[7] = oldSeq + 1
		return txn.Set(keySeqIn, seq[:])
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, inboxSubdir)); err != nil { // as before the split
		t.Fatal(err)
	}
	v = openDisk(t, dir, c)
	defer v.Close()
	in, err := v.InboxPending()
	if err != nil || len(in) != 1 || in[0].MsgID != "wamid.old" || in[0].Seq != oldSeq || string(in[0].Payload) != "old payload" {
		t.Fatalf("InboxPending after the move = %+v, %v", in, err)
	}
	if dup, err := v.InboxPut("wamid.old", s, []byte("again"), c.Now()); !dup || err != nil {
		t.Errorf("redelivery of a moved message = %v, %v; want dup", dup, err)
	}
	if _, err := v.InboxPut("wamid.new", s, []byte("new"), c.Now()); err != nil {
		t.Fatal(err)
	}
	if in, _ := v.InboxPending(); len(in) != 2 || in[1].Seq <= oldSeq {
		t.Errorf("InboxPending = %+v; want the new message after the old one", in)
	}
	for _, p := range [][]byte{prefixIQ, prefixIn} {
		n := 0
		_ = v.view(func(txn kvReader) error {
			return txn.Scan(p, false, func([]byte, kvItem) error { n++; return nil })
		})
		if n != 0 {
			t.Errorf("main DB still holds %d live %s records", n, p)
		}
	}
}

// A batch of first messages from 600 new subjects (more than one inbox
// transaction holds) is stored with one main DB sync (their data keys) and
// one inbox DB sync (cmd/parley's TestServeBatchAcknowledgedDurably kills
// the process after the 200), then survives a reopen: every message pending, in the
// order of the batch, the repeated id and a redelivery deduplicated.
func TestInboxPutBatchGroupCommit(t *testing.T) {
	c := newClock()
	dir := t.TempDir()
	o := diskOpts(dir, c)
	o.SyncInterval = time.Hour
	var mainSyncs, inboxSyncs atomic.Int64
	o.onSync = func(db string) {
		switch db {
		case dbSubdir:
			mainSyncs.Add(1)
		case inboxSubdir:
			inboxSyncs.Add(1)
		}
	}
	v, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	const n = 600
	var items []InboxItem
	var want []string
	for i := range n {
		id := fmt.Sprint("wamid.B", i)
		items = append(items, InboxItem{MsgID: id, Subject: v.SubjectID("whatsapp", fmt.Sprint("1555", i)), Payload: []byte("hi " + id)})
		want = append(want, id)
		if i == 7 {
			items = append(items, InboxItem{MsgID: "wamid.B3", Subject: v.SubjectID("whatsapp", "15553"), Payload: []byte("again")})
		}
	}
	mainSyncs.Store(0)
	inboxSyncs.Store(0)
	dups, err := v.InboxPutBatch(items, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range dups {
		if d != (i == 8) {
			t.Errorf("dups[%d] = %v, want %v", i, d, i == 8)
		}
	}
	if m, in := mainSyncs.Load(), inboxSyncs.Load(); m != 1 || in != 1 {
		t.Errorf("a batch of %d messages: main DB syncs %d, inbox DB syncs %d; want 1 and 1", n, m, in)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	v, err = Open(diskOpts(dir, c))
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := pendingIDs(t, v); !slices.Equal(got, want) {
		t.Errorf("pending after reopen: %d messages (first %v), want the %d of the batch in order", len(got), got[:min(3, len(got))], n)
	}
	dups, err = v.InboxPutBatch(items[:2], c.Now())
	if err != nil || !dups[0] || !dups[1] {
		t.Errorf("redelivered batch = %v, %v; want both duplicates", dups, err)
	}

	// A subject erased a moment ago (its purge still pending) writes again
	// in a batch with a new one: both stored, under a new key for it.
	erased := items[0].Subject
	if _, err := v.Erase(erased, c.Now()); err != nil {
		t.Fatal(err)
	}
	again := []InboxItem{{MsgID: "wamid.AFTER1", Subject: erased, Payload: []byte("back")},
		{MsgID: "wamid.AFTER2", Subject: v.SubjectID("whatsapp", "15559999"), Payload: []byte("new")}}
	if dups, err := v.InboxPutBatch(again, c.Now()); err != nil || dups[0] || dups[1] {
		t.Fatalf("batch after an erasure = %v, %v", dups, err)
	}
	got := pendingIDs(t, v)
	if !slices.Contains(got, "wamid.AFTER1") || !slices.Contains(got, "wamid.AFTER2") || slices.Contains(got, "wamid.B0") {
		t.Errorf("pending after the erasure and the new batch: %d messages, AFTER1 %v, AFTER2 %v, erased B0 %v",
			len(got), slices.Contains(got, "wamid.AFTER1"), slices.Contains(got, "wamid.AFTER2"), slices.Contains(got, "wamid.B0"))
	}
}

// A redelivered message is a duplicate whether its subject has a key, has
// none any more (erased) or never had one, and a duplicate makes no key: a
// redelivery after an erasure must not bring the subject back. A new
// message of the erased subject gets a fresh key.
func TestInboxDuplicateMakesNoKey(t *testing.T) {
	c := newClock()
	v := openDisk(t, t.TempDir(), c)
	defer v.Close()
	s := v.SubjectID("whatsapp", canaries[2])
	live := v.SubjectID("whatsapp", canaries[3])
	for _, p := range []struct {
		id string
		s  SubjectID
	}{{"wamid.A", s}, {"wamid.L", live}} {
		if dup, err := v.InboxPut(p.id, p.s, []byte("x"), c.Now()); dup || err != nil {
			t.Fatalf("InboxPut(%s) = %v, %v", p.id, dup, err)
		}
	}
	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	status := func(s SubjectID) byte {
		var st byte
		if err := v.view(func(txn kvReader) error {
			sk, err := v.readKey(txn, s)
			if sk != nil {
				st = sk.status
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return st
	}
	before := rawInbox(t, v)
	dups, err := v.InboxPutBatch([]InboxItem{{MsgID: "wamid.A", Subject: s}, {MsgID: "wamid.L", Subject: live}, {MsgID: "wamid.L", Subject: live}}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(dups, []bool{true, true, true}) {
		t.Errorf("redeliveries: dups = %v, want all true", dups)
	}
	if st := status(s); st == keyLive {
		t.Error("a redelivery after the erasure made the subject a live key again")
	}
	if n := rawInbox(t, v); n != before {
		t.Errorf("inbox DB holds %d entries after duplicates, want %d as before", n, before)
	}
	if dup, err := v.InboxPut("wamid.N", s, []byte("y"), c.Now()); dup || err != nil {
		t.Fatalf("InboxPut(new message after erasure) = %v, %v", dup, err)
	}
	if st := status(s); st != keyLive {
		t.Errorf("after a new message the key status is %d, want live", st)
	}
}
