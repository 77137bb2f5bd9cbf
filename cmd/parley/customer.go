package main

import (
	"strings"

	"github.com/parleyhq/parley/engine/session"
)

// parseCustomer splits a customer named on the command line as CHANNEL:ID.
// The channel is case-insensitive; the id is taken in its canonical form
// (session.UserID: a phone number as people write it is reduced to its
// digits, the form WhatsApp sends as wa_id).
func parseCustomer(s string) (channel, id string, ok bool) {
	channel, id, ok = strings.Cut(s, ":")
	channel, id = strings.ToLower(strings.TrimSpace(channel)), session.UserID(id)
	if !ok || channel == "" || id == "" {
		return "", "", false
	}
	return channel, id, true
}
