package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flowtest"
	"github.com/parleyhq/parley/engine/runtime"
)

func init() {
	register(&command{
		name:    "chat",
		summary: "talk to a flow in the terminal",
		usage:   "parley chat --flow FILE [--lang xx] [--user CHANNEL:ID] [--data DIR]",
		help: `Simulates a conversation with a flow. On a terminal it is interactive: type a
message and press Enter; type a number to pick an option. With piped input it
reads one customer message per line and prints each bot message on its own
line(s), options as "[1] Mon 9:00", and exits at the end of the flow or of
the input; lines left after the end of the flow are not sent, and stderr
says how many. After a hand-off to a person (HUMAN, a handoff: step) the
lines go on being sent: they are kept for the team, as parley serve keeps
them, and the first is acknowledged.

The flow is linted first; a flow with errors is not run (exit 1).

Integrations are not contacted: a call: step prints what it would send (field
names only) on stderr and succeeds, or fails with --calls fail, so you can test
on_fail paths.

Without --data the conversation lives in memory. With --data DIR it runs on the
encrypted vault in DIR (the same store 'parley serve' uses), so 'parley subject
export' can show what was kept.`,
		run: runChat,
	})
}

func runChat(c *cli, args []string) int {
	fs := c.flags(commands["chat"])
	flowPath := fs.String("flow", "", "flow file to run (required)")
	lang := fs.String("lang", "", "conversation language (default: picked from your first message, or asked)")
	user := fs.String("user", "cli:local", "who is chatting, as CHANNEL:ID; with --data it selects the stored conversation")
	dataDir := fs.String("data", "", "run on the encrypted vault in this directory instead of in memory")
	keyFile := fs.String("key-file", "", "master key file for --data (default: $PARLEY_MASTER_KEY, else DIR/master.key)")
	storeFlag := addStoreFlag(fs)
	calls := fs.String("calls", "ok", "how simulated integration calls end: ok or fail")
	nowFlag := fs.String("now", "", "run the conversation as of this time (RFC 3339), for trying out retention; default: the real clock")
	if code, ok := c.parse(fs, args); !ok {
		return code
	}
	if *flowPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(c.stderr, "parley chat: name the flow with --flow FILE, for example: parley chat --flow flows/booking.yaml")
		return exitUsage
	}
	if *calls != "ok" && *calls != "fail" {
		fmt.Fprintf(c.stderr, "parley chat: --calls must be ok or fail, not %q\n", *calls)
		return exitUsage
	}
	var clock func() time.Time
	if *nowFlag != "" {
		t, err := time.Parse(time.RFC3339, *nowFlag)
		if err != nil {
			fmt.Fprintln(c.stderr, "parley chat: --now must be an RFC 3339 time such as 2026-12-31T12:00:00Z")
			return exitUsage
		}
		clock = func() time.Time { return t }
	}
	channel, userID, ok := parseCustomer(*user)
	if !ok {
		fmt.Fprintf(c.stderr, "parley chat: --user must look like CHANNEL:ID, for example cli:alice\n")
		return exitUsage
	}
	res, err := check.File(*flowPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley chat: %v\n", err)
		return exitFailure
	}
	if res.Program == nil {
		diag.WriteText(c.stderr, res.Diags, func(string) []byte { return res.File.Src })
		fmt.Fprintf(c.stderr, "parley chat: %s has errors; fix them first\n", *flowPath)
		return exitFindings
	}
	prog := res.Program
	if *lang != "" && !slices.Contains(prog.Languages(), *lang) {
		fmt.Fprintf(c.stderr, "parley chat: the flow has no language %q; it declares %s\n", *lang, strings.Join(prog.Languages(), ", "))
		return exitUsage
	}

	var store runtime.Store = runtime.NewMemStore()
	subject := channel + ":" + userID
	if storeURL := c.storeURL(storeFlag); *dataDir != "" || storeURL != "" {
		vs, closeFn, err := openSessionStore(c, *dataDir, storeURL, *keyFile, clock)
		if err != nil {
			fmt.Fprintf(c.stderr, "parley chat: %v\n", err)
			return exitFailure
		}
		defer closeFn()
		store = vs
		subject = vs.Subject(channel, userID)
	}

	interactive := isTerminal(c.stdin)
	if clock == nil {
		clock = time.Now
	}
	ch := &chatSession{c: c, interactive: interactive, sim: flowtest.Sim{Prog: prog, Store: store, Subject: subject, Lang: *lang, Now: clock,
		Caller: simulatedCaller{w: c.stderr, fail: *calls == "fail"}}}
	return ch.loop()
}

// chatSession drives a flowtest.Sim (the turn parley test runs too) from
// the terminal.
type chatSession struct {
	c           *cli
	sim         flowtest.Sim
	interactive bool
	seq         int
	handedOff   bool // the hand-off was announced on stderr
}

func (s *chatSession) loop() int {
	in := bufio.NewScanner(s.c.stdin)
	in.Buffer(make([]byte, 64<<10), 64<<10)
	if s.interactive {
		fmt.Fprintf(s.c.stdout, "Chatting with %q (version %d). Type a message; Ctrl-D quits.\n", s.sim.Prog.ID(), s.sim.Prog.Version())
	}
	for {
		if s.interactive {
			fmt.Fprint(s.c.stdout, "> ")
		}
		if !in.Scan() {
			if err := in.Err(); err != nil {
				fmt.Fprintf(s.c.stderr, "parley chat: reading input: %v\n", err)
				return exitFailure
			}
			if s.interactive {
				fmt.Fprintln(s.c.stdout)
			}
			return exitOK
		}
		line := strings.TrimRight(in.Text(), "\r")
		s.seq++
		msg := runtime.Inbound{ID: fmt.Sprintf("cli-%d", s.seq), Text: runtime.Answer(line), Lang: s.sim.Lang}
		out, st, ended, err := s.sim.Turn(context.Background(), msg)
		if err != nil {
			fmt.Fprintf(s.c.stderr, "parley chat: %v\n", err)
			return exitFailure
		}
		for _, m := range out {
			s.print(m)
		}
		switch {
		case ended:
			if s.interactive {
				fmt.Fprintln(s.c.stdout, "(the conversation has ended)")
				return exitOK
			}
			left := 0
			for in.Scan() {
				left++
			}
			switch left {
			case 0:
			case 1:
				fmt.Fprintln(s.c.stderr, "(the conversation ended at the end of the flow: the line after it was not sent)")
			default:
				fmt.Fprintf(s.c.stderr, "(the conversation ended at the end of the flow: the %d lines after it were not sent)\n", left)
			}
			return exitOK
		case st.Status == runtime.StatusHandedOff && !s.handedOff:
			// The conversation goes on: what the customer writes now is
			// kept for the team (acknowledged once), rights keywords work,
			// and the team answers in the console of parley serve.
			s.handedOff = true
			fmt.Fprintln(s.c.stderr, "(handed over to a person: your next messages are kept for the team, who answer in the console of parley serve)")
		case st.Status != runtime.StatusHandedOff:
			s.handedOff = false
		}
	}
}

func (s *chatSession) print(m runtime.Message) {
	w := s.c.stdout
	if !s.interactive {
		// The form flow tests compare replies in.
		fmt.Fprintln(w, flowtest.Render(m))
		return
	}
	for _, l := range strings.Split(m.Text, "\n") {
		fmt.Fprintf(w, "bot: %s\n", l)
	}
	for i, o := range m.Options {
		fmt.Fprintf(w, "     [%d] %s\n", i+1, o.Title)
	}
}

// simulatedCaller stands in for integrations in the simulator: it reports
// which fields would be sent (names only, never values).
type simulatedCaller struct {
	w    io.Writer
	fail bool
}

func (sc simulatedCaller) Call(_ context.Context, c runtime.Call) (runtime.Reply, error) {
	name := c.Integration.Name
	names := make([]string, 0, len(c.Fields))
	for k := range c.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	outcome := "simulated success"
	if sc.fail {
		outcome = "simulated failure (--calls fail)"
	}
	if rn := c.Integration.ReceiveNames; len(rn) > 0 && !sc.fail {
		// The simulator cannot invent what an integration answers: a flow
		// test (parley test, answers:) scripts it.
		outcome = "would receive " + strings.Join(rn, ", ") + ", which the simulator cannot know: the call fails; script the answer in a flow test"
	}
	fmt.Fprintf(sc.w, "(call %s: would send %s; %s)\n", name, strings.Join(names, ", "), outcome)
	if sc.fail {
		return nil, fmt.Errorf("integration %s: simulated failure", name)
	}
	return nil, nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
