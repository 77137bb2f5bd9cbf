package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// answering is a webhook receiver on loopback that answers the first
// len(answers) deliveries with answers[i] (status and Retry-After, "" for
// none) and 200 after that, and counts the deliveries.
func answering(t *testing.T, answers func(clk *fakeClock) []answer, clk *fakeClock) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if as := answers(clk); i < len(as) {
			if as[i].retryAfter != "" {
				w.Header().Set("Retry-After", as[i].retryAfter)
			}
			w.WriteHeader(as[i].status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

type answer struct {
	status     int
	retryAfter string
}

func testRedeliverer(url string, clk *fakeClock) *redeliverer {
	return &redeliverer{client: &http.Client{Timeout: 10 * time.Second}, clk: clk, url: url, secret: []byte("test-secret")}
}

// TestRedeliveryHonoursRetryAfter: a draining server answers 503 with
// Retry-After: 1 three times; the driver waits a second before each
// re-delivery (on its clock) instead of sending again at once, and the
// fourth delivery gets the 200. A 429 with an HTTP-date and a 503 without
// Retry-After (the backoff) are spaced as they say.
func TestRedeliveryHonoursRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		answers    func(clk *fakeClock) []answer
		wantSleeps []time.Duration
		retryAfter int64
	}{
		{"503 Retry-After: 1, three times", func(*fakeClock) []answer {
			return []answer{{503, "1"}, {503, "1"}, {503, " 1 "}}
		}, []time.Duration{time.Second, time.Second, time.Second}, 3},
		{"429 Retry-After: an HTTP-date 2s ahead", func(clk *fakeClock) []answer {
			return []answer{{429, clk.Now().Add(2 * time.Second).Format(http.TimeFormat)}}
		}, []time.Duration{2 * time.Second}, 1},
		{"503 without Retry-After, then 500 with one: the backoff for both", func(*fakeClock) []answer {
			return []answer{{503, ""}, {500, "5"}, {503, "soon"}}
		}, []time.Duration{retryFirst, 2 * retryFirst, 4 * retryFirst}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			srv, n := answering(t, tc.answers, clk)
			rd := testRedeliverer(srv.URL, clk)
			if !rd.deliver(t.Context(), []byte(`{}`), clk.Now().Add(10*time.Second)) {
				t.Fatal("deliver gave up")
			}
			want := int64(len(tc.wantSleeps))
			if n.Load() != want+1 || rd.redelivered.Load() != want || rd.dropped.Load() != 0 || rd.retryAfter.Load() != tc.retryAfter {
				t.Errorf("%d deliveries, %d re-deliveries, %d without answer, %d Retry-After waits; want %d, %d, 0, %d",
					n.Load(), rd.redelivered.Load(), rd.dropped.Load(), rd.retryAfter.Load(), want+1, want, tc.retryAfter)
			}
			if got := clk.sleeps(); !slices.Equal(got, tc.wantSleeps) {
				t.Errorf("waited %v between deliveries, want %v", got, tc.wantSleeps)
			}
		})
	}
}

// TestRedeliveryBacksOffWhenRefused: while nothing listens (a server
// restarting), each re-delivery waits twice as long as the one before,
// up to retryMax, and the driver gives up when the next one would come
// after the deadline. Refusals are not "no answer": nothing was taken.
func TestRedeliveryBacksOffWhenRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String() + "/webhook/whatsapp"
	ln.Close()
	clk := newFakeClock()
	rd := testRedeliverer(url, clk)
	if rd.deliver(t.Context(), []byte(`{}`), clk.Now().Add(3*time.Second)) {
		t.Fatal("delivered to a closed port")
	}
	want := []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond,
		320 * time.Millisecond, 640 * time.Millisecond, time.Second} // 2.26 s; one more second would pass the deadline
	if got := clk.sleeps(); !slices.Equal(got, want) {
		t.Errorf("waited %v, want %v", got, want)
	}
	if rd.redelivered.Load() != 7 || rd.dropped.Load() != 0 {
		t.Errorf("%d re-deliveries, %d without answer; want 7, 0", rd.redelivered.Load(), rd.dropped.Load())
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"1", time.Second, true}, {"0", 0, true}, {"120", 2 * time.Minute, true},
		{now.Add(3 * time.Second).Format(http.TimeFormat), 3 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false}, {"-1", 0, false}, {"soon", 0, false},
	} {
		if got, ok := parseRetryAfter(tc.v, now); got != tc.want || ok != tc.ok {
			t.Errorf("parseRetryAfter(%q) = %s, %v; want %s, %v", tc.v, got, ok, tc.want, tc.ok)
		}
	}
}
