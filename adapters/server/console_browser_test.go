package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/adapters/web"
)

// TestConsoleInBrowser runs the operator console in a real headless
// Chromium against the real server on a loopback port. A visitor writes
// HUMAN in the web chat page (one tab); an operator finds the hand-off in
// the console's queue (another tab), opens it, replies — the visitor's page
// shows the reply by itself — and hands it back to the bot, whose question
// the visitor's page shows too; a DPO exports the visitor's data,
// transcript included, and reads the audit log, which shows the operator's
// read of the transcript. The page is also checked in Italian, and without
// credentials it goes to the sign-in page.
//
// A screenshot of each scene is written to $PARLEY_CONSOLE_SCREENSHOTS (a
// directory; default a temporary one); docs/img/console-*.png are copies.
func TestConsoleInBrowser(t *testing.T) {
	const question = "Is my order 4471 on its way?"
	e := newEnv(t, envOptions{webChat: true, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	base := e.listen(t)
	ctx, browserProblems := startBrowser(t, 1280, 1000)
	shots, shoot := consoleScreenshots(t)

	// The visitor's tab: the web chat page, as a customer uses it.
	visitor, closeVisitor := chromedp.NewContext(ctx)
	defer closeVisitor()
	stepIn := func(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage:\n%s", what, err, page)
		}
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		stepIn(ctx, what, actions...)
	}
	bubbles := func(kind string) string {
		return `document.querySelectorAll('#transcript li.msg.bot[data-kind=` + kind + `]').length`
	}
	visitorSays := func(text, kind string, n int) {
		t.Helper()
		stepIn(visitor, "the visitor sends "+text,
			chromedp.WaitEnabled(chromedp.CSS("#send")),
			chromedp.SendKeys(chromedp.CSS("#text"), text),
			chromedp.Click(chromedp.CSS("#send")),
			chromedp.Poll[chromedp.Void](bubbles(kind)+` === `+strconv.Itoa(n), chromedp.WithPollingTimeout(10*time.Second)))
	}
	wait := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))
	}
	as := func(token string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Authorization": "Bearer " + token}})
			return err
		})
	}
	shot := func(name string) { t.Helper(); shoot(ctx, "console-"+name) }
	text := evaluator(t, ctx)

	stepIn(visitor, "opening the web chat with the shop flow",
		chromedp.Navigate(base+"/"),
		chromedp.WaitReady(chromedp.CSS(`#flow option[value="shop"]`)),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const sel = document.getElementById('flow');
			sel.value = 'shop';
			sel.dispatchEvent(new Event('change', {bubbles: true}));
		})()`),
		chromedp.Poll[chromedp.Void](`document.querySelector('#transcript li.system')?.textContent.startsWith('New conversation with shop') && `+bubbles("ask")+` === 1`,
			chromedp.WithPollingTimeout(10*time.Second)))
	visitorSays("HUMAN", "handoff", 1)
	visitorSays(question, "handoff", 2) // "your message is with our team"
	visitorID := ""
	stepIn(visitor, "reading the visitor's id", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{})
		for _, c := range res.Cookies {
			if c.Name == web.SessionCookie {
				visitorID, _, _ = strings.Cut(c.Value, ".")
			}
		}
		return err
	}))
	if visitorID == "" {
		t.Fatal("the web chat page has no session cookie")
	}

	step("opening the console as an operator",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}),
		as(operatorToken),
		chromedp.Navigate(base+"/console?lang=en"),
		wait(`document.querySelectorAll('#queue tbody tr').length === 1`))
	row := text(`document.querySelector('#queue tbody tr').innerText`)
	if !strings.Contains(row, "asked for a person") || !strings.Contains(row, "web") || !strings.Contains(row, "shop") ||
		strings.Contains(row, visitorID) {
		t.Errorf("queue row %q: want reason, channel and flow, and no customer id", row)
	}
	shot("queue")

	step("opening the conversation",
		chromedp.Click(chromedp.CSS(`#queue tbody tr`)),
		wait(`!document.getElementById('conv-view').hidden && document.querySelectorAll('#conv-transcript li').length === 1`))
	if got := text(`document.getElementById('conv-transcript').innerText`); !strings.Contains(got, question) {
		t.Errorf("transcript shows %q, want the customer's question", got)
	}
	shot("conversation")

	step("replying",
		chromedp.SendKeys(chromedp.CSS(`#reply-text`), "Yes: it arrives tomorrow. Marta"),
		chromedp.Click(chromedp.CSS(`#reply-send`)),
		wait(`document.querySelectorAll('#conv-transcript li.staff').length === 1`))
	shot("reply")
	stepIn(visitor, "the visitor's page shows the operator's reply by itself",
		chromedp.Poll[chromedp.Void](bubbles("staff")+` === 1`, chromedp.WithPollingTimeout(10*time.Second)))
	if got, _ := chromedp.Run(visitor, chromedp.Evaluate[string](`document.querySelector('#transcript li.msg.bot[data-kind=staff]').innerText`)); !strings.Contains(got, "Yes: it arrives tomorrow. Marta") {
		t.Errorf("the visitor's page shows %q, want the operator's reply", got)
	}

	step("handing back at menu",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('return-step').value = 'menu'`),
		chromedp.Click(chromedp.CSS(`#return-send`)),
		wait(`!document.getElementById('queue-view').hidden && !document.getElementById('queue-empty').hidden`))
	shot("handed-back")
	stepIn(visitor, "the visitor's page shows the bot's question after the hand-back",
		chromedp.Poll[chromedp.Void](bubbles("ask")+` === 2`, chromedp.WithPollingTimeout(10*time.Second)))
	visitorSays("sizes", "say", 1) // the bot carries on: "Thanks, noted."
	if png, err := chromedp.Run(visitor, chromedp.CaptureScreenshot()); err == nil {
		os.WriteFile(filepath.Join(shots, "console-visitor.png"), png, 0o644)
	}

	step("exporting as the DPO",
		as(dpoToken),
		chromedp.Navigate(base+"/console?lang=en"),
		wait(`document.readyState === 'complete'`),
		chromedp.Click(chromedp.CSS(`#tab-dpo`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('subject-channel').value = 'web'`),
		chromedp.SendKeys(chromedp.CSS(`#subject-user`), visitorID),
		chromedp.Click(chromedp.CSS(`#export`)),
		wait(`document.getElementById('subject-result').textContent.includes('"transcript"')`))
	if got := text(`document.getElementById('subject-result').textContent`); !strings.Contains(got, question) || !strings.Contains(got, "Marta") {
		t.Errorf("export shows %q, want the transcript both ways", got)
	}
	shot("dpo-export")

	step("reading the audit log",
		chromedp.SendKeys(chromedp.CSS(`#audit-action`), "handoffs."),
		chromedp.Click(chromedp.CSS(`#audit-read`)),
		wait(`document.querySelectorAll('#audit tbody tr').length > 0`),
		chromedp.Click(chromedp.CSS(`#audit-verify`)),
		wait(`document.getElementById('audit-verified').textContent.includes('verifies')`))
	if got := text(`document.getElementById('audit').innerText`); !strings.Contains(got, "handoffs.read:ok") || !strings.Contains(got, "operator:") {
		t.Errorf("audit log shows %q, want the operator's read of the transcript", got)
	}
	shot("audit")

	step("the page in Italian",
		chromedp.Navigate(base+"/console?lang=it"),
		wait(`document.querySelector('#queue-view h2').textContent === 'Conversazioni in attesa di una persona'`))

	if errs := browserProblems(); len(errs) > 0 {
		for _, p := range errs {
			t.Errorf("browser console: %s", p)
		}
	}
	// Without credentials every route answers 401 and the page goes to the
	// sign-in page (served by the staff accounts' routes; 404 here).
	step("opening the console without credentials",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}})
			return err
		}),
		chromedp.Navigate(base+"/console"))
	// The redirect may interrupt a first poll (the page it runs in goes
	// away); the next one runs in the sign-in page.
	var err error
	for range 3 {
		if err = chromedp.Do(ctx, wait(`location.pathname === '/console/login'`)); err == nil {
			break
		}
	}
	if err != nil {
		t.Errorf("without credentials the console did not go to /console/login: %v", err)
	}
}

// consoleScreenshots returns the directory of the console's screenshots,
// $PARLEY_CONSOLE_SCREENSHOTS (default a temporary one), and a function
// that writes the page of ctx there as name.png.
func consoleScreenshots(t *testing.T) (string, func(ctx context.Context, name string)) {
	t.Helper()
	dir := os.Getenv("PARLEY_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, func(ctx context.Context, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
