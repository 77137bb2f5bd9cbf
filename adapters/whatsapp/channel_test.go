package whatsapp

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
)

// TestChannelClassifiesSendFailures covers the send rules the channel gives
// the host: 131047 closes the window of a free-form reply (no retry, no
// hold); throttling is retried and holds the number or the one customer
// until the retry; MaxAttempts ends retries; permanent errors are not
// retried.
func TestChannelClassifiesSendFailures(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	const number, user, other = "100000000000001", "15550001234", "15550005678"
	delay := 7 * time.Second
	newChannel := func() (*Channel, *Pacer) {
		p := NewPacer(1e9, 1000, 0, func() time.Time { return now })
		c := NewChannel(ChannelConfig{PhoneNumberID: number, Pacer: p, MaxAttempts: 3,
			RetryDelay: func(err error, attempt int) (time.Duration, bool) { return delay, IsRetryable(err) }})
		return c, p
	}
	text := (&Channel{}).Render(user, "en", runtime.Message{Kind: runtime.KindSay, Text: "hello"})[0]
	tpl := host.Outbound{To: user, Req: []byte(`{"type":"template"}`), Free: true}
	outside := &APIError{HTTPStatus: 400, Code: 131047, HasCode: true}
	throttled := &APIError{HTTPStatus: 400, Code: 130429, HasCode: true}
	pair := &APIError{HTTPStatus: 400, Code: 131056, HasCode: true}
	invalid := &APIError{HTTPStatus: 400, Code: 100, HasCode: true}

	cases := []struct {
		name     string
		out      host.Outbound
		err      error
		attempt  int
		want     host.SendFailure
		numberAt time.Time // the earliest next send to another customer
		userAt   time.Time // the earliest next send to this customer
	}{
		{"window closed on a free-form reply", text, outside, 1, host.SendFailure{CloseWindow: true, Code: 131047}, now, now},
		{"window closed on a template is not a window matter", tpl, outside, 1, host.SendFailure{Code: 131047}, now, now},
		{"number throttled", text, throttled, 1, host.SendFailure{Retry: true, Delay: delay, Code: 130429}, now.Add(delay), now.Add(delay)},
		{"one customer throttled", text, pair, 2, host.SendFailure{Retry: true, Delay: delay, Code: 131056}, now, now.Add(delay)},
		{"last attempt", text, throttled, 3, host.SendFailure{Code: 130429}, now, now},
		{"permanent error", text, invalid, 1, host.SendFailure{Code: 100}, now, now},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, p := newChannel()
			if got := c.Classify(tc.out, tc.err, tc.attempt, now); got != tc.want {
				t.Errorf("Classify = %+v, want %+v", got, tc.want)
			}
			if got := p.Next(number, other); got.Before(tc.numberAt) || got.After(tc.numberAt.Add(time.Millisecond)) {
				t.Errorf("next send to another customer at %v, want %v", got, tc.numberAt)
			}
			if got := p.Next(number, user); got.Before(tc.userAt) || got.After(tc.userAt.Add(time.Millisecond)) {
				t.Errorf("next send to this customer at %v, want %v", got, tc.userAt)
			}
		})
	}
}

// TestChannelRendersWhatItSendsAndReengagesWithTheTemplate: the outbox holds
// the Graph API request bytes; outside the window the flow's template goes
// to the same customer instead.
func TestChannelRendersWhatItSendsAndReengagesWithTheTemplate(t *testing.T) {
	c := NewChannel(ChannelConfig{Template: func(flow string) (string, string, bool) {
		return "booking_followup", "en", flow == "booking"
	}})
	out := c.Render("15550001234", "en", runtime.Message{Kind: runtime.KindSay, Text: "a < b & c"})
	if len(out) != 1 || out[0].Free || out[0].To != "15550001234" {
		t.Fatalf("Render = %+v, want one free-form request to the customer", out)
	}
	want, _ := encodeJSON(Render("15550001234", "en", runtime.Message{Kind: runtime.KindSay, Text: "a < b & c"})[0])
	if string(out[0].Req) != string(want) {
		t.Errorf("stored request %s, want the bytes the Graph API gets %s", out[0].Req, want)
	}
	re, ok := c.Reengage(out[0], "booking")
	if !ok || !re.Free || re.To != "15550001234" {
		t.Fatalf("Reengage = %+v, %v; want a template to the customer", re, ok)
	}
	tplWant, _ := encodeJSON(RenderTemplate("15550001234", "booking_followup", "en", nil))
	if string(re.Req) != string(tplWant) {
		t.Errorf("re-engagement %s, want %s", re.Req, tplWant)
	}
	if _, ok := c.Reengage(out[0], "other"); ok {
		t.Error("Reengage for a flow without a template = true, want false")
	}
}
