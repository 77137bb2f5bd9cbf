package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// chaos is a reliability run against a spawned server: the booking script
// under load while the server is killed (SIGKILL) or stopped (SIGTERM) at
// random moments and restarted on the same data, and/or while the fake Graph
// API fails. The driver re-delivers every webhook that did not get a 200,
// as Meta does, after the wait a 503's or 429's Retry-After asks for, or
// a growing backoff (redeliverer). At the end it checks, per customer: every conversation
// finished (inbound lost 0, stuck 0), the replies arrived in the script's
// order (out of order 0), and counts the duplicates (a send whose outcome
// was unknown at a crash may go out twice). It also reports the peak RSS
// and the peak outbox depth the server reported.
type chaos struct {
	cycles   int            // kills/stops to make
	sig      syscall.Signal // SIGKILL or SIGTERM
	minGap   time.Duration
	maxGap   time.Duration
	faults   []faultPhase
	duration time.Duration
}

type faultPhase struct {
	mode string // "500", "429", "slow"
	d    time.Duration
}

// parseFaults reads "500:20s,429:10s,slow:10s".
func parseFaults(s string) ([]faultPhase, error) {
	var out []faultPhase
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		mode, d, ok := strings.Cut(f, ":")
		dur, err := time.ParseDuration(d)
		if !ok || err != nil || (mode != "500" && mode != "429" && mode != "slow") {
			return nil, fmt.Errorf("-graph-faults: %q is not MODE:DURATION with MODE 500, 429 or slow", f)
		}
		out = append(out, faultPhase{mode, dur})
	}
	return out, nil
}

type chaosReport struct {
	Conversations  int     `json:"conversations"`
	Stuck          int     `json:"stuck"`
	LostInbound    int     `json:"inbound_lost"`
	OutOfOrder     int     `json:"out_of_order"`
	Duplicates     int     `json:"duplicate_sends"`
	Redelivered    int64   `json:"redelivered"`
	RetryAfter     int64   `json:"retry_after_waits"` // re-deliveries that waited as a Retry-After said
	DroppedInFlght int64   `json:"in_flight_dropped"`
	Cycles         int     `json:"cycles"`
	PeakRSSMiB     float64 `json:"server_rss_peak_mib"`
	PeakOutbox     int     `json:"outbox_peak"`
	LeftQueued     int     `json:"left_queued"`
	GraphRefused   int64   `json:"graph_refused"`
}

// failed says whether the run lost anything. Deliveries that got no answer
// (in_flight_dropped) are reported but are not a failure: under SIGTERM they
// are connections still in the kernel's accept queue when the listener
// closes, which are reset, and Meta, like this driver, delivers them again.
func (r chaosReport) failed() bool {
	return r.Stuck > 0 || r.LostInbound > 0 || r.OutOfOrder > 0 || r.LeftQueued > 0 || r.Conversations == 0
}

func runChaos(ctx context.Context, c config, srv *server, ch chaos) (chaosReport, error) {
	var rep chaosReport
	g := c.graph
	g.record()
	start := time.Now()
	var peakOutbox, peakRSS, curPID atomic.Int64
	curPID.Store(int64(srv.cmd.Process.Pid))
	if len(ch.faults) > 0 {
		g.setFaults(start, ch.faults)
	}
	// A fresh connection per request: a POST on a kept-alive connection the
	// server closed at shutdown cannot be told apart from one it dropped.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

	var (
		mu sync.Mutex
		up = make(chan struct{}) // closed while the server is serving
	)
	close(up)
	serving := func() chan struct{} { mu.Lock(); defer mu.Unlock(); return up }

	// The chaos monkey.
	done := make(chan struct{})
	var monkeyErr error
	go func() {
		defer close(done)
		for i := 0; i < ch.cycles; i++ {
			gap := ch.minGap + time.Duration(rand.Int64N(int64(ch.maxGap-ch.minGap)+1))
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return
			}
			// After a SIGKILL nothing answers until the restart: hold new
			// deliveries. Under SIGTERM they keep coming, as Meta's would,
			// and each must get an answer (or a refused connection).
			if ch.sig == syscall.SIGKILL {
				mu.Lock()
				up = make(chan struct{})
				mu.Unlock()
			}
			srv.signal(ch.sig)
			if err := srv.start(); err != nil {
				monkeyErr = fmt.Errorf("restart %d: %w", i+1, err)
				return
			}
			curPID.Store(int64(srv.cmd.Process.Pid))
			if ch.sig == syscall.SIGKILL {
				mu.Lock()
				close(up)
				mu.Unlock()
			}
			rep.Cycles++
			fmt.Fprintf(os.Stderr, "cycle %d: %s, restarted\n", i+1, ch.sig)
		}
	}()
	sampleStop := make(chan struct{})
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-sampleStop:
				return
			case <-t.C:
				if d, err := outboxDepth(srv.URL); err == nil && int64(d) > peakOutbox.Load() {
					peakOutbox.Store(int64(d))
				}
				if p, err := readProc(int(curPID.Load())); err == nil && p.rssKB > peakRSS.Load() {
					peakRSS.Store(p.rssKB)
				}
			}
		}
	}()

	rd := &redeliverer{client: client, clk: realClock{}, url: srv.URL + "/webhook/whatsapp", secret: c.secret,
		hold: func() <-chan struct{} { return serving() }}
	var (
		stuckMu     sync.Mutex
		stuck, lost int
		users       []string
		wg          sync.WaitGroup
		seq         atomic.Uint64
		stopNew     atomic.Bool
	)
	go func() {
		<-done
		remaining := ch.duration - time.Since(start)
		if remaining > 0 {
			time.Sleep(remaining)
		}
		stopNew.Store(true)
	}()
	var usersMu sync.Mutex
	for w := 0; w < c.conversations; w++ {
		wg.Go(func() {
			for !stopNew.Load() && ctx.Err() == nil {
				n := seq.Add(1)
				user := fmt.Sprintf("1997%08d", n)
				usersMu.Lock()
				users = append(users, user)
				usersMu.Unlock()
				replies := make(chan string, 64)
				g.expect(user, replies)
				seen := map[string]bool{}
				want := 0
				for k, turn := range script {
					body := whatsapptest.TextWebhook(phoneNumberID, user, fmt.Sprintf("wamid.CH%d.%d", n, k), turn.text, time.Now())
					deadline := time.Now().Add(c.turnTimeout)
					if !rd.deliver(ctx, body, deadline) {
						stuckMu.Lock()
						stuck++
						stuckMu.Unlock()
						return
					}
					want += turn.replies
					timer := time.NewTimer(time.Until(deadline))
					for len(seen) < want {
						select {
						case r := <-replies:
							seen[r] = true
						case <-timer.C:
							stuckMu.Lock()
							lost++ // answered 200, its replies never came
							stuckMu.Unlock()
							return
						}
					}
					timer.Stop()
				}
			}
		})
	}
	wg.Wait()
	<-done
	if monkeyErr != nil {
		return rep, monkeyErr
	}
	rep.Redelivered, rep.DroppedInFlght, rep.RetryAfter = rd.redelivered.Load(), rd.dropped.Load(), rd.retryAfter.Load()
	rep.Stuck, rep.LostInbound = stuck, lost

	// Nothing may stay queued once the server is idle.
	for deadline := time.Now().Add(3 * time.Minute); ; {
		in, out, err := queued(srv.URL)
		if err == nil && in == 0 && out == 0 {
			break
		}
		if time.Now().After(deadline) {
			rep.LeftQueued = in + out
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Order and duplicates: every conversation that finished got the same
	// distinct replies (the script's texts are the same for everyone) in the
	// same order of first arrival as the reference conversation.
	var ref []string
	for _, u := range users {
		distinct, total := g.logOf(u)
		if len(distinct) != 7 {
			continue
		}
		if ref == nil {
			ref = distinct
		}
		rep.Conversations++
		rep.Duplicates += total - len(distinct)
		if strings.Join(distinct, "\x00") != strings.Join(ref, "\x00") {
			rep.OutOfOrder++
		}
	}
	close(sampleStop)
	rep.PeakOutbox = int(peakOutbox.Load())
	rep.PeakRSSMiB = float64(peakRSS.Load()) / 1024
	rep.GraphRefused = g.refused.Load()
	return rep, nil
}

// queued reads the inbox and outbox depths from the admin API.
func queued(base string) (inbox, outbox int, err error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/v1/metrics-summary", nil)
	req.Header.Set("Authorization", "Bearer "+viewerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	var s struct {
		Engine struct {
			Inbox  int `json:"inbox_pending"`
			Outbox int `json:"outbox_pending"`
		} `json:"engine"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return 0, 0, err
	}
	return s.Engine.Inbox, s.Engine.Outbox, nil
}

// outboxDepth reads parley_outbox_depth from /metrics.
func outboxDepth(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "parley_outbox_depth "); ok {
			f, err := strconv.ParseFloat(v, 64)
			return int(f), err
		}
	}
	return 0, errors.New("no parley_outbox_depth in /metrics")
}
