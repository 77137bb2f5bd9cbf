package whatsapp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

const (
	pnid     = "100000000000001"
	anaWaID  = "15550001234"
	anaBSUID = "US.1000000000000000001"
)

var ana = Identity{WaID: anaWaID, UserID: anaBSUID}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ts(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// diff reports got and want field by field through %+v of copies whose
// redacting types are unwrapped, so a failure shows the actual values.
func assertBatch(t *testing.T, got, want Batch) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode:\n got  %s\n want %s", dumpBatch(got), dumpBatch(want))
	}
}

func dumpBatch(b Batch) string {
	// json.Marshal ignores String/LogValue, so it shows the real values.
	out, _ := json.Marshal(b)
	return string(out)
}

func TestDecodeExamples(t *testing.T) {
	tests := []struct {
		file string
		want Batch
	}{
		{"text.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMQA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261600), Type: "text", Text: "Hi! Do you have any appointments free this week?",
		}}}},
		{"button-reply.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMgA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261660), Type: "interactive", Choice: "opt_track_order", Title: "Track my order",
			Context: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMQA=",
		}}}},
		{"list-reply.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMwA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261720), Type: "interactive", Choice: "slot_tue_0930", Title: "Tue 09:30",
			Context: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMgA=",
		}}}},
		{"template-button.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwNAA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261780), Type: "button", Choice: "CONFIRM_APPT_4521", Title: "Confirm",
			Context: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMwA=",
		}}}},
		{"image.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwNQA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261840), Type: "image",
			Media: &Media{ID: "900000000000001", MimeType: "image/jpeg", Caption: "Photo of the damaged parcel"},
		}}}},
		{"document.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwNgA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261900), Type: "document",
			Media: &Media{ID: "900000000000002", MimeType: "application/pdf", Caption: "Here is the invoice"},
		}}}},
		{"location.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwNwA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767261960), Type: "location",
			Location: &Location{Latitude: 40.7411, Longitude: -73.9897, Name: "Example Clinic", Address: "1 Example Plaza, New York, NY 10010"},
		}}}},
		{"contacts.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwOAA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767262020), Type: "contacts", Contacts: 1,
		}}}},
		{"reaction.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwOQA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767262080), Type: "reaction",
			Reaction: &Reaction{MessageID: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwNAA=", Emoji: "👍"},
		}}}},
		{"unsupported.json", Batch{Messages: []InboundMessage{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAxMAA=", From: ana, PhoneNumberID: pnid,
			Timestamp: ts(1767262140), Type: "unsupported",
			Unsupported: &Unsupported{Type: "poll_creation", Code: 131051},
		}}}},
		{"batched-two-messages.json", Batch{Messages: []InboundMessage{
			{
				ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAxMQA=", From: ana, PhoneNumberID: pnid,
				Timestamp: ts(1767262200), Type: "text", Text: "Is the shop open on Sunday?",
			},
			{
				ID: "wamid.HBgLMTU1NTAwMDU2NzgVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAxMgA=", PhoneNumberID: pnid,
				From:      Identity{WaID: "15550005678", UserID: "US.1000000000000000002"},
				Timestamp: ts(1767262201), Type: "text", Text: "menu",
			},
		}}},
		{"status-sent.json", Batch{Statuses: []Status{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMQA=", Recipient: ana, PhoneNumberID: pnid,
			Status: "sent", Timestamp: ts(1767261661), CallbackData: "flow=order_status;node=ask_action;attempt=1",
		}}}},
		{"status-delivered.json", Batch{Statuses: []Status{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMQA=", Recipient: ana, PhoneNumberID: pnid,
			Status: "delivered", Timestamp: ts(1767261662), CallbackData: "flow=order_status;node=ask_action;attempt=1",
		}}}},
		{"status-read.json", Batch{Statuses: []Status{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwMQA=", Recipient: ana, PhoneNumberID: pnid,
			Status: "read", Timestamp: ts(1767261695), CallbackData: "flow=order_status;node=ask_action;attempt=1",
		}}}},
		{"status-failed-outside-window.json", Batch{Statuses: []Status{{
			ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgARGBRGQUtFT1VUMDAwMDAwMDAwMDAwNQA=", Recipient: Identity{WaID: anaWaID}, PhoneNumberID: pnid,
			Status: "failed", Timestamp: ts(1767434400),
			Errors: []ErrorDetail{{Code: 131047, Title: "Re-engagement message", Details: "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}},
		}}}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			got, err := Decode(readTestdata(t, tc.file))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			assertBatch(t, got, tc.want)
		})
	}
}

func TestDecodeSignatureExampleBodyWithEscapes(t *testing.T) {
	_, body, _ := signatureExample(t)
	got, err := Decode(body)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || string(got.Messages[0].Text) != "Olá, is the shop open today?" {
		t.Errorf("Decode(signature example) = %s, want one text \"Olá, is the shop open today?\"", dumpBatch(got))
	}
}

func TestDecodeUserIDWithoutWaID(t *testing.T) {
	// A username user: no from, no wa_id; only the BSUID identifies them.
	body := `{"object":"whatsapp_business_account","entry":[{"id":"200000000000001","changes":[{"field":"messages","value":{
	  "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001000","phone_number_id":"100000000000001"},
	  "contacts":[{"profile":{"name":"Ana Example","username":"@ana.example"},"user_id":"US.1000000000000000001","parent_user_id":"US.ENT.1000000000000000009"}],
	  "messages":[{"from_user_id":"US.1000000000000000001","id":"wamid.U1","timestamp":"1767261600","type":"text","text":{"body":"hello"}}],
	  "statuses":[{"id":"wamid.S1","status":"delivered","timestamp":"1767261601","recipient_user_id":"US.1000000000000000001"}]}}]}]}`
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := Batch{
		Messages: []InboundMessage{{
			ID: "wamid.U1", PhoneNumberID: pnid, Timestamp: ts(1767261600), Type: "text", Text: "hello",
			From: Identity{UserID: anaBSUID, ParentUserID: "US.ENT.1000000000000000009", Username: "@ana.example"},
		}},
		Statuses: []Status{{ID: "wamid.S1", Status: "delivered", Timestamp: ts(1767261601), PhoneNumberID: pnid, Recipient: Identity{UserID: anaBSUID}}},
	}
	assertBatch(t, got, want)
	if k := got.Messages[0].From.Key(); k != anaBSUID {
		t.Errorf("From.Key() = %q, want the BSUID %q", k, anaBSUID)
	}
}

func TestDecodeBSUIDOnlyInContacts(t *testing.T) {
	// Some payloads carry the BSUID only in contacts[]; the contact is found
	// by wa_id, not by position (the first contact is someone else).
	body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{
	  "metadata":{"phone_number_id":"100000000000001"},
	  "contacts":[{"wa_id":"15550005678","user_id":"US.2"},{"wa_id":"15550001234","user_id":"US.1"}],
	  "messages":[{"from":"15550001234","id":"wamid.A","timestamp":"1","type":"text","text":{"body":"x"}}]}}]}]}`
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Messages) != 1 || got.Messages[0].From != (Identity{WaID: "15550001234", UserID: "US.1"}) {
		t.Errorf("Decode = %s, want sender 15550001234 / US.1", dumpBatch(got))
	}
	if k := got.Messages[0].From.Key(); k != "15550001234" {
		t.Errorf("From.Key() = %q, want the wa_id", k)
	}
}

func TestDecodeIteratesAllEntriesAndChanges(t *testing.T) {
	msg := func(id, body string) string {
		return fmt.Sprintf(`{"from":"15550001234","id":%q,"timestamp":"1767261600","type":"text","text":{"body":%q}}`, id, body)
	}
	body := `{"object":"whatsapp_business_account","entry":[
	  {"id":"W1","changes":[
	    {"field":"messages","value":{"metadata":{"phone_number_id":"P1"},"messages":[` + msg("m1", "a") + `,` + msg("m2", "b") + `]}},
	    {"field":"account_update","value":{"messages":"not the shape we know"}},
	    {"field":"messages","value":{"metadata":{"phone_number_id":"P1"},"statuses":[{"id":"s1","status":"read","recipient_id":"15550001234"}],"messages":[` + msg("m3", "c") + `]}}]},
	  {"id":"W2","changes":[
	    {"field":"messages","value":{"metadata":{"phone_number_id":"P2"},"messages":[` + msg("m4", "d") + `],
	      "errors":[{"code":131000,"title":"Something went wrong","error_data":{"details":"x"}}]}}]}]}`
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var ids, pnids []string
	for _, m := range got.Messages {
		ids = append(ids, m.ID)
		pnids = append(pnids, m.PhoneNumberID)
	}
	if want := []string{"m1", "m2", "m3", "m4"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("message ids = %v, want %v", ids, want)
	}
	if want := []string{"P1", "P1", "P1", "P2"}; !reflect.DeepEqual(pnids, want) {
		t.Errorf("phone number ids = %v, want %v", pnids, want)
	}
	if len(got.Statuses) != 1 || got.Statuses[0].ID != "s1" || got.Statuses[0].PhoneNumberID != "P1" {
		t.Errorf("statuses = %s, want s1 on P1", dumpBatch(got))
	}
	if want := []ErrorDetail{{Code: 131000, Title: "Something went wrong", Details: "x"}}; !reflect.DeepEqual(got.Errors, want) {
		t.Errorf("errors = %+v, want %+v", got.Errors, want)
	}
	if got.Dropped != 0 {
		t.Errorf("Dropped = %d, want 0 (other fields are ignored, not dropped)", got.Dropped)
	}
}

func TestDecodeToleratesAndSkips(t *testing.T) {
	wrap := func(value string) []byte {
		return []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":` + value + `}]}]}`)
	}
	tests := []struct {
		name     string
		body     []byte
		messages int
		statuses int
		dropped  int
	}{
		{"other object is acknowledged and ignored", []byte(`{"object":"instagram","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"x","type":"text"}]}}]}]}`), 0, 0, 0},
		{"empty object", []byte(`{}`), 0, 0, 0},
		{"empty entry", []byte(`{"object":"whatsapp_business_account","entry":[]}`), 0, 0, 0},
		{"null value", wrap(`null`), 0, 0, 0},
		{"value of the wrong type is dropped", wrap(`"text"`), 0, 0, 1},
		{"unknown fields are ignored", wrap(`{"new_thing":{"a":[1]},"messages":[{"from":"1","id":"x","type":"text","text":{"body":"hi","new":1},"brand_new":true}]}`), 1, 0, 0},
		{"message without id is dropped", wrap(`{"messages":[{"from":"1","type":"text","text":{"body":"hi"}}]}`), 0, 0, 1},
		{"message without any sender is dropped", wrap(`{"messages":[{"id":"x","type":"text","text":{"body":"hi"}}]}`), 0, 0, 1},
		{"message with an oversized id is dropped", wrap(`{"messages":[{"from":"1","id":"` + strings.Repeat("w", 600) + `","type":"text"}]}`), 0, 0, 1},
		{"message with a field of the wrong type is dropped, the next kept", wrap(`{"messages":[{"from":"1","id":"a","type":"text","text":"hi"},{"from":"1","id":"b","type":"text","text":{"body":"ok"}}]}`), 1, 0, 1},
		{"status without id is dropped", wrap(`{"statuses":[{"status":"read"},{"id":"s","status":"read"}]}`), 0, 1, 1},
		{"numeric timestamp is accepted", wrap(`{"messages":[{"from":"1","id":"x","timestamp":1767261600,"type":"text","text":{"body":"hi"}}]}`), 1, 0, 0},
		{"bad timestamp is tolerated", wrap(`{"messages":[{"from":"1","id":"x","timestamp":"soon","type":"text","text":{"body":"hi"}}]}`), 1, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.body)
			if err != nil {
				t.Fatalf("Decode: %v, want no error", err)
			}
			if len(got.Messages) != tc.messages || len(got.Statuses) != tc.statuses || got.Dropped != tc.dropped {
				t.Errorf("Decode = %d messages, %d statuses, %d dropped; want %d, %d, %d",
					len(got.Messages), len(got.Statuses), got.Dropped, tc.messages, tc.statuses, tc.dropped)
			}
		})
	}
}

func TestDecodeTimestamps(t *testing.T) {
	body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[
	  {"from":"1","id":"a","timestamp":1767261600,"type":"text"},
	  {"from":"1","id":"b","timestamp":"soon","type":"text"}]}}]}]}`
	got, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Messages[0].Timestamp.Equal(ts(1767261600)) || !got.Messages[1].Timestamp.IsZero() {
		t.Errorf("timestamps = %v, %v; want %v and zero", got.Messages[0].Timestamp, got.Messages[1].Timestamp, ts(1767261600))
	}
}

func TestDecodeRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"empty", ""},
		{"not JSON", "hello"},
		{"array", `[{"object":"whatsapp_business_account"}]`},
		{"string", `"x"`},
		{"truncated", `{"object":"whatsapp_business_account","entry":[`},
		{"trailing garbage", `{"object":"whatsapp_business_account"} x`},
		{"entry is not an array", `{"object":"whatsapp_business_account","entry":{"id":"1"}}`},
		{"changes is not an array", `{"object":"whatsapp_business_account","entry":[{"changes":"x"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.body))
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Decode(%q) error = %v, want ErrMalformed", tc.body, err)
			}
		})
	}
}

func TestDecodeErrorDoesNotQuoteTheBody(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{}}]}], "canary-1555": }`)
	_, err := Decode(body)
	if err == nil || strings.Contains(err.Error(), "canary") || strings.Contains(err.Error(), "1555") {
		t.Errorf("Decode error = %v, want an error without body content", err)
	}
}

func TestDecodeRejectsOversizedBody(t *testing.T) {
	body := bytes.Repeat([]byte(" "), MaxBodyBytes+1)
	body[0] = '{'
	if _, err := Decode(body); !errors.Is(err, ErrBodyTooLarge) {
		t.Errorf("Decode(%d bytes) error = %v, want ErrBodyTooLarge", len(body), err)
	}
}

func TestToInbound(t *testing.T) {
	decodeOne := func(file string) InboundMessage {
		b, err := Decode(readTestdata(t, file))
		if err != nil || len(b.Messages) != 1 {
			t.Fatalf("Decode(%s) = %d messages, %v", file, len(b.Messages), err)
		}
		return b.Messages[0]
	}
	tests := []struct {
		file       string
		want       runtime.Inbound
		ok         bool
		needsReply bool
	}{
		{"text.json", runtime.Inbound{ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMQA=", Text: "Hi! Do you have any appointments free this week?"}, true, false},
		{"button-reply.json", runtime.Inbound{ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMgA=", Choice: "opt_track_order", Text: "Track my order"}, true, false},
		{"list-reply.json", runtime.Inbound{ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwMwA=", Choice: "slot_tue_0930", Text: "Tue 09:30"}, true, false},
		{"template-button.json", runtime.Inbound{ID: "wamid.HBgLMTU1NTAwMDEyMzQVAgASGBRGQUtFSU4wMDAwMDAwMDAwMDAwNAA=", Choice: "CONFIRM_APPT_4521", Text: "Confirm"}, true, false},
		{"image.json", runtime.Inbound{}, false, true},
		{"document.json", runtime.Inbound{}, false, true},
		{"location.json", runtime.Inbound{}, false, true},
		{"contacts.json", runtime.Inbound{}, false, true},
		{"unsupported.json", runtime.Inbound{}, false, true},
		{"reaction.json", runtime.Inbound{}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			m := decodeOne(tc.file)
			got, ok := ToInbound(m)
			if got != tc.want || ok != tc.ok {
				t.Errorf("ToInbound = (%+v, %v), want (%+v, %v)", got, ok, tc.want, tc.ok)
			}
			if string(got.Text) != string(tc.want.Text) {
				t.Errorf("ToInbound text = %q, want %q", string(got.Text), string(tc.want.Text))
			}
			if n := m.NeedsUnsupportedReply(); n != tc.needsReply {
				t.Errorf("NeedsUnsupportedReply = %v, want %v", n, tc.needsReply)
			}
		})
	}
}

func TestToInboundQuietTypes(t *testing.T) {
	for _, typ := range []string{"system", "request_welcome", "revoke"} {
		m := InboundMessage{ID: "x", Type: typ}
		if _, ok := ToInbound(m); ok {
			t.Errorf("ToInbound(%s) ok, want not ok", typ)
		}
		if m.NeedsUnsupportedReply() {
			t.Errorf("%s: NeedsUnsupportedReply = true, want false", typ)
		}
	}
	for _, typ := range []string{"order", "edit", "unknown", "nfm_reply_of_the_future"} {
		body := `{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"from":"1","id":"x","type":"` + typ + `"}]}}]}]}`
		b, err := Decode([]byte(body))
		if err != nil || len(b.Messages) != 1 {
			t.Fatalf("Decode(%s) = %v", typ, err)
		}
		if u := b.Messages[0].Unsupported; u == nil || u.Type != typ || !b.Messages[0].NeedsUnsupportedReply() {
			t.Errorf("%s: Unsupported = %+v, NeedsUnsupportedReply = %v; want type %q and true", typ, u, b.Messages[0].NeedsUnsupportedReply(), typ)
		}
	}
}

func TestUnsupportedReplyIsLocalized(t *testing.T) {
	en, it := UnsupportedReply("en"), UnsupportedReply("it")
	if en == "" || it == "" || en == it {
		t.Fatalf("UnsupportedReply en = %q, it = %q; want two different texts", en, it)
	}
	for lang, want := range map[string]string{"it-IT": it, "IT": it, "en_GB": en, "": en, "xx": en} {
		if got := UnsupportedReply(lang); got != want {
			t.Errorf("UnsupportedReply(%q) = %q, want %q", lang, got, want)
		}
	}
}

func TestPersonalDataIsRedactedInLogsAndFormatting(t *testing.T) {
	b, err := Decode(readTestdata(t, "location.json"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := Decode(readTestdata(t, "image.json"))
	if err != nil {
		t.Fatal(err)
	}
	txt, err := Decode(readTestdata(t, "text.json"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Decode(readTestdata(t, "status-read.json"))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	msgs := []InboundMessage{b.Messages[0], img.Messages[0], txt.Messages[0]}
	for _, m := range msgs {
		log.Info("inbound", "msg", m, "from", m.From)
	}
	log.Info("status", "status", st.Statuses[0])
	printed := fmt.Sprintf("%v %+v %#v %v", msgs, msgs, msgs, st.Statuses)
	for _, canary := range []string{anaWaID, anaBSUID, "Ana Example", "Example Plaza", "40.7411", "damaged parcel", "appointments free"} {
		if strings.Contains(logs.String(), canary) {
			t.Errorf("slog output contains %q", canary)
		}
		if strings.Contains(printed, canary) {
			t.Errorf("fmt output contains %q", canary)
		}
	}
	if !strings.Contains(logs.String(), msgs[0].ID) {
		t.Errorf("slog output lacks the message id; got %s", logs.String())
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, file := range files {
		f.Add(readTestdata(f, filepath.Base(file)))
	}
	_, body, _ := signatureExample(f)
	f.Add(body)
	f.Add([]byte(`{"object":"whatsapp_business_account","entry":[{"changes":[{"field":"messages","value":{"messages":[{"id":"x","from_user_id":"US.1","type":"interactive","interactive":{"type":"nfm_reply"}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := Decode(body)
		// The one-pass decoding and the item-by-item one agree.
		if trimmed := bytes.TrimSpace(body); err == nil && len(body) <= MaxBodyBytes {
			slow, serr := decodeByItem(trimmed)
			if serr != nil || !reflect.DeepEqual(b, slow) {
				t.Fatalf("Decode = %+v, item by item = %+v, %v", b, slow, serr)
			}
		}
		if err != nil {
			if len(b.Messages)+len(b.Statuses) != 0 {
				t.Fatalf("error %v with a non-empty batch", err)
			}
			return
		}
		for _, m := range b.Messages {
			if m.ID == "" || len(m.ID) > maxIDBytes || m.From.IsZero() {
				t.Fatalf("kept a message without id or sender: %q", m.ID)
			}
			in, ok := ToInbound(m)
			if ok && in.ID != m.ID {
				t.Fatalf("ToInbound id %q, want %q", in.ID, m.ID)
			}
			if ok && m.NeedsUnsupportedReply() {
				t.Fatalf("readable message %q also needs an unsupported reply", m.ID)
			}
		}
		for _, s := range b.Statuses {
			if s.ID == "" {
				t.Fatal("kept a status without id")
			}
		}
	})
}

// TestDecodeNumberChange: a user_changed_number notice carries the new
// wa_id (and never the body, which quotes both numbers); other system
// notices carry none, and none of them is answered.
func TestDecodeNumberChange(t *testing.T) {
	b, err := Decode(readTestdata(t, "system-user-changed-number.json"))
	if err != nil || len(b.Messages) != 2 {
		t.Fatalf("Decode = %s, %v; want two messages", dumpBatch(b), err)
	}
	changed, other := b.Messages[0], b.Messages[1]
	if changed.From.WaID != anaWaID || changed.NewWaID != "15550009876" || changed.Type != TypeSystem || changed.Text != "" {
		t.Errorf("number change decoded as %s", dumpBatch(Batch{Messages: []InboundMessage{changed}}))
	}
	if other.NewWaID != "" {
		t.Errorf("user_changed_user_id decoded a new wa_id %q", other.NewWaID)
	}
	if strings.Contains(dumpBatch(b), "changed from") {
		t.Errorf("the notice body was decoded: %s", dumpBatch(b))
	}
	for _, m := range b.Messages {
		if _, ok := ToInbound(m); ok || m.NeedsUnsupportedReply() {
			t.Errorf("system notice %s would be answered", m.ID)
		}
	}
}

// BenchmarkDecode is the webhook body of one text message, as Meta sends it.
//
//	go test ./adapters/whatsapp -run '^$' -bench Decode -benchmem
func BenchmarkDecode(b *testing.B) {
	body := readTestdata(b, "text.json")
	b.ReportAllocs()
	for b.Loop() {
		if batch, err := Decode(body); err != nil || len(batch.Messages) != 1 {
			b.Fatal(len(batch.Messages), err)
		}
	}
}
