package whatsapp

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/runtime"
)

var update = flag.Bool("update", false, "rewrite golden files")

func options(titles ...string) []runtime.Option {
	out := make([]runtime.Option, len(titles))
	for i, t := range titles {
		out[i] = runtime.Option{ID: fmt.Sprintf("opt_%d", i+1), Title: t}
	}
	return out
}

func numberedOptions(n int) []runtime.Option {
	days := []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	var out []runtime.Option
	for i := range n {
		out = append(out, runtime.Option{ID: fmt.Sprintf("slot_%02d", i+1), Title: fmt.Sprintf("%s %d:00", days[i%len(days)], 9+i/len(days))})
	}
	return out
}

// longText is a deterministic 10,000-character text made of paragraphs of
// words, with one multi-byte word in each paragraph.
func longText() string {
	var b strings.Builder
	for p := 0; b.Len() < 12000; p++ {
		if p > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "Paragraph %d: caffè ", p)
		for w := 0; w < 60; w++ {
			fmt.Fprintf(&b, "word%d ", w)
		}
		b.WriteString("end.")
	}
	r := []rune(b.String())
	return string(r[:10000])
}

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name string
		to   string
		lang string
		msg  runtime.Message
	}{
		{"text", "15550001234", "en", runtime.Message{Text: "Hi! I'm Smile Dental's assistant."}},
		{"text-with-link", "15550001234", "en", runtime.Message{Text: "Book here: https://example.com/book"}},
		{"text-to-bsuid", "US.1000000000000000001", "en", runtime.Message{Text: "Hello again."}},
		{"buttons-2", "15550001234", "en", runtime.Message{Kind: runtime.KindConsent, Text: "May we send you reminders?", Options: []runtime.Option{{ID: "yes", Title: "Yes"}, {ID: "no", Title: "No"}}}},
		{"buttons-3", "15550001234", "en", runtime.Message{Kind: runtime.KindAsk, Text: "What would you like to do?", Options: []runtime.Option{{ID: "opt_track_order", Title: "Track my order"}, {ID: "opt_change_address", Title: "Change address"}, {ID: "opt_human", Title: "Talk to a person"}}}},
		{"list-5", "15550001234", "it", runtime.Message{Kind: runtime.KindAsk, Text: "Scegli un orario", Options: numberedOptions(5)}},
		{"numbered-12", "15550001234", "en", runtime.Message{Kind: runtime.KindAsk, Text: "Pick a time", Options: numberedOptions(12)}},
		{"split-10000", "15550001234", "en", runtime.Message{Text: longText()}},
		{"long-body-then-buttons", "15550001234", "it", runtime.Message{Kind: runtime.KindAsk, Text: strings.Repeat("Informativa sulla privacy. ", 50), Options: []runtime.Option{{ID: "yes", Title: "Sì"}, {ID: "no", Title: "No"}}}},
		{"long-titles-buttons-multibyte", "15550001234", "it", runtime.Message{Kind: runtime.KindAsk, Text: "Quale servizio?", Options: []runtime.Option{
			{ID: "clean", Title: "Pulizia dei denti più approfondita"},
			{ID: "whiten", Title: "Sbiancamento 😁😁😁😁😁😁😁😁😁😁😁😁😁😁😁"},
			{ID: "family", Title: "Visita per la famiglia 👨‍👩‍👧‍👦 completa"},
		}}},
		{"long-titles-list-multibyte", "15550001234", "en", runtime.Message{Kind: runtime.KindAsk, Text: "Which clinic?", Options: []runtime.Option{
			{ID: "c1", Title: "Zürich Hauptbahnhof – Bahnhofstraße"},
			{ID: "c2", Title: "São Paulo, Avenida Paulista 1000"},
			{ID: "c3", Title: "Milano 🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹🇮🇹"},
			{ID: "c4", Title: "東京駅前クリニック・八重洲北口から徒歩三分"},
		}}},
		{"duplicate-truncated-titles-use-a-list", "15550001234", "en", runtime.Message{Kind: runtime.KindAsk, Text: "Which one?", Options: []runtime.Option{
			{ID: "a", Title: "Appointment for an adult"},
			{ID: "b", Title: "Appointment for a child"},
		}}},
		{"invalid-ids-use-numbered-text", "15550001234", "en", runtime.Message{Kind: runtime.KindAsk, Text: "Which one?", Options: []runtime.Option{
			{ID: " spaced ", Title: "One"}, {ID: strings.Repeat("x", 300), Title: "Two"},
		}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reqs := Render(tc.to, tc.lang, tc.msg)
			checkLimits(t, reqs)
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(reqs); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "render", tc.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("Render differs from %s (run with -update to accept):\n%s", path, buf.String())
			}
		})
	}
}

// checkLimits asserts every Cloud API limit on rendered requests, so the
// goldens cannot silently accept an over-long field.
func checkLimits(t *testing.T, reqs []SendRequest) {
	t.Helper()
	n := utf8.RuneCountInString
	for i, r := range reqs {
		if r.MessagingProduct != "whatsapp" || (r.To == "") == (r.Recipient == "") {
			t.Errorf("request %d: product %q, to %q, recipient %q", i, r.MessagingProduct, r.To, r.Recipient)
		}
		if r.Text != nil && (n(r.Text.Body) > MaxTextRunes || !utf8.ValidString(r.Text.Body) || r.Text.Body == "") {
			t.Errorf("request %d: text of %d runes (valid UTF-8 %v)", i, n(r.Text.Body), utf8.ValidString(r.Text.Body))
		}
		in := r.Interactive
		if in == nil {
			continue
		}
		if n(in.Body.Text) > MaxInteractiveBody || in.Body.Text == "" {
			t.Errorf("request %d: interactive body of %d runes", i, n(in.Body.Text))
		}
		titles := map[string]bool{}
		if len(in.Action.Buttons) > MaxButtons {
			t.Errorf("request %d: %d buttons", i, len(in.Action.Buttons))
		}
		for _, b := range in.Action.Buttons {
			if n(b.Reply.Title) > MaxButtonTitleRunes || n(b.Reply.ID) > MaxButtonIDRunes || titles[b.Reply.Title] || !utf8.ValidString(b.Reply.Title) {
				t.Errorf("request %d: bad button %q (%d runes) / id of %d runes", i, b.Reply.Title, n(b.Reply.Title), n(b.Reply.ID))
			}
			titles[b.Reply.Title] = true
		}
		if n(in.Action.Button) > MaxListButtonRunes {
			t.Errorf("request %d: list button %q", i, in.Action.Button)
		}
		rows := 0
		for _, s := range in.Action.Sections {
			for _, row := range s.Rows {
				rows++
				if n(row.Title) > MaxRowTitleRunes || n(row.Description) > MaxRowDescRunes || n(row.ID) > MaxRowIDRunes || !utf8.ValidString(row.Title) {
					t.Errorf("request %d: bad row %q (%d runes)", i, row.Title, n(row.Title))
				}
			}
		}
		if rows > MaxListRows {
			t.Errorf("request %d: %d rows", i, rows)
		}
	}
}

func TestRenderForms(t *testing.T) {
	tests := []struct {
		n        int
		wantType []string
		interact string
	}{
		{0, []string{"text"}, ""},
		{1, []string{"interactive"}, "button"},
		{3, []string{"interactive"}, "button"},
		{4, []string{"interactive"}, "list"},
		{10, []string{"interactive"}, "list"},
		{11, []string{"text"}, ""},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d options", tc.n), func(t *testing.T) {
			reqs := Render("15550001234", "en", runtime.Message{Text: "Pick", Options: numberedOptions(tc.n)})
			var types []string
			for _, r := range reqs {
				types = append(types, r.Type)
			}
			if !reflect.DeepEqual(types, tc.wantType) {
				t.Fatalf("types = %v, want %v", types, tc.wantType)
			}
			if tc.interact != "" && reqs[0].Interactive.Type != tc.interact {
				t.Errorf("interactive type = %q, want %q", reqs[0].Interactive.Type, tc.interact)
			}
		})
	}
}

func TestRenderEmptyMessageSendsNothing(t *testing.T) {
	if got := Render("15550001234", "en", runtime.Message{Text: "  \n"}); len(got) != 0 {
		t.Errorf("Render(blank) = %d requests, want 0", len(got))
	}
	// Options without text still need a body.
	got := Render("15550001234", "en", runtime.Message{Options: options("Yes", "No")})
	if len(got) != 1 || got[0].Interactive == nil || got[0].Interactive.Body.Text != "Please choose:" {
		t.Errorf("Render(options only) = %v, want one interactive with the prompt body", got)
	}
}

func TestSplitTextKeepsEverythingAndRespectsLimits(t *testing.T) {
	tests := []struct {
		name string
		text string
		max  int
	}{
		{"paragraphs", longText(), MaxTextRunes},
		{"no spaces, multi-byte", strings.Repeat("è", 9000), MaxTextRunes},
		{"emoji with modifiers", strings.Repeat("👍🏽", 50), 7},
		{"flags", strings.Repeat("🇮🇹", 20), 5},
		{"combining marks", strings.Repeat("e\u0301", 30), 4},
		{"family ZWJ", strings.Repeat("👨‍👩‍👧", 5), 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parts := splitText(tc.text, tc.max)
			if len(parts) < 2 {
				t.Fatalf("splitText gave %d parts, want a split", len(parts))
			}
			for i, p := range parts {
				if n := utf8.RuneCountInString(p); n > tc.max || n == 0 || !utf8.ValidString(p) {
					t.Errorf("part %d: %d runes (max %d), valid %v", i, n, tc.max, utf8.ValidString(p))
				}
			}
			// Only whitespace at cut points may disappear.
			strip := func(s string) string { return strings.Join(strings.Fields(s), "") }
			if strip(strings.Join(parts, "")) != strip(tc.text) {
				t.Errorf("splitText lost or changed content")
			}
		})
	}
	// Graphemes stay whole: every part of a repeated cluster is whole clusters.
	for _, p := range splitText(strings.Repeat("👍🏽", 50), 7) {
		if strings.ReplaceAll(p, "👍🏽", "") != "" {
			t.Errorf("part %q splits a thumbs-up with its skin tone", p)
		}
	}
	for _, p := range splitText(strings.Repeat("🇮🇹", 20), 5) {
		if strings.ReplaceAll(p, "🇮🇹", "") != "" {
			t.Errorf("part %q splits a flag", p)
		}
	}
	if got := splitText("short", 10); !reflect.DeepEqual(got, []string{"short"}) {
		t.Errorf("splitText(short) = %q, want [short]", got)
	}
}

func TestSplitTextPrefersParagraphsThenLinesThenWords(t *testing.T) {
	tests := []struct {
		name string
		text string
		max  int
		want []string
	}{
		{"paragraph before a later line break", "aaaa bbbb\n\ncc\ndd eeee", 16, []string{"aaaa bbbb", "cc\ndd eeee"}},
		{"line before a later space", "aaaa bbbb\ncc dd eeee", 15, []string{"aaaa bbbb", "cc dd eeee"}},
		{"early paragraph break is skipped for a fuller piece", "aa\n\nbbbb cccc dddd", 15, []string{"aa\n\nbbbb cccc", "dddd"}},
		{"word", "aaaa bbbb cccc dddd", 12, []string{"aaaa bbbb", "cccc dddd"}},
		{"hard", "abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := splitText(tc.text, tc.max); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("splitText(%q, %d) = %q, want %q", tc.text, tc.max, got, tc.want)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"Track my order", 20, "Track my order"},
		{"Exactly twenty chars", 20, "Exactly twenty chars"},
		{"Twenty-one characters", 20, "Twenty-one characte…"},
		{"Pulizia più approfondita dei denti", 20, "Pulizia più approfo…"},
		{"ab 👍🏽👍🏽", 4, "ab…"},
		{"🇮🇹🇮🇹🇮🇹", 4, "🇮🇹…"},
		{"word  and more", 7, "word…"},
		{"ab👨‍👩‍👧", 4, "ab…"},
		{"e\u0301e\u0301e\u0301", 4, "e\u0301…"},
	}
	for _, tc := range tests {
		if got := truncate(tc.in, tc.max); got != tc.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestMatchNumbered(t *testing.T) {
	opts := numberedOptions(12)
	tests := []struct {
		in string
		id string
		ok bool
	}{
		{"1", "slot_01", true}, {" 12 ", "slot_12", true}, {"3.", "slot_03", true}, {"3)", "slot_03", true}, {"#4", "slot_04", true},
		{"0", "", false}, {"13", "", false}, {"-1", "", false}, {"+2", "", false}, {"two", "", false}, {"", "", false},
	}
	for _, tc := range tests {
		id, ok := MatchNumbered(tc.in, opts)
		if id != tc.id || ok != tc.ok {
			t.Errorf("MatchNumbered(%q) = (%q, %v), want (%q, %v)", tc.in, id, ok, tc.id, tc.ok)
		}
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, got any, wantFile string) {
	t.Helper()
	gb, err := encodeJSON(got)
	if err != nil {
		t.Fatal(err)
	}
	var g, w any
	if err := json.Unmarshal(gb, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(readTestdata(t, wantFile), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs from %s:\n got %s", wantFile, gb)
	}
}

func TestRenderMatchesReferenceExamples(t *testing.T) {
	t.Run("send-text-request.json", func(t *testing.T) {
		reqs := Render("15550001234", "en", runtime.Message{Text: "Yes! You can pick a time here: https://example.com/book"})
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		reqs[0].Context = &ReplyContext{MessageID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMQA="}
		reqs[0].CallbackData = "flow=booking;node=offer_link"
		jsonEqual(t, reqs[0], "send-text-request.json")
	})
	t.Run("send-buttons-request.json", func(t *testing.T) {
		reqs := Render("15550001234", "en", runtime.Message{
			Text:    "Your parcel left our warehouse this morning. What would you like to do?",
			Options: []runtime.Option{{ID: "opt_track_order", Title: "Track my order"}, {ID: "opt_change_address", Title: "Change address"}, {ID: "opt_human", Title: "Talk to a person"}},
		})
		if len(reqs) != 1 {
			t.Fatalf("%d requests, want 1", len(reqs))
		}
		reqs[0].Interactive.Header = &Header{Type: "text", Text: "Order #A-1042"}
		reqs[0].Interactive.Footer = &InteractiveText{Text: "Example Shop support"}
		reqs[0].CallbackData = "flow=order_status;node=ask_action;attempt=1"
		jsonEqual(t, reqs[0], "send-buttons-request.json")
	})
	t.Run("send-template-request.json", func(t *testing.T) {
		req := RenderTemplate("15550001234", "appointment_reminder", "en_US", []string{"Ana", "Tuesday 6 January at 09:30"})
		req.Template.Components = append([]Component{{Type: "header", Parameters: []Parameter{{Type: "text", Text: "Example Clinic"}}}}, req.Template.Components...)
		for i, p := range []string{"CONFIRM_APPT_4521", "RESCHEDULE_APPT_4521"} {
			req.Template.Components = append(req.Template.Components, Component{
				Type: "button", SubType: "quick_reply", Index: fmt.Sprint(i),
				Parameters: []Parameter{{Type: "payload", Payload: p}},
			})
		}
		req.CallbackData = "campaign=reminders;appt=4521"
		jsonEqual(t, req, "send-template-request.json")
	})
	// Every example must survive a round trip through SendRequest: the type
	// covers all fields the reference uses (a missing one would vanish).
	for _, f := range []string{"send-text-request.json", "send-buttons-request.json", "send-list-request.json", "send-template-request.json"} {
		t.Run("round trip "+f, func(t *testing.T) {
			var r SendRequest
			if err := json.Unmarshal(readTestdata(t, f), &r); err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, r, f)
		})
	}
}

func TestRenderTemplateWithoutParamsHasNoComponents(t *testing.T) {
	got, err := encodeJSON(RenderTemplate("US.1", "hello_world", "en_US", nil))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.1","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`
	if string(got) != want {
		t.Errorf("RenderTemplate = %s, want %s", got, want)
	}
}

func TestSendRequestDoesNotPrintItsText(t *testing.T) {
	r := Render("15550001234", "en", runtime.Message{Text: "canary secret text"})[0]
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r), fmt.Sprint([]SendRequest{r})} {
		if strings.Contains(s, "canary") || strings.Contains(s, "15550001234") {
			t.Errorf("formatted request %q leaks its content", s)
		}
	}
}
