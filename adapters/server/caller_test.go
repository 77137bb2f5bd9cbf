package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/session"
)

// TestCallerFollowsNoRedirect: an integration endpoint answering 307 to a
// plain-http address must not get the notice or the bearer token there,
// whether the caller was given a client with its own redirect policy or
// not (nil uses the default client; a TLS test client has none).
func TestCallerFollowsNoRedirect(t *testing.T) {
	var leaked atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer plain.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/stolen", http.StatusTemporaryRedirect)
	}))
	defer tls.Close()
	h := &HTTPCaller{Client: tls.Client(), Getenv: func(string) string { return "TOPSECRET" }}
	err := h.Notify(t.Context(), session.Notice{Event: "erase", Ref: "ref", Receipt: "r1", At: time.Now(),
		Flow: "dental", Integration: "crm", URL: tls.URL + "/erase", SecretEnv: "CRM_TOKEN"})
	if err == nil {
		t.Error("a notice answered with 307 counted as delivered; want an error")
	}
	if n := leaked.Load(); n != 0 {
		t.Errorf("the redirect target got the bearer token %d times", n)
	}
}
