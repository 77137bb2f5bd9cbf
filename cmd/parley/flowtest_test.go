package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// flowTestDir copies booking.yaml and its test into a temporary directory,
// with edit applied to the test file.
func flowTestDir(t *testing.T, edit func(string) string) (dir, testPath string) {
	t.Helper()
	dir = t.TempDir()
	for _, name := range []string{"booking.yaml", "booking_test.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../flows", name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "booking_test.yaml" {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, filepath.Join(dir, "booking_test.yaml")
}

func runTestCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"test"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestFlowTestExitCodes: 0 when every test passes, 1 when one fails, 2 on
// usage errors.
func TestFlowTestExitCodes(t *testing.T) {
	dir, _ := flowTestDir(t, func(s string) string { return s })
	if code, out, errs := runTestCmd(t, dir); code != exitOK {
		t.Fatalf("parley test (shipped booking tests) = %d, want %d\n%s%s", code, exitOK, out, errs)
	}
	bad, _ := flowTestDir(t, func(s string) string {
		return strings.Replace(s, "Thanks Ada! What's your email", "Thanks Ada. What's your email", 1)
	})
	if code, out, _ := runTestCmd(t, bad); code != exitFindings || !strings.Contains(out, "+ reply 1: Thanks Ada! What's your email") {
		t.Fatalf("parley test (a wrong reply) = %d, want %d with a diff\n%s", code, exitFindings, out)
	}
	for _, args := range [][]string{nil, {"--format", "xml", dir}, {"--no-such-flag", dir}, {t.TempDir()}} {
		if code, _, _ := runTestCmd(t, args...); code != exitUsage {
			t.Errorf("parley test %v = %d, want %d", args, code, exitUsage)
		}
	}
}

// TestFlowTestUpdateRoundTrips: --update writes the replies the flow sent
// into the failing and the missing items only, keeps everything else byte
// for byte, and the rewritten file passes; a second --update changes
// nothing.
func TestFlowTestUpdateRoundTrips(t *testing.T) {
	_, path := flowTestDir(t, func(s string) string {
		s = strings.Replace(s, "          - What's your name?\n", "          - What is your name?\n", 1)
		// An item without replies: --update fills them in.
		return strings.Replace(s, "      - send: Grace\n        replies:\n          - Thanks Grace! What's your email, so we can send the confirmation?\n", "      - send: Grace\n", 1)
	})
	if code, _, _ := runTestCmd(t, path); code != exitFindings {
		t.Fatalf("parley test (wrong reply) = %d, want %d", code, exitFindings)
	}
	code, out, errs := runTestCmd(t, "--update", path)
	if code != exitOK || !strings.Contains(errs, "updated ") {
		t.Fatalf("parley test --update = %d, want %d and a note that the file changed\n%s%s", code, exitOK, out, errs)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{
		"# yaml-language-server: $schema=../schemas/flowtest.schema.json\n", // comments stay
		"      # One re-prompt for an address that is not an email.\n",
		"          - What's your name?\n",                                                 // the failing reply, rewritten
		"          - Thanks Grace! What's your email, so we can send the confirmation?\n", // the missing replies, written
		"          - contains: Do you agree?\n",                                           // a passing reply stays as written
	} {
		if !strings.Contains(got, want) {
			t.Errorf("after --update the file lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "What is your name?") {
		t.Errorf("after --update the wrong reply is still there")
	}
	// Only the two replies: blocks changed: the rest (blank lines, flow
	// maps, quoting) is the shipped file byte for byte.
	shipped, err := os.ReadFile("../../flows/booking_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got != string(shipped) {
		t.Errorf("after --update the file is not the shipped one again:\n%s", got)
	}
	if code, out, _ := runTestCmd(t, "--update", path); code != exitOK {
		t.Fatalf("second parley test --update = %d\n%s", code, out)
	}
	again, _ := os.ReadFile(path)
	if string(again) != got {
		t.Errorf("a second --update changed a passing file")
	}
}

// TestAuthoringDocExampleRuns: the flow test shown in docs/authoring.md
// passes against the shipped booking flow, so the guide cannot drift.
func TestAuthoringDocExampleRuns(t *testing.T) {
	doc, err := os.ReadFile("../../docs/authoring.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "### What a test looks like\n\n```yaml\n")
	example, _, ok2 := strings.Cut(after, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/authoring.md has no yaml example under \"What a test looks like\"")
	}
	_, path := flowTestDir(t, func(string) string { return example })
	if code, out, errs := runTestCmd(t, path); code != exitOK || !strings.Contains(out, "ok   ") {
		t.Fatalf("the docs example fails (exit %d):\n%s%s", code, out, errs)
	}
}

// TestFlowTestsLeaveNothingOnDisk: parley test runs on an in-memory vault.
// A passing run with canary values writes no file anywhere (not in the
// working directory, not under TMPDIR) and prints no value.
func TestFlowTestsLeaveNothingOnDisk(t *testing.T) {
	const name, email = "Zephyrine Canarywood", "zephyrine.canary@example.org"
	secrets := []string{name, email}
	dir, path := flowTestDir(t, func(string) string {
		return `flow: booking.yaml
tests:
  - name: canary
    conversation:
      - send: hi
      - send: "YES"
      - send: ` + name + `
      - send: ` + email + `
      - send: "1"
      - vault: { fields: [name, email, date] }
      - after: 31d
      - vault: { fields: [] }
`
	})
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Chdir(dir)
	code, out, errs := runTestCmd(t, filepath.Base(path))
	if code != exitOK {
		t.Fatalf("parley test = %d\n%s%s", code, out, errs)
	}
	if leaks := findLeaks([]byte(out+errs), secrets); len(leaks) > 0 {
		t.Errorf("parley test printed personal data: %v\n%s%s", leaks, out, errs)
	}
	for _, d := range []string{tmp, dir} {
		var files []string
		filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				files = append(files, filepath.Base(p))
			}
			return err
		})
		if d == tmp && len(files) > 0 || d == dir && len(files) != 2 {
			t.Errorf("parley test left files in %s: %v", d, files)
		}
	}
	scanFile(t, filepath.Join(dir, "booking.yaml"), secrets)
}

// TestFlowTestAfterTakesRetentionUnits: an author who wrote retention: 8w
// or 1y moves a test's clock in the same units. Four weeks keep booking's
// 30-day fields; one more week sweeps them.
func TestFlowTestAfterTakesRetentionUnits(t *testing.T) {
	dir, _ := flowTestDir(t, func(s string) string {
		s = strings.Replace(s, "      - after: 29d\n", "      - after: 4w\n", 1)
		return strings.Replace(s, "      - after: 2d\n", "      - after: 1w\n", 1)
	})
	if code, out, errs := runTestCmd(t, dir); code != exitOK {
		t.Errorf("parley test with after: 4w then 1w = %d, want %d\n%s%s", code, exitOK, out, errs)
	}
	dir, _ = flowTestDir(t, func(s string) string { return strings.Replace(s, "      - after: 29d\n", "      - after: 1y\n", 1) })
	if code, out, errs := runTestCmd(t, dir); code != exitFindings || !strings.Contains(out+errs, "PARLEY-703") {
		t.Errorf("parley test expecting the fields a year on = %d, want %d with PARLEY-703 (they are gone)\n%s%s", code, exitFindings, out, errs)
	}
}
