package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/server"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/vault"
)

const templateFlow = `parley: 1
id: greeter
version: 1
whatsapp:
  outside_window: { template: please_write_again, language: en_US }
start: hello
steps:
  hello:
    say: Hello!
  more:
    say: How can I help?
    end: true
`

// TestOutsideWindowSendsTheFlowsTemplate: when the Graph API refuses a reply
// because the 24-hour window has closed (131047), the flow's outside_window
// template goes instead, once for the turn, and the turn's other free-form
// replies are not sent.
func TestOutsideWindowSendsTheFlowsTemplate(t *testing.T) {
	var (
		mu   sync.Mutex
		sent []map[string]any
		done = make(chan struct{}, 8)
	)
	graph := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		json.Unmarshal(body, &req)
		mu.Lock()
		sent = append(sent, req)
		mu.Unlock()
		defer func() { done <- struct{}{} }()
		w.Header().Set("Content-Type", "application/json")
		if req["type"] != "template" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047}}`)
			return
		}
		io.WriteString(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.TPL1"}]}`)
	}))
	defer graph.Close()

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "greeter.yaml"), []byte(templateFlow), 0o644); err != nil {
		t.Fatal(err)
	}
	flows, report, err := server.LoadFlows(dir)
	if err != nil {
		t.Fatalf("LoadFlows: %v\n%s", err, report)
	}
	v, err := vault.Open(vault.Options{InMemory: true, MasterKey: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	srv, err := server.New(server.Config{Vault: v, Flows: flows, SweepEvery: -1, WhatsApp: &server.WhatsAppConfig{
		AppSecret: "s3cret", AccessToken: "tok", PhoneNumberID: "100000000000001", Flow: "greeter",
		GraphURL: graph.URL, MaxAttempts: 2,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}

	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{` +
		`"messaging_product":"whatsapp","metadata":{"phone_number_id":"100000000000001"},` +
		`"contacts":[{"wa_id":"15550009999"}],"messages":[{"from":"15550009999","id":"wamid.IN1",` +
		`"timestamp":"` + itoa(time.Now().Unix()) + `","type":"text","text":{"body":"hi"}}]}}]}]}`)
	req := httptest.NewRequest(http.MethodPost, "/webhook/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte("s3cret"), body))
	resp, err := srv.App().Test(req, -1)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %v %v", resp, err)
	}
	for range 2 { // the refused reply, then the template
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("the Graph API did not receive the expected requests")
		}
	}
	shutdown, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdown); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var kinds []string
	for _, r := range sent {
		k, _ := r["type"].(string)
		if tpl, ok := r["template"].(map[string]any); ok {
			lang, _ := tpl["language"].(map[string]any)
			k += ":" + tpl["name"].(string) + ":" + lang["code"].(string)
		}
		kinds = append(kinds, k)
	}
	if got, want := strings.Join(kinds, " "), "text template:please_write_again:en_US"; got != want {
		t.Errorf("Graph API received %q, want %q (the second free-form reply must not be sent)", got, want)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
