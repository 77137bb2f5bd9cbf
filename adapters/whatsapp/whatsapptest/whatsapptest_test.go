package whatsapptest_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/adapters/whatsapp/whatsapptest"
)

// The builders must produce what the real decoder reads, or every test and
// load run built on them measures nothing.
func TestBuildersDecode(t *testing.T) {
	at := time.Unix(1767261600, 0)
	b, err := whatsapp.Decode(whatsapptest.TextWebhook("100", "15550001234", "wamid.A", "hi", at))
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Decode(TextWebhook) = %+v, %v", b, err)
	}
	msg := b.Messages[0]
	if msg.ID != "wamid.A" || msg.From.Key() != "15550001234" || string(msg.Text) != "hi" || msg.PhoneNumberID != "100" || !msg.Timestamp.Equal(at) {
		t.Errorf("decoded text message = %+v", msg)
	}
	b, err = whatsapp.Decode(whatsapptest.StatusWebhook("100", "wamid.B", "failed", "15550001234", 131047, at))
	if err != nil || len(b.Statuses) != 1 {
		t.Fatalf("Decode(StatusWebhook) = %+v, %v", b, err)
	}
	st := b.Statuses[0]
	if st.ID != "wamid.B" || st.Status != "failed" || len(st.Errors) != 1 || st.Errors[0].Code != 131047 {
		t.Errorf("decoded status = %+v", st)
	}
	b, err = whatsapp.Decode(whatsapptest.NumberChangeWebhook("100", "15550001234", "15550009999", "wamid.C", at))
	if err != nil || len(b.Messages) != 1 {
		t.Fatalf("Decode(NumberChangeWebhook) = %+v, %v", b, err)
	}
	if msg := b.Messages[0]; msg.From.Key() != "15550001234" || msg.NewWaID != "15550009999" || msg.Type != whatsapp.TypeSystem {
		t.Errorf("decoded number change = %+v", msg)
	}
	b, err = whatsapp.Decode(whatsapptest.TextsWebhook("", whatsapptest.Text{From: "1", ID: "wamid.D", Body: "x", At: at}))
	if err != nil || len(b.Messages) != 1 || b.Messages[0].PhoneNumberID != "" {
		t.Fatalf("Decode(TextsWebhook without metadata) = %+v, %v", b, err)
	}
	b, err = whatsapp.Decode(whatsapptest.Merge(whatsapptest.TextWebhook("100", "1", "wamid.E", "x", at), whatsapptest.TextWebhook("100", "2", "wamid.F", "y", at)))
	if err != nil || len(b.Messages) != 2 || b.Messages[0].ID != "wamid.E" || b.Messages[1].ID != "wamid.F" {
		t.Fatalf("Decode(Merge) = %+v, %v; want both messages in order", b, err)
	}
}
