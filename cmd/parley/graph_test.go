package main

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runGraphCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"graph"}, args...), strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestGraphGolden: the Mermaid and DOT drawings of flows/booking.yaml (go
// test ./cmd/parley -run Graph -update rewrites them after a deliberate
// change).
func TestGraphGolden(t *testing.T) {
	for _, format := range []string{"mermaid", "dot"} {
		t.Run(format, func(t *testing.T) {
			code, out, errs := runGraphCmd(t, "../../flows/booking.yaml", "--format", format)
			if code != exitOK {
				t.Fatalf("parley graph --format %s = %d\n%s", format, code, errs)
			}
			golden := filepath.Join("testdata", "graph", "booking."+format)
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/parley -run Graph -update)", err)
			}
			if out != string(want) {
				t.Errorf("parley graph --format %s differs from %s (-update rewrites it):\n%s", format, golden, out)
			}
		})
	}
}

// TestGraphInDocsIsCurrent: the SVG in docs/authoring.md is what parley
// graph draws today (-update rewrites it).
func TestGraphInDocsIsCurrent(t *testing.T) {
	const path = "../../docs/img/booking-graph.svg"
	code, out, _ := runGraphCmd(t, "../../flows/booking.yaml", "--format", "svg")
	if code != exitOK {
		t.Fatalf("parley graph --format svg = %d", code)
	}
	if *update {
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil || string(want) != out {
		t.Errorf("%s is not what parley graph draws (go test ./cmd/parley -run Graph -update): %v", path, err)
	}
}

// TestGraphShowsDataConsentHandoffAndCalls: every step is drawn; steps that
// collect show field, purpose, basis and retention; consent, integration
// calls and hand-offs are visible, in every format.
func TestGraphShowsDataConsentHandoffAndCalls(t *testing.T) {
	cases := map[string][]string{
		"booking.yaml":    {"collects name (text)", "for booking, basis consent, kept: 30d", "asks consent for booking first", "declines booking", "3 bad answers"},
		"newsletter.yaml": {"calls mailer at mailer.orto.example", "sends email, topic", "fails"},
		"support.yaml":    {"hands over to a person", "waits up to 1d, transcript kept: 30d", "nobody answers in 1d", `if topic == `, "kept: until the conversation ends", "kept: never (transient: not stored)"},
	}
	for file, wants := range cases {
		for _, format := range graphFormats {
			code, out, errs := runGraphCmd(t, filepath.Join("../../flows", file), "--format", format)
			if code != exitOK {
				t.Fatalf("parley graph %s --format %s = %d\n%s", file, format, code, errs)
			}
			text := strings.NewReplacer("#quot;", `"`, "&quot;", `"`, `\"`, `"`).Replace(out)
			for _, w := range wants {
				if !strings.Contains(text, w) {
					t.Errorf("parley graph %s --format %s lacks %q", file, format, w)
				}
			}
		}
	}
}

// TestGraphSVGIsSelfContained: the SVG parses as XML, draws every step, and
// refers to nothing outside itself (no script, no link, no external font).
func TestGraphSVGIsSelfContained(t *testing.T) {
	code, out, _ := runGraphCmd(t, "--format", "svg", "../../flows/support.yaml")
	if code != exitOK {
		t.Fatalf("parley graph --format svg = %d", code)
	}
	dec := xml.NewDecoder(strings.NewReader(out))
	ids := map[string]bool{}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if se.Name.Local == "script" || se.Name.Local == "image" || se.Name.Local == "foreignObject" {
				t.Errorf("the SVG holds a <%s>", se.Name.Local)
			}
			for _, a := range se.Attr {
				if a.Name.Local == "id" {
					ids[a.Value] = true
				}
				if a.Name.Local == "href" || (strings.Contains(a.Value, "://") && a.Name.Local != "xmlns") {
					t.Errorf("the SVG refers outside itself: %s=%q", a.Name.Local, a.Value)
				}
			}
		}
	}
	for _, step := range []string{"s_welcome", "s_ask_topic", "s_route", "s_ask_order", "s_check_prefix", "s_answer", "s_ask_happy", "s_satisfied", "s_bye", "s_to_person", "flow_start", "flow_end"} {
		if !ids[step] {
			t.Errorf("the SVG does not draw %s", step)
		}
	}
}

func TestGraphExitCodes(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("parley: 1\nid: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want int
	}{
		{[]string{"../../flows/booking.yaml"}, exitOK},
		{[]string{bad}, exitFindings},
		{nil, exitUsage},
		{[]string{"../../flows/booking.yaml", "--format", "png"}, exitUsage},
		{[]string{"../../flows/booking.yaml", "../../flows/support.yaml"}, exitUsage},
		{[]string{"does-not-exist.yaml"}, exitFailure},
	} {
		if code, _, errs := runGraphCmd(t, c.args...); code != c.want {
			t.Errorf("parley graph %v = %d, want %d\n%s", c.args, code, c.want, errs)
		}
	}
}

// TestGraphMenuForgetWithdraw: a menu draws one arrow per option to where
// it goes, and forget and withdraw steps are drawn with what they do and
// where they go on (a new author's first graph of flows/pizza.yaml showed
// only "answer" to the step below the menu, and the forget step as a dead
// end with an empty Mermaid class that Mermaid cannot parse).
func TestGraphMenuForgetWithdraw(t *testing.T) {
	want := map[string]map[string][]string{
		"mermaid": {
			"pizza": {
				`s_menu -->|"order"| s_ask_pizza`,
				`s_menu -->|"complaint"| s_complaint`,
				`s_menu -->|"hours"| s_hours`,
				`s_confirm -->|"cancel"| s_cancel`,
				`s_cancel["cancel<br/>forgets name, address, pizza"]:::forget`,
				`s_cancel --> s_cancelled`,
			},
			"jobs": {
				`s_in_pool -->|"leave"| s_leave`,
				`s_leave["leave<br/>withdraws consent for talent_pool"]:::forget`,
				`s_leave --> s_applied`,
			},
		},
		"dot": {
			"pizza": {
				`"s_menu" -> "s_ask_pizza" [label="order"];`,
				`"s_cancel" [label="cancel\nforgets name, address, pizza"`,
				`"s_cancel" -> "s_cancelled";`,
			},
			"jobs": {
				`"s_leave" [label="leave\nwithdraws consent for talent_pool"`,
				`"s_leave" -> "s_applied";`,
			},
		},
	}
	for format, flows := range want {
		for name, lines := range flows {
			code, out, errs := runGraphCmd(t, "../../flows/"+name+".yaml", "--format", format)
			if code != exitOK {
				t.Fatalf("parley graph --format %s %s = %d\n%s", format, name, code, errs)
			}
			if strings.Contains(out, ":::\n") {
				t.Errorf("%s %s: a node with an empty class, which Mermaid cannot parse:\n%s", format, name, out)
			}
			if format == "mermaid" && strings.Contains(out, `s_menu -->|"answer"|`) {
				t.Errorf("%s %s: the menu has an answer arrow to the step below, where no option goes:\n%s", format, name, out)
			}
			for _, l := range lines {
				if !strings.Contains(out, l) {
					t.Errorf("%s %s: no %q in\n%s", format, name, l, out)
				}
			}
		}
	}
}
