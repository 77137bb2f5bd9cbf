package vault

import (
	"errors"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
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
		var at uint64
		v.db.View(func(txn *badger.Txn) error {
			item, err := txn.Get(v.keyOW("whatsapp\x00wamid.A"))
			if err != nil {
				return err
			}
			at = item.ExpiresAt()
			return item.Value(func(b []byte) error { assertBytesClean(t, "ow/ record", b); return nil })
		})
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
