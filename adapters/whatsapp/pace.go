package whatsapp

import (
	"errors"
	"math"
	"sync"
	"time"
)

// Backoff bounds: the first retry waits up to BackoffBase, each further one
// up to twice as long, never more than BackoffCap.
const (
	BackoffBase = 500 * time.Millisecond
	BackoffCap  = 60 * time.Second
	// ThrottleCap bounds the backoff after a throughput limit (HTTP 429,
	// 130429): the number is held that long at most, so sending resumes
	// within seconds of the API recovering however long the storm lasted.
	// A Retry-After from Meta is still honoured.
	ThrottleCap = 5 * time.Second
)

// Backoff returns how long to wait before retry number attempt (0 for the
// first retry): exponential with full jitter, a uniform draw in
// [0, min(BackoffCap, BackoffBase·2^attempt)). rnd returns values in [0, 1)
// (math/rand/v2's Float64); values outside are clamped, so a bad source
// cannot produce a negative or uncapped wait.
func Backoff(attempt int, rnd func() float64) time.Duration {
	ceiling := BackoffCap
	if attempt < 0 {
		attempt = 0
	}
	if attempt < 30 {
		if d := BackoffBase << attempt; d < BackoffCap {
			ceiling = d
		}
	}
	r := rnd()
	if math.IsNaN(r) || r < 0 {
		r = 0
	}
	if r >= 1 {
		r = math.Nextafter(1, 0)
	}
	return time.Duration(r * float64(ceiling))
}

// RetryDelay says whether and after how long to retry a failed send: never
// for errors that are not retryable, otherwise the larger of Backoff (at
// most ThrottleCap for a throughput limit) and the Retry-After Meta sent.
func RetryDelay(err error, attempt int, rnd func() float64) (time.Duration, bool) {
	var e *APIError
	if !errors.As(err, &e) || !e.Retryable() {
		return 0, false
	}
	d := Backoff(attempt, rnd)
	if e.Throttled() {
		d = min(d, ThrottleCap)
	}
	return max(d, e.RetryAfter), true
}

// Pacer spaces outbound messages: a token bucket per business phone number
// (Rate messages per second, bursts of Burst) and a minimum gap between two
// messages to the same user (UserGap; WhatsApp's pair limit averages one
// message every 6 s). It never sleeps: Reserve says when a message may go,
// and the caller waits (or requeues) until then. It is safe for concurrent
// use. Time comes from Now, so tests drive it with a fake clock.
type Pacer struct {
	// Rate is the per-number ceiling in messages per second (80 by
	// default on the Cloud API; keep headroom for inbound traffic).
	Rate float64
	// Burst is how many messages a number may send back to back.
	Burst int
	// UserGap is the minimum time between two messages to one user.
	UserGap time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	numbers map[string]time.Time // GCRA theoretical arrival time per number
	users   map[string]time.Time // earliest next send per number+user
	held    map[string]time.Time // per number holds (130429)
}

// NewPacer returns a Pacer with the given ceilings and clock.
func NewPacer(rate float64, burst int, userGap time.Duration, now func() time.Time) *Pacer {
	return &Pacer{Rate: rate, Burst: burst, UserGap: userGap, Now: now}
}

func (p *Pacer) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Pacer) interval() time.Duration {
	if p.Rate <= 0 {
		return 0
	}
	return time.Duration(float64(time.Second) / p.Rate)
}

func userKey(number, user string) string { return number + "\x00" + user }

// Next returns when a message from number to user could be sent, without
// reserving it.
func (p *Pacer) Next(number, user string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.earliest(number, user, p.now())
}

// Reserve books the earliest slot for a message from number to user and
// returns it; the caller must not send before that time. Each call books a
// new slot, so call it once per message.
func (p *Pacer) Reserve(number, user string) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	numberAt := p.numberEarliest(number, now)
	at := latest(numberAt, p.users[userKey(number, user)])
	if p.numbers == nil {
		p.numbers = map[string]time.Time{}
		p.users = map[string]time.Time{}
	}
	// The number's token is taken at the number's own earliest time, not
	// at the user's (possibly much later) slot: a user waiting out a gap
	// or a hold must not hold up everyone else on the number.
	p.numbers[number] = latest(p.numbers[number], numberAt).Add(p.interval())
	p.users[userKey(number, user)] = at.Add(p.UserGap)
	p.prune(now)
	return at
}

// earliest is the later of the number's bucket, any hold on the number and
// the user's gap.
func (p *Pacer) earliest(number, user string, now time.Time) time.Time {
	return latest(p.numberEarliest(number, now), p.users[userKey(number, user)])
}

// numberEarliest is when the number's bucket (and any hold) allows a send.
func (p *Pacer) numberEarliest(number string, now time.Time) time.Time {
	at := now
	if tat, ok := p.numbers[number]; ok {
		burst := max(p.Burst, 1)
		tolerance := time.Duration(burst-1) * p.interval()
		at = latest(at, tat.Add(-tolerance))
	}
	return latest(at, p.held[number])
}

// latest returns the latest of ts.
func latest(ts ...time.Time) time.Time {
	var l time.Time
	for _, t := range ts {
		if t.After(l) {
			l = t
		}
	}
	return l
}

// HoldUser delays every message to user until until, e.g. after 131056 (pair
// rate limit), without slowing other users.
func (p *Pacer) HoldUser(number, user string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.users == nil {
		p.users = map[string]time.Time{}
	}
	k := userKey(number, user)
	p.users[k] = latest(p.users[k], until)
}

// HoldNumber delays every message from number until until, e.g. after
// 130429 (throughput limit) or 131057 (maintenance).
func (p *Pacer) HoldNumber(number string, until time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held == nil {
		p.held = map[string]time.Time{}
	}
	p.held[number] = latest(p.held[number], until)
}

// prune forgets users and holds whose time has passed, so memory follows
// the active conversations rather than every user ever served.
func (p *Pacer) prune(now time.Time) {
	if len(p.users) < 1024 {
		return
	}
	for k, t := range p.users {
		if !t.After(now) {
			delete(p.users, k)
		}
	}
	for k, t := range p.held {
		if !t.After(now) {
			delete(p.held, k)
		}
	}
}

// Window is the customer-service window: free-form messages are allowed for
// 24 hours after the user's last message. WindowMargin closes it early in
// WindowOpen, because webhooks can arrive late and a send takes time.
const (
	Window       = 24 * time.Hour
	WindowMargin = 5 * time.Minute
)

// WindowOpen reports whether a free-form (non-template) message may be sent
// at now to a user whose last message was timestamped lastInbound. A zero
// lastInbound (never wrote) means closed; outside the window only approved
// templates may be sent (RenderTemplate).
func WindowOpen(lastInbound, now time.Time) bool {
	if lastInbound.IsZero() {
		return false
	}
	return now.Before(lastInbound.Add(Window - WindowMargin))
}
