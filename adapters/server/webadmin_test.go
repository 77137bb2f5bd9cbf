package server_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWebChatBooksWithTheRealEngine drives the booking flow to its end
// through POST /api/chat, and checks that GET / serves the page.
func TestWebChatBooksWithTheRealEngine(t *testing.T) {
	e := newEnv(t, envOptions{webChat: true})
	status, page := e.get(t, "/")
	if status != 200 || !strings.Contains(strings.ToLower(page), "<!doctype html") {
		t.Fatalf("GET / = %d, %.80q; want 200 and an HTML page", status, page)
	}
	var last []string
	cookie := ""
	for i, turn := range bookingScript {
		r := e.webChat(t, cookie, turn.text, nil)
		if r.status != 200 {
			t.Fatalf("turn %d: status %d", i+1, r.status)
		}
		if r.cookie != "" {
			if cookie != "" {
				t.Fatalf("turn %d: the server replaced the session cookie", i+1)
			}
			cookie = r.cookie
		}
		if len(r.texts) != turn.replies {
			t.Errorf("turn %d (%q): %d messages, want %d", i+1, turn.text, len(r.texts), turn.replies)
		}
		last = r.texts
	}
	if len(last) == 0 || !strings.Contains(last[len(last)-1], "ada@example.com") {
		t.Errorf("last reply %q, want the confirmation with the email", last)
	}
	if got := e.metric(t, `parley_turns_total{channel="web"}`); got != "6" {
		t.Errorf(`parley_turns_total{channel="web"} = %q, want 6`, got)
	}
}

const (
	operatorToken = "operator-token-0123456789"
	dpoToken      = "dpo-token-0123456789abcd"
	adminToken    = "admin-token-0123456789ab"
)

func (e *env) adminCall(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	status, raw := e.adminRaw(t, method, path, token, body)
	var out map[string]any
	json.Unmarshal([]byte(raw), &out)
	return status, out
}

// TestAdminExportEraseAndReload uses the admin API against the real
// backend: an operator exports a WhatsApp customer's data after a
// conversation, a DPO erases it, and a broken flow file is refused by
// /flows/reload while the old flows keep serving.
func TestAdminExportEraseAndReload(t *testing.T) {
	e := newEnv(t, envOptions{tokens: "operator:" + operatorToken + ",dpo:" + dpoToken + ",admin:" + adminToken})
	e.converse(t, testUser, "Ada", "ada@example.com")
	subject := `{"channel":"whatsapp","user":"` + testUser + `"}`

	status, ex := e.adminCall(t, http.MethodPost, "/subjects/export", operatorToken, subject)
	if status != 200 {
		t.Fatalf("export: status %d, %v", status, ex)
	}
	for _, key := range []string{"subject", "exported_at", "fields", "consents"} {
		if _, ok := ex[key]; !ok {
			t.Errorf("export lacks %q: %v", key, ex)
		}
	}
	fields := map[string]any{}
	list, _ := ex["fields"].([]any)
	for _, f := range list {
		m, _ := f.(map[string]any)
		name, _ := m["field"].(string)
		fields[name] = m["value"]
		for _, key := range []string{"purpose", "basis", "collected_at", "expires_at", "flow"} {
			if _, ok := m[key]; !ok {
				t.Errorf("exported field %q lacks %q", name, key)
			}
		}
	}
	if fields["name"] != "Ada" || fields["email"] != "ada@example.com" || fields["date"] == nil {
		t.Errorf("exported fields %v, want name, email and date", fields)
	}
	if c, _ := ex["consents"].([]any); len(c) == 0 {
		t.Errorf("export holds no consent record: %v", ex)
	}

	if status, _ := e.adminCall(t, http.MethodPost, "/subjects/erase", operatorToken, subject); status != 403 {
		t.Errorf("erase by an operator: status %d, want 403", status)
	}
	if status, out := e.adminCall(t, http.MethodPost, "/subjects/erase", dpoToken, subject); status != 200 {
		t.Fatalf("erase by a DPO: status %d, %v", status, out)
	}
	status, ex = e.adminCall(t, http.MethodPost, "/subjects/export", operatorToken, subject)
	// The erased subject exports as empty (200, no fields, no consents).
	f, _ := ex["fields"].([]any)
	c, _ := ex["consents"].([]any)
	if status != 404 && !(status == 200 && len(f) == 0 && len(c) == 0) {
		t.Errorf("export after erasure: status %d, %v; want 404 or nothing held", status, ex)
	}

	// A broken flow file is refused as a whole.
	broken := filepath.Join(e.flowsDir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("parley: 1\nid: broken\nversion: 1\nstart: nowhere\nsteps:\n  hello:\n    promt: hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.adminCall(t, http.MethodPost, "/flows/reload", dpoToken, ""); status != 403 {
		t.Errorf("reload by a DPO: status %d, want 403", status)
	}
	status, out := e.adminCall(t, http.MethodPost, "/flows/reload", adminToken, "")
	if status != 422 {
		t.Fatalf("reload with a broken flow: status %d, want 422: %v", status, out)
	}
	if d, _ := out["diagnostics"].(string); !strings.Contains(d, "broken.yaml") {
		t.Errorf("reload diagnostics do not point at broken.yaml: %q", d)
	}
	perTurn := e.converse(t, "15550004444", "Grace", "grace@example.com") // old flows keep serving
	if last := perTurn[len(perTurn)-1]; len(last) != 1 || !strings.Contains(last[0].text(), "grace@example.com") {
		t.Errorf("conversation after a refused reload ended with %v", textsOf(last))
	}

	fixed := "parley: 1\nid: hello\nversion: 1\nstart: hello\nsteps:\n  hello:\n    say: Hello!\n    end: true\n"
	if err := os.WriteFile(broken, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
	if status, out := e.adminCall(t, http.MethodPost, "/flows/reload", adminToken, ""); status != 200 {
		t.Fatalf("reload with the fixed flow: status %d, %v", status, out)
	}
	_, out = e.adminCall(t, http.MethodGet, "/flows", adminToken, "")
	var ids []string
	fl, _ := out["flows"].([]any)
	for _, f := range fl {
		m, _ := f.(map[string]any)
		id, _ := m["ID"].(string)
		if id == "" {
			id, _ = m["id"].(string)
		}
		ids = append(ids, id)
	}
	if strings.Join(ids, ",") != "booking,hello" {
		t.Errorf("flows after the fixed reload: %v, want booking and hello", ids)
	}
}

// TestAdminTakesTheNumberAsPeopleWriteIt: a DPO answering a request types
// the customer's number with a + and spaces, or the channel with capitals;
// the admin API must reach the same customer as the CLI does, or an export
// answers "nothing held" and an erasure destroys nothing.
func TestAdminTakesTheNumberAsPeopleWriteIt(t *testing.T) {
	e := newEnv(t, envOptions{tokens: "operator:" + operatorToken + ",dpo:" + dpoToken})
	e.converse(t, "15550004321", "Ada", "ada@example.com")
	typed := `{"channel":"WhatsApp","user":"+1 555-000-4321"}`
	status, ex := e.adminCall(t, http.MethodPost, "/subjects/export", operatorToken, typed)
	if f, _ := ex["fields"].([]any); status != 200 || len(f) != 3 {
		t.Fatalf("export of %s: status %d, %d fields; want 200 and the 3 fields held", typed, status, len(f))
	}
	if status, out := e.adminCall(t, http.MethodPost, "/subjects/erase", dpoToken, typed); status != 200 || out["key_destroyed"] != true {
		t.Fatalf("erase of %s: status %d, %v; want the customer's key destroyed", typed, status, out)
	}
	_, ex = e.adminCall(t, http.MethodPost, "/subjects/export", operatorToken, `{"channel":"whatsapp","user":"15550004321"}`)
	if f, _ := ex["fields"].([]any); len(f) != 0 {
		t.Errorf("after the erasure the customer still holds %d fields", len(f))
	}
}
