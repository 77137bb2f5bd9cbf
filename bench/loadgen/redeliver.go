package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// How the chaos driver spaces re-deliveries that carry no Retry-After
// (connection refused while the server restarts, a reset connection, a
// 5xx without one): a backoff that doubles from retryFirst up to retryMax,
// Meta's growing delays compressed from hours to about a second.
const (
	retryFirst = 20 * time.Millisecond
	retryMax   = time.Second
)

// redeliverer delivers webhooks the way Meta does: again until one is
// answered 200, waiting between attempts. A 503 or 429 with Retry-After
// (a draining server sends 503 with Retry-After: 1) waits as long as it
// says; anything else waits the backoff.
type redeliverer struct {
	client *http.Client
	clk    clock
	url    string
	secret []byte
	// hold, when set, returns a channel that is closed while the server
	// can be reached: after a SIGKILL nothing answers until the restart,
	// so deliveries wait for it instead of counting refusals.
	hold func() <-chan struct{}

	redelivered atomic.Int64 // attempts after the first
	dropped     atomic.Int64 // attempts the server took and gave no answer to
	retryAfter  atomic.Int64 // waits a Retry-After set
}

// deliver posts body until it is answered 200 (true) or the next attempt
// would come after deadline or ctx ends (false).
func (r *redeliverer) deliver(ctx context.Context, body []byte, deadline time.Time) bool {
	backoff := retryFirst
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			r.redelivered.Add(1)
		}
		if r.hold != nil {
			select {
			case <-r.hold():
			case <-ctx.Done():
				return false
			}
		}
		status, after, err := postAnswer(r.client, r.url, r.secret, body)
		if err == nil && status == http.StatusOK {
			return true
		}
		if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			if r.dropped.Add(1) <= 3 { // the server had the request and gave no answer
				fmt.Fprintf(os.Stderr, "no answer to a delivery: %v\n", err)
			}
		}
		wait := backoff
		if d, ok := parseRetryAfter(after, r.clk.Now()); ok && (status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests) {
			wait = d
			r.retryAfter.Add(1)
		} else {
			backoff = min(2*backoff, retryMax)
		}
		if r.clk.Now().Add(wait).After(deadline) || r.clk.Sleep(ctx, wait) != nil {
			return false
		}
	}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an
// HTTP-date (RFC 9110 §10.2.3). A date in the past means at once.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
