package server_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/web"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// browserPath is where Debian's chromium package (what .ci/run installs)
// puts the browser.
const browserPath = "/usr/bin/chromium"

// TestWebChatInBrowser books an appointment through the web chat page in a
// real headless Chromium, against the real server on a loopback port: the
// page's script, its CSP (inline blocks allowed by hash only), the JSON API
// and the engine all have to work together.
//
// Without Chromium the test is skipped, unless PARLEY_BROWSER_TESTS=required
// (as .ci/run sets), which makes a missing browser a failure. Set
// PARLEY_BROWSER_SCREENSHOT=/some/file.png to keep a PNG of what the viewport
// shows at the end.
func TestWebChatInBrowser(t *testing.T) {
	base := startWebChatServer(t)
	ctx, browserProblems := startBrowser(t)

	const (
		// botCount counts the bot's bubbles; the typing indicator is one
		// too, so it is excluded.
		botCount = `document.querySelectorAll('#transcript li.msg.bot:not(#typing)').length`
		settled  = `!document.getElementById('typing')`
	)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v\ntranscript:\n%s", what, err, transcript(ctx))
		}
	}
	// reply performs act and waits until the bot has answered it.
	reply := func(what string, act ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		before, err := chromedp.Run(ctx, chromedp.Evaluate[int](botCount))
		if err != nil {
			t.Fatalf("%s: counting messages: %v", what, err)
		}
		step(what, act...)
		step(what+": waiting for the reply",
			chromedp.Poll[chromedp.Void](botCount+` > `+strconv.Itoa(before)+` && `+settled, chromedp.WithPollingTimeout(10*time.Second)))
	}
	say := func(text string) {
		t.Helper()
		reply("sending "+text,
			chromedp.WaitEnabled(chromedp.CSS("#send")),
			chromedp.SendKeys(chromedp.CSS("#text"), text),
			chromedp.Click(chromedp.CSS("#send")))
	}
	// Only the latest question's buttons are enabled; answered ones are not.
	const liveOption = `#transcript .options button:not([disabled])`

	step("opening the page",
		chromedp.Navigate(base+"/"),
		chromedp.WaitReady(chromedp.CSS(`#flow option[value="booking"]`)),
		// The page opens a conversation with the selected flow by itself;
		// let that first turn finish before switching.
		chromedp.Poll[chromedp.Void](botCount+` > 0 && `+settled, chromedp.WithPollingTimeout(10*time.Second)))
	// Choosing a flow starts a new conversation: the transcript is cleared,
	// so wait for the new opening rather than for one more message.
	step("picking the booking flow",
		chromedp.Evaluate[chromedp.Void](`(() => {
			const sel = document.getElementById('flow');
			sel.value = 'booking';
			sel.dispatchEvent(new Event('change', {bubbles: true}));
		})()`),
		chromedp.Poll[chromedp.Void](`document.querySelector('#transcript li.system')?.textContent.startsWith('New conversation with booking')`+
			` && document.querySelector('`+liveOption+`[data-option-id="yes"]') && `+settled,
			chromedp.WithPollingTimeout(10*time.Second)))

	say("hi")
	reply("clicking Yes", chromedp.Click(chromedp.CSS(liveOption+`[data-option-id="yes"]`)))
	say("Ada")
	say("ada@example.com")
	reply("clicking the second date", chromedp.Click(chromedp.CSS(liveOption+`:nth-of-type(2)`)))

	got := transcript(ctx)
	for _, want := range []string{
		"Hi! I'm Smile Dental's booking assistant.",
		"Please answer Yes or No.",
		"Thanks Ada! What's your email",
		"Which day suits you?",
		"All set, Ada: you're booked for Tue 8 Dec, 14:00. The confirmation goes to ada@example.com.",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("transcript lacks %q; it is:\n%s", want, got)
		}
	}
	last, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`[...document.querySelectorAll('#transcript li.msg.bot .bubble')].pop().textContent`))
	if err != nil || !strings.Contains(last, "All set, Ada") {
		t.Errorf("last bot message = %q (err %v), want the booking confirmation", last, err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+liveOption+`').length`)); err != nil || n != 0 {
		t.Errorf("enabled option buttons after the last answer = %d (err %v), want 0", n, err)
	}
	if errs, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#transcript li.system.error').length`)); err != nil || errs != 0 {
		t.Errorf("error lines in the transcript = %d (err %v), want 0", errs, err)
	}

	// The transcript scrolls (smoothly) to the newest message.
	step("waiting for the transcript to scroll to the confirmation",
		chromedp.Poll[chromedp.Void](`(m => m.scrollTop + m.clientHeight >= m.scrollHeight - 2)(document.getElementById('scroller'))`,
			chromedp.WithPollingTimeout(5*time.Second)))

	// The session cookie is HttpOnly: no script on the page can read it.
	if c, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`)); err != nil || strings.Contains(c, web.SessionCookie) {
		t.Errorf("document.cookie = %q (err %v); the session cookie must not be readable by scripts", c, err)
	}
	// MY DATA shows this visitor's data; after Restart (a new session from
	// the server) the same browser is a new visitor holding nothing.
	say("MY DATA")
	if got := transcript(ctx); !strings.Contains(got, "ada@example.com") {
		t.Errorf("MY DATA before Restart lacks the email; transcript:\n%s", got)
	}
	step("restarting",
		chromedp.Click(chromedp.CSS("#restart")),
		chromedp.Poll[chromedp.Void](`document.querySelector('#transcript li.system')?.textContent.startsWith('New conversation with booking')`+
			` && document.querySelector('`+liveOption+`[data-option-id="yes"]') && `+settled,
			chromedp.WithPollingTimeout(10*time.Second)))
	say("MY DATA")
	if got := transcript(ctx); strings.Contains(got, "ada@example.com") || strings.Contains(got, "Ada") {
		t.Errorf("after Restart the new visitor sees the old conversation's data:\n%s", got)
	}

	if path := os.Getenv("PARLEY_BROWSER_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Errorf("screenshot: %v", err)
		} else if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}

	for _, p := range browserProblems() {
		t.Errorf("browser console: %s", p)
	}
}

// startBrowser starts a headless Chromium for the test and listens to its
// console from the start, so no script error or CSP report is missed;
// problems stops listening and returns the errors seen. Without Chromium
// the test is skipped, unless PARLEY_BROWSER_TESTS=required.
func startBrowser(t *testing.T) (ctx context.Context, problems func() []string) {
	t.Helper()
	if _, err := os.Stat(browserPath); err != nil {
		if os.Getenv("PARLEY_BROWSER_TESTS") == "required" {
			t.Fatalf("PARLEY_BROWSER_TESTS=required but there is no browser at %s: install it with `apt-get install chromium`", browserPath)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium, or run .ci/run); set PARLEY_BROWSER_TESTS=required to fail instead of skipping", browserPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	var browserOut lockedBuffer
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(browserPath),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
		chromedp.WindowSize(900, 1100),
		chromedp.CombinedOutput(&browserOut),
	)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)

	// Start the browser on ctx (its lifetime), then listen to the console
	// before the page loads, so no script error or CSP report is missed.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v\nbrowser output:\n%s", browserPath, err, browserOut.String())
	}
	consoleCtx, stopConsole := context.WithCancel(ctx)
	var seen []string
	consoleDone := make(chan struct{})
	messages := chromedp.Console(consoleCtx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !strings.HasSuffix(m.URL, "/favicon.ico") {
				seen = append(seen, m.String())
			}
		}
	}()

	return ctx, func() []string {
		stopConsole()
		<-consoleDone
		return seen
	}
}

// startWebChatServer runs the real server with the shipped flows, the web
// chat on, and an on-disk vault, on a loopback port. It returns the base URL.
func startWebChatServer(t *testing.T) string {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	v, err := vault.Open(vault.Options{Dir: filepath.Join(t.TempDir(), "data"), MasterKey: key})
	if err != nil {
		t.Fatalf("vault.Open: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	flows, report, err := server.LoadFlows(filepath.Join("..", "..", "flows"))
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	srv, err := server.New(server.Config{Store: session.New(v), Flows: flows, WebChat: true, SweepEvery: -1})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

// transcript returns the visible text of the conversation, for assertions
// and failure messages (it holds only the test's made-up data).
func transcript(ctx context.Context) string {
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('transcript').innerText`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// lockedBuffer collects the browser's output, written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
