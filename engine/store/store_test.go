package store

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestPrefixEnd(t *testing.T) {
	for _, tc := range []struct{ in, want []byte }{
		{[]byte("f/s1/"), []byte("f/s10")},
		{[]byte("a\xff"), []byte("b")},
		{[]byte("a\xff\xff"), []byte("b")},
		{[]byte("\xff\xff"), nil},
		{nil, nil},
	} {
		if got := PrefixEnd(tc.in); !bytes.Equal(got, tc.want) || (tc.want == nil) != (got == nil) {
			t.Errorf("PrefixEnd(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	in := []byte("ab")
	PrefixEnd(in)
	if string(in) != "ab" {
		t.Errorf("PrefixEnd changed its argument to %q", in)
	}
}

func TestExpired(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if Expired(time.Time{}, now) || Expired(now.Add(time.Nanosecond), now) || !Expired(now, now) || !Expired(now.Add(-time.Hour), now) {
		t.Error("Expired: zero never expires; a record is gone at its expiry, not before")
	}
}

// conflicting fails with ErrConflict a set number of times.
type conflicting struct{ left, calls int }

func (c *conflicting) View(context.Context, func(Reader) error) error { return nil }
func (c *conflicting) Update(_ context.Context, fn func(Txn) error) error {
	c.calls++
	if c.left > 0 {
		c.left--
		return ErrConflict
	}
	return fn(nil)
}

func TestUpdateRetry(t *testing.T) {
	kv := &conflicting{left: 2}
	ran := false
	if err := UpdateRetry(context.Background(), kv, 5, func(Txn) error { ran = true; return nil }); err != nil || !ran || kv.calls != 3 {
		t.Errorf("UpdateRetry = %v after %d calls (ran %v), want success on the third", err, kv.calls, ran)
	}
	kv = &conflicting{left: 10}
	if err := UpdateRetry(context.Background(), kv, 4, func(Txn) error { return nil }); !errors.Is(err, ErrConflict) || kv.calls != 4 {
		t.Errorf("UpdateRetry = %v after %d calls, want ErrConflict after 4", err, kv.calls)
	}
	boom := errors.New("boom")
	kv = &conflicting{}
	if err := UpdateRetry(context.Background(), kv, 4, func(Txn) error { return boom }); !errors.Is(err, boom) || kv.calls != 1 {
		t.Errorf("UpdateRetry = %v after %d calls, want the callback's error at once", err, kv.calls)
	}
}
