package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flowtest"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

func init() {
	register(&command{
		name:    "test",
		summary: "run flow tests (*_test.yaml): conversations, expected replies, vault contents, time travel",
		usage:   "parley test [--format text|json|github] [--update] [--run REGEX] [PATH...]",
		help: `Runs the flow tests in PATH (a *_test.yaml file, or a directory searched
recursively for them; without PATH, the current directory). A test file
names its flow (flow: booking.yaml, relative to the test file) and lists
conversations: what the customer sends (send: text, or choose: an option
id), the replies the bot must send (exact text, contains: or regex:), what
the vault must hold at that point (vault: fields, consents, conversation
kept or gone), and jumps of the clock (after: 31d) to check that data
expires. docs/authoring.md has a complete example.

Each conversation runs on its own encrypted vault in memory, on a manual clock
that starts at 2026-01-05T09:00:00Z (start: changes it) and moves only on
after:, through the same turn as parley chat. Integrations are not contacted:
calls succeed, or fail with calls: fail.

--update writes the replies the flow actually sent into every send: or
choose: item whose replies differ or are missing, keeping comments and order,
then runs the tests again. Review the change before committing it.

--run REGEX runs only the tests whose name matches (in every file).

Formats (--format): text (default; a failing reply shows a diff, - expected
and + sent; coloured on a terminal unless NO_COLOR is set), json and github, as for parley lint.

Exit status: 0 when every test passes, 1 when a test fails (or a test file or
its flow has errors), 2 on usage errors or when no test file matched, 3 when
a file cannot be written.`,
		run: runTest,
	})
}

var testFormats = []string{"text", "json", "github"}

func runTest(c *cli, args []string) int {
	fs := c.flags(commands["test"])
	format := fs.String("format", "text", "output format: text, json or github")
	update := fs.Bool("update", false, "write the replies the flow sent into the test files, then test again")
	runFlag := fs.String("run", "", "run only the tests whose name matches this regular expression")
	targets, code, ok := c.parseAnywhere(fs, args)
	if !ok {
		return code
	}
	if len(targets) == 0 {
		targets = []string{"."} // like go test: the tests below here
	}
	if !slices.Contains(testFormats, *format) {
		fmt.Fprintf(c.stderr, "parley test: unknown --format %q: use text, json or github\n", *format)
		return exitUsage
	}
	paths, err := check.ExpandTests(targets)
	if err != nil {
		fmt.Fprintf(c.stderr, "parley test: %v\n", err)
		return exitUsage
	}
	if len(paths) == 0 {
		fmt.Fprintf(c.stderr, "parley test: no flow tests (*_test.yaml) found in %s: a test of flows/booking.yaml is flows/booking_test.yaml (docs/authoring.md)\n", strings.Join(targets, " "))
		return exitUsage
	}
	var only *regexp.Regexp
	if *runFlag != "" {
		if only, err = regexp.Compile(*runFlag); err != nil {
			fmt.Fprintf(c.stderr, "parley test: --run is not a valid regular expression: %v\n", err)
			return exitUsage
		}
	}
	ctx := context.Background()
	srcs := map[string][]byte{}
	var all diag.Diagnostics
	var lines []string
	passed, failed := 0, 0
	for _, p := range paths {
		res, ds, err := testFile(ctx, p, srcs, only)
		if err == nil && *update && res != nil {
			var changed bool
			res, ds, changed, err = updateTestFile(ctx, res, ds, srcs, only)
			if changed {
				fmt.Fprintf(c.stderr, "updated %s: review the new replies before committing\n", p)
			}
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "parley test: %s: %v\n", p, err)
			return exitFailure
		}
		all.Extend(ds)
		if res == nil {
			continue
		}
		for _, cr := range res.Cases {
			all.Extend(cr.Diags)
			status := "ok  "
			if cr.Passed() {
				passed++
			} else {
				failed++
				status = "FAIL"
			}
			lines = append(lines, fmt.Sprintf("%s %s: %s", status, cr.Range.Filename, cr.Name))
		}
	}
	all.Sort()
	switch *format {
	case "json":
		err = diag.WriteJSON(c.stdout, paths, all)
	case "github":
		err = diag.WriteGitHub(c.stdout, all)
	default:
		write := diag.WriteText
		if c.isTerminal(c.stdout) {
			write = diag.WriteColorText
		}
		err = writeTestText(c.stdout, lines, all, func(name string) []byte { return srcs[name] }, write)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "parley test: write the report: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(c.stderr, "%d %s: %d passed, %d failed\n", passed+failed, plural(passed+failed, "test", "tests"), passed, failed)
	if all.HasErrors() {
		return exitFindings
	}
	return exitOK
}

// testFile parses one test file, checks its flow and runs its cases. A
// nil result means the file or its flow could not be run; ds says why.
func testFile(ctx context.Context, path string, srcs map[string][]byte, only *regexp.Regexp) (*flowtest.Result, diag.Diagnostics, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	srcs[path] = src
	f, ds := flowtest.Parse(path, src)
	if f == nil || ds.HasErrors() {
		return nil, ds, nil
	}
	flowPath := filepath.Join(filepath.Dir(path), filepath.FromSlash(f.Flow))
	checked, err := check.File(flowPath)
	if err != nil {
		ds.Add(diag.FlowTestFlow, f.FlowRange, "cannot read the flow %s: flow: is relative to the test file", filepath.ToSlash(flowPath))
		return nil, ds, nil
	}
	if checked.Program == nil {
		ds.Add(diag.FlowTestFlow, f.FlowRange, "the flow %s has errors; run parley lint %s and fix them first", filepath.ToSlash(flowPath), filepath.ToSlash(flowPath))
		return nil, ds, nil
	}
	if only != nil {
		f.Cases = slices.DeleteFunc(f.Cases, func(c *flowtest.Case) bool { return !only.MatchString(c.Name) })
	}
	res, err := flowtest.Run(ctx, f, checked.Program, openTestVault)
	return res, ds, err
}

// updateTestFile writes the replies the flow sent into the test file and
// runs it again, so what is reported is the state of the rewritten file.
func updateTestFile(ctx context.Context, res *flowtest.Result, ds diag.Diagnostics, srcs map[string][]byte, only *regexp.Regexp) (*flowtest.Result, diag.Diagnostics, bool, error) {
	out, changed, err := flowtest.Update(res)
	if err != nil || !changed {
		return res, ds, false, err
	}
	path := res.File.Name
	if err := os.WriteFile(path, out, 0o644); err != nil {
		return nil, nil, false, err
	}
	res, ds, err = testFile(ctx, path, srcs, only)
	return res, ds, true, err
}

// openTestVault opens a fresh encrypted vault in memory, with a random key
// and the case's manual clock: the same store parley serve and parley chat
// --data run on, so retention, conversation_retention and consent are the
// vault's own.
func openTestVault(now func() time.Time) (flowtest.Backend, func() error, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, nil, err
	}
	v, err := vault.Open(vault.Options{InMemory: true, MasterKey: key, Now: now, PurgeDelay: -1})
	if err != nil {
		return nil, nil, fmt.Errorf("open the test vault: %w", err)
	}
	return vaultBackend{session.New(v)}, v.Close, nil
}

// vaultBackend reads what the vault holds through the access export, the
// same view a customer's MY DATA request gets.
type vaultBackend struct{ *session.Store }

// Save commits a turn as parley serve does, with a simulated address, so
// the reminders a flow schedules are recorded (and show in Held).
func (b vaultBackend) Save(ctx context.Context, subject string, st *runtime.State, effects []runtime.Effect, now time.Time) error {
	_, err := b.SaveTurn(ctx, subject, st, effects, now, session.Extra{Channel: "test", User: "flowtest"})
	return err
}

func (b vaultBackend) Held(ctx context.Context, subject string, now time.Time) (flowtest.Held, error) {
	ex, err := b.Export(ctx, subject, now)
	if err != nil {
		return flowtest.Held{}, err
	}
	h := flowtest.Held{Conversation: ex.Conversation != nil, Consents: map[string]string{}}
	for _, f := range ex.Fields {
		h.Fields = append(h.Fields, f.Field)
	}
	sort.Strings(h.Fields)
	for _, c := range ex.Consents { // oldest first: the last decision wins
		h.Consents[c.Purpose] = c.Decision
	}
	for _, r := range ex.Reminders {
		h.Reminders = append(h.Reminders, r.Template+" at "+r.At.Format(time.RFC3339))
	}
	sort.Strings(h.Reminders)
	return h, nil
}

// writeTestText prints one line per test, then the findings with their
// source line; a reply diff follows its finding line by line.
func writeTestText(w io.Writer, lines []string, ds diag.Diagnostics, src func(string) []byte,
	write func(io.Writer, diag.Diagnostics, func(string) []byte) error) error {
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	for _, d := range ds {
		one := *d
		one.Detail = ""
		if err := write(w, diag.Diagnostics{&one}, src); err != nil {
			return err
		}
		if d.Detail == "" {
			continue
		}
		for _, l := range strings.Split(d.Detail, "\n") {
			if _, err := fmt.Fprintf(w, "      %s\n", l); err != nil {
				return err
			}
		}
	}
	return nil
}
