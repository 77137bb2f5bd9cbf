package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// TestStaffSignInInBrowser: in headless Chromium against the real server
// and an on-disk vault, an operator opens /console/login, signs in with a
// password, enrols a second factor by typing the secret shown as text
// (nothing is decoded from the QR code, but the inline QR image must load
// under the page's CSP), sees the recovery codes, is signed in (the page's
// own fetch with credentials: 'same-origin' reads the admin API; a change
// needs the X-CSRF-Token header from the parley_csrf cookie, and the
// session cookie is out of the scripts' reach), and signs out. Screenshots
// of each step are kept in the test's artifact directory (go test
// -artifacts).
func TestStaffSignInInBrowser(t *testing.T) {
	const password = "browser test passphrase 42"
	base := startLoopbackServer(t, func(cfg *server.Config, v *vault.Vault) {
		st := admin.NewStaff(v, nil, func(_ context.Context, actor, action, ref string) error {
			return v.Audit(actor, action, ref, nil)
		})
		if err := st.Add(context.Background(), admin.ActorCLI, "maria", "operator", password); err != nil {
			t.Fatal(err)
		}
		cfg.Staff = st
	})
	ctx, consoleProblems := startBrowser(t, 900, 1100)
	shots := t.ArtifactDir()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
			t.Fatalf("%s: %v\npage:\n%s", what, err, body)
		}
	}
	fetchStatus := func(method, path string, csrf bool) int {
		t.Helper()
		return fetchStatusBody(t, ctx, method, path, `{"channel": "web", "user": "nobody-here"}`, csrf)
	}

	step("opening the sign-in page",
		chromedp.Navigate(base+admin.LoginPath),
		chromedp.WaitVisible(chromedp.CSS("#name")))
	shot("1-sign-in")
	if st := fetchStatus("GET", "/admin/v1/flows", false); st != 401 {
		t.Fatalf("before signing in the admin API answered %d, want 401", st)
	}
	step("signing in with the password",
		chromedp.SendKeys(chromedp.CSS("#name"), "maria"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#secret")))
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(i => i.complete && i.naturalWidth > 100)(document.getElementById('qr'))`))
	if err != nil || !loaded {
		t.Errorf("the enrolment QR image did not load (err %v): an inline image the CSP must allow", err)
	}
	shot("2-enrol")
	secret, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#secret")))
	if err != nil {
		t.Fatal(err)
	}
	code, ok := admin.TOTPCode(secret, time.Now())
	if !ok {
		t.Fatalf("the secret shown, %q, is not base32", secret)
	}
	step("entering the code",
		chromedp.SendKeys(chromedp.CSS("#code"), code),
		chromedp.Click(chromedp.CSS("#verify")),
		chromedp.WaitVisible(chromedp.CSS("#codes")))
	shot("3-recovery-codes-signed-in")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#codes code').length`))
	if err != nil || n != 10 {
		t.Errorf("recovery codes shown = %d (err %v), want 10", n, err)
	}
	who, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#signed-in")))
	if !strings.Contains(who, "maria") || !strings.Contains(who, "operator") {
		t.Errorf("signed-in line = %q", who)
	}
	cookies, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie`))
	if err != nil || strings.Contains(cookies, "parley_session") || !strings.Contains(cookies, admin.CookieCSRF+"=") {
		t.Errorf("document.cookie = %q (err %v): want the CSRF cookie readable and the session cookie not", cookies, err)
	}
	if st := fetchStatus("GET", "/admin/v1/flows", false); st != 200 {
		t.Errorf("signed in: GET /admin/v1/flows = %d, want 200", st)
	}
	if st := fetchStatus("POST", "/admin/v1/subjects/export", false); st != 403 {
		t.Errorf("signed in, no CSRF header: export = %d, want 403", st)
	}
	if st := fetchStatus("POST", "/admin/v1/subjects/export", true); st != 200 && st != 404 {
		t.Errorf("signed in with the CSRF header: export = %d, want it done (200 or 404)", st)
	}
	if st := fetchStatus("POST", "/admin/v1/subjects/erase", true); st != 403 {
		t.Errorf("an operator erasing: %d, want 403 (dpo only)", st)
	}

	step("signing out",
		chromedp.Click(chromedp.CSS("#signout")),
		chromedp.WaitVisible(chromedp.CSS("#signin")))
	shot("4-signed-out")
	if st := fetchStatus("GET", "/admin/v1/flows", false); st != 401 {
		t.Errorf("after signing out: GET /admin/v1/flows = %d, want 401", st)
	}
	for _, p := range consoleProblems() {
		// The refusals this test asks for are logged by the browser.
		if strings.Contains(p, "Failed to load resource: the server responded with a status of 40") {
			continue
		}
		t.Errorf("browser console: %s", p)
	}
	t.Logf("screenshots in %s", shots)
}
