package host

import (
	"context"
	"sync"
	"testing"
)

func TestPoolKeepsOrderPerKeyAndSurvivesPanics(t *testing.T) {
	p := NewPool(4, 16)
	var mu sync.Mutex
	panics := 0
	p.OnPanic = func(any) { mu.Lock(); panics++; mu.Unlock() }
	got := map[string][]int{}
	ctx := context.Background()
	for i := range 50 {
		for _, key := range []string{"a", "b", "c"} {
			if err := p.Submit(ctx, key, func() {
				if i == 10 && key == "b" {
					panic("boom")
				}
				mu.Lock()
				got[key] = append(got[key], i)
				mu.Unlock()
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Close()
	if panics != 1 {
		t.Errorf("OnPanic called %d times, want 1", panics)
	}
	for _, key := range []string{"a", "b", "c"} {
		want := 50
		if key == "b" {
			want = 49
		}
		if len(got[key]) != want {
			t.Errorf("key %s ran %d jobs, want %d", key, len(got[key]), want)
		}
		for j := 1; j < len(got[key]); j++ {
			if got[key][j] <= got[key][j-1] {
				t.Fatalf("key %s ran out of order: %v", key, got[key])
			}
		}
	}
}

// TestPoolSubmitAfterCloseIsAnError: a Submit blocked on a full queue gives
// up when Close begins, and one after Close returns an error instead of
// panicking with "send on closed channel".
func TestPoolSubmitAfterCloseIsAnError(t *testing.T) {
	p := NewPool(1, 1)
	release := make(chan struct{})
	started := make(chan struct{})
	p.Submit(context.Background(), "k", func() { close(started); <-release })
	<-started
	p.Submit(context.Background(), "k", func() {}) // fills the queue
	blocked := make(chan error, 1)
	go func() { blocked <- p.Submit(context.Background(), "k", func() {}) }()
	closed := make(chan struct{})
	go func() { p.Close(); close(closed) }()
	if err := <-blocked; err == nil {
		t.Error("a Submit blocked on a full queue succeeded after Close began")
	}
	close(release)
	<-closed
	if err := p.Submit(context.Background(), "k", func() {}); err == nil {
		t.Error("Submit after Close = nil, want an error")
	}
}
