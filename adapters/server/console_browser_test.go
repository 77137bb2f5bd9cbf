package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestConsoleInBrowser runs the operator console in a real headless
// Chromium against the real server on a loopback port: an operator finds a
// web chat visitor's hand-off in the queue, opens it, replies (the visitor's
// page collects the reply) and hands it back to the bot; a DPO exports the
// visitor's data, transcript included, and reads the audit log, which
// shows the operator's read of the transcript. The page is also checked in
// Italian, and without credentials it goes to the sign-in page.
//
// A screenshot of each scene is written to $PARLEY_CONSOLE_SCREENSHOTS (a
// directory; default a temporary one); docs/img/console-*.png are copies.
func TestConsoleInBrowser(t *testing.T) {
	const question = "Is my order 4471 on its way?"
	e := newEnv(t, envOptions{webChat: true, tokens: handoffTokens, files: map[string]string{"shop.yaml": shopFlow("", "4h")}})
	base := e.listen(t)
	ctx, browserProblems := startBrowser(t)
	shots := os.Getenv("PARLEY_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	e.webTurn(t, "shop", "ada", "hi")
	e.webTurn(t, "shop", "ada", "HUMAN")
	e.webTurn(t, "shop", "ada", question)

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			page, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage:\n%s", what, err, page)
		}
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
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, "console-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
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
		strings.Contains(row, e.visitorID("ada")) {
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
	if got := e.webUpdates(t, "ada"); len(got) != 1 || got[0] != "staff: Yes: it arrives tomorrow. Marta" {
		t.Errorf("the visitor's page collected %q, want the operator's reply", got)
	}

	step("handing back at menu",
		chromedp.Evaluate[chromedp.Void](`document.getElementById('return-step').value = 'menu'`),
		chromedp.Click(chromedp.CSS(`#return-send`)),
		wait(`!document.getElementById('queue-view').hidden && !document.getElementById('queue-empty').hidden`))
	shot("handed-back")
	if got := e.webUpdates(t, "ada"); len(got) != 1 || !strings.Contains(got[0], "What can we help you with?") {
		t.Errorf("after the hand-back the visitor's page collected %q, want the menu", got)
	}

	step("exporting as the DPO",
		as(dpoToken),
		chromedp.Navigate(base+"/console?lang=en"),
		wait(`document.readyState === 'complete'`),
		chromedp.Click(chromedp.CSS(`#tab-dpo`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('subject-channel').value = 'web'`),
		chromedp.SendKeys(chromedp.CSS(`#subject-user`), e.visitorID("ada")),
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
