package admin

import (
	"strconv"
	"testing"
	"time"
)

func TestLimiterMemoryStaysBoundedButKeepsLockouts(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	l := newFailureLimiter(clock.Now, 2, time.Minute, time.Hour)
	l.fail("locked")
	if !l.fail("locked") {
		t.Fatal("second failure did not start a lockout")
	}
	for i := range maxTrackedClients + 10 {
		l.fail("10.0." + strconv.Itoa(i))
	}
	if n := len(l.clients); n > maxTrackedClients {
		t.Errorf("limiter tracks %d clients, want at most %d", n, maxTrackedClients)
	}
	if _, blocked := l.blocked("locked"); !blocked {
		t.Error("pruning forgot a lockout")
	}
	clock.Advance(time.Hour)
	if _, blocked := l.blocked("locked"); blocked {
		t.Error("lockout outlived its cooldown")
	}
}
