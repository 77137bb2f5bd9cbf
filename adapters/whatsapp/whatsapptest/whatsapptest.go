// Package whatsapptest builds webhook deliveries shaped like Meta's, for the
// tests and load tools that drive Parley the way the Cloud API does. Sign
// them with whatsapp.Sign.
package whatsapptest

import (
	"encoding/json"
	"strconv"
	"time"
)

type m = map[string]any

// envelope wraps one change value in Meta's webhook envelope.
func envelope(phoneNumberID string, value m) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = m{"display_phone_number": "15550001000", "phone_number_id": phoneNumberID}
	b, err := json.Marshal(m{
		"object": "whatsapp_business_account",
		"entry":  []m{{"id": "200000000000001", "changes": []m{{"field": "messages", "value": value}}}},
	})
	if err != nil {
		panic(err) // only maps of strings: cannot fail
	}
	return b
}

// TextWebhook is the delivery of one text message from the customer whose
// wa_id is from to the business number phoneNumberID.
func TextWebhook(phoneNumberID, from, id, text string, at time.Time) []byte {
	return envelope(phoneNumberID, m{
		"contacts": []m{{"profile": m{"name": "Test Customer"}, "wa_id": from}},
		"messages": []m{{"from": from, "id": id, "timestamp": strconv.FormatInt(at.Unix(), 10),
			"type": "text", "text": m{"body": text}}},
	})
}

// StatusWebhook is a delivery-status callback for the sent message wamid;
// code, when not zero, is attached as its error.
func StatusWebhook(phoneNumberID, wamid, status, recipient string, code int, at time.Time) []byte {
	st := m{"id": wamid, "status": status, "timestamp": strconv.FormatInt(at.Unix(), 10), "recipient_id": recipient}
	if code != 0 {
		st["errors"] = []m{{"code": code, "title": "Re-engagement message", "message": "Re-engagement message"}}
	}
	return envelope(phoneNumberID, m{"statuses": []m{st}})
}
