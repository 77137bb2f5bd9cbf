package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/parleyhq/parley/adapters/web"
)

// webReply is what one POST /api/chat answered.
type webReply struct {
	status int
	texts  []string
	cookie string // the session cookie the response set, if any
}

// webChat posts one turn of the booking flow to the web chat with the given
// session cookie value ("" for none) and extra JSON fields.
func (e *env) webChat(t *testing.T, cookie, text string, extra map[string]string) webReply {
	t.Helper()
	fields := map[string]string{"flow": "booking", "text": text}
	for k, v := range extra {
		fields[k] = v
	}
	body, _ := json.Marshal(fields)
	req := httptest.NewRequest(http.MethodPost, "/api/chat", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: cookie})
	}
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := webReply{status: resp.StatusCode, cookie: sessionCookieOf(t, resp)}
	var out struct {
		Messages []struct{ Text string } `json:"messages"`
	}
	if json.Unmarshal(raw, &out) == nil {
		for _, m := range out.Messages {
			r.texts = append(r.texts, m.Text)
		}
	}
	return r
}

// sessionCookieOf returns the session cookie a response set ("" if none),
// checking its attributes.
func sessionCookieOf(t *testing.T, resp *http.Response) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie HttpOnly=%v SameSite=%v; want HttpOnly and SameSite=Strict", c.HttpOnly, c.SameSite)
			}
			return c.Value
		}
	}
	return ""
}

// TestWebChatIdentifiesVisitorsByTheSignedCookie: a visitor who booked with
// a canary name sees it in MY DATA; another client can reach it neither by
// naming a user id in the request nor by sending the visitor's session id
// with a forged signature: it gets a conversation of its own.
func TestWebChatIdentifiesVisitorsByTheSignedCookie(t *testing.T) {
	const name = "Zephyrine Quillfeather"
	e := newEnv(t, envOptions{webChat: true})
	first := e.webChat(t, "", "hi", nil)
	if first.status != 200 || first.cookie == "" {
		t.Fatalf("first turn: status %d, cookie %q; want 200 and a session cookie", first.status, first.cookie)
	}
	victim := first.cookie
	for _, text := range []string{"YES", name, "zq.canary@example.org", "2"} {
		if r := e.webChat(t, victim, text, nil); r.status != 200 || r.cookie != "" {
			t.Fatalf("turn %q: status %d, new cookie %q; want 200 and the same session", text, r.status, r.cookie)
		}
	}
	mine := e.webChat(t, victim, "MY DATA", nil)
	if !strings.Contains(strings.Join(mine.texts, "\n"), name) {
		t.Fatalf("the visitor's own MY DATA lacks the name: %q", mine.texts)
	}
	id, _, _ := strings.Cut(victim, ".")

	// Naming a user id in the body is refused outright.
	if r := e.webChat(t, "", "MY DATA", map[string]string{"user": id}); r.status != http.StatusBadRequest || strings.Contains(strings.Join(r.texts, " "), name) {
		t.Errorf("request naming a user id: status %d, texts %q; want 400 and nothing of the visitor", r.status, r.texts)
	}
	// The victim's id with a forged or missing signature is a new visitor.
	for _, forged := range []string{id, id + ".", id + ".AAAA", id + "." + strings.Repeat("A", 43), "../" + id, "web:" + id} {
		r := e.webChat(t, forged, "MY DATA", nil)
		if r.status != 200 || r.cookie == "" || strings.HasPrefix(r.cookie, id) {
			t.Errorf("forged cookie %q: status %d, cookie %q; want 200 and a new session", forged, r.status, r.cookie)
		}
		if got := strings.Join(r.texts, "\n"); strings.Contains(got, name) || strings.Contains(got, "zq.canary") {
			t.Errorf("forged cookie %q reached the visitor's data: %q", forged, r.texts)
		}
	}
	// Restart: POST /api/session hands out a new, different session.
	req := httptest.NewRequest(http.MethodPost, "/api/session", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: web.SessionCookie, Value: victim})
	resp, err := e.srv.App().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	fresh := sessionCookieOf(t, resp)
	if resp.StatusCode != http.StatusNoContent || fresh == "" || fresh == victim {
		t.Errorf("POST /api/session: status %d, cookie %q; want 204 and a new session", resp.StatusCode, fresh)
	}
	if r := e.webChat(t, fresh, "MY DATA", nil); strings.Contains(strings.Join(r.texts, "\n"), name) {
		t.Errorf("the restarted session sees the old conversation's data: %q", r.texts)
	}
}
