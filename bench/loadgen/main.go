// Command loadgen drives `parley serve` the way Meta does: signed WhatsApp
// text webhooks to /webhook/whatsapp, with the replies read at a fake Graph
// API that it runs itself on loopback. Each simulated customer runs the
// flows/booking.yaml conversation (hi, YES, Ada, not-an-email,
// ada@example.com, 2) and waits for the expected replies (2,1,1,1,1,1) before
// the next turn. It reports turns/s and the p50/p90/p99 turn latency (from
// sending the webhook to receiving the last reply of that turn).
//
// By default it builds nothing and starts nothing: point it at a running
// server with -target, and start that server with
// PARLEY_WHATSAPP_GRAPH_URL set to the address printed by -graph. With
// -spawn BINARY it starts the server itself on a fresh data directory.
//
//	go build -o /tmp/parley ./cmd/parley
//	go run ./bench/loadgen -spawn /tmp/parley -conversations 64 -duration 20s
//	go run ./bench/loadgen -spawn /tmp/parley -rate 1000 -duration 20s
//
// Only loopback addresses are accepted as targets.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	target := flag.String("target", "", "base URL of a running parley serve (loopback only)")
	spawn := flag.String("spawn", "", "path of a parley binary to start on a temporary data directory")
	flowsDir := flag.String("flows", "flows", "flows directory for -spawn")
	graphAddr := flag.String("graph", "127.0.0.1:0", "listen address of the fake Graph API (loopback only)")
	secret := flag.String("secret", "loadgen-app-secret", "WhatsApp app secret shared with the server")
	conv := flag.Int("conversations", 64, "concurrent conversations")
	duration := flag.Duration("duration", 10*time.Second, "how long to send load")
	rate := flag.Float64("rate", 0, "target turns per second across all conversations (0: as fast as possible)")
	timeout := flag.Duration("turn-timeout", 10*time.Second, "give up on a turn whose replies have not all arrived by then")
	pid := flag.Int("pid", 0, "server process id: report its CPU per turn and peak RSS from /proc (set by -spawn)")
	batch := flag.Int("batch", 0, "instead of conversations, send one signed webhook carrying this many first messages and time its acknowledgement")
	flag.Parse()

	if err := checkLoopback(*graphAddr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		return 2
	}
	g, err := startGraph(*graphAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: fake Graph API:", err)
		return 1
	}
	defer g.Close()
	fmt.Fprintf(os.Stderr, "fake Graph API on %s\n", g.URL())

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	base := *target
	if *spawn != "" {
		srv, err := spawnServer(ctx, *spawn, *flowsDir, g.URL(), *secret)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 1
		}
		defer srv.Stop()
		base = srv.URL
		*pid = srv.cmd.Process.Pid
	}
	if base == "" {
		fmt.Fprintln(os.Stderr, "loadgen: give -target URL or -spawn BINARY")
		return 2
	}
	u, err := url.Parse(base)
	if err != nil || checkLoopback(u.Host) != nil {
		fmt.Fprintf(os.Stderr, "loadgen: -target must be a loopback URL such as http://127.0.0.1:8080, not %q\n", base)
		return 2
	}
	cfg := config{
		base: base, secret: []byte(*secret), graph: g, conversations: *conv,
		duration: *duration, rate: *rate, turnTimeout: *timeout,
	}
	var stop func() (float64, int64, error)
	if *pid > 0 {
		stop = watch(*pid)
	}
	var res *result
	if *batch > 0 {
		res, err = sendBatch(ctx, cfg, *batch)
	} else {
		res, err = drive(ctx, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
	}
	if stop != nil {
		res.cpu, res.peakKB, res.procErr = stop()
		res.measured = true
	}
	res.print(os.Stdout)
	if err != nil || res.failed > 0 {
		return 1
	}
	return 0
}

func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return errors.New("only loopback addresses (127.0.0.1, ::1, localhost) may be used: " + hostport)
	}
	return nil
}
