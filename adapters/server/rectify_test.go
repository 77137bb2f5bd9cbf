package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/session"
)

// TestAdminRectifyChecksTheValueLikeChat: over the admin API a DPO's
// rectify with a value the field would refuse in chat (max_length, type,
// options) answers 422 with the reason and changes nothing in the vault; a
// valid one answers 200 and is stored normalised as chat would store it.
func TestAdminRectifyChecksTheValueLikeChat(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		e := newEnv(t, envOptions{backend: backend, tokens: "dpo:" + dpoToken})
		e.converse(t, testUser, "Ada", "ada@example.com")
		held := func() map[string]any {
			t.Helper()
			ex, err := session.ExportSubject(e.vault, e.vault.SubjectID("whatsapp", testUser), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]any{}
			for _, f := range ex.Fields {
				out[f.Field] = f.Value
			}
			return out
		}
		before := held()
		if before["name"] != "Ada" || before["email"] != "ada@example.com" || before["date"] != "tue" {
			t.Fatalf("vault before rectify holds %v", before)
		}
		body := func(field, value string) string {
			return `{"channel":"whatsapp","user":"` + testUser + `","field":"` + field + `","value":"` + value + `"}`
		}
		for _, tc := range []struct{ field, value, why string }{
			{"name", strings.Repeat("A", 81), `"name" takes text of 1 to 80 characters`},
			{"email", "ada-at-example", `"email" takes an email address`},
			{"date", "sun", `"date" takes one of its options: mon, tue, wed`},
		} {
			status, out := e.adminCall(t, http.MethodPost, "/subjects/rectify", dpoToken, body(tc.field, tc.value))
			msg, _ := out["error"].(string)
			if status != http.StatusUnprocessableEntity || !strings.Contains(msg, tc.why) || !strings.Contains(msg, "nothing was changed") {
				t.Errorf("rectify %s=%q: %d %v; want 422 saying %s", tc.field, tc.value, status, out, tc.why)
			}
			if strings.Contains(msg, tc.value) {
				t.Errorf("rectify %s: the response repeats the refused value: %q", tc.field, msg)
			}
			if after := held(); after["name"] != before["name"] || after["email"] != before["email"] || after["date"] != before["date"] {
				t.Errorf("after the refused rectify %s the vault holds %v, want %v", tc.field, after, before)
			}
		}
		if status, out := e.adminCall(t, http.MethodPost, "/subjects/rectify", dpoToken, body("date", "3")); status != 200 {
			t.Fatalf("valid rectify: %d %v", status, out)
		}
		if got := held()["date"]; got != "wed" {
			t.Errorf("date after rectify to option 3 = %v, want wed", got)
		}
	})
}
