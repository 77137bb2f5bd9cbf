package whatsapp

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// TestThrottleStormResumesPromptly: after a long 130429 storm (attempt 20,
// the jitter at its top) the retry and the hold on the whole number end
// within ThrottleCap, so sends resume seconds after the API recovers, not a
// minute. A Retry-After from Meta still wins; other errors keep the full
// backoff.
func TestThrottleStormResumesPromptly(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const number, user, other = "100000000000001", "15550001234", "15550005678"
	top := func() float64 { return 0.999 }
	throttled := &APIError{HTTPStatus: 400, Code: 130429, HasCode: true}
	too := &APIError{HTTPStatus: 429}
	server := &APIError{HTTPStatus: 503, Code: 131000, HasCode: true}
	for _, err := range []*APIError{throttled, too} {
		if d, retry := RetryDelay(err, 20, top); !retry || d > ThrottleCap {
			t.Errorf("RetryDelay(%v, attempt 20) = %s, %v; want a retry within %s", err, d, retry, ThrottleCap)
		}
	}
	if d, _ := RetryDelay(&APIError{HTTPStatus: 429, RetryAfter: 30 * time.Second}, 20, top); d != 30*time.Second {
		t.Errorf("Retry-After 30s gave a delay of %s", d)
	}
	if d, _ := RetryDelay(server, 20, top); d < BackoffCap/2 {
		t.Errorf("a server error at attempt 20 waits %s, want the full backoff", d)
	}
	p := NewPacer(80, 1, 0, func() time.Time { return now })
	c := NewChannel(ChannelConfig{PhoneNumberID: number, Pacer: p,
		RetryDelay: func(err error, attempt int) (time.Duration, bool) { return RetryDelay(err, attempt, top) }})
	text := (&Channel{}).Render(user, "en", runtime.Message{Kind: runtime.KindSay, Text: "hello"})[0]
	for attempt := 1; attempt <= 40; attempt++ {
		if f := c.Classify(text, throttled, attempt, now); !f.Retry {
			t.Fatalf("attempt %d of a throttled send is not retried: %+v", attempt, f)
		}
	}
	if at := p.Next(number, other); at.After(now.Add(ThrottleCap)) {
		t.Errorf("after the storm the number is held until %s, want at most %s", at.Sub(now), ThrottleCap)
	}
}
