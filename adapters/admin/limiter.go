package admin

import (
	"sync"
	"time"
)

// maxTrackedClients bounds the limiter's memory: beyond it, clients that are
// neither locked out nor recently failing are forgotten first.
const maxTrackedClients = 10000

// failureLimiter locks a client out for a cooldown after too many
// authentication failures inside a sliding window.
type failureLimiter struct {
	now      func() time.Time
	max      int
	window   time.Duration
	cooldown time.Duration

	mu      sync.Mutex
	clients map[string]*clientFailures
}

type clientFailures struct {
	failures     []time.Time // at most max, oldest first
	blockedUntil time.Time
}

func newFailureLimiter(now func() time.Time, max int, window, cooldown time.Duration) *failureLimiter {
	return &failureLimiter{now: now, max: max, window: window, cooldown: cooldown, clients: map[string]*clientFailures{}}
}

// blocked reports whether client is locked out, and for how much longer.
func (l *failureLimiter) blocked(client string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.clients[client]
	if c == nil {
		return 0, false
	}
	if left := c.blockedUntil.Sub(l.now()); left > 0 {
		return left, true
	}
	return 0, false
}

// fail records a failure of client and reports whether it started a lockout.
func (l *failureLimiter) fail(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	c := l.clients[client]
	if c == nil {
		if len(l.clients) >= maxTrackedClients {
			l.prune(now)
		}
		c = &clientFailures{}
		l.clients[client] = c
	}
	c.failures = recent(c.failures, now.Add(-l.window))
	c.failures = append(c.failures, now)
	if len(c.failures) >= l.max {
		c.failures = c.failures[:0]
		c.blockedUntil = now.Add(l.cooldown)
		return true
	}
	return false
}

// recent drops failures at or before since.
func recent(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(since) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

// prune forgets idle clients; if every client is active it forgets those
// that are not locked out, so memory stays bounded under a flood of
// addresses while lockouts hold.
func (l *failureLimiter) prune(now time.Time) {
	since := now.Add(-l.window)
	for k, c := range l.clients {
		if !c.blockedUntil.After(now) && len(recent(c.failures, since)) == 0 {
			delete(l.clients, k)
		}
	}
	if len(l.clients) < maxTrackedClients {
		return
	}
	for k, c := range l.clients {
		if !c.blockedUntil.After(now) {
			delete(l.clients, k)
		}
	}
}
