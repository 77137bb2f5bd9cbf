package flowtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
)

func booking(t *testing.T) *compile.Program {
	t.Helper()
	res, err := check.File("../../flows/booking.yaml")
	if err != nil || res.Program == nil {
		t.Fatalf("booking.yaml: %v %v", err, res.Diags)
	}
	return res.Program
}

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, ds := Parse("t_test.yaml", []byte(src))
	if f == nil || len(ds) > 0 {
		t.Fatalf("Parse: %v", ds)
	}
	return f
}

// TestParseReportsMistakesWhereTheyAre: each shape mistake is a PARLEY-701
// at the key or value at fault.
func TestParseReportsMistakesWhereTheyAre(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
		line, col       int
	}{
		{"typo", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - sned: hi\n", `did you mean "send"`, 5, 9},
		{"two things", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - send: hi\n        after: 1d\n", "one thing per item", 5, 9},
		{"bad jump", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - after: a month\n", "31d", 5, 16},
		{"bad consent", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - vault: { consents: { booking: sure } }\n", "granted, declined or withdrawn", 5, 39},
		{"replies on a jump", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - after: 1d\n        replies: []\n", "belongs to a send", 6, 9},
		{"no flow", "tests: []\n", "missing flow", 1, 1},
		{"start out of range", "flow: a.yaml\ntests:\n  - name: x\n    start: 3000-01-01T00:00:00Z\n    conversation: []\n", "between 2000 and 2200", 4, 12},
		{"option without title", "flow: a.yaml\ntests:\n  - name: x\n    answers: { agenda: { slots: [{ id: a }] } }\n    conversation: []\n", "list of {id, title}", 4, 34},
		{"bad regex", "flow: a.yaml\ntests:\n  - name: x\n    conversation:\n      - send: hi\n        replies: [{ regex: '(' }]\n", "not a valid regular expression", 6, 28},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, ds := Parse("t_test.yaml", []byte(c.src))
			for _, d := range ds {
				if strings.Contains(d.Summary, c.want) {
					if d.Rule != diag.FlowTestInvalid || d.Subject.Start.Line != c.line || d.Subject.Start.Column != c.col {
						t.Errorf("%s at %d:%d, want %s at %d:%d", d.Rule, d.Subject.Start.Line, d.Subject.Start.Column, diag.FlowTestInvalid, c.line, c.col)
					}
					return
				}
			}
			t.Errorf("no finding mentions %q: %v", c.want, ds)
		})
	}
}

// TestRunComparesRepliesAndVault runs conversations on MemBackend: a
// passing case has no findings; a wrong reply, an option not offered and a
// wrong vault expectation are findings at their lines; the clock moves only
// on after:.
func TestRunComparesRepliesAndVault(t *testing.T) {
	f := mustParse(t, `flow: booking.yaml
tests:
  - name: good
    conversation:
      - send: hi
        replies:
          - Hi! I'm Smile Dental's booking assistant.
          - regex: '(?s)^Before we go on.*\[2\] No$'
      - choose: "yes"
        replies: [{ contains: name }]
      - send: Ada
      - vault: { fields: [name], consents: { booking: granted } }
      - after: 31d
      - vault: { fields: [] }
  - name: bad
    conversation:
      - send: hi
        replies: [Hello]
      - choose: mon
      - vault: { fields: [name] }
`)
	res, err := Run(context.Background(), f, booking(t), MemBackend)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != 2 || !res.Cases[0].Passed() || res.Cases[1].Passed() {
		t.Fatalf("passed = %v, %v; want true, false: %v", res.Cases[0].Passed(), res.Cases[1].Passed(), res.Diags())
	}
	if res.Cases[0].Simulated != 31*24*time.Hour {
		t.Errorf("simulated time = %v, want 744h", res.Cases[0].Simulated)
	}
	got := map[int]diag.RuleID{}
	for _, d := range res.Cases[1].Diags {
		got[d.Subject.Start.Line] = d.Rule
	}
	want := map[int]diag.RuleID{18: diag.FlowTestReplies, 19: diag.FlowTestReplies, 20: diag.FlowTestVault}
	for line, rule := range want {
		if got[line] != rule {
			t.Errorf("line %d: finding %q, want %s (all: %v)", line, got[line], rule, res.Cases[1].Diags)
		}
	}
	d := res.Cases[1].Diags[0]
	if !strings.Contains(d.Detail, "- reply 1: Hello") || !strings.Contains(d.Detail, "+ reply 1: Hi! I'm Smile Dental's booking assistant.") {
		t.Errorf("the diff does not show expected and sent replies:\n%s", d.Detail)
	}
}

// TestUpdateWritesOnlyWhatDiffers keeps comments and passing replies.
func TestUpdateWritesOnlyWhatDiffers(t *testing.T) {
	f := mustParse(t, `# a comment that stays
flow: booking.yaml
tests:
  - name: x
    conversation:
      - send: hi  # first contact
        replies:
          - contains: booking assistant
          - contains: Do you agree?
      - send: "YES"
        replies: [Wrong]
      - send: Ada
`)
	res, err := Run(context.Background(), f, booking(t), MemBackend)
	if err != nil {
		t.Fatal(err)
	}
	out, changed, err := Update(res)
	if err != nil || !changed {
		t.Fatalf("Update: changed=%v err=%v", changed, err)
	}
	s := string(out)
	for _, w := range []string{"# a comment that stays", "# first contact", "contains: booking assistant", "- What's your name?", "- Thanks Ada! What's your email"} {
		if !strings.Contains(s, w) {
			t.Errorf("updated file lacks %q:\n%s", w, s)
		}
	}
	if strings.Contains(s, "Wrong") {
		t.Errorf("the wrong reply is still there:\n%s", s)
	}
	again := mustParse(t, s)
	res2, err := Run(context.Background(), again, booking(t), MemBackend)
	if err != nil || len(res2.Diags()) != 0 {
		t.Errorf("the updated file does not pass: %v %v", err, res2.Diags())
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"31d": 31 * 24 * time.Hour, "12h": 12 * time.Hour, "30m": 30 * time.Minute, "10s": 10 * time.Second,
		// The units of retention: weeks, and years of 365 days.
		"9w": 63 * 24 * time.Hour, "2y": 730 * 24 * time.Hour} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "1 month", "-1d", "1mo", "1d12h", "99999999999999d", "101y"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// TestShippedTestsParse: every shipped test file is well-formed.
func TestShippedTestsParse(t *testing.T) {
	files, err := check.ExpandTests([]string{"../../flows"})
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped tests: %v", err)
	}
	for _, p := range files {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ds := Parse(p, src); len(ds) > 0 {
			t.Errorf("%s: %v", p, ds)
		}
	}
}

// TestUpdateKeepsLayout: a block-style file keeps its blank lines and the
// author's layout, and a file without a final newline gets its replies at
// the end; a flow-style item falls back to writing the node tree, which
// still passes.
func TestUpdateKeepsLayout(t *testing.T) {
	for name, c := range map[string]struct {
		src, want string
	}{
		"blank lines and flow maps stay": {
			src:  "flow: booking.yaml\ntests:\n\n  - name: x\n    conversation:\n      - send: \"YES\"\n        replies: [Wrong]   # old\n\n      - vault: { fields: [] }\n",
			want: "flow: booking.yaml\ntests:\n\n  - name: x\n    conversation:\n      - send: \"YES\"\n        replies:\n          - Hi! I'm Smile Dental's booking assistant.\n",
		},
		"no final newline": {
			src:  "flow: booking.yaml\ntests:\n  - name: x\n    conversation:\n      - send: hi",
			want: "      - send: hi\n        replies:\n          - Hi! I'm Smile Dental's booking assistant.\n          - |-\n            Before we go on",
		},
		"flow style": {
			src:  "flow: booking.yaml\ntests:\n  - name: x\n    conversation:\n      - { send: hi }\n",
			want: "replies:",
		},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := Run(context.Background(), mustParse(t, c.src), booking(t), MemBackend)
			if err != nil {
				t.Fatal(err)
			}
			out, changed, err := Update(res)
			if err != nil || !changed || !strings.Contains(string(out), c.want) {
				t.Fatalf("Update: changed=%v err=%v, want it to contain %q:\n%s", changed, err, c.want, out)
			}
			if name == "blank lines and flow maps stay" && !strings.HasSuffix(string(out), "\n\n      - vault: { fields: [] }\n") {
				t.Errorf("the rest of the file changed:\n%s", out)
			}
			res2, err := Run(context.Background(), mustParse(t, string(out)), booking(t), MemBackend)
			if err != nil || len(res2.Diags()) != 0 {
				t.Errorf("the updated file does not pass: %v %v\n%s", err, res2.Diags(), out)
			}
		})
	}
}

// TestTimeTravelStopsBeforeTheStoresEnd: jumps that would take the clock
// past LatestClock are a finding at the jump, not a wrapped-around time.
func TestTimeTravelStopsBeforeTheStoresEnd(t *testing.T) {
	f := mustParse(t, "flow: booking.yaml\ntests:\n  - name: x\n    conversation:\n      - after: 36000d\n      - after: 36000d\n      - vault: { fields: [] }\n")
	res, err := Run(context.Background(), f, booking(t), MemBackend)
	if err != nil {
		t.Fatal(err)
	}
	ds := res.Diags()
	if len(ds) != 1 || ds[0].Subject.Start.Line != 6 || !strings.Contains(ds[0].Summary, "past 2200") {
		t.Errorf("findings = %v, want one at line 6 saying the clock would pass 2200", ds)
	}
}
