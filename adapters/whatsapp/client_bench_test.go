package whatsapp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// BenchmarkSendJSON is one outbox send: a stored request posted to a Graph
// API double on loopback over a kept-alive connection, and its answer read.
// The double's own work is in the figures too.
//
//	go test ./adapters/whatsapp -run '^$' -bench SendJSON -benchmem
func BenchmarkSendJSON(b *testing.B) {
	answer := []byte(`{"messaging_product":"whatsapp","contacts":[{"input":"15551234567","wa_id":"15551234567"}],"messages":[{"id":"wamid.HBgLMTU1NTEyMzQ1NjcVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(answer)
	}))
	defer srv.Close()
	c := &Client{BaseURL: srv.URL, APIVersion: "v25.0", PhoneNumberID: "100000000000001", AccessToken: testToken, HTTP: srv.Client()}
	outs := NewChannel(ChannelConfig{}).Render("15551234567", "en", runtime.Message{Kind: runtime.KindSay, Text: "Thanks, Ada. Your table is booked for Friday at 19:00."})
	req := outs[0].Req
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.SendJSON(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSendJSONSendsTheStoredBytes: an outbox entry reaches the Graph API
// byte for byte, and a Client whose fields change after a send uses the new
// ones (the URL and the token are built once per configuration).
func TestSendJSONSendsTheStoredBytes(t *testing.T) {
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(`{"messages":[{"id":"wamid.1"}]}`))
	}
	f := newFakeGraph(t, ok, ok)
	c := f.client()
	req := json.RawMessage(`{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"<b>&</b>"}}`)
	if _, err := c.SendJSON(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	c.AccessToken, c.PhoneNumberID = "other-token", "200000000000002"
	if _, err := c.SendJSON(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	got := f.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	if string(got[0].Body) != string(req) {
		t.Errorf("body sent %s, want the stored bytes %s", got[0].Body, req)
	}
	if got[0].Auth != "Bearer "+testToken || got[0].Path != "/v25.0/100000000000001/messages" || got[0].ContentType != "application/json" {
		t.Errorf("first request: auth %q path %q content type %q", got[0].Auth, got[0].Path, got[0].ContentType)
	}
	if got[1].Auth != "Bearer other-token" || got[1].Path != "/v25.0/200000000000002/messages" {
		t.Errorf("after the fields changed: auth %q path %q, want the new token and number", got[1].Auth, got[1].Path)
	}
}
