package flowtest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/runtime"
)

// Backend keeps one test case's conversation. Each case gets a fresh one,
// whose clock is the case's manual clock.
type Backend interface {
	runtime.Store
	// Subject returns the subject key the store uses for a customer.
	Subject(channel, userID string) string
	// Held reports what the store holds for subject at now.
	Held(ctx context.Context, subject string, now time.Time) (Held, error)
}

// Held is what a store holds about one customer at one time.
type Held struct {
	// Conversation reports that the conversation's state is still kept
	// (its conversation_retention has not run out).
	Conversation bool
	// Fields are the names of the fields held, sorted.
	Fields []string
	// Consents are the latest decision per purpose: granted, declined or
	// withdrawn.
	Consents map[string]string
	// Reminders are the reminders scheduled, as "TEMPLATE at TIME", sorted.
	Reminders []string
}

// Opener returns a fresh backend on clock now, and what releases it.
type Opener func(now func() time.Time) (Backend, func() error, error)

// CaseResult is the outcome of one conversation.
type CaseResult struct {
	Name  string
	Range diag.Range
	Diags diag.Diagnostics
	// Simulated is the simulated time the case spanned (its after: jumps).
	Simulated time.Duration
}

// Passed reports whether the case met every expectation.
func (c CaseResult) Passed() bool { return len(c.Diags) == 0 }

// Result is the outcome of one test file.
type Result struct {
	File  *File
	Cases []CaseResult
	// Actual holds, for every send: and choose: item that ran, the
	// replies the flow sent (Render'ed), for --update.
	Actual map[*Step][]string
	// Failed holds the items whose replies did not match.
	Failed map[*Step]bool
}

// Diags returns every case's findings.
func (r *Result) Diags() diag.Diagnostics {
	var ds diag.Diagnostics
	for _, c := range r.Cases {
		ds.Extend(c.Diags)
	}
	return ds
}

// Run runs every case of f against prog, each on a fresh backend from open.
// The error is about the environment (the store failed), never about the
// flow or the test: those are diagnostics in the result.
func Run(ctx context.Context, f *File, prog *compile.Program, open Opener) (*Result, error) {
	res := &Result{File: f, Actual: map[*Step][]string{}, Failed: map[*Step]bool{}}
	for _, c := range f.Cases {
		cr, err := runCase(ctx, res, c, prog, open)
		if err != nil {
			return nil, fmt.Errorf("test %q: %w", c.Name, err)
		}
		res.Cases = append(res.Cases, cr)
	}
	return res, nil
}

// LatestClock bounds time travel: stores keep times as Unix nanoseconds,
// which end in 2262.
var LatestClock = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)

// clock is a case's manual clock: it moves only on after: items.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func runCase(ctx context.Context, res *Result, c *Case, prog *compile.Program, open Opener) (cr CaseResult, err error) {
	cr = CaseResult{Name: c.Name, Range: c.Range}
	clk := &clock{t: c.Start}
	be, closeFn, err := open(clk.now)
	if err != nil {
		return cr, err
	}
	defer func() {
		if cerr := closeFn(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	channel, userID, _ := strings.Cut(c.User, ":")
	sim := &Sim{Prog: prog, Store: be, Subject: be.Subject(channel, userID), Lang: c.Lang,
		Caller: simulatedCalls{fail: c.FailCalls, answers: c.Answers}, Now: clk.now}
	var offered []runtime.Option
	seq := 0
	for _, s := range c.Steps {
		switch {
		case s.IsMessage:
			seq++
			in := runtime.Inbound{ID: fmt.Sprintf("test-%d", seq), Text: runtime.Answer(s.Send), Choice: s.Choose, Lang: c.Lang}
			if s.Choose != "" && !slices.ContainsFunc(offered, func(o runtime.Option) bool { return o.ID == s.Choose }) {
				cr.Diags.Add(diag.FlowTestReplies, s.Range, "choose: %q is not an option of the bot's last message (%s)", s.Choose, optionIDs(offered))
			}
			out, _, _, err := sim.Turn(ctx, in)
			if err != nil {
				return cr, err
			}
			offered = nil
			got := make([]string, len(out))
			for i, m := range out {
				got[i] = Render(m)
				if len(m.Options) > 0 {
					offered = m.Options
				}
			}
			res.Actual[s] = got
			if s.HasReplies {
				if d := compareReplies(s, got); d != nil {
					res.Failed[s] = true
					cr.Diags = append(cr.Diags, d)
				}
			}
		case s.Vault != nil:
			h, err := be.Held(ctx, sim.Subject, clk.t)
			if err != nil {
				return cr, err
			}
			cr.Diags.Extend(compareVault(s.Vault, h, clk.t.Sub(c.Start)))
		default:
			if clk.t.Add(s.After).After(LatestClock) {
				cr.Diags.Add(diag.FlowTestInvalid, s.Range, "this jump takes the clock past %d, further than any retention: use shorter jumps", LatestClock.Year())
				cr.Simulated = clk.t.Sub(c.Start)
				return cr, nil
			}
			clk.t = clk.t.Add(s.After)
		}
	}
	cr.Simulated = clk.t.Sub(c.Start)
	return cr, nil
}

func optionIDs(os []runtime.Option) string {
	if len(os) == 0 {
		return "it offered no options; use send: to type text"
	}
	ids := make([]string, len(os))
	for i, o := range os {
		ids[i] = o.ID
	}
	return "it offered " + strings.Join(ids, ", ")
}

// compareReplies returns a diagnostic with a readable diff when got is not
// what s expects, or nil.
func compareReplies(s *Step, got []string) *diag.Diagnostic {
	n := max(len(got), len(s.Replies))
	var b strings.Builder
	b.WriteString("replies (- expected, + sent by the flow):")
	bad, badAt := 0, -1
	for i := range n {
		switch {
		case i < len(s.Replies) && i < len(got) && s.Replies[i].Match(got[i]):
			fmt.Fprintf(&b, "\n  reply %d: %s", i+1, indent(got[i]))
		default:
			bad++
			badAt = i
			if i < len(s.Replies) {
				fmt.Fprintf(&b, "\n- reply %d: %s", i+1, indent(s.Replies[i].Describe()))
			} else {
				fmt.Fprintf(&b, "\n- reply %d: (none)", i+1)
			}
			if i < len(got) {
				fmt.Fprintf(&b, "\n+ reply %d: %s", i+1, indent(got[i]))
			} else {
				fmt.Fprintf(&b, "\n+ reply %d: (none)", i+1)
			}
		}
	}
	if bad == 0 {
		return nil
	}
	r, msg := s.RepliesRange, fmt.Sprintf("the flow sent %d %s, the test expects %d", len(got), plural(len(got), "reply", "replies"), len(s.Replies))
	if len(got) == len(s.Replies) {
		msg = fmt.Sprintf("reply %d is not what the test expects", badAt+1)
		if bad > 1 {
			msg = fmt.Sprintf("%d replies are not what the test expects", bad)
		} else {
			r = s.Replies[badAt].Range
		}
	}
	return &diag.Diagnostic{Severity: diag.FlowTestReplies.Severity(), Rule: diag.FlowTestReplies, Subject: r, Summary: msg, Detail: b.String()}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n           ") }

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func compareVault(want *VaultExpect, h Held, elapsed time.Duration) diag.Diagnostics {
	var ds diag.Diagnostics
	at := fmt.Sprintf("after %s", humanSpan(elapsed))
	if want.HasFields {
		held := map[string]bool{}
		for _, f := range h.Fields {
			held[f] = true
		}
		wanted := map[string]bool{}
		for _, f := range want.Fields {
			wanted[f] = true
			if !held[f] {
				ds.Add(diag.FlowTestVault, want.FieldsRange, "field %s is not held %s; the test expects it", f, at)
			}
		}
		extra := []string{}
		for _, f := range h.Fields {
			if !wanted[f] {
				extra = append(extra, f)
			}
		}
		if len(extra) > 0 {
			ds.Add(diag.FlowTestVault, want.FieldsRange, "%s still held %s; the test expects %s", strings.Join(extra, ", "), at, listOrNone(want.Fields))
		}
	}
	purposes := make([]string, 0, len(want.Consents))
	for p := range want.Consents {
		purposes = append(purposes, p)
	}
	sort.Strings(purposes)
	for _, p := range purposes {
		if got := h.Consents[p]; got != want.Consents[p] {
			if got == "" {
				got = "no decision"
			}
			ds.Add(diag.FlowTestVault, want.ConsentRange[p], "consent for %s is %s %s; the test expects %s", p, got, at, want.Consents[p])
		}
	}
	if want.HasReminders && strings.Join(h.Reminders, "\n") != strings.Join(want.Reminders, "\n") {
		got := "none"
		if len(h.Reminders) > 0 {
			got = strings.Join(h.Reminders, ", ")
		}
		ds.Add(diag.FlowTestVault, want.RemindersRange, "reminders scheduled %s: %s; the test expects %s", at, got, listOrNoneOf(want.Reminders, "no reminders"))
	}
	if want.Conversation != "" {
		got := map[bool]string{true: "kept", false: "gone"}[h.Conversation]
		if got != want.Conversation {
			ds.Add(diag.FlowTestVault, want.ConvRange, "the conversation is %s %s; the test expects %s (check conversation_retention)", got, at, want.Conversation)
		}
	}
	return ds
}

func listOrNoneOf(xs []string, none string) string {
	if len(xs) == 0 {
		return none
	}
	return strings.Join(xs, ", ")
}

func listOrNone(fs []string) string {
	if len(fs) == 0 {
		return "no fields"
	}
	return "only " + strings.Join(fs, ", ")
}

// humanSpan writes a simulated span the way tests write after:.
func humanSpan(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// simulatedCalls stands in for integrations: nothing leaves the machine.
// An integration answers what the test's answers: script for it.
type simulatedCalls struct {
	fail    bool
	answers map[string]map[string]string
}

func (sc simulatedCalls) Call(_ context.Context, c runtime.Call) (runtime.Reply, error) {
	if sc.fail {
		return nil, fmt.Errorf("integration %s: simulated failure (calls: fail)", c.Integration.Name)
	}
	return sc.answers[c.Integration.Name], nil
}
