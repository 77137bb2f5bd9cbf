package compile

import "strings"

// MaxCampaignLen bounds a campaign reference: a short token, never room for
// a name, an email or a phone number with its country code.
const MaxCampaignLen = 24

// ValidCampaign reports whether ref may be a campaign reference: 1 to
// MaxCampaignLen letters, digits, '-' or '_'. No spaces, '@', '+' or '.',
// so it cannot carry an email address or a written-out phone number.
func ValidCampaign(ref string) bool {
	if ref == "" || len(ref) > MaxCampaignLen {
		return false
	}
	for _, r := range ref {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// campaignOpen and campaignClose enclose the campaign reference at the end
// of an entry link's start text: "Hi (ref: spring-24)".
const (
	campaignOpen  = "(ref: "
	campaignClose = ")"
)

// EntryText is the start text of an entry link: text, then the campaign
// reference when there is one. The caller checks campaign with
// ValidCampaign.
func EntryText(text, campaign string) string {
	if campaign == "" {
		return text
	}
	return text + " " + campaignOpen + campaign + campaignClose
}

// EntryCampaign returns the campaign reference carried at the end of a
// start text written by EntryText, or "" when there is none or it is not a
// valid reference. Only the reference is returned: the text itself is never
// kept.
func EntryCampaign(text string) string {
	t := strings.TrimSpace(text)
	if !strings.HasSuffix(t, campaignClose) {
		return ""
	}
	i := strings.LastIndex(t, campaignOpen)
	if i < 0 {
		return ""
	}
	ref := t[i+len(campaignOpen) : len(t)-len(campaignClose)]
	if !ValidCampaign(ref) {
		return ""
	}
	return ref
}
