package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/engine/vault"
)

// staffClient keeps a console sign-in's cookies across app.Test requests,
// as a browser on another machine would.
type staffClient struct {
	e       *env
	cookies map[string]string
}

func (c *staffClient) send(t *testing.T, method, path string, form url.Values, body string, csrf bool) (int, string) {
	t.Helper()
	var r io.Reader
	if form != nil {
		r = strings.NewReader(form.Encode())
	} else if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	switch {
	case form != nil:
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	if csrf {
		req.Header.Set(admin.HeaderCSRF, c.cookies[admin.CookieCSRF])
	}
	res, err := c.e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = ck.Value
		}
	}
	return res.StatusCode, string(out)
}

func (c *staffClient) saved() map[string]string {
	out := map[string]string{}
	for k, v := range c.cookies {
		out[k] = v
	}
	return out
}

var (
	enrolSecret = regexp.MustCompile(`id="secret">([A-Z2-7 ]+)<`)
	formCSRF    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// TestServedCustomerDataNeedsTwoFactors walks every route the real server
// serves under /admin/v1 and /studio/api (the studio open to other
// machines, --studio-remote) from another machine, with the cookies of (a)
// nobody, (b) a sign-in that gave the password but not the code, (c) an
// account disabled since it signed in, (d) a session idle past its timeout
// on the server's fake clock: all 401. The controls: the full session read
// the queue and the studio's files just before; and the deprecated shared
// token, the only other way in, still works.
func TestServedCustomerDataNeedsTwoFactors(t *testing.T) {
	const password = "a long passphrase for the team 7"
	clock := newManualClock()
	var staff *admin.Staff
	e := newEnv(t, envOptions{now: clock.Now, webChat: true, waFlow: "shop", studio: &server.StudioConfig{Remote: true},
		tokens: "operator:" + operatorToken, files: map[string]string{"shop.yaml": shopFlow("", "4h")},
		staff: func(v *vault.Vault) *admin.Staff {
			staff = admin.NewStaff(v, clock.Now, func(_ context.Context, actor, action, ref string) error {
				return v.Audit(actor, action, ref, nil)
			})
			return staff
		}})
	e.post(t, textWebhook(testUser, "wamid.A1", "HUMAN", clock.Now()))
	e.graph.waitDelivered(t, testUser, 1)
	for name, role := range map[string]string{"olga": "operator", "ada": "admin", "half": "dpo"} {
		if err := staff.Add(t.Context(), admin.ActorCLI, name, role, password); err != nil {
			t.Fatal(err)
		}
	}
	ref := e.vault.SubjectID("whatsapp", testUser).Hex() // the customer's hand-off
	var routes [][2]string
	seen := map[string]bool{}
	for _, r := range e.srv.App().GetRoutes(true) {
		if (!strings.HasPrefix(r.Path, admin.Prefix+"/") && !strings.HasPrefix(r.Path, "/studio/api/")) || r.Method == http.MethodHead || seen[r.Method+r.Path] {
			continue
		}
		seen[r.Method+r.Path] = true
		routes = append(routes, [2]string{r.Method, regexp.MustCompile(`:[A-Za-z_]+\??`).ReplaceAllString(r.Path, ref)})
	}
	for _, want := range []string{"POST /admin/v1/subjects/export", "GET /admin/v1/handoffs/" + ref, "GET /admin/v1/audit", "GET /studio/api/files"} {
		found := false
		for _, r := range routes {
			found = found || r[0]+" "+r[1] == want
		}
		if !found {
			t.Fatalf("the walk misses %s (routes: %v)", want, routes)
		}
	}
	walk := func(who string, cookies map[string]string) {
		t.Helper()
		sent := len(e.graph.deliveredTo(testUser))
		for _, r := range routes {
			c := &staffClient{e: e, cookies: map[string]string{}}
			for k, v := range cookies {
				c.cookies[k] = v
			}
			st, body := c.send(t, r[0], r[1], nil, `{"channel":"whatsapp","user":"`+testUser+`","text":"leak"}`, true)
			if st != http.StatusUnauthorized {
				t.Errorf("%s: %s %s = %d, want 401: %.200s", who, r[0], r[1], st, body)
			}
		}
		if n := len(e.graph.deliveredTo(testUser)); n != sent {
			t.Errorf("%s: the customer was sent %d messages", who, n-sent)
		}
	}
	signIn := func(name string) *staffClient {
		t.Helper()
		c := &staffClient{e: e, cookies: map[string]string{}}
		st, page := c.send(t, http.MethodPost, admin.LoginPath, url.Values{"name": {name}, "password": {password}}, "", false)
		m := enrolSecret.FindStringSubmatch(page)
		if st != 200 || m == nil {
			t.Fatalf("%s: password step %d, want the enrolment page:\n%s", name, st, page)
		}
		code, _ := admin.TOTPCode(strings.ReplaceAll(m[1], " ", ""), clock.Now())
		if st, page := c.send(t, http.MethodPost, admin.CodePath, url.Values{"code": {code}, "csrf": {formCSRF.FindStringSubmatch(page)[1]}}, "", false); st != 200 {
			t.Fatalf("%s: code step %d:\n%s", name, st, page)
		}
		return c
	}

	walk("no credentials", nil)

	half := &staffClient{e: e, cookies: map[string]string{}}
	if st, page := half.send(t, http.MethodPost, admin.LoginPath, url.Values{"name": {"half"}, "password": {password}}, "", false); st != 200 || !strings.Contains(page, `id="secret"`) {
		t.Fatalf("half: password step %d", st)
	}
	walk("password given, second factor not", half.saved())

	olga := signIn("olga")
	if st, body := olga.send(t, http.MethodGet, admin.Prefix+"/handoffs", nil, "", false); st != 200 || !strings.Contains(body, `"reason":"keyword"`) {
		t.Fatalf("control: olga's full session reads the queue: %d %s", st, body)
	}
	saved := olga.saved()
	if err := staff.SetDisabled(t.Context(), admin.ActorCLI, "olga", true); err != nil {
		t.Fatal(err)
	}
	walk("a disabled account's session", saved)

	ada := signIn("ada")
	if st, _ := ada.send(t, http.MethodGet, "/studio/api/files", nil, "", false); st != 200 {
		t.Fatalf("control: ada's full session reads the studio's files from another machine: %d", st)
	}
	saved = ada.saved()
	clock.Add(admin.DefaultSessionIdle + time.Second)
	walk("a session idle past its timeout", saved)

	// The deprecated shared token needs no second factor: the one other
	// way in, documented as such (docs/privacy.md "Who can reach customer
	// data").
	if st, raw := e.adminRaw(t, http.MethodGet, "/handoffs", operatorToken, ""); st != 200 || !strings.Contains(raw, `"reason":"keyword"`) {
		t.Errorf("the legacy operator token: %d %s", st, raw)
	}
}
