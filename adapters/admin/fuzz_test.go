package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// FuzzSubjectBodies posts arbitrary bodies to the three subject endpoints
// (export, erase, rectify) as a DPO, through the real routes and guard.
// Whatever the body: the answer is 200 (the backend called once) or a 4xx
// (the backend not called), never a 5xx; it is audited (a rejected
// one as invalid); and neither the response nor the logs repeat the user the body
// named. Seeds are the valid and invalid bodies of the other tests; the
// corpus is testdata/fuzz/FuzzSubjectBodies.
func FuzzSubjectBodies(f *testing.F) {
	for _, ep := range endpoints {
		if ep.body != "" {
			f.Add(uint8(len(ep.path)%3), ep.body)
		}
	}
	for i, s := range []string{
		`{"channel":"sms","user":"` + canaryUser + `"}`,
		`{"channel":"web"}`,
		`{"channel":"WhatsApp ","user":"` + canaryUser + `"}`,
		`{"channel":"web","user":"` + canaryUser + `","field":"name","value":"` + strings.Repeat("é", 5000) + `"}`,
		`{"channel":"web","user":"` + canaryUser + `"} {}`,
		`{"channel":"web","user":"` + canaryUser + `","phone":"x"}`,
		`[]`, `null`, `"x"`, `{"user":{"a":1}}`, "\xff\xfe",
	} {
		f.Add(uint8(i%3), s)
	}
	paths := []string{"/admin/v1/subjects/export", "/admin/v1/subjects/erase", "/admin/v1/subjects/rectify"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		if body == "" {
			return // e.do sends no body and no Content-Type: a different request
		}
		e := newEnv(t)
		res, out := e.do(t, call{method: "POST", path: paths[int(which)%len(paths)], token: dpoToken, body: body})
		switch {
		case res.StatusCode == http.StatusOK:
			if len(e.backend.calls) != 1 {
				t.Errorf("200 with %d backend calls", len(e.backend.calls))
			}
		case res.StatusCode >= 400 && res.StatusCode < 500:
			if len(e.backend.calls) != 0 {
				t.Errorf("%d, yet the backend was called: %v", res.StatusCode, e.backend.calls)
			}
		default:
			t.Errorf("status %d for body %q: %s", res.StatusCode, body, out)
		}
		acts := e.backend.auditActions()
		if res.StatusCode != http.StatusOK && (len(acts) != 1 || !strings.HasSuffix(acts[0], ":invalid")) {
			t.Errorf("audits %v for a rejected body, want one :invalid entry", acts)
		}
		if res.StatusCode == http.StatusOK && len(acts) == 0 {
			t.Error("a subject request was carried out and not audited")
		}
		var b struct{ User string }
		if json.Unmarshal([]byte(body), &b) == nil && len(b.User) >= 12 && !strings.Contains("subj-web-whatsapp", b.User) {
			if strings.Contains(out, b.User) {
				t.Errorf("the response repeats the user: %s", out)
			}
			if strings.Contains(e.logs.String(), b.User) {
				t.Errorf("the logs repeat the user")
			}
		}
		checkNoLeak(t, e, out, dpoToken)
	})
}
