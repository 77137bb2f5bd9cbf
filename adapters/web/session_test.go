package web_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/adapters/web"
)

func appWithKey(t *testing.T, fake *fakeChatter, key []byte) *fiber.App {
	t.Helper()
	app := fiber.New(fiber.Config{ErrorHandler: web.ErrorHandler, DisableStartupMessage: true})
	web.Register(app, web.Config{Chat: fake, SessionKey: key})
	return app
}

func chatWithCookie(t *testing.T, app *fiber.App, cookie string) (setCookie string) {
	t.Helper()
	req := postJSON(`{"flow":"support","text":"hi"}`)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: cookie})
	}
	res, body := do(t, app, req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	for _, c := range res.Cookies() {
		if c.Name == web.SessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure {
				t.Errorf("cookie attributes: %+v; want HttpOnly, SameSite=Strict, Path=/, not Secure over plain HTTP", c)
			}
			setCookie = c.Value
		}
	}
	return setCookie
}

// TestSessionCookieIsSignedWithTheConfiguredKey: a server with the same key
// (a restart) keeps the visitor; one with another key does not, and a
// request without a cookie never reuses anyone's id.
func TestSessionCookieIsSignedWithTheConfiguredKey(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	fake := newFake()
	a := appWithKey(t, fake, key)
	cookie := chatWithCookie(t, a, "")
	if cookie == "" {
		t.Fatal("no session cookie on the first request")
	}
	b := appWithKey(t, fake, append([]byte(nil), key...)) // restarted, same key
	if again := chatWithCookie(t, b, cookie); again != "" {
		t.Errorf("a restart with the same key replaced the session (%q)", again)
	}
	other := appWithKey(t, fake, bytes.Repeat([]byte{8}, 32))
	if again := chatWithCookie(t, other, cookie); again == "" || again == cookie {
		t.Errorf("a server with another key accepted the cookie")
	}
	chatWithCookie(t, a, "") // a second visitor
	users := map[string]int{}
	for _, c := range fake.calls {
		users[c.user]++
	}
	id, _, _ := strings.Cut(cookie, ".")
	if users[web.UserPrefix+id] != 2 || len(users) != 3 {
		t.Errorf("Chat users = %v; want the first visitor twice (first server and restart) and two others once", users)
	}
}

// TestNewSessionRefusesCrossSiteForms: POST /api/session wants JSON, which a
// cross-site HTML form cannot send.
func TestNewSessionRefusesCrossSiteForms(t *testing.T) {
	app := appWithKey(t, newFake(), nil)
	req := httptest.NewRequest(http.MethodPost, "/api/session", strings.NewReader("x=1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, _ := do(t, app, req)
	if res.StatusCode != http.StatusUnsupportedMediaType || len(res.Cookies()) != 0 {
		t.Errorf("form post to /api/session: status %d, %d cookies; want 415 and none", res.StatusCode, len(res.Cookies()))
	}
}
