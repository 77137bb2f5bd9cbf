package vault

import (
	"testing"
	"time"
)

func TestOutboxDoneManyRemovesExactlyTheGivenEntries(t *testing.T) {
	v, err := Open(Options{InMemory: true, MasterKey: make([]byte, 32), Now: func() time.Time { return time.Unix(1_800_000_000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	s := v.SubjectID("whatsapp", "15550001234")
	var seqs []uint64
	for i := range 5 {
		seq, err := v.OutboxPut(s, []byte{byte('a' + i)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	if err := v.OutboxDoneMany([]uint64{seqs[0], seqs[2], seqs[4]}); err != nil {
		t.Fatal(err)
	}
	left, err := v.OutboxPending()
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Seq != seqs[1] || left[1].Seq != seqs[3] {
		t.Fatalf("OutboxPending after OutboxDoneMany = %+v, want entries %d and %d", left, seqs[1], seqs[3])
	}
	if string(left[0].Payload) != "b" || string(left[1].Payload) != "d" {
		t.Errorf("payloads = %q, %q, want b, d", left[0].Payload, left[1].Payload)
	}
}
