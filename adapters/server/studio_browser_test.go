package server_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// TestStudioInBrowser drives the studio in a real headless Chromium against
// the real server (every shipped flow copied to a temporary directory, an
// on-disk vault): it chats through flows/booking.yaml and checks the
// replies, the highlighted step, the data map and what the vault holds;
// breaks the YAML and sees the error at its line; fixes it, edits the
// greeting and saves (the next conversation greets with it); jumps the test user's
// clock past the retention and sees the fields swept; erases the test
// user; switches to Italian; picks other flows and sees their data maps
// (a special category, a recipient). The page must make no request to
// another origin and log no error.
//
// It saves a screenshot per scene into $PARLEY_STUDIO_SCREENSHOTS (a
// temporary directory when unset); docs/authoring.md uses the ones in
// docs/img/studio-*.png, taken this way:
//
//	PARLEY_STUDIO_SCREENSHOTS=$PWD/docs/img go test ./adapters/server -run TestStudioInBrowser
func TestStudioInBrowser(t *testing.T) {
	requireBrowser(t)
	base, flowsDir := startStudioServer(t)
	ctx, consoleProblems := startBrowser(t, 1500, 1000)
	shots := os.Getenv("PARLEY_STUDIO_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	eval := evaluator(t, ctx)
	screenshot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const (
		botCount = `document.querySelectorAll('#transcript li.bot').length`
		idle     = `!document.getElementById('send').disabled`
		current  = `(document.querySelector('#graph g.current') || {}).id || ''`
	)
	page := chatPage{t: t, ctx: ctx, botCount: botCount, settled: idle}
	step, reply, say := page.step, page.reply, page.say
	const liveOption = `#transcript .options button:not([disabled])`

	// Scene 1: open the studio on booking.yaml and chat with it.
	step("opening the studio",
		chromedp.Navigate(base+"/studio/?file=booking.yaml"),
		chromedp.WaitReady(chromedp.CSS(`#file option[value="booking.yaml"]`)),
		chromedp.Poll[chromedp.Void](botCount+` >= 2 && `+idle+` && document.querySelector('#graph svg') && document.querySelector('#datamap tr[data-field="email"]')`,
			chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval(`document.getElementById('file').value`); got != "booking.yaml" {
		t.Fatalf("picked file = %q, want booking.yaml", got)
	}
	if got := eval(current); got != "s_ask_name" {
		t.Errorf("highlighted step after the greeting = %q, want s_ask_name (the consent question waits there)", got)
	}
	if got := eval(`document.querySelector('#datamap tr[data-field="email"]').innerText`); !strings.Contains(got, "booking") ||
		!strings.Contains(got, "consent") || !strings.Contains(got, "30d") {
		t.Errorf("data map row of email = %q, want its purpose, basis and retention", got)
	}
	reply("clicking Yes", chromedp.Click(chromedp.CSS(liveOption+`[data-option-id="yes"]`)))
	say("Ada")
	if got := eval(current); got != "s_ask_email" {
		t.Errorf("highlighted step after the name = %q, want s_ask_email", got)
	}
	say("not-an-email")
	say("ada@example.com")
	if got := eval(current); got != "s_pick_date" {
		t.Errorf("highlighted step after the email = %q, want s_pick_date", got)
	}
	held := eval(`document.querySelector('#held tr[data-field="email"]')?.innerText || ''`)
	if !strings.Contains(held, "ada@example.com") || !strings.Contains(held, "UTC") {
		t.Errorf("held row of email = %q, want the value and its expiry", held)
	}
	screenshot("studio-chat.png")
	reply("picking the second date", chromedp.Click(chromedp.CSS(liveOption+`:nth-of-type(2)`)))
	got := transcript(ctx)
	for _, want := range []string{
		"Hi! I'm Smile Dental's booking assistant.",
		"What's your name?",
		"Thanks Ada! What's your email",
		"That doesn't look like an email address.",
		"Which day suits you?",
		"All set, Ada: you're booked for Tue 8 Dec, 14:00. The confirmation goes to ada@example.com.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q; it is:\n%s", want, got)
		}
	}
	if got := eval(current); got != "" {
		t.Errorf("highlighted step after the conversation ended = %q, want none", got)
	}
	if n := eval(`String(document.querySelectorAll('#held tbody tr').length)`); n != "3" {
		t.Errorf("held rows after the booking = %s, want 3 (name, email, date)", n)
	}

	// Scene 2: break the YAML; the error shows at its line, and Save is off.
	orig, err := os.ReadFile(filepath.Join(flowsDir, "booking.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(orig), "    save: email", "    saev: email", 1)
	line := strconv.Itoa(strings.Count(broken[:strings.Index(broken, "    saev: email")], "\n") + 1)
	setSource := func(src string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`(() => {
			const ta = document.getElementById('source');
			ta.value = ` + strconv.Quote(src) + `;
			ta.dispatchEvent(new Event('input', {bubbles: true}));
		})()`)
	}
	step("breaking the YAML", setSource(broken),
		chromedp.Poll[chromedp.Void](`document.querySelector('#diagnostics li.error[data-line="`+line+`"]') && document.querySelector('#gutter div.err[data-line="`+line+`"]')`,
			chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval(`document.querySelector('#diagnostics li.error[data-line="` + line + `"]').textContent`); !strings.HasPrefix(got, "Line "+line+", column 5: error:") || !strings.Contains(got, "PARLEY-101") {
		t.Errorf("the error at line %s reads %q", line, got)
	}
	if got := eval(`String(document.getElementById('save').disabled)`); got != "true" {
		t.Error("Save is enabled while the flow has errors")
	}
	// Clicking the problem puts the cursor at its line and column.
	step("clicking the problem", chromedp.Click(chromedp.CSS(`#diagnostics li.error[data-line="`+line+`"]`)))
	if got := eval(`(ta => ta.value.slice(0, ta.selectionStart).split('\n').length + ':' + (ta.selectionStart - ta.value.lastIndexOf('\n', ta.selectionStart - 1)))(document.getElementById('source'))`); got != line+":5" {
		t.Errorf("cursor after clicking the problem at %s:5 = %s", line, got)
	}
	if got := eval(`document.getElementById('graph-note').textContent`); !strings.Contains(got, "has errors") {
		t.Errorf("graph note with errors = %q", got)
	}
	screenshot("studio-lint.png")
	// Fix it, change the greeting, and save: the file is written and the
	// next conversation greets with the new text.
	const greeting, edited = "Hi! I'm Smile Dental's booking assistant.", "Hi! I'm Smile Dental's booking assistant, edited in the studio."
	fixed := strings.Replace(string(orig), greeting, edited, 1)
	step("fixing the YAML", setSource(fixed),
		chromedp.Poll[chromedp.Void](`document.querySelector('#diagnostics li.ok') && !document.getElementById('save').disabled`, chromedp.WithPollingTimeout(10*time.Second)))
	if b, _ := os.ReadFile(filepath.Join(flowsDir, "booking.yaml")); string(b) != string(orig) {
		t.Error("editing without saving changed the file")
	}
	step("saving", chromedp.Click(chromedp.CSS("#save")),
		chromedp.Poll[chromedp.Void](`document.getElementById('save-result').textContent.startsWith('Saved')`, chromedp.WithPollingTimeout(10*time.Second)))
	if b, _ := os.ReadFile(filepath.Join(flowsDir, "booking.yaml")); string(b) != fixed {
		t.Error("Save did not write the edited flow")
	}

	// Scene 3: jump the test user's clock: 29 days keep the fields, two
	// more pass the 30-day retention and the sweep deletes them.
	jump := func(advance, swept string) {
		t.Helper()
		step("jumping "+advance,
			chromedp.Evaluate[chromedp.Void](`document.getElementById('sweep-result').textContent = ''; document.getElementById('advance').value = '`+advance+`'`),
			chromedp.Click(chromedp.CSS("#jump")),
			chromedp.Poll[chromedp.Void](`document.getElementById('sweep-result').textContent.includes('deleted `+swept+` ')`, chromedp.WithPollingTimeout(10*time.Second)))
	}
	jump("29d", "0")
	if n := eval(`String(document.querySelectorAll('#held tbody tr').length)`); n != "3" {
		t.Errorf("held rows 29 days on = %s, want 3", n)
	}
	jump("2d", "3")
	if n := eval(`String(document.querySelectorAll('#held tbody tr:not(.expired)').length)`); n != "0" {
		t.Errorf("held rows after the jump = %s, want 0", n)
	}
	// The swept fields stay on screen, struck out, until the next change.
	if got := eval(`[...document.querySelectorAll('#held tbody tr.expired')].map(r => r.dataset.field).sort().join(',')`); got != "date,email,name" {
		t.Errorf("fields shown as expired = %q, want date,email,name", got)
	}
	if got := eval(`document.getElementById('clock-now').textContent`); !strings.Contains(got, "31d ahead") {
		t.Errorf("clock line = %q, want 31d ahead", got)
	}
	screenshot("studio-clock.png")

	// Scene 4: erase the test user (its consent record is still held).
	if n := eval(`String(document.querySelectorAll('#consents li').length)`); n != "1" {
		t.Errorf("consent lines before erasure = %s, want 1", n)
	}
	step("erasing", chromedp.Click(chromedp.CSS("#erase")),
		chromedp.Poll[chromedp.Void](`document.getElementById('erase-result').textContent.includes('erased')`, chromedp.WithPollingTimeout(10*time.Second)))
	if n := eval(`String(document.querySelectorAll('#consents li').length + document.querySelectorAll('#held tbody tr').length)`); n != "0" {
		t.Errorf("held after erasure: %s rows, want 0", n)
	}
	screenshot("studio-erase.png")

	// Scene 5: the Italian interface.
	step("switching to Italian", chromedp.Evaluate[chromedp.Void](`(() => {
		const sel = document.getElementById('lang');
		sel.value = 'it';
		sel.dispatchEvent(new Event('change', {bubbles: true}));
	})()`))
	for sel, want := range map[string]string{"h1": "Studio di Parley", "#jump": "Vai avanti", "#erase": "Cancella utente di prova", "#save": "Salva",
		// A result shown before the switch is said again in Italian.
		"#save-result": "Salvato; i flussi sono stati ricaricati."} {
		if got := eval(`document.querySelector('` + sel + `').textContent`); got != want {
			t.Errorf("%s in Italian = %q, want %q", sel, got, want)
		}
	}
	// After the erasure the next message starts a new test user, with a
	// fresh transcript.
	step("starting a new test user in Italian",
		chromedp.SendKeys(chromedp.CSS("#text"), "ciao"),
		chromedp.Click(chromedp.CSS("#send")),
		chromedp.Poll[chromedp.Void](botCount+` >= 2 && `+idle+` && document.querySelector('#transcript li.system').textContent.startsWith('Nuovo utente di prova')`,
			chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval(current); got != "s_ask_name" {
		t.Errorf("highlighted step of the new test user = %q, want s_ask_name", got)
	}
	if got := transcript(ctx); !strings.Contains(got, edited) {
		t.Errorf("the new conversation does not greet with the saved text; transcript:\n%s", got)
	}
	if n := eval(`String(document.querySelectorAll('#held tbody tr').length)`); n != "0" {
		t.Errorf("the new test user holds %s fields, want 0", n)
	}
	screenshot("studio-italian.png")

	// Scene 6: picking another flow opens it, with its data map, and starts
	// a new test user on it.
	pick := func(file, ready string) {
		t.Helper()
		step("picking "+file, chromedp.Evaluate[chromedp.Void](`(() => {
			const sel = document.getElementById('file');
			sel.value = '`+file+`';
			sel.dispatchEvent(new Event('change', {bubbles: true}));
		})()`), chromedp.Poll[chromedp.Void](ready+` && `+botCount+` > 0 && `+idle+
			// the new test user's conversation, not the last one's
			` && (document.querySelector('#transcript li.system') || {textContent: ''}).textContent.includes('`+strings.TrimSuffix(file, ".yaml")+`.')`,
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	pick("dental.yaml", `document.querySelector('#datamap tr[data-field="pain"]')`)
	if got := eval(`document.querySelector('#datamap tr[data-field="pain"]').innerText`); !strings.Contains(got, "triage") || !strings.Contains(got, "health") {
		t.Errorf("dental's data map row of pain = %q, want its purpose and special category", got)
	}
	if got := eval(`document.querySelector('#transcript li.system').textContent`); !strings.Contains(got, "dental") {
		t.Errorf("after picking dental.yaml the transcript opens with %q", got)
	}
	pick("jobs.yaml", `document.querySelector('#recipients li[data-recipient="recruiting"]')`)
	if got := eval(`document.querySelector('#recipients li[data-recipient="recruiting"]').textContent`); !strings.Contains(got, "hr.rossi.example") || !strings.Contains(got, "cv") {
		t.Errorf("jobs' recipient line = %q, want the host and the fields sent", got)
	}
	if got := eval(`document.querySelector('#datamap tr[data-field="cv"]').innerText`); !strings.Contains(got, "recruiting") {
		t.Errorf("jobs' data map row of cv = %q, want its recipient", got)
	}

	// Nothing left the machine: every resource came from the server.
	if others := eval(`performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(` + strconv.Quote(base+"/") + `)).join(' ')`); others != "" {
		t.Errorf("the page requested other origins: %s", others)
	}
	resp, err := http.Get(base + "/studio/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("studio CSP = %q, want default-src 'none' and requests to itself only", csp)
	}
	for _, p := range consoleProblems() {
		t.Errorf("browser console: %s", p)
	}
}

// evaluator returns a function that evaluates a JavaScript expression
// of type string in the page, failing the test when it cannot.
func evaluator(t *testing.T, ctx context.Context) func(js string) string {
	return func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("evaluating %s: %v", js, err)
		}
		return s
	}
}

// startStudioServer copies every shipped flow into a temporary directory
// and serves it with the studio on. It returns the base URL and the flow
// directory.
func startStudioServer(t *testing.T) (base, flowsDir string) {
	t.Helper()
	flowsDir = filepath.Join(t.TempDir(), "flows")
	if err := os.CopyFS(flowsDir, os.DirFS(filepath.Join("..", "..", "flows"))); err != nil {
		t.Fatal(err)
	}
	return serveOnLoopback(t, flowsDir, func(c *server.Config, _ *vault.Vault) { c.Studio = &server.StudioConfig{} }), flowsDir
}
