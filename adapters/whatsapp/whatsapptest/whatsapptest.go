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

// envelope wraps one change value in Meta's webhook envelope. An empty
// phoneNumberID leaves metadata out, as a broken or forged payload would.
func envelope(phoneNumberID string, value m) []byte {
	value["messaging_product"] = "whatsapp"
	if phoneNumberID != "" {
		value["metadata"] = m{"display_phone_number": "15550001000", "phone_number_id": phoneNumberID}
	}
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

// Referral is the referral object of a message that started from a
// click-to-WhatsApp ad, as Meta sends it.
type Referral struct {
	SourceURL, SourceID, SourceType, Headline, Body, CtwaClid, Welcome string
}

// ReferralWebhook is TextWebhook for a first message sent from an ad.
func ReferralWebhook(phoneNumberID, from, id, text string, r Referral, at time.Time) []byte {
	return envelope(phoneNumberID, m{
		"contacts": []m{{"profile": m{"name": "Test Customer"}, "wa_id": from}},
		"messages": []m{{"from": from, "id": id, "timestamp": strconv.FormatInt(at.Unix(), 10),
			"type": "text", "text": m{"body": text},
			"referral": m{"source_url": r.SourceURL, "source_id": r.SourceID, "source_type": r.SourceType,
				"headline": r.Headline, "body": r.Body, "media_type": "image", "image_url": r.SourceURL + "/img.jpg",
				"ctwa_clid": r.CtwaClid, "welcome_message": m{"text": r.Welcome}}}},
	})
}

// ButtonWebhook is the delivery of a tap on a template's quick-reply
// button (type "button"): payload is what the business set for it, or its
// text when it set nothing.
func ButtonWebhook(phoneNumberID, from, id, payload, text string, at time.Time) []byte {
	return envelope(phoneNumberID, m{
		"contacts": []m{{"profile": m{"name": "Test Customer"}, "wa_id": from}},
		"messages": []m{{"from": from, "id": id, "timestamp": strconv.FormatInt(at.Unix(), 10),
			"type": "button", "button": m{"payload": payload, "text": text}}},
	})
}

// Text is one text message of TextsWebhook.
type Text struct {
	From, ID, Body string
	At             time.Time
}

// TextsWebhook is one delivery carrying several text messages, in the given
// array order (Meta does not promise timestamp order).
func TextsWebhook(phoneNumberID string, texts ...Text) []byte {
	var contacts, msgs []m
	for _, t := range texts {
		contacts = append(contacts, m{"profile": m{"name": "Test Customer"}, "wa_id": t.From})
		msgs = append(msgs, m{"from": t.From, "id": t.ID, "timestamp": strconv.FormatInt(t.At.Unix(), 10),
			"type": "text", "text": m{"body": t.Body}})
	}
	return envelope(phoneNumberID, m{"contacts": contacts, "messages": msgs})
}

// NumberChangeWebhook is the system notice WhatsApp sends when the customer
// oldWaID moved to newWaID (no contacts[], as Meta sends it).
func NumberChangeWebhook(phoneNumberID, oldWaID, newWaID, id string, at time.Time) []byte {
	return envelope(phoneNumberID, m{
		"messages": []m{{"from": oldWaID, "id": id, "timestamp": strconv.FormatInt(at.Unix(), 10), "type": "system",
			"system": m{"body": "User " + oldWaID + " changed from " + oldWaID + " to " + newWaID,
				"wa_id": newWaID, "type": "user_changed_number"}}},
	})
}

// Merge joins deliveries built by this package into one POST whose entries
// are theirs in the given order, as Meta may batch them.
func Merge(bodies ...[]byte) []byte {
	var entries []any
	for _, b := range bodies {
		var env struct{ Entry []any }
		if err := json.Unmarshal(b, &env); err != nil {
			panic(err) // built by this package: cannot fail
		}
		entries = append(entries, env.Entry...)
	}
	b, err := json.Marshal(m{"object": "whatsapp_business_account", "entry": entries})
	if err != nil {
		panic(err)
	}
	return b
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
