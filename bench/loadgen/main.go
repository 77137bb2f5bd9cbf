// Command loadgen drives `parley serve` the way Meta does: signed WhatsApp
// text webhooks to /webhook/whatsapp, with the replies read at a fake Graph
// API that it runs itself on loopback. Each simulated customer runs the
// flows/booking.yaml conversation (hi, YES, Ada, not-an-email,
// ada@example.com, 2) and waits for the expected replies (2,1,1,1,1,1) before
// the next turn. It reports turns/s and the p50/p90/p99 turn latency (from
// sending the webhook to receiving the last reply of that turn).
//
// With -rate it runs an open loop instead: rate × duration turns, each due
// at a fixed time whatever the server does, taken by whichever of the
// -conversations customers is free. Latency then runs from the time a turn
// was due, turns sent late are counted, and turns/s is what was carried
// (see driveOpen).
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
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime/pprof"
	"syscall"
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
	conv := flag.Int("conversations", 64, "concurrent conversations (with -rate: customers taking the scheduled turns, so at most this many turns in flight)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send load")
	rate := flag.Float64("rate", 0, "open loop: offer this many turns per second across all conversations, latency measured from each turn's scheduled time (0: closed loop, as fast as possible)")
	timeout := flag.Duration("turn-timeout", 10*time.Second, "give up on a turn whose replies have not all arrived by then (with -rate: counted from its scheduled time)")
	pid := flag.Int("pid", 0, "server process id: report its CPU per turn and peak RSS from /proc (set by -spawn)")
	cycles := flag.Int("chaos-cycles", 0, "reliability run (needs -spawn): stop the server this many times under load and restart it on the same data")
	chaosSig := flag.String("chaos-signal", "KILL", "how to stop it: KILL or TERM")
	minGap := flag.Duration("chaos-min-gap", 500*time.Millisecond, "shortest time between two stops")
	maxGap := flag.Duration("chaos-max-gap", 3*time.Second, "longest time between two stops")
	faults := flag.String("graph-faults", "", "reliability run (needs -spawn): the fake Graph API fails in phases from the start, e.g. 500:20s,429:10s,slow:10s")
	batch := flag.Int("batch", 0, "instead of conversations, send one signed webhook carrying this many first messages and time its acknowledgement")
	cpuProfile := flag.String("cpuprofile", "", "write the load generator's own CPU profile here (is it the bottleneck?)")
	flag.Parse()

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: -cpuprofile:", err)
			return 2
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}

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
	var srvHandle *server
	if *spawn != "" {
		srv, err := spawnServer(ctx, *spawn, *flowsDir, g.URL(), *secret)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 1
		}
		defer srv.Stop()
		base = srv.URL
		*pid = srv.cmd.Process.Pid
		srvHandle = srv
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
	if *cycles > 0 || *faults != "" {
		if *spawn == "" {
			fmt.Fprintln(os.Stderr, "loadgen: -chaos-cycles and -graph-faults need -spawn BINARY")
			return 2
		}
		sig := syscall.SIGKILL
		if *chaosSig == "TERM" {
			sig = syscall.SIGTERM
		} else if *chaosSig != "KILL" {
			fmt.Fprintln(os.Stderr, "loadgen: -chaos-signal must be KILL or TERM")
			return 2
		}
		phases, err := parseFaults(*faults)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 2
		}
		rep, err := runChaos(ctx, cfg, srvHandle, chaos{cycles: *cycles, sig: sig, minGap: *minGap, maxGap: max(*maxGap, *minGap), faults: phases, duration: *duration})
		j, _ := json.Marshal(rep)
		fmt.Printf("RESULT %s\n", j)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			return 1
		}
		if rep.failed() {
			fmt.Fprintln(os.Stderr, "loadgen: FAILED: conversations lost, stuck, out of order or left queued (see RESULT)")
			return 1
		}
		return 0
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
