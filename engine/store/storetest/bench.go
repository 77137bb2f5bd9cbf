package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// BenchmarkTurn measures one turn-sized unit of work, as the host will do
// it for every inbound message, over conversations spread on 64 partitions:
//
//  1. the webhook enqueues the inbound message (one transaction);
//  2. a worker claims it (one lease);
//  3. the turn commits in one transaction: 3 gets (conversation state, two
//     fields), 3 sets (state, a field, a consent), 1 outbox enqueue and the
//     ack of the inbound message.
//
// Values are 200 bytes, about a sealed field.
func BenchmarkTurn(b *testing.B, be Backend) {
	c := NewClock()
	s := be.Open(b, c.Now)
	ctx := context.Background()
	val := make([]byte, 200)
	for i := range val {
		val[i] = byte(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		conv := fmt.Sprintf("conv-%02d", i%64)
		i++
		err := s.Update(ctx, func(x store.Txn) error {
			_, err := x.Enqueue("inbox", conv, val)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		ls, err := s.Claim(ctx, "inbox", "bench", 1, time.Minute)
		if err != nil || len(ls) != 1 {
			b.Fatalf("Claim = %d leases, %v", len(ls), err)
		}
		err = s.Update(ctx, func(x store.Txn) error {
			for _, k := range []string{"s/", "f/name/", "f/email/"} {
				if _, err := x.Get([]byte(k + conv)); err != nil && err != store.ErrNotFound {
					return err
				}
			}
			for _, k := range []string{"s/", "f/name/", "c/"} {
				if err := x.Set([]byte(k+conv), val, c.Now().Add(24*time.Hour)); err != nil {
					return err
				}
			}
			if _, err := x.Enqueue("outbox", conv, val); err != nil {
				return err
			}
			return x.Ack(ls[0])
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
