package main

import (
	"strings"
)

// parseCustomer splits a customer named on the command line as CHANNEL:ID.
// The channel is case-insensitive. An id written as a phone number (digits
// with a leading +, spaces, dashes, dots or parentheses, as people write
// them) is reduced to its digits, the form WhatsApp sends as wa_id; any
// other id (a WhatsApp business-scoped user id, a web session) is taken as
// written. Without this a DPO who types +1 555 … reaches a pseudonym that
// holds nothing: the export says "nothing held" and an erasure prints a
// receipt while the data stays.
func parseCustomer(s string) (channel, id string, ok bool) {
	channel, id, ok = strings.Cut(s, ":")
	channel, id = strings.ToLower(strings.TrimSpace(channel)), strings.TrimSpace(id)
	if !ok || channel == "" || id == "" {
		return "", "", false
	}
	if phoneLike(id) {
		id = strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, id)
	}
	return channel, id, true
}

// phoneLike reports whether id is digits with at most a leading + and the
// separators people write numbers with.
func phoneLike(id string) bool {
	digits := 0
	for i, r := range id {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-', r == '.', r == '(', r == ')':
		default:
			return false
		}
	}
	return digits > 0
}
