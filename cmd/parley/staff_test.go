package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/admin"
)

var (
	staffSecretRe = regexp.MustCompile(`id="secret">([A-Z2-7 ]+)<`)
	staffCSRFRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	staffCodeRe   = regexp.MustCompile(`<code>([a-z2-9]{5}-[a-z2-9]{5})</code>`)
)

// staffClient is a browser on a serve process: a cookie jar, no redirects
// followed (the tests check them).
func staffClient(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func staffDo(t *testing.T, c *http.Client, method, u string, form url.Values, hdr map[string]string, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if form != nil {
		r = strings.NewReader(form.Encode())
	} else if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func cookieValue(c *http.Client, base, name string) string {
	u, _ := url.Parse(base)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// TestStaffCommandsAndSignInThroughServe: accounts and tokens made with
// `parley staff` work on a `parley serve` process: an operator signs in
// with a password and a TOTP code computed here, uses the admin API with
// the session (CSRF header on changes), signs out; an API token works;
// revoking the token and disabling the account with the CLI (server
// stopped, as the Badger store needs) stop both. No password, token,
// recovery code or TOTP secret is in the data directory, the audit log
// names accounts by id only, and the CLI explains its mistakes.
func TestStaffCommandsAndSignInThroughServe(t *testing.T) {
	e := newEnv(t)
	t.Setenv("PARLEY_MASTER_KEY", killMasterKey)
	data := e.dir
	const password = "canary staff passphrase 7Qx"
	e.must(password+"\n", "staff", "add", "maria.rossi", "--role", "operator", "--data", data, "--password-file", "-")
	gen := e.must("", "staff", "add", "vera", "--role", "viewer", "--data", data)
	generated := strings.TrimSpace(gen.stdout)
	if err := admin.CheckPassword(generated); err != nil || !strings.Contains(gen.stderr, "shown only now") {
		t.Fatalf("generated password %q (%v); stderr:\n%s", generated, err, gen.stderr)
	}
	tok := strings.TrimSpace(e.must("", "staff", "token", "add", "crm export", "--role", "operator", "--expires", "720h", "--data", data).stdout)
	if !strings.HasPrefix(tok, "pt_") {
		t.Fatalf("token add printed %q", tok)
	}
	list := e.must("", "staff", "list", "--data", data).stdout
	if !strings.Contains(list, "maria.rossi") || !strings.Contains(list, "not set up") || strings.Contains(list, password) {
		t.Fatalf("staff list:\n%s", list)
	}
	// Human errors.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"staff", "add", "Maria Rossi", "--role", "operator", "--data", data}, exitUsage, "lower-case letters"},
		{[]string{"staff", "add", "bob", "--data", data}, exitUsage, "--role"},
		{[]string{"staff", "add", "maria.rossi", "--role", "operator", "--data", data}, exitFindings, "exists already"},
		{[]string{"staff", "disable", "nobody", "--data", data}, exitFindings, "no staff account has that name"},
		{[]string{"staff", "token", "add", "x", "--data", data}, exitUsage, "either --owner"},
		{[]string{"staff", "fire", "x", "--data", data}, exitUsage, "unknown action"},
	} {
		r := e.parley("short", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("parley %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.want)
		}
	}

	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"messages":[{"id":"wamid.x"}]}`))
	}))
	defer graph.Close()
	flows, _ := filepath.Abs("../../flows")
	p := startServe(t, flows, data, graph.URL)
	if !strings.Contains(p.output(), "deprecated") {
		t.Errorf("serve with PARLEY_ADMIN_TOKENS logged no deprecation warning:\n%s", p.output())
	}
	c := staffClient(t)
	st, page := staffDo(t, c, "POST", p.base+admin.LoginPath, url.Values{"name": {"maria.rossi"}, "password": {password}}, nil, "")
	m := staffSecretRe.FindStringSubmatch(page)
	if st != 200 || m == nil || !strings.Contains(page, "data:image/png;base64,") {
		t.Fatalf("password step: %d, want the enrolment page\n%s", st, page)
	}
	secret := strings.ReplaceAll(m[1], " ", "")
	code, _ := admin.TOTPCode(secret, time.Now())
	st, page = staffDo(t, c, "POST", p.base+admin.CodePath, url.Values{"code": {code}, "csrf": {staffCSRFRe.FindStringSubmatch(page)[1]}}, nil, "")
	recovery := staffCodeRe.FindAllStringSubmatch(page, -1)
	if st != 200 || len(recovery) != 10 {
		t.Fatalf("code step: %d, %d recovery codes\n%s", st, len(recovery), page)
	}
	if st, body := staffDo(t, c, "GET", p.base+"/admin/v1/flows", nil, nil, ""); st != 200 || !strings.Contains(body, "booking") {
		t.Fatalf("signed in GET flows: %d %s", st, body)
	}
	exp := `{"channel":"whatsapp","user":"15550001234"}`
	if st, _ := staffDo(t, c, "POST", p.base+"/admin/v1/subjects/export", nil, nil, exp); st != 403 {
		t.Fatalf("export without the CSRF header: %d, want 403", st)
	}
	csrf := map[string]string{admin.HeaderCSRF: cookieValue(c, p.base, admin.CookieCSRF)}
	if st, body := staffDo(t, c, "POST", p.base+"/admin/v1/subjects/export", nil, csrf, exp); st != 200 && st != 404 {
		t.Fatalf("export with the CSRF header: %d %s", st, body)
	}
	if st, _ := staffDo(t, c, "POST", p.base+"/admin/v1/subjects/erase", nil, csrf, exp); st != 403 {
		t.Fatalf("operator erase: %d, want 403", st)
	}
	session := cookieValue(c, p.base, "parley_session")
	if st, _ := staffDo(t, c, "POST", p.base+admin.LogoutPath, url.Values{"csrf": {csrf[admin.HeaderCSRF]}}, nil, ""); st != http.StatusSeeOther {
		t.Fatalf("sign out: %d", st)
	}
	replay := staffClient(t)
	u, _ := url.Parse(p.base)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "parley_session", Value: session}})
	if st, _ := staffDo(t, replay, "GET", p.base+"/admin/v1/flows", nil, nil, ""); st != 401 {
		t.Fatalf("the signed-out session cookie: %d, want 401", st)
	}
	// With Badger the CLI cannot open the vault serve holds: it says how
	// to revoke anyway.
	if r := e.parley("", "staff", "disable", "vera", "--data", data); r.code != exitFailure || !strings.Contains(r.stderr, "/admin/v1/staff/disable") {
		t.Errorf("staff disable while serving: exit %d, stderr %q; want exit 3 pointing at the admin API", r.code, r.stderr)
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	if st, _ := staffDo(t, staffClient(t), "POST", p.base+"/admin/v1/subjects/export", nil, bearer, exp); st != 200 && st != 404 {
		t.Fatalf("API token export: %d", st)
	}
	stopServe(t, p)
	firstLog := p.output()

	ids := e.must("", "staff", "token", "list", "--data", data, "--format", "json").stdout
	id := regexp.MustCompile(`"id": "(t-[0-9a-f]{8})"`).FindStringSubmatch(ids)
	if id == nil || strings.Contains(ids, tok) {
		t.Fatalf("token list:\n%s", ids)
	}
	e.must("", "staff", "token", "revoke", id[1], "--data", data)
	e.must("", "staff", "disable", "maria.rossi", "--data", data)

	p = startServe(t, flows, data, graph.URL)
	if st, _ := staffDo(t, staffClient(t), "GET", p.base+"/admin/v1/flows", nil, bearer, ""); st != 401 {
		t.Errorf("revoked token: %d, want 401", st)
	}
	if st, page := staffDo(t, staffClient(t), "POST", p.base+admin.LoginPath, url.Values{"name": {"maria.rossi"}, "password": {password}}, nil, ""); st != 403 || !strings.Contains(page, "disabled") {
		t.Errorf("disabled account sign-in: %d, want 403 saying disabled", st)
	}
	stopServe(t, p)
	if leaks := findLeaks([]byte(firstLog+p.output()), []string{password, tok, secret, session}); len(leaks) > 0 {
		t.Errorf("serve's log holds %v", leaks)
	}
	for _, bad := range [][]string{{"--session-idle", "0"}, {"--session-idle", "13h"}} {
		r := e.parley("", append([]string{"serve"}, bad...)...)
		if r.code != exitUsage || !strings.Contains(r.stderr, "--session-idle") {
			t.Errorf("serve %v: exit %d, stderr %q; want a usage error naming the flag", bad, r.code, r.stderr)
		}
	}

	audit := e.must("", "audit", "show", "--data", data, "--format", "json").stdout
	for _, want := range []string{"staff.account:added_operator", "staff.enrol:ok", "staff.signin:ok", "staff.csrf:refused", "staff.signout:ok", "staff.token:revoked", "staff.account:disabled", "staff.signin:disabled"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit log lacks %s", want)
		}
	}
	if strings.Contains(audit, "maria") {
		t.Error("the audit log names the account; it should hold the account id only")
	}
	if out := e.must("", "audit", "verify", "--data", data); out.code != 0 {
		t.Errorf("audit verify: %s", out.stderr)
	}
	secrets := []string{password, generated, tok, secret, recovery[0][1], strings.ReplaceAll(recovery[0][1], "-", ""), session}
	if n := scanDir(t, data, secrets); n == 0 {
		t.Fatal("scanned no files")
	}
	e.scanLogs(secrets[:1])
	if _, err := os.Stat(filepath.Join(data, "master.key")); err == nil {
		t.Error("a development key was made although PARLEY_MASTER_KEY is set")
	}
}
