package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// benchGraph is a lean Graph API double on loopback: it only tells the
// waiting conversation that a reply for its recipient arrived.
type benchGraph struct {
	waiters sync.Map // recipient -> chan struct{}
	seq     atomic.Uint64
	strays  atomic.Uint64
}

func (g *benchGraph) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req struct {
		To string `json:"to"`
	}
	json.Unmarshal(raw, &req)
	if ch, ok := g.waiters.Load(req.To); ok {
		ch.(chan struct{}) <- struct{}{}
	} else {
		g.strays.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.B%d"}]}`, g.seq.Add(1))
}

// BenchmarkWebhookTurn measures whole turns: a signed webhook over a real
// loopback connection into Fiber/fasthttp, the fsynced inbox, the engine,
// the encrypted on-disk vault, the outbox, and the send request arriving at
// a fake Graph API on loopback. One op is one customer turn of the booking
// conversation; many conversations run at once (SetParallelism).
//
//	go test ./adapters/server -run '^$' -bench WebhookTurn -benchtime 5s
func BenchmarkWebhookTurn(b *testing.B) {
	g := &benchGraph{}
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	gsrv := &http.Server{Handler: g}
	go gsrv.Serve(gln)
	defer gsrv.Close()

	flows, report, err := server.LoadFlows(copyBookingFlow(b))
	if err != nil {
		b.Fatalf("%v\n%s", err, report)
	}
	v, err := vault.Open(vault.Options{Dir: b.TempDir(), MasterKey: masterKey})
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	srv, err := server.New(server.Config{Store: session.New(v), Flows: flows, SweepEvery: -1, WhatsApp: &server.WhatsAppConfig{
		AppSecret: testSecret, AccessToken: testToken, PhoneNumberID: testPNID, Flow: "booking",
		GraphURL: "http://" + gln.Addr().String(),
	}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer func() {
		sctx, stop := context.WithTimeout(context.Background(), 30*time.Second)
		defer stop()
		srv.Shutdown(sctx)
	}()
	url := "http://" + ln.Addr().String() + "/webhook/whatsapp"
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: 30 * time.Second}}
	secret := []byte(testSecret)

	var users, msgs atomic.Uint64
	b.SetParallelism(32) // 32 × GOMAXPROCS conversations at once
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	b.RunParallel(func(pb *testing.PB) {
		var (
			user string
			ch   chan struct{}
			turn = len(bookingScript)
		)
		for pb.Next() {
			if turn == len(bookingScript) {
				if user != "" {
					g.waiters.Delete(user)
				}
				user = fmt.Sprintf("1888%08d", users.Add(1))
				ch = make(chan struct{}, 16)
				g.waiters.Store(user, ch)
				turn = 0
			}
			step := bookingScript[turn]
			body := textWebhook(user, fmt.Sprintf("wamid.BENCH%d", msgs.Add(1)), step.text, time.Now())
			req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign(secret, body))
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("webhook answered %d", resp.StatusCode)
				return
			}
			timeout := time.NewTimer(30 * time.Second)
			for range step.replies {
				select {
				case <-ch:
				case <-timeout.C:
					b.Errorf("no reply within 30s")
					return
				}
			}
			timeout.Stop()
			turn++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "turns/s")
	// CPU per turn says more than time per turn on a busy machine. It
	// includes the load and the Graph double, which run in this process.
	if cpu := processCPU() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/turn")
	}
	if n := g.strays.Load(); n > 0 {
		b.Errorf("%d replies arrived for no waiting conversation", n)
	}
}
