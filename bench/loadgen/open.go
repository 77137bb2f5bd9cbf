package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// lateAfter is how long after its scheduled time a turn may be sent and
// still count as sent on time.
const lateAfter = time.Millisecond

// driveOpen offers c.rate turns per second for c.duration, whatever the
// server does: turn i is due at start + i/rate, rate × duration turns in
// all. c.conversations customers take the turns: a customer whose previous
// turn is done claims the next turn not yet claimed, waits for its
// scheduled time and sends it. A turn's latency runs from its scheduled
// time, not from when it was sent, so a server (or a load generator) that
// falls behind shows it in the latency instead of hiding it by sending
// less (coordinated omission). A turn that could not be sent within the
// turn timeout of its scheduled time is not sent and counts as failed, as
// does one whose replies had not all arrived by then; turns/s is what was
// carried, over the schedule's length or until the last turn finished if
// that is later.
func driveOpen(ctx context.Context, c config, clk clock) (*result, error) {
	offered := int64(math.Round(c.rate * c.duration.Seconds()))
	res := &result{offered: int(offered), rate: c.rate, customers: max(c.conversations, 1)}
	if offered <= 0 {
		return res, fmt.Errorf("-rate %g for %s offers no turn", c.rate, c.duration)
	}
	client := &http.Client{Timeout: c.turnTimeout, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}}
	defer client.CloseIdleConnections()
	webhook := c.base + "/webhook/whatsapp"
	templates := make([]webhookTemplate, len(script))
	for k, turn := range script {
		t, err := newWebhookTemplate(turn.text)
		if err != nil {
			return res, err
		}
		templates[k] = t
	}
	interval := float64(time.Second) / c.rate

	var (
		mu       sync.Mutex
		next     atomic.Int64 // the first turn no customer has claimed
		seq      atomic.Uint64
		msgID    atomic.Uint64
		wg       sync.WaitGroup
		lastDone time.Time
	)
	start := clk.Now()
	for range res.customers {
		wg.Go(func() {
			var (
				user string
				ch   chan string
				step int // the script's next turn for user
			)
			endConversation := func(completed bool) {
				c.graph.forget(user)
				user = ""
				if completed {
					mu.Lock()
					res.conversations++
					mu.Unlock()
				}
			}
			for {
				i := next.Add(1) - 1
				if i >= offered {
					break
				}
				at := start.Add(time.Duration(float64(i) * interval))
				claimed := clk.Now()
				err := clk.Sleep(ctx, at.Sub(claimed))
				sent := clk.Now()
				if err != nil || sent.Sub(at) > c.turnTimeout {
					// Interrupted, or the customers were all busy for a
					// whole turn timeout: the turn is not sent at all.
					mu.Lock()
					res.failed++
					res.unsent++
					mu.Unlock()
					continue
				}
				if user == "" {
					user = fmt.Sprintf("1999%08d", seq.Add(1))
					ch = make(chan string, 16)
					c.graph.expect(user, ch)
					step = 0
				}
				turn := script[step]
				id := strconv.AppendUint([]byte("wamid.LGO"), msgID.Add(1), 10)
				body := templates[step].fill(make([]byte, 0, 1024), user, string(id), sent)
				err = post(client, webhook, c.secret, body)
				var last string
				if err == nil {
					last, err = awaitReplies(ctx, ch, turn.replies, at.Add(c.turnTimeout).Sub(clk.Now()))
				}
				done := clk.Now()
				if err == nil && done.Sub(at) > c.turnTimeout {
					err = fmt.Errorf("replies after %s, later than the turn timeout", done.Sub(at))
				}
				mu.Lock()
				res.lags = append(res.lags, sent.Sub(at))
				if sent.Sub(at) > lateAfter {
					res.late++
					if claimed.Sub(at) > lateAfter {
						res.busy++ // no customer was free when it was due
					}
				}
				if err != nil {
					res.failed++
				} else {
					res.turns++
					res.latencies = append(res.latencies, done.Sub(at))
					if turn.text == "2" && !strings.Contains(last, "ada@example.com") {
						res.wrongLast++
					}
				}
				if done.After(lastDone) {
					lastDone = done
				}
				mu.Unlock()
				step++
				if err != nil || step == len(script) {
					endConversation(err == nil)
				}
			}
			if user != "" {
				endConversation(false)
			}
		})
	}
	wg.Wait()
	res.elapsed = max(lastDone.Sub(start), c.duration)
	return res, ctx.Err()
}

// awaitReplies waits up to d for n replies on ch and returns the last. A
// reply already there is taken even when d has run out, so that what
// counts as late is decided by the caller's clock alone.
func awaitReplies(ctx context.Context, ch <-chan string, n int, d time.Duration) (last string, err error) {
	timer := time.NewTimer(max(d, 0))
	defer timer.Stop()
	for got := 0; got < n; got++ {
		select {
		case last = <-ch:
			continue
		default:
		}
		select {
		case last = <-ch:
		case <-timer.C:
			return last, fmt.Errorf("timeout: %d of %d replies", got, n)
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
	return last, nil
}

// webhookTemplate is the delivery of one script text from whatsapptest,
// cut where the sender, the message id and the timestamp go, so a turn's
// body is built by appending instead of encoding maps to JSON each time
// (encoding was a seventh of the load generator's CPU at 1,000 turns/s).
type webhookTemplate struct {
	parts [][]byte // literal bytes; between two parts comes holes[i]
	holes []int    // holeFrom, holeID or holeTime
}

const (
	holeFrom = iota
	holeID
	holeTime
)

// The stand-ins the template is cut at: strings no webhook field carries
// otherwise (checked by newWebhookTemplate).
const (
	markFrom = "LGMARKFROM"
	markID   = "LGMARKID"
)

var markTime = time.Unix(9_876_543_210, 0) // "9876543210"

func newWebhookTemplate(text string) (webhookTemplate, error) {
	b := whatsapptest.TextWebhook(phoneNumberID, markFrom, markID, text, markTime)
	marks := []struct {
		s    string
		hole int
	}{{markFrom, holeFrom}, {markID, holeID}, {strconv.FormatInt(markTime.Unix(), 10), holeTime}}
	var t webhookTemplate
	for len(b) > 0 {
		at, hole, n := len(b), -1, 0
		for _, m := range marks {
			if i := bytes.Index(b, []byte(m.s)); i >= 0 && i < at {
				at, hole, n = i, m.hole, len(m.s)
			}
		}
		t.parts = append(t.parts, b[:at])
		if hole < 0 {
			break
		}
		t.holes = append(t.holes, hole)
		b = b[at+n:]
	}
	if len(t.holes) != 4 { // from twice (contact and message), id, timestamp
		return t, fmt.Errorf("webhook template for %q: %d fields found, want 4", text, len(t.holes))
	}
	return t, nil
}

// fill appends the delivery from user, message id and time to dst.
func (t webhookTemplate) fill(dst []byte, from, id string, at time.Time) []byte {
	for i, p := range t.parts {
		dst = append(dst, p...)
		if i < len(t.holes) {
			switch t.holes[i] {
			case holeFrom:
				dst = append(dst, from...)
			case holeID:
				dst = append(dst, id...)
			case holeTime:
				dst = strconv.AppendInt(dst, at.Unix(), 10)
			}
		}
	}
	return dst
}
