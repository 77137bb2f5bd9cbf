package session

import "strings"

// UserID is the canonical form of a channel user id as an operator may
// type it. An id written as a phone number (digits with a leading +,
// spaces, dashes, dots or parentheses, as people write them) is reduced to
// its digits, the form WhatsApp sends as wa_id; any other id (a WhatsApp
// business-scoped user id, a web session id) is taken as written, trimmed.
// Without this a DPO who types +1 555 … reaches a pseudonym that holds
// nothing: an export says "nothing held" and an erasure prints a receipt
// while the data stays.
func UserID(id string) string {
	id = strings.TrimSpace(id)
	if !phoneLike(id) {
		return id
	}
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, id)
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
