package main

import (
	"bytes"
	"context"
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
}

func (r *result) print(w io.Writer) {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	secs := r.elapsed.Seconds()
	if secs == 0 {
		secs = 1
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
}

func drive(ctx context.Context, c config) (*result, error) {
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}}
	ctx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()

	var tokens <-chan time.Time
	if c.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / c.rate))
		defer t.Stop()
		tokens = t.C
	}
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
					if tokens != nil {
						select {
						case <-tokens:
						case <-ctx.Done():
							ok = false
						}
					}
					if !ok || ctx.Err() != nil {
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
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(secret, body))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}
