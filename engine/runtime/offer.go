package runtime

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/parleyhq/parley/engine/compile"
)

// Bounds of a list of options an integration answers (receives_options:),
// WhatsApp's own: at most 10 list rows, a row id of at most 200 bytes and
// a row title of at most 24 characters.
const (
	MaxOffered      = 10
	maxOfferedID    = 200
	maxOfferedTitle = 24
)

// offered reads the options an integration answers under its
// receives_options: key: a JSON list of {"id", "title"} objects. The first
// MaxOffered are kept, titles cut to maxOfferedTitle characters. All or
// nothing: an empty list, a missing key, an id that is empty, too long,
// repeated or holds control characters, or an empty title fails the call
// (errBadReply) and keeps none. Nil when the integration offers nothing.
func offered(in *compile.Integration, reply Reply) ([]Option, error) {
	if in.OptionsKey == "" {
		return nil, nil
	}
	raw, ok := reply[in.OptionsKey]
	if !ok {
		return nil, errBadReply
	}
	var list []struct {
		ID    *string `json:"id"`
		Title *string `json:"title"`
	}
	if err := json.Unmarshal([]byte(raw), &list); err != nil || len(list) == 0 {
		return nil, errBadReply
	}
	if len(list) > MaxOffered {
		list = list[:MaxOffered]
	}
	out := make([]Option, 0, len(list))
	seen := make(map[string]bool, len(list))
	for _, o := range list {
		if o.ID == nil || o.Title == nil {
			return nil, errBadReply
		}
		id, title := *o.ID, cutTitle(strings.TrimSpace(*o.Title))
		if !plainText(id) || len(id) > maxOfferedID || seen[id] || !plainText(title) {
			return nil, errBadReply
		}
		seen[id] = true
		out = append(out, Option{ID: id, Title: title})
	}
	return out, nil
}

// plainText reports whether s is non-empty valid UTF-8 without control
// characters (a title is one line).
func plainText(s string) bool {
	return s != "" && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

// cutTitle cuts s to maxOfferedTitle characters, ending with "…" when cut.
func cutTitle(s string) string {
	if utf8.RuneCountInString(s) <= maxOfferedTitle {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:maxOfferedTitle-1])) + "…"
}

// pickOffered matches the customer's answer to the options held: the
// button or row picked, its number, its title or its id. It returns the
// id picked.
func (t *turn) pickOffered() (string, bool) {
	offered := t.st.Offered
	if t.in.Choice != "" {
		for _, o := range offered {
			if o.ID == t.in.Choice {
				return o.ID, true
			}
		}
	}
	if n, err := strconv.Atoi(t.norm); err == nil {
		if n >= 1 && n <= len(offered) {
			return offered[n-1].ID, true
		}
		return "", false
	}
	if t.norm == "" {
		return "", false
	}
	for _, o := range offered {
		if t.norm == compile.Normalize(o.Title) || t.norm == compile.Normalize(o.ID) {
			return o.ID, true
		}
	}
	return "", false
}
