package server_test

import (
	"bytes"
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
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

// TestStudioInBrowserShowsFlowTextsAsText: a flow whose texts, labels,
// purpose, controller and option titles are HTML, and a customer answer
// that is HTML, show in the studio as the characters written: no element of
// theirs appears in the page (chat, what the vault holds, the data map, the
// problems list) and nothing of theirs runs.
func TestStudioInBrowserShowsFlowTextsAsText(t *testing.T) {
	requireBrowser(t)
	flowsDir := filepath.Join(t.TempDir(), "flows")
	if err := os.CopyFS(flowsDir, os.DirFS(filepath.Join("..", "..", "flows"))); err != nil {
		t.Fatal(err)
	}
	hostile, err := os.ReadFile(filepath.Join("testdata", "studio", "hostile.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(flowsDir, "hostile.yaml"), hostile, 0o644); err != nil {
		t.Fatal(err)
	}
	base := serveOnLoopback(t, flowsDir, func(c *server.Config, _ *vault.Vault) { c.Studio = &server.StudioConfig{} })
	ctx, consoleProblems := startBrowser(t, 1500, 1000)
	const (
		botCount = `document.querySelectorAll('#transcript li.bot').length`
		idle     = `!document.getElementById('send').disabled`
		injected = `String(document.querySelectorAll('.pwn, script:not([src]), #transcript img, #held img, #datamap img').length)`
	)
	page := chatPage{t: t, ctx: ctx, botCount: botCount, settled: idle}
	eval := evaluator(t, ctx)
	page.step("opening hostile.yaml",
		chromedp.Navigate(base+"/studio/?file=hostile.yaml"),
		chromedp.WaitReady(chromedp.CSS("#lang")),
		chromedp.Poll[chromedp.Void](botCount+` >= 2 && `+idle, chromedp.WithPollingTimeout(10*time.Second)))
	page.reply("clicking Yes", chromedp.Click(chromedp.CSS(`#transcript .options button[data-option-id="yes"]:not([disabled])`)))
	const answer = `<img class=pwn src=x onerror="document.title='xss'">`
	page.say(answer)
	page.reply("picking A", chromedp.Click(chromedp.CSS(`#transcript .options button[data-option-id="a"]:not([disabled])`)))

	got := transcript(ctx)
	for _, want := range []string{
		"<script class=pwn>document.title='xss'</script>Hello!",
		"<b class=pwn>Evil</b> Ltd would like to collect your <i class=pwn>your name</i>",
		`<img class=pwn src=x onerror="document.title='xss'">What's your name?`,
		"Hi " + answer + ", pick one",
		"<b class=pwn>A</b>",
		"Booked <b class=pwn>A</b> for " + answer + ".",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the transcript does not show %q as text; it is:\n%s", want, got)
		}
	}
	if held := eval(`document.querySelector('#held tr[data-field="name"]')?.innerText || ''`); !strings.Contains(held, answer) {
		t.Errorf("what the vault holds shows the name as %q, want the text %q", held, answer)
	}
	// A problem that quotes a hostile key.
	page.step("adding a hostile key", chromedp.Evaluate[chromedp.Void](`(() => {
		const ta = document.getElementById('source');
		ta.value = ta.value + '\n"<b class=pwn>k</b>": 1\n';
		ta.dispatchEvent(new Event('input', {bubbles: true}));
	})()`), chromedp.Poll[chromedp.Void](`document.querySelector('#diagnostics li.error')`, chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval(`document.getElementById('diagnostics').textContent`); !strings.Contains(got, "<b class=pwn>k</b>") {
		t.Errorf("the problems list = %q, want the key shown as text", got)
	}
	if n := eval(injected); n != "0" {
		t.Errorf("%s elements of the flow's or the customer's text are in the page, want none: %s", n,
			eval(`[...document.querySelectorAll('.pwn, script:not([src]), #transcript img')].map(e => e.outerHTML).join(' ')`))
	}
	if title := eval(`document.title`); title == "xss" {
		t.Error("a script in the flow's text ran")
	}
	for _, p := range consoleProblems() {
		t.Errorf("browser console: %s", p)
	}
}

// TestStudioInBrowserRefusesOtherSites: a page on another site, opened in
// the same browser as the studio, posts a flow to the studio's save route
// the ways a page can without asking the studio first (a text/plain form
// whose body is JSON, and no-cors fetches claiming JSON); the flow file
// stays as it was.
func TestStudioInBrowserRefusesOtherSites(t *testing.T) {
	requireBrowser(t)
	base, flowsDir := startStudioServer(t)
	path := filepath.Join(flowsDir, "booking.yaml")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(orig), "Hi! I'm Smile Dental's booking assistant.", "Hijacked by another site.", 1)
	if edited == string(orig) {
		t.Fatal("flows/booking.yaml changed: this test edits its greeting")
	}
	body, err := json.Marshal(map[string]string{"file": "booking.yaml", "source": edited})
	if err != nil {
		t.Fatal(err)
	}
	// A text/plain form sends name=value: split the JSON at an "=" it
	// holds, and the body the studio receives is that JSON again.
	eq := bytes.IndexByte(body, '=')
	if eq < 0 {
		t.Fatal("the JSON body holds no '=' to split a form field at")
	}
	target := base + "/studio/api/save"
	attacker := `<!doctype html><title>attacker</title>
<iframe name="sink"></iframe>
<form id="f" method="post" enctype="text/plain" target="sink" action="` + html.EscapeString(target) + `">
<input type="hidden" name="` + html.EscapeString(string(body[:eq])) + `" value="` + html.EscapeString(string(body[eq+1:])) + `">
</form>
<script>
const body = ` + string(body) + `;
const target = ` + strconv.Quote(target) + `;
let formDone = false;
document.querySelector('iframe').addEventListener('load', () => { formDone = true; });
document.getElementById('f').submit();
Promise.allSettled([
  fetch(target, {method: 'POST', mode: 'no-cors', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)}),
  fetch(target, {method: 'POST', mode: 'no-cors', body: new Blob([JSON.stringify(body)], {type: 'application/json'})}),
  fetch(target, {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(body)}),
]).then(() => { const wait = () => formDone ? (document.title = 'done') : setTimeout(wait, 20); wait(); });
</script>`
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(attacker))
	}))
	t.Cleanup(site.Close)
	// localhost is another site than 127.0.0.1, where the studio is.
	attackerURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)
	ctx, _ := startBrowser(t, 1000, 700)
	if err := chromedp.Do(ctx, chromedp.Navigate(attackerURL),
		chromedp.Poll[chromedp.Void](`document.title === 'done'`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("the attacker's page did not finish: %v", err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, orig) {
		t.Fatal("a page on another site changed the flow file through the studio")
	}
	// The same body from the studio's own page is saved: the attack failed
	// for its origin, not for its body.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/studio/?file=booking.yaml"),
		chromedp.Poll[chromedp.Void](`document.getElementById('source').value.length > 0`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.Evaluate[chromedp.Void](`fetch('/studio/api/save', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: JSON.stringify(`+string(body)+`)}).then(r => { document.title = 'saved ' + r.status; })`),
		chromedp.Poll[chromedp.Void](`document.title.startsWith('saved')`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != edited {
		t.Error("the same save from the studio's own page was not written, so the test proves nothing about other sites")
	}
}

// TestStudioInBrowserSaysFailuresInItsLanguage: a failure the server
// answers (a clock jump it cannot read) shows in the interface's language,
// and again in the other one after a switch.
func TestStudioInBrowserSaysFailuresInItsLanguage(t *testing.T) {
	requireBrowser(t)
	base, _ := startStudioServer(t)
	ctx, consoleProblems := startBrowser(t, 1500, 1000)
	const (
		botCount = `document.querySelectorAll('#transcript li.bot').length`
		idle     = `!document.getElementById('send').disabled`
	)
	page := chatPage{t: t, ctx: ctx, botCount: botCount, settled: idle}
	eval := evaluator(t, ctx)
	setLang := func(lang string) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](`(() => {
			const sel = document.getElementById('lang');
			sel.value = '` + lang + `';
			sel.dispatchEvent(new Event('change', {bubbles: true}));
		})()`)
	}
	page.step("opening the studio in Italian",
		chromedp.Navigate(base+"/studio/?file=booking.yaml"),
		chromedp.WaitReady(chromedp.CSS("#lang")),
		chromedp.Poll[chromedp.Void](botCount+` >= 2 && `+idle, chromedp.WithPollingTimeout(10*time.Second)),
		setLang("it"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('advance').value = 'a month'`),
		chromedp.Click(chromedp.CSS("#jump")),
		chromedp.Poll[chromedp.Void](`document.getElementById('sweep-result').textContent.length > 0`, chromedp.WithPollingTimeout(10*time.Second)))
	if got := eval(`document.getElementById('sweep-result').textContent`); got != "Non riuscito: indica di quanto spostare l'orologio in anni, settimane, giorni, ore o minuti, per esempio 1y, 8w, 31d, 12h o 1d12h" {
		t.Errorf("an unreadable jump in Italian says %q", got)
	}
	page.step("switching to English", setLang("en"))
	if got := eval(`document.getElementById('sweep-result').textContent`); got != "Failed: say how far to move the clock as years, weeks, days, hours or minutes, such as 1y, 8w, 31d, 12h or 1d12h" {
		t.Errorf("the same failure after switching to English says %q", got)
	}
	for _, p := range consoleProblems() {
		if !strings.Contains(p, "status of 400") {
			t.Errorf("browser console: %s", p)
		}
	}
}
