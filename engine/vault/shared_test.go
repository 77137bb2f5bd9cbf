package vault

import (
	"context"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// queued counts the entries of the shared inbox and outbox queues.
func queued(t *testing.T, st store.Store) (inbox, outbox int) {
	t.Helper()
	err := st.View(context.Background(), func(r store.Reader) error {
		if err := r.ScanQueue(QueueInbox, func(store.Entry) error { inbox++; return nil }); err != nil {
			return err
		}
		return r.ScanQueue(QueueOutbox, func(store.Entry) error { outbox++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return inbox, outbox
}

// TestSharedWorkFollowsTheRecordsOnPostgres: on a store every pending inbox
// and outbox record has a claimable queue entry, written with it; the
// turn's commit acks the message's claim; an erasure drops the subject's
// entries, claims and window record; and a window record expires by
// itself. On Badger nothing is shared.
func TestSharedWorkFollowsTheRecordsOnPostgres(t *testing.T) {
	c := newClock()
	v, st := openPG(t, pgtest.URL(t), c)
	if !v.Shared() {
		t.Fatal("a vault on PostgreSQL says it is not shared")
	}
	ctx := context.Background()
	s := v.SubjectID("whatsapp", "15550001234")
	if _, err := v.InboxPut("m1", s, []byte("hello"), c.Now()); err != nil {
		t.Fatal(err)
	}
	if in, out := queued(t, st); in != 1 || out != 0 {
		t.Fatalf("queues after an inbox put: inbox %d, outbox %d; want 1, 0", in, out)
	}
	cs, err := v.ClaimInbox(ctx, "test", 10, time.Minute)
	if err != nil || len(cs) != 1 || string(cs[0].Entry.Payload) != "hello" || cs[0].Entry.MsgID != "m1" {
		t.Fatalf("ClaimInbox = %+v, %v; want the message", cs, err)
	}
	if again, err := v.ClaimInbox(ctx, "other", 10, time.Minute); err != nil || len(again) != 0 {
		t.Fatalf("a second claim while the lease holds = %d entries, %v; want none", len(again), err)
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), Outbox: [][]byte{[]byte("r1"), []byte("r2")}, InboxDone: "m1", Ack: &cs[0].Lease}); err != nil {
		t.Fatal(err)
	}
	if in, out := queued(t, st); in != 0 || out != 2 {
		t.Fatalf("queues after the turn: inbox %d, outbox %d; want 0, 2", in, out)
	}
	oc, err := v.ClaimOutbox(ctx, "test", 10, time.Minute)
	if err != nil || len(oc) != 1 || string(oc[0].Entry.Payload) != "r1" {
		t.Fatalf("ClaimOutbox = %+v, %v; want the first reply only (one per subject)", oc, err)
	}
	if err := v.OutboxAckMany([]OutboxAck{{Seq: oc[0].Entry.Seq, Subject: s, ChannelMsgID: "wamid.1", Lease: &oc[0].Lease}}); err != nil {
		t.Fatal(err)
	}
	if oc, err = v.ClaimOutbox(ctx, "test", 10, time.Minute); err != nil || len(oc) != 1 || string(oc[0].Entry.Payload) != "r2" {
		t.Fatalf("ClaimOutbox after the first ack = %+v, %v; want the second reply", oc, err)
	}
	if err := v.WindowClosed(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	if w, err := v.WindowOf(s); err != nil || !w.ClosedAt.Equal(c.Now()) {
		t.Fatalf("WindowOf = %+v, %v; want closed now", w, err)
	}

	if _, err := v.Erase(s, c.Now()); err != nil {
		t.Fatal(err)
	}
	if in, out := queued(t, st); in != 0 || out != 0 {
		t.Errorf("queues after the erasure: inbox %d, outbox %d; want none", in, out)
	}
	if err := v.OutboxAckMany([]OutboxAck{{Seq: oc[0].Entry.Seq, Subject: s, Lease: &oc[0].Lease}}); err != nil {
		t.Errorf("acknowledging a reply of an erased subject: %v; want nothing to do", err)
	}
	if w, err := v.WindowOf(s); err != nil || !w.ClosedAt.IsZero() {
		t.Errorf("window record after the erasure = %+v, %v; want none", w, err)
	}

	other := v.SubjectID("whatsapp", "15550005678")
	if err := v.WindowClosed(other, c.Now()); err != nil {
		t.Fatal(err)
	}
	c.Add(WindowKeep)
	if w, err := v.WindowOf(other); err != nil || !w.ClosedAt.IsZero() {
		t.Errorf("window record %v after its last write = %+v, %v; want expired", WindowKeep, w, err)
	}
}

func TestBadgerVaultIsNotShared(t *testing.T) {
	v := openMem(t, newClock())
	if v.Shared() {
		t.Error("a Badger vault says it is shared")
	}
	if _, err := v.ClaimInbox(context.Background(), "x", 1, time.Minute); err == nil {
		t.Error("ClaimInbox on Badger succeeded; the inbox there belongs to one process")
	}
	// Nothing claims work on Badger, so nothing may queue it there either:
	// entries written anyway would never be acked and would only grow.
	c := newClock()
	s := v.SubjectID("whatsapp", "15550001234")
	if _, err := v.InboxPut("wamid.NS", s, []byte(`{}`), c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := v.OutboxPut(s, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{QueueInbox, QueueOutbox} {
		ls, err := v.bdb.Claim(context.Background(), q, "probe", 10, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if len(ls) != 0 {
			t.Errorf("%d %s queue entries on an embedded Badger vault; want none", len(ls), q)
		}
	}
}

// TestInboxAndOutboxStoredBeforeSharingAreAdopted: inbox and outbox
// records without queue entries (written by a Parley before the store's
// inbox and outbox were shared) get one at start, once, and are then
// claimed in order; a processed message gets none.
func TestInboxAndOutboxStoredBeforeSharingAreAdopted(t *testing.T) {
	c := newClock()
	v, st := openPG(t, pgtest.URL(t), c)
	ctx := context.Background()
	s := v.SubjectID("whatsapp", "15550001234")
	for _, id := range []string{"m1", "m2", "m3"} {
		if _, err := v.InboxPut(id, s, []byte(id), c.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.CommitTurn(s, Change{State: []byte("st"), Outbox: [][]byte{[]byte("r1")}, InboxDone: "m1"}); err != nil {
		t.Fatal(err)
	}
	// As an older Parley left them: records only.
	err := st.Update(ctx, func(x store.Txn) error {
		for _, q := range []string{QueueInbox, QueueOutbox} {
			if _, err := x.DeletePartition(q, string(s)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if in, out := queued(t, st); in != 0 || out != 0 {
		t.Fatalf("control: queues hold %d, %d entries; want none", in, out)
	}
	n, err := v.AdoptUnqueued()
	if err != nil || n != 3 {
		t.Fatalf("AdoptUnqueued = %d, %v; want 3 (m2, m3 and r1; m1 is processed)", n, err)
	}
	if n, err := v.AdoptUnqueued(); err != nil || n != 0 {
		t.Errorf("a second AdoptUnqueued = %d, %v; want 0", n, err)
	}
	cs, err := v.ClaimInbox(ctx, "test", 10, time.Minute)
	if err != nil || len(cs) != 1 || cs[0].Entry.MsgID != "m2" {
		t.Fatalf("ClaimInbox = %+v, %v; want m2 first", cs, err)
	}
	oc, err := v.ClaimOutbox(ctx, "test", 10, time.Minute)
	if err != nil || len(oc) != 1 || string(oc[0].Entry.Payload) != "r1" {
		t.Fatalf("ClaimOutbox = %+v, %v; want r1", oc, err)
	}
}
