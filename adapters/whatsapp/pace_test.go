package whatsapp

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	tests := []struct {
		attempt int
		ceiling time.Duration
	}{
		{-3, 500 * time.Millisecond}, {0, 500 * time.Millisecond}, {1, time.Second}, {2, 2 * time.Second},
		{6, 32 * time.Second}, {7, 60 * time.Second}, {40, 60 * time.Second}, {math.MaxInt, 60 * time.Second},
	}
	for _, tc := range tests {
		if got := Backoff(tc.attempt, func() float64 { return 0 }); got != 0 {
			t.Errorf("Backoff(%d, 0) = %v, want 0 (full jitter)", tc.attempt, got)
		}
		if got := Backoff(tc.attempt, func() float64 { return 0.5 }); got != tc.ceiling/2 {
			t.Errorf("Backoff(%d, 0.5) = %v, want %v", tc.attempt, got, tc.ceiling/2)
		}
		top := Backoff(tc.attempt, func() float64 { return math.Nextafter(1, 0) })
		if top >= tc.ceiling || top < tc.ceiling-time.Microsecond {
			t.Errorf("Backoff(%d, ~1) = %v, want just under %v", tc.attempt, top, tc.ceiling)
		}
	}
	for _, bad := range []float64{-1, 1, 7, math.NaN(), math.Inf(1)} {
		if got := Backoff(3, func() float64 { return bad }); got < 0 || got >= 4*time.Second {
			t.Errorf("Backoff(3, %v) = %v, want within [0, 4s)", bad, got)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 1000 {
		a := i % 12
		if d := Backoff(a, r.Float64); d < 0 || d >= BackoffCap {
			t.Fatalf("Backoff(%d) = %v, outside [0, %v)", a, d, BackoffCap)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	half := func() float64 { return 0.5 }
	if d, ok := RetryDelay(&APIError{HTTPStatus: 429, Code: 130429, HasCode: true}, 1, half); !ok || d != 500*time.Millisecond {
		t.Errorf("RetryDelay(130429) = %v, %v; want 500ms, true", d, ok)
	}
	if d, ok := RetryDelay(&APIError{HTTPStatus: 429, Code: 130429, HasCode: true, RetryAfter: 30 * time.Second}, 1, half); !ok || d != 30*time.Second {
		t.Errorf("RetryDelay(Retry-After 30s) = %v, %v; want 30s, true", d, ok)
	}
	if _, ok := RetryDelay(&APIError{HTTPStatus: 400, Code: 131047, HasCode: true}, 0, half); ok {
		t.Error("RetryDelay(131047) retries, want no retry")
	}
	if _, ok := RetryDelay(errors.New("plain"), 0, half); ok {
		t.Error("RetryDelay(plain error) retries, want no retry")
	}
}

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func TestPacerNumberBucket(t *testing.T) {
	clk := &fakeClock{t0}
	p := NewPacer(10, 3, 0, clk.now) // 10 mps, bursts of 3
	var got []time.Duration
	for i := range 6 {
		got = append(got, p.Reserve("N", string(rune('a'+i))).Sub(t0))
	}
	want := []time.Duration{0, 0, 0, 100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("slots = %v, want %v", got, want)
		}
	}
	// Another number has its own bucket.
	if at := p.Reserve("M", "a"); !at.Equal(t0) {
		t.Errorf("other number slot = %v, want now", at.Sub(t0))
	}
	// After a quiet second the burst is available again.
	clk.advance(time.Second)
	for i := range 3 {
		if at := p.Reserve("N", "z"+string(rune('0'+i))); !at.Equal(clk.t) {
			t.Errorf("after refill, slot %d = %v, want now", i, at.Sub(clk.t))
		}
	}
	if at := p.Reserve("N", "y"); !at.Equal(clk.t.Add(100 * time.Millisecond)) {
		t.Errorf("after the burst, slot = %v, want +100ms", at.Sub(clk.t))
	}
}

func TestPacerUserGap(t *testing.T) {
	clk := &fakeClock{t0}
	p := NewPacer(1000, 100, 2*time.Second, clk.now)
	if at := p.Reserve("N", "ana"); !at.Equal(t0) {
		t.Fatalf("first = %v, want now", at.Sub(t0))
	}
	if at := p.Next("N", "ana"); !at.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("Next(ana) = %v, want +2s", at.Sub(t0))
	}
	if at := p.Next("N", "ana"); !at.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("Next does not reserve: second Next(ana) = %v, want +2s", at.Sub(t0))
	}
	if at := p.Reserve("N", "ana"); !at.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("second to ana = %v, want +2s", at.Sub(t0))
	}
	if at := p.Reserve("N", "ana"); !at.Equal(t0.Add(4 * time.Second)) {
		t.Errorf("third to ana = %v, want +4s", at.Sub(t0))
	}
	if at := p.Reserve("N", "ben"); !at.Equal(t0) {
		t.Errorf("ben is not slowed by ana: got %v, want now", at.Sub(t0))
	}
	if at := p.Reserve("M", "ana"); !at.Equal(t0) {
		t.Errorf("ana on another number = %v, want now", at.Sub(t0))
	}
	clk.advance(10 * time.Second)
	if at := p.Reserve("N", "ana"); !at.Equal(clk.t) {
		t.Errorf("after a pause, ana = %v, want now", at.Sub(clk.t))
	}
}

func TestPacerHolds(t *testing.T) {
	clk := &fakeClock{t0}
	p := NewPacer(80, 80, time.Second, clk.now)
	p.HoldUser("N", "ana", t0.Add(30*time.Second))
	if at := p.Reserve("N", "ana"); !at.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("held user = %v, want +30s", at.Sub(t0))
	}
	if at := p.Reserve("N", "ben"); !at.Equal(t0) {
		t.Errorf("other user during a user hold = %v, want now", at.Sub(t0))
	}
	p.HoldNumber("N", t0.Add(time.Minute))
	p.HoldNumber("N", t0.Add(time.Second)) // an earlier hold does not shorten it
	if at := p.Reserve("N", "cat"); !at.Equal(t0.Add(time.Minute)) {
		t.Errorf("held number = %v, want +1m", at.Sub(t0))
	}
	if at := p.Reserve("M", "cat"); !at.Equal(t0) {
		t.Errorf("other number during a hold = %v, want now", at.Sub(t0))
	}
}

func TestPacerForgetsIdleUsers(t *testing.T) {
	clk := &fakeClock{t0}
	p := NewPacer(1e6, 1e6, time.Second, clk.now)
	for i := range 3000 {
		p.Reserve("N", string(rune(0x4e00+i)))
	}
	clk.advance(time.Minute)
	p.Reserve("N", "last")
	if n := len(p.users); n > 1 {
		t.Errorf("pacer keeps %d idle users, want them forgotten", n)
	}
}

func TestWindowOpen(t *testing.T) {
	last := t0
	tests := []struct {
		name string
		last time.Time
		now  time.Time
		want bool
	}{
		{"right after the message", last, last.Add(time.Minute), true},
		{"23 hours later", last, last.Add(23 * time.Hour), true},
		{"inside the safety margin", last, last.Add(24*time.Hour - time.Minute), false},
		{"just before the margin", last, last.Add(24*time.Hour - WindowMargin - time.Second), true},
		{"after 24 hours", last, last.Add(25 * time.Hour), false},
		{"never wrote", time.Time{}, last, false},
		{"timestamp slightly in the future", last.Add(time.Minute), last, true},
	}
	for _, tc := range tests {
		if got := WindowOpen(tc.last, tc.now); got != tc.want {
			t.Errorf("%s: WindowOpen = %v, want %v", tc.name, got, tc.want)
		}
	}
}
