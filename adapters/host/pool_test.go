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
