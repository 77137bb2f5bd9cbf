package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

type config struct {
	base          string
	secret        []byte
	graph         *graph
	conversations int
	duration      time.Duration
	rate          float64
	turnTimeout   time.Duration
}

// script is the booking conversation and how many replies each turn gets.
var script = []struct {
	text    string
	replies int
}{
	{"hi", 2}, {"YES", 1}, {"Ada", 1}, {"not-an-email", 1}, {"ada@example.com", 1}, {"2", 1},
}

type result struct {
	turns, failed, conversations int
	wrongLast                    int
	elapsed                      time.Duration
	latencies                    []time.Duration

	// the server process, when -pid or -spawn named it
	measured bool
	cpu      float64 // seconds of user+system CPU during the run
	peakKB   int64
	procErr  error

	// -batch: messages in the webhook, time to its 200, time to the last reply
	batch           int
	ack, allReplies time.Duration

	// -rate (open loop): turns scheduled; of those failed, the ones never
	// sent; how many were sent later than lateAfter after their scheduled
	// time (busy of them because every customer was still busy with an
	// earlier turn when it was due, the rest because the load generator
	// woke late), and by how much each was late (latencies then run from
	// the scheduled time)
	offered, unsent, late, busy int
	customers                   int
	rate                        float64
	lags                        []time.Duration
}

// percentile returns the p-quantile of the sorted ds, 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

func (r *result) print(w io.Writer) {
	slices.Sort(r.latencies)
	slices.Sort(r.lags)
	pct := func(p float64) time.Duration { return percentile(r.latencies, p) }
	secs := r.elapsed.Seconds()
	if secs == 0 {
		secs = 1
	}
	if r.offered > 0 {
		fmt.Fprintf(w, "offered          %d turns at %g/s (open loop; latency from each turn's scheduled time)\n", r.offered, r.rate)
		fmt.Fprintf(w, "sent late        %d more than %s after their scheduled time, %d of them because all %d customers were busy (send lag p50 %s, p99 %s, max %s)\n",
			r.late, lateAfter, r.busy, r.customers, percentile(r.lags, 0.5), percentile(r.lags, 0.99), percentile(r.lags, 1))
		if r.unsent > 0 {
			fmt.Fprintf(w, "never sent       %d (all customers busy for a whole turn timeout; counted as failed)\n", r.unsent)
		}
	}
	fmt.Fprintf(w, "turns            %d (%d failed)\n", r.turns, r.failed)
	fmt.Fprintf(w, "conversations    %d completed\n", r.conversations)
	fmt.Fprintf(w, "elapsed          %s\n", r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "turns/s          %.0f\n", float64(r.turns)/secs)
	fmt.Fprintf(w, "latency p50      %s\n", pct(0.50))
	fmt.Fprintf(w, "latency p90      %s\n", pct(0.90))
	fmt.Fprintf(w, "latency p99      %s\n", pct(0.99))
	if r.wrongLast > 0 {
		fmt.Fprintf(w, "confirmations without the email: %d\n", r.wrongLast)
	}
	out := map[string]any{
		"turns": r.turns, "failed": r.failed, "conversations": r.conversations, "elapsed_s": secs,
		"turns_per_s": float64(r.turns) / secs, "turn_p50_ms": ms(pct(0.50)), "turn_p99_ms": ms(pct(0.99)),
	}
	if r.offered > 0 {
		out["offered"], out["offered_per_s"], out["unsent"], out["late"] = r.offered, r.rate, r.unsent, r.late
		out["carried_pct"] = 100 * float64(r.turns) / float64(r.offered)
		out["send_lag_p99_ms"], out["late_after_ms"], out["late_no_free_customer"] = ms(percentile(r.lags, 0.99)), ms(lateAfter), r.busy
	}
	if r.batch > 0 {
		fmt.Fprintf(w, "batch            %d messages acknowledged in %s, last reply after %s\n", r.batch, r.ack.Round(time.Millisecond), r.allReplies.Round(time.Millisecond))
		out["batch"], out["batch_ack_ms"], out["batch_replies_ms"] = r.batch, ms(r.ack), ms(r.allReplies)
	}
	if r.measured {
		if r.procErr != nil {
			fmt.Fprintf(w, "server           %v\n", r.procErr)
		} else {
			perTurn := 1000 * r.cpu / float64(max(r.turns, 1))
			fmt.Fprintf(w, "server CPU       %.2fs = %.2f cores, %.3f ms per turn\n", r.cpu, r.cpu/secs, perTurn)
			fmt.Fprintf(w, "server RSS peak  %.1f MiB\n", float64(r.peakKB)/1024)
			out["server_cpu_s"], out["server_cpu_ms_per_turn"], out["server_rss_peak_mib"] = r.cpu, perTurn, float64(r.peakKB)/1024
		}
	}
	j, _ := json.Marshal(out)
	fmt.Fprintf(w, "RESULT %s\n", j)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// sendBatch posts one signed webhook carrying n first messages ("hi") from n
// customers, the way Meta batches a burst, and times its acknowledgement
// (the server answers 200 only once all n are stored) and the arrival of
// the last reply.
func sendBatch(ctx context.Context, c config, n int) (*result, error) {
	res := &result{batch: n}
	chans := make([]chan string, n)
	texts := make([]whatsapptest.Text, n)
	run := time.Now().UnixNano() % 1e6
	now := time.Now()
	for i := range texts {
		user := fmt.Sprintf("1998%06d%04d", run, i)
		texts[i] = whatsapptest.Text{From: user, ID: fmt.Sprintf("wamid.LGB%d.%d", run, i), Body: "hi", At: now}
		chans[i] = make(chan string, 4)
		c.graph.expect(user, chans[i])
	}
	body := whatsapptest.TextsWebhook(phoneNumberID, texts...)
	client := &http.Client{Timeout: 2 * time.Minute}
	t0 := time.Now()
	if err := post(client, c.base+"/webhook/whatsapp", c.secret, body); err != nil {
		res.failed = n
		return res, err
	}
	res.ack = time.Since(t0)
	deadline := time.NewTimer(c.turnTimeout + 2*time.Minute)
	defer deadline.Stop()
	for i, ch := range chans {
		for got := 0; got < script[0].replies; got++ {
			select {
			case <-ch:
			case <-deadline.C:
				res.failed = n - i
				return res, fmt.Errorf("replies to the batch: %d of %d customers answered before the deadline", i, n)
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
		res.turns++
		res.latencies = append(res.latencies, time.Since(t0))
	}
	res.allReplies = time.Since(t0)
	res.elapsed = res.allReplies
	return res, nil
}

// drive runs the closed loop: c.conversations customers, each sending its
// next turn as soon as the previous one is answered, for c.duration. With
// c.rate set it runs the open loop instead (driveOpen).
func drive(ctx context.Context, c config) (*result, error) {
	if c.rate > 0 {
		return driveOpen(ctx, c, realClock{})
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()

	var (
		mu    sync.Mutex
		res   = &result{}
		seq   atomic.Uint64
		msgID atomic.Uint64
		wg    sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < c.conversations; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				user := fmt.Sprintf("1999%08d", seq.Add(1))
				ch := make(chan string, 16)
				c.graph.expect(user, ch)
				ok := true
				for _, turn := range script {
					if ctx.Err() != nil {
						ok = false
						break
					}
					t0 := time.Now()
					body := whatsapptest.TextWebhook(phoneNumberID, user, fmt.Sprintf("wamid.LG%d", msgID.Add(1)), turn.text, t0)
					err := post(client, c.base+"/webhook/whatsapp", c.secret, body)
					var last string
					got := 0
					if err == nil {
						deadline := time.NewTimer(c.turnTimeout)
						for got < turn.replies && err == nil {
							select {
							case last = <-ch:
								got++
							case <-deadline.C:
								err = fmt.Errorf("timeout: %d of %d replies", got, turn.replies)
							}
						}
						deadline.Stop()
					}
					lat := time.Since(t0)
					mu.Lock()
					if err != nil {
						res.failed++
						ok = false
					} else {
						res.turns++
						res.latencies = append(res.latencies, lat)
						if turn.text == "2" && !strings.Contains(last, "ada@example.com") {
							res.wrongLast++
						}
					}
					mu.Unlock()
					if !ok {
						break
					}
				}
				c.graph.forget(user)
				if ok {
					mu.Lock()
					res.conversations++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res, nil
}

func post(client *http.Client, url string, secret, body []byte) error {
	status, _, err := postAnswer(client, url, secret, body)
	if err == nil && status != http.StatusOK {
		err = statusError(status)
	}
	return err
}

// postAnswer posts a signed webhook and returns the status it was answered
// with and the answer's Retry-After header.
func postAnswer(client *http.Client, url string, secret, body []byte) (status int, retryAfter string, err error) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

// statusError is a webhook answered with another status than 200.
type statusError int

func (e statusError) Error() string { return fmt.Sprintf("webhook answered %d", int(e)) }
