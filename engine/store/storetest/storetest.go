// Package storetest is the conformance suite every store.Store backend
// passes: one set of tests, run by each backend's own test with a Backend
// that opens it. It checks ordering, expiry on an injected clock,
// atomicity, isolation (conflicts), physical purge against the backend's
// raw bytes, sequences and the claimable queues (exclusivity under
// concurrency, lease expiry and re-claim after a crash).
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Backend opens one backend for the suite.
type Backend struct {
	// Open returns a new, empty store whose clock is now. The backend
	// closes it in t.Cleanup (closing twice must be harmless).
	Open func(t testing.TB, now func() time.Time) store.Store
	// Peer, if set, opens a second handle on the data of s, as another
	// process would (multi-instance backends). Its clock is now.
	Peer func(t testing.TB, s store.Store, now func() time.Time) store.Store
	// Raw returns every byte of s that an attacker holding the backend's
	// files and its encryption key can read: file contents, and every
	// version of every key the backend still keeps.
	Raw func(t testing.TB, s store.Store) []byte
}

// Clock is a manual clock; tests move it by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at a fixed time, with microsecond precision
// (what every backend stores).
func NewClock() *Clock { return &Clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// RunConformance runs the whole suite against one backend.
func RunConformance(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, Backend)
	}{
		{"GetSetDelete", testGetSetDelete},
		{"ScanOrder", testScanOrder},
		{"ScanLarge", testScanLarge},
		{"Expiry", testExpiry},
		{"Atomicity", testAtomicity},
		{"PanicRollsBack", testPanic},
		{"LostUpdateConflicts", testLostUpdate},
		{"WriteSkewConflicts", testWriteSkew},
		{"ConcurrentIncrements", testIncrements},
		{"ViewSnapshot", testViewSnapshot},
		{"PurgeIsPhysical", testPurge},
		{"Sequences", testSequences},
		{"QueueOrderAndRelease", testQueueOrder},
		{"QueueClaimExclusive", testClaimExclusive},
		{"QueueLeaseExpiry", testLeaseExpiry},
		{"QueueListAndDeletePartition", testQueueList},
		{"Closed", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

func set(t testing.TB, s store.KV, key, val string, exp time.Time) {
	t.Helper()
	err := s.Update(context.Background(), func(x store.Txn) error { return x.Set([]byte(key), []byte(val), exp) })
	if err != nil {
		t.Fatalf("Set(%q) = %v", key, err)
	}
}

// get returns the value of key, or "<none>" when ErrNotFound.
func get(t testing.TB, s store.KV, key string) string {
	t.Helper()
	var v string
	err := s.View(context.Background(), func(r store.Reader) error {
		rec, err := r.Get([]byte(key))
		if errors.Is(err, store.ErrNotFound) {
			v = "<none>"
			return nil
		}
		v = string(rec.Value)
		return err
	})
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return v
}

func scanKeys(t testing.TB, s store.KV, prefix string) []string {
	t.Helper()
	var keys []string
	err := s.View(context.Background(), func(r store.Reader) error {
		return r.Scan([]byte(prefix), func(rec store.Record) error {
			keys = append(keys, string(rec.Key))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("Scan(%q) = %v", prefix, err)
	}
	return keys
}

func testGetSetDelete(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	if got := get(t, s, "k"); got != "<none>" {
		t.Fatalf("Get on an empty store = %q, want ErrNotFound", got)
	}
	set(t, s, "k", "v1", time.Time{})
	set(t, s, "k", "v2", time.Time{})
	set(t, s, "empty", "", time.Time{})
	if got := get(t, s, "k"); got != "v2" {
		t.Errorf("Get after two Sets = %q, want v2", got)
	}
	if got := get(t, s, "empty"); got != "" {
		t.Errorf("Get of an empty value = %q, want empty", got)
	}
	err := s.Update(context.Background(), func(x store.Txn) error {
		if err := x.Delete([]byte("k")); err != nil {
			return err
		}
		return x.Delete([]byte("never-there"))
	})
	if err != nil {
		t.Fatalf("Delete = %v", err)
	}
	if got := get(t, s, "k"); got != "<none>" {
		t.Errorf("Get after Delete = %q, want ErrNotFound", got)
	}
}

func testScanOrder(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	keys := []string{"p/b", "p/\xff", "p/a/2", "p/", "p/a/10", "p/\x00", "q/a", "p", "o/z", "p/a/1"}
	for _, k := range keys {
		set(t, s, k, "v:"+k, time.Time{})
	}
	want := []string{"p/", "p/\x00", "p/a/1", "p/a/10", "p/a/2", "p/b", "p/\xff"}
	if got := scanKeys(t, s, "p/"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Scan(p/) = %q, want %q (byte order, prefix only)", got, want)
	}
	if got := scanKeys(t, s, ""); len(got) != len(keys) || got[0] != "o/z" || got[len(got)-1] != "q/a" {
		t.Errorf("Scan(\"\") = %q, want all %d keys in order", got, len(keys))
	}
	n := 0
	err := s.View(context.Background(), func(r store.Reader) error {
		return r.Scan(nil, func(store.Record) error { n++; return nil })
	})
	if err != nil || n != len(keys) {
		t.Errorf("Scan(nil) = %d keys, %v; want all %d, as Scan(\"\")", n, err, len(keys))
	}
	if got := scanKeys(t, s, "p/\xff"); fmt.Sprint(got) != fmt.Sprint([]string{"p/\xff"}) {
		t.Errorf("Scan(p/\\xff) = %q", got)
	}
	// ErrStop ends the scan without an error; values come with the keys;
	// the transaction's own writes and deletes are seen.
	err = s.Update(context.Background(), func(x store.Txn) error {
		if err := x.Set([]byte("p/a/15"), []byte("v:p/a/15"), time.Time{}); err != nil {
			return err
		}
		if err := x.Delete([]byte("p/a/10")); err != nil {
			return err
		}
		var got []string
		err := x.Scan([]byte("p/a/"), func(r store.Record) error {
			if string(r.Value) != "v:"+string(r.Key) {
				t.Errorf("Scan value of %q = %q", r.Key, r.Value)
			}
			// The callback may use the transaction.
			if again, err := x.Get(r.Key); err != nil || !bytes.Equal(again.Value, r.Value) {
				t.Errorf("Get(%q) inside Scan = %q, %v", r.Key, again.Value, err)
			}
			got = append(got, string(r.Key))
			if len(got) == 2 {
				return store.ErrStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		if fmt.Sprint(got) != "[p/a/1 p/a/15]" {
			t.Errorf("Scan in a transaction = %q, want [p/a/1 p/a/15] (own writes, stopped after 2)", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = s.View(context.Background(), func(r store.Reader) error {
		return r.Scan([]byte("p/"), func(store.Record) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Errorf("Scan with a failing callback = %v, want its error", err)
	}
}

// testScanLarge scans more keys than a backend is likely to read at once.
func testScanLarge(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	const n = 700
	err := s.Update(context.Background(), func(x store.Txn) error {
		for i := n - 1; i >= 0; i-- {
			exp := time.Time{}
			if i%7 == 3 {
				exp = c.Now() // expired at once: skipped
			}
			if err := x.Set(fmt.Appendf(nil, "big/%05d", i), nil, exp); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := scanKeys(t, s, "big/")
	want := 0
	for i := range n {
		if i%7 == 3 {
			continue
		}
		if want >= len(got) || got[want] != fmt.Sprintf("big/%05d", i) {
			t.Fatalf("Scan of %d keys: position %d is %q, want big/%05d", n, want, got[min(want, len(got)-1)], i)
		}
		want++
	}
	if len(got) != want {
		t.Errorf("Scan returned %d keys, want %d", len(got), want)
	}
}

func testExpiry(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	exp := c.Now().Add(time.Hour)
	set(t, s, "x/short", "gone soon", exp)
	set(t, s, "x/long", "stays", c.Now().Add(48*time.Hour))
	set(t, s, "x/never", "forever", time.Time{})
	err := s.View(context.Background(), func(r store.Reader) error {
		rec, err := r.Get([]byte("x/short"))
		if err != nil {
			return err
		}
		if !rec.ExpiresAt.Equal(exp) {
			t.Errorf("ExpiresAt = %v, want %v", rec.ExpiresAt, exp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(time.Hour - time.Microsecond)
	if got := get(t, s, "x/short"); got != "gone soon" {
		t.Errorf("a microsecond before expiry Get = %q", got)
	}
	c.Add(time.Microsecond)
	if got := get(t, s, "x/short"); got != "<none>" {
		t.Errorf("at expiry Get = %q, want ErrNotFound", got)
	}
	if got := scanKeys(t, s, "x/"); fmt.Sprint(got) != "[x/long x/never]" {
		t.Errorf("Scan at expiry = %q, want [x/long x/never]", got)
	}
	keys, err := s.DeleteExpired(context.Background(), []byte("x/"))
	if err != nil || len(keys) != 1 || string(keys[0]) != "x/short" {
		t.Fatalf("DeleteExpired = %q, %v; want [x/short]", keys, err)
	}
	c.Add(-2 * time.Hour) // a clock set back does not bring it back
	if got := get(t, s, "x/short"); got != "<none>" {
		t.Errorf("after DeleteExpired and the clock set back, Get = %q", got)
	}
	c.Add(50 * time.Hour)
	if got := scanKeys(t, s, "x/"); fmt.Sprint(got) != "[x/never]" {
		t.Errorf("Scan 2 days later = %q, want [x/never]", got)
	}
}

func testAtomicity(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	set(t, s, "a", "old", time.Time{})
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(x store.Txn) error {
		if err := x.Set([]byte("a"), []byte("new"), time.Time{}); err != nil {
			return err
		}
		if err := x.Set([]byte("b"), []byte("new"), time.Time{}); err != nil {
			return err
		}
		if _, err := x.Enqueue("q", "p1", []byte("msg")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want the callback's error", err)
	}
	if a, bb := get(t, s, "a"), get(t, s, "b"); a != "old" || bb != "<none>" {
		t.Errorf("after a failed Update a=%q b=%q, want old and nothing", a, bb)
	}
	if ls := claim(t, s, "q", 10, time.Minute); len(ls) != 0 {
		t.Errorf("a failed Update's Enqueue is claimable: %d entries", len(ls))
	}
}

// testPanic panics inside more transactions than a connection pool holds:
// each must be rolled back and its resources released.
func testPanic(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	for i := range 12 {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Update swallowed the callback's panic")
				}
			}()
			_ = s.Update(context.Background(), func(x store.Txn) error {
				if err := x.Set([]byte("p"), fmt.Append(nil, i), time.Time{}); err != nil {
					return err
				}
				panic("callback failed")
			})
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Update(ctx, func(x store.Txn) error { return x.Set([]byte("q"), []byte("ok"), time.Time{}) })
	if err != nil {
		t.Fatalf("Update after panicking transactions = %v (resources leaked?)", err)
	}
	if got := get(t, s, "p"); got != "<none>" {
		t.Errorf("a panicking transaction's write is visible: %q", got)
	}
}

func claim(t testing.TB, s store.Queues, q string, n int, d time.Duration) []store.Lease {
	t.Helper()
	ls, err := s.Claim(context.Background(), q, "test", n, d)
	if err != nil {
		t.Fatalf("Claim(%s) = %v", q, err)
	}
	return ls
}

// interleave runs first up to the point where it calls pause, then second
// to completion, then lets first finish; it returns both Update errors.
func interleave(s1, s2 store.KV, first func(x store.Txn, pause func()) error, second func(x store.Txn) error) (err1, err2 error) {
	paused, resume := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		once := sync.Once{}
		done <- s1.Update(context.Background(), func(x store.Txn) error {
			return first(x, func() {
				once.Do(func() { close(paused); <-resume })
			})
		})
	}()
	select {
	case <-paused:
	case err := <-done:
		return err, errors.New("first transaction ended before pausing")
	}
	err2 = s2.Update(context.Background(), second)
	close(resume)
	return <-done, err2
}

func peerOr(t testing.TB, b Backend, s store.Store, now func() time.Time) store.Store {
	if b.Peer != nil {
		return b.Peer(t, s, now)
	}
	return s
}

func testLostUpdate(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	s2 := peerOr(t, b, s, c.Now)
	set(t, s, "n", "0", time.Time{})
	err1, err2 := interleave(s, s2, func(x store.Txn, pause func()) error {
		r, err := x.Get([]byte("n"))
		if err != nil {
			return err
		}
		pause()
		return x.Set([]byte("n"), append(r.Value, '+'), time.Time{})
	}, func(x store.Txn) error {
		return x.Set([]byte("n"), []byte("2"), time.Time{})
	})
	if err2 != nil {
		t.Fatalf("the second transaction = %v, want success", err2)
	}
	if !errors.Is(err1, store.ErrConflict) {
		t.Errorf("read-modify-write over a concurrent commit = %v, want ErrConflict", err1)
	}
	if got := get(t, s, "n"); got != "2" {
		t.Errorf("n = %q, want 2 (the committed write survives, the conflicting one is gone)", got)
	}
}

func testWriteSkew(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	s2 := peerOr(t, b, s, c.Now)
	set(t, s, "on-call/a", "yes", time.Time{})
	set(t, s, "on-call/b", "yes", time.Time{})
	// Each goes off call only if the other is still on: run serially, one
	// of them must stay.
	offIfOther := func(x store.Txn, me, other string) error {
		r, err := x.Get([]byte("on-call/" + other))
		if err != nil {
			return err
		}
		if string(r.Value) == "yes" {
			return x.Set([]byte("on-call/"+me), []byte("no"), time.Time{})
		}
		return nil
	}
	err1, err2 := interleave(s, s2, func(x store.Txn, pause func()) error {
		if _, err := x.Get([]byte("on-call/a")); err != nil {
			return err
		}
		pause()
		return offIfOther(x, "a", "b")
	}, func(x store.Txn) error {
		if _, err := x.Get([]byte("on-call/a")); err != nil {
			return err
		}
		return offIfOther(x, "b", "a")
	})
	if err2 != nil {
		t.Fatalf("the second transaction = %v, want success", err2)
	}
	if !errors.Is(err1, store.ErrConflict) {
		t.Errorf("write skew = %v, want ErrConflict", err1)
	}
	if a, bb := get(t, s, "on-call/a"), get(t, s, "on-call/b"); a != "yes" || bb != "no" {
		t.Errorf("on-call a=%q b=%q, want yes and no", a, bb)
	}
}

func testIncrements(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	s2 := peerOr(t, b, s, c.Now)
	const workers, each = 6, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		kv := store.KV(s)
		if w%2 == 1 {
			kv = s2
		}
		wg.Go(func() {
			for range each {
				errs <- store.UpdateRetry(context.Background(), kv, 1000, func(x store.Txn) error {
					r, err := x.Get([]byte("counter"))
					if err != nil && !errors.Is(err, store.ErrNotFound) {
						return err
					}
					return x.Set([]byte("counter"), append(r.Value, 'x'), time.Time{})
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("increment = %v", err)
		}
	}
	if got := len(get(t, s, "counter")); got != workers*each {
		t.Errorf("counter = %d after %d concurrent increments (lost updates)", got, workers*each)
	}
}

func testViewSnapshot(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	set(t, s, "v", "before", time.Time{})
	err := s.View(context.Background(), func(r store.Reader) error {
		if _, err := r.Get([]byte("v")); err != nil {
			return err
		}
		set(t, s, "v", "after", time.Time{})
		set(t, s, "w", "new", time.Time{})
		rec, err := r.Get([]byte("v"))
		if err != nil {
			return err
		}
		if string(rec.Value) != "before" {
			t.Errorf("a View saw a later commit: %q", rec.Value)
		}
		if _, err := r.Get([]byte("w")); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a View saw a key committed after it started: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Canary values written under the purged prefix and under a kept one.
const (
	canaryGone  = "Zelda Quokkafeather purged"
	canaryGone2 = "zelda.quokka@example.test purged"
	canaryGone3 = "expired +447700900123"
	canaryKept  = "Kept Kestrelwing still here"
)

func testPurge(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	// Several versions: written, overwritten, deleted.
	set(t, s, "f/s1/name", canaryGone, time.Time{})
	set(t, s, "f/s1/name", canaryGone+" v2", time.Time{})
	set(t, s, "f/s1/email", canaryGone2, time.Time{})
	err := s.Update(context.Background(), func(x store.Txn) error { return x.Delete([]byte("f/s1/email")) })
	if err != nil {
		t.Fatal(err)
	}
	set(t, s, "f/s10/name", canaryKept, time.Time{}) // shares the bytes "f/s1" but not the prefix "f/s1/"
	set(t, s, "g/otp", canaryGone3, c.Now().Add(time.Minute))
	// A large value, stored out of line where the backend does that.
	set(t, s, "f/s1/note", strings.Repeat("x", 9000)+canaryGone+" large"+strings.Repeat("y", 9000), time.Time{})
	raw := b.Raw(t, s)
	for _, want := range []string{canaryGone + " v2", canaryGone2, canaryKept, canaryGone3, canaryGone + " large"} {
		if !bytes.Contains(raw, []byte(want)) {
			t.Fatalf("before the purge the raw bytes lack %q: the Raw hook cannot see stored values", want)
		}
	}
	// One purge (they are expensive, callers batch them): a subject's
	// prefix and the keys the sweeper found expired.
	c.Add(time.Minute)
	keys, err := s.DeleteExpired(context.Background(), []byte("g/"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("DeleteExpired = %q, %v", keys, err)
	}
	if err := s.Purge(context.Background(), append([][]byte{[]byte("f/s1/")}, keys...)...); err != nil {
		t.Fatalf("Purge = %v", err)
	}
	if got := scanKeys(t, s, "f/"); fmt.Sprint(got) != "[f/s10/name]" {
		t.Errorf("keys after Purge = %q, want [f/s10/name]", got)
	}
	raw = b.Raw(t, s)
	for _, gone := range []string{canaryGone, canaryGone2, canaryGone3} {
		if i := bytes.Index(raw, []byte(gone)); i >= 0 {
			t.Errorf("after Purge the raw bytes still hold %q", gone)
		}
	}
	if !bytes.Contains(raw, []byte(canaryKept)) {
		t.Errorf("Purge of f/s1/ removed f/s10/ too")
	}
	// The store keeps working after a purge.
	set(t, s, "f/s1/name", "again", time.Time{})
	if got := get(t, s, "f/s1/name"); got != "again" {
		t.Errorf("Set after Purge, Get = %q", got)
	}
}

func testSequences(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	s2 := peerOr(t, b, s, c.Now)
	ctx := context.Background()
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		sq := store.Sequences(s)
		if w%2 == 1 {
			sq = s2
		}
		wg.Go(func() {
			var last uint64
			for range 25 {
				n, err := sq.NextSeq(ctx, "consent")
				if err != nil {
					t.Errorf("NextSeq = %v", err)
					return
				}
				if n == 0 || n <= last {
					t.Errorf("NextSeq = %d after %d, want increasing and > 0", n, last)
				}
				last = n
				mu.Lock()
				if seen[n] {
					t.Errorf("NextSeq handed out %d twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n, err := s.NextSeq(ctx, "other"); err != nil || n == 0 {
		t.Errorf("NextSeq(other) = %d, %v", n, err)
	}
}

func enqueue(t testing.TB, s store.KV, q, partition, payload string) uint64 {
	t.Helper()
	var seq uint64
	err := s.Update(context.Background(), func(x store.Txn) error {
		var err error
		seq, err = x.Enqueue(q, partition, []byte(payload))
		return err
	})
	if err != nil {
		t.Fatalf("Enqueue = %v", err)
	}
	return seq
}

func ack(s store.KV, l store.Lease) error {
	return s.Update(context.Background(), func(x store.Txn) error { return x.Ack(l) })
}

func payloads(ls []store.Lease) string {
	var out []string
	for _, l := range ls {
		out = append(out, fmt.Sprintf("%s:%s#%d", l.Partition, l.Payload, l.Attempts))
	}
	return fmt.Sprint(out)
}

func testQueueOrder(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	a1 := enqueue(t, s, "in", "A", "a1")
	a2 := enqueue(t, s, "in", "A", "a2")
	enqueue(t, s, "in", "B", "b1")
	enqueue(t, s, "out", "A", "other queue")
	if a2 <= a1 {
		t.Errorf("Enqueue seqs %d then %d, want increasing", a1, a2)
	}
	ls := claim(t, s, "in", 10, time.Minute)
	if got := payloads(ls); got != "[A:a1#1 B:b1#1]" {
		t.Fatalf("first Claim = %s, want the head of each partition, oldest first", got)
	}
	if ls[0].Seq != a1 || ls[0].Queue != "in" || ls[0].Token == "" || !ls[0].ExpiresAt.Equal(c.Now().Add(time.Minute)) {
		t.Errorf("lease = %+v", ls[0])
	}
	if more := claim(t, s, "in", 10, time.Minute); len(more) != 0 {
		t.Errorf("Claim while both partitions are leased = %s, want none", payloads(more))
	}
	if err := ack(s, ls[0]); err != nil {
		t.Fatalf("Ack = %v", err)
	}
	if err := ack(s, ls[0]); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("second Ack of one lease = %v, want ErrLeaseLost", err)
	}
	next := claim(t, s, "in", 10, time.Minute)
	if got := payloads(next); got != "[A:a2#1]" {
		t.Fatalf("Claim after Ack = %s, want a2", got)
	}
	// A released entry comes back at notBefore with one more attempt, and
	// holds back its partition until then.
	enqueue(t, s, "in", "B", "b2")
	if err := s.Release(context.Background(), ls[1], c.Now().Add(time.Minute)); err != nil {
		t.Fatalf("Release = %v", err)
	}
	if got := claim(t, s, "in", 10, time.Minute); len(got) != 0 {
		t.Errorf("Claim before notBefore = %s, want none", payloads(got))
	}
	c.Add(time.Minute)
	again := claim(t, s, "in", 10, time.Minute)
	if got := payloads(again); got != "[A:a2#2 B:b1#2]" {
		t.Errorf("Claim after notBefore and a2's lease end = %s, want [A:a2#2 B:b1#2]", got)
	}
	if got := payloads(claim(t, s, "out", 10, time.Minute)); got != "[A:other queue#1]" {
		t.Errorf("other queue = %s", got)
	}
}

func testClaimExclusive(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	s2 := peerOr(t, b, s, c.Now)
	const partitions, per, workers = 16, 4, 6
	for i := range per {
		for p := range partitions {
			enqueue(t, s, "work", fmt.Sprintf("conv-%02d", p), fmt.Sprint(i))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex
		inFlight = map[string]bool{}
		done     = map[string][]string{}
		total    int
	)
	var wg sync.WaitGroup
	for w := range workers {
		st := store.Store(s)
		if w%2 == 1 {
			st = s2
		}
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				finished := total == partitions*per
				mu.Unlock()
				if finished {
					return
				}
				ls, err := st.Claim(ctx, "work", fmt.Sprint("worker-", w), 3, time.Hour)
				if err != nil {
					t.Errorf("Claim = %v", err)
					return
				}
				for _, l := range ls {
					mu.Lock()
					if inFlight[l.Partition] {
						t.Errorf("partition %s leased twice at once", l.Partition)
					}
					inFlight[l.Partition] = true
					done[l.Partition] = append(done[l.Partition], string(l.Payload))
					total++
					// Unmark before the ack commits: a second claim can only
					// come after it, so a mark found set is a real overlap.
					delete(inFlight, l.Partition)
					mu.Unlock()
					if err := ack(st, l); err != nil {
						t.Errorf("Ack = %v", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("workers did not drain the queue in time: %d of %d done", total, partitions*per)
	}
	for p, got := range done {
		if fmt.Sprint(got) != "[0 1 2 3]" {
			t.Errorf("partition %s handled %v, want [0 1 2 3] once each in order", p, got)
		}
	}
	if len(done) != partitions {
		t.Errorf("%d partitions handled, want %d", len(done), partitions)
	}
}

func testLeaseExpiry(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	crashed := peerOr(t, b, s, c.Now)
	enqueue(t, s, "in", "A", "m1")
	first := claim(t, crashed, "in", 1, 30*time.Second)
	if len(first) != 1 {
		t.Fatalf("Claim = %d leases, want 1", len(first))
	}
	if crashed != store.Store(s) {
		crashed.Close() // the claimer's process dies without acking
	}
	c.Add(30*time.Second - time.Microsecond)
	if got := claim(t, s, "in", 1, 30*time.Second); len(got) != 0 {
		t.Fatalf("Claim before the lease ends = %s, want none", payloads(got))
	}
	c.Add(time.Microsecond)
	second := claim(t, s, "in", 1, 30*time.Second)
	if got := payloads(second); got != "[A:m1#2]" {
		t.Fatalf("Claim after the lease ended = %s, want m1 with attempt 2", got)
	}
	if second[0].Token == first[0].Token {
		t.Errorf("the re-claim reused the crashed claimer's token")
	}
	// The old claimer's ack fails and takes its transaction down with it.
	err := s.Update(context.Background(), func(x store.Txn) error {
		if err := x.Set([]byte("turn"), []byte("from the old lease"), time.Time{}); err != nil {
			return err
		}
		return x.Ack(first[0])
	})
	if !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Ack with the expired lease = %v, want ErrLeaseLost", err)
	}
	if got := get(t, s, "turn"); got != "<none>" {
		t.Errorf("a turn acked with a lost lease was committed: %q", got)
	}
	if _, err := s.Extend(context.Background(), first[0], time.Minute); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Extend with the lost lease = %v, want ErrLeaseLost", err)
	}
	// Extending the live lease keeps it past its first end.
	ext, err := s.Extend(context.Background(), second[0], time.Hour)
	if err != nil {
		t.Fatalf("Extend = %v", err)
	}
	c.Add(time.Minute)
	if got := claim(t, s, "in", 1, time.Minute); len(got) != 0 {
		t.Errorf("Claim within an extended lease = %s, want none", payloads(got))
	}
	if err := ack(s, ext); err != nil {
		t.Errorf("Ack with the extended lease = %v", err)
	}
	if got := claim(t, s, "in", 1, time.Minute); len(got) != 0 {
		t.Errorf("Claim after Ack = %s, want none", payloads(got))
	}
}

func testClosed(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	err := s.View(context.Background(), func(store.Reader) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("View after Close = %v, want ErrClosed", err)
	}
	err = s.Update(context.Background(), func(store.Txn) error { return nil })
	if !errors.Is(err, store.ErrClosed) {
		t.Errorf("Update after Close = %v, want ErrClosed", err)
	}
}

func listQueue(t testing.TB, s store.KV, q string) string {
	t.Helper()
	var out []string
	err := s.View(context.Background(), func(r store.Reader) error {
		return r.ScanQueue(q, func(e store.Entry) error {
			if e.Queue != q {
				t.Errorf("ScanQueue(%s) listed an entry of %s", q, e.Queue)
			}
			nb := ""
			if !e.NotBefore.IsZero() {
				nb = "@later"
			}
			out = append(out, fmt.Sprintf("%s:%s#%d%s", e.Partition, e.Payload, e.Attempts, nb))
			return nil
		})
	})
	if err != nil {
		t.Fatalf("ScanQueue = %v", err)
	}
	return fmt.Sprint(out)
}

func testQueueList(t *testing.T, b Backend) {
	c := NewClock()
	s := b.Open(t, c.Now)
	enqueue(t, s, "out", "A", "a1")
	enqueue(t, s, "out", "B", "b1")
	enqueue(t, s, "out", "A", "a2")
	enqueue(t, s, "in", "A", "in-a")
	ls := claim(t, s, "out", 10, time.Minute)
	if len(ls) != 2 {
		t.Fatalf("Claim = %s", payloads(ls))
	}
	if err := s.Release(context.Background(), ls[1], c.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := listQueue(t, s, "out"); got != "[A:a1#1 B:b1#1@later A:a2#0]" {
		t.Errorf("ScanQueue = %s, want every pending entry in seq order, leased ones included", got)
	}
	var n int
	err := s.Update(context.Background(), func(x store.Txn) error {
		var err error
		n, err = x.DeletePartition("out", "A")
		return err
	})
	if err != nil || n != 2 {
		t.Fatalf("DeletePartition = %d, %v; want 2", n, err)
	}
	if got := listQueue(t, s, "out"); got != "[B:b1#1@later]" {
		t.Errorf("ScanQueue after DeletePartition(A) = %s", got)
	}
	if got := listQueue(t, s, "in"); got != "[A:in-a#0]" {
		t.Errorf("DeletePartition reached another queue: %s", got)
	}
	if err := ack(s, ls[0]); !errors.Is(err, store.ErrLeaseLost) {
		t.Errorf("Ack after DeletePartition = %v, want ErrLeaseLost", err)
	}
	enqueue(t, s, "out", "A", "a3")
	if got := payloads(claim(t, s, "out", 10, time.Minute)); got != "[A:a3#1]" {
		t.Errorf("Claim after DeletePartition = %s, want the new entry at once", got)
	}
}
