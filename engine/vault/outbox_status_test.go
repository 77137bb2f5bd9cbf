package vault

import (
	"errors"
	"testing"
)

// TestOutboxAckKeepsStatusesThatNeverRegress: an acknowledgement removes the
// entry, marks the subject's next one as being sent and starts the status
// record; later statuses only move forward (a late "delivered" after
// "read" stays "read", "failed" never replaces "read"); the record keeps
// its lifetime (the DedupeWindow TTL of the lifecycle table) when updated,
// and holds no content.
func TestOutboxAckKeepsStatusesThatNeverRegress(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	s := v.SubjectID("whatsapp", canaries[2])
	seq1, _ := v.OutboxPut(s, []byte("hello "+canaries[0]))
	seq2, _ := v.OutboxPut(s, []byte("second"))
	if err := v.OutboxMarkSending([]uint64{seq1}); err != nil {
		t.Fatal(err)
	}
	if err := v.OutboxAckMany([]OutboxAck{{Seq: seq1, Subject: s, ChannelMsgID: "whatsapp\x00wamid.A", Next: seq2}}); err != nil {
		t.Fatal(err)
	}
	out, err := v.OutboxPending()
	if err != nil || len(out) != 1 || out[0].Seq != seq2 || out[0].Status != OutboxSending {
		t.Fatalf("OutboxPending after the acknowledgement = %+v, %v; want only the next entry, marked sending", out, err)
	}
	expires := func() uint64 {
		b, at := recordOf(t, v, v.keyOW("whatsapp\x00wamid.A"))
		assertBytesClean(t, "ow/ record", b)
		return at
	}
	ttl := expires()
	if ttl == 0 {
		t.Fatal("the status record has no lifetime")
	}
	steps := []struct{ in, want string }{
		{"delivered", "delivered"}, {"read", "read"}, {"delivered", "read"}, {"failed", "read"}, {"sent", "read"},
	}
	for _, st := range steps {
		u, err := v.OutboxStatus("whatsapp\x00wamid.A", st.in)
		if err != nil || u.Status != st.want || u.Subject != s {
			t.Errorf("status %s = %+v, %v; want %s for the subject", st.in, u, err, st.want)
		}
	}
	if got := expires(); got != ttl {
		t.Errorf("updating the status changed its expiry from %d to %d", ttl, got)
	}
	if _, err := v.OutboxStatus("whatsapp\x00wamid.none", "read"); !errors.Is(err, ErrNotFound) {
		t.Errorf("status of an id never acknowledged = %v, want ErrNotFound", err)
	}
}

// TestCommitTurnOutboxSending: a turn whose first reply is sent right after
// the commit stores that entry as being sent, in the turn's own write, and
// the rest as queued; without the flag every entry is queued.
func TestCommitTurnOutboxSending(t *testing.T) {
	c := newClock()
	v := openMem(t, c)
	for _, tc := range []struct {
		sending bool
		want    []string
	}{{true, []string{OutboxSending, "queued"}}, {false, []string{"queued", "queued"}}} {
		s := v.SubjectID("whatsapp", canaries[2])
		seqs, err := v.CommitTurn(s, Change{Outbox: [][]byte{[]byte("one"), []byte("two")}, OutboxSending: tc.sending})
		if err != nil || len(seqs) != 2 {
			t.Fatalf("CommitTurn = %v, %v", seqs, err)
		}
		out, err := v.OutboxPending()
		if err != nil || len(out) != 2 {
			t.Fatalf("OutboxPending = %+v, %v", out, err)
		}
		for i, o := range out {
			if o.Seq != seqs[i] || o.Status != tc.want[i] {
				t.Errorf("OutboxSending=%v: entry %d is seq %d with status %q; want seq %d, %q", tc.sending, i, o.Seq, o.Status, seqs[i], tc.want[i])
			}
		}
		if err := v.OutboxAckMany([]OutboxAck{{Seq: seqs[0], Subject: s}, {Seq: seqs[1], Subject: s}}); err != nil {
			t.Fatal(err)
		}
	}
}
