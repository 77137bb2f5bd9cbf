package diag

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// The secret patterns live here, once, because both the checks that report
// a secret written in a flow (load, validate) and the renderers that must
// never repeat one use them.
var (
	// secretKey matches key names that suggest a secret is written after
	// them ("password:", "api_key:", "secret_env:").
	secretKey = regexp.MustCompile(`(?i)(token|secret|passw(or)?d|api_?key|credential|auth)`)
	// secretParam matches query parameter names that carry a secret.
	secretParam = regexp.MustCompile(`(?i)^(token|access_token|api_?key|apikey|key|secret|client_secret|password|passwd|pwd|sig|signature|auth)$`)
	// secretValue matches well-known credential formats.
	secretValue = regexp.MustCompile(`(?i)(\bBearer\s+[A-Za-z0-9._~+/-]{16,}|\b(sk|pk|rk)_(live|test)_[A-Za-z0-9]{10,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bAKIA[0-9A-Z]{16}\b|\bAIza[0-9A-Za-z_-]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----)`)

	// URL user info ("scheme://user:pass@"), a query parameter, and a YAML
	// "key: value" at the start of a line or inside { }.
	urlUserInfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\s"']+)@`)
	queryParam  = regexp.MustCompile(`([?&;])([^=&#\s"']+)=([^&#\s"']*)`)
	keyValue    = regexp.MustCompile(`(^\s*(?:-\s+)?|[{,]\s*)(["']?)([A-Za-z0-9_.-]+)(["']?\s*:[ \t]+)([^,}\n]*[^,}\s])`)
)

// IsSecretKey reports whether a key name suggests that a secret is written
// as its value.
func IsSecretKey(name string) bool { return secretKey.MatchString(name) }

// IsSecretParam reports whether a web address's query parameter of this
// name usually carries a secret.
func IsSecretParam(name string) bool { return secretParam.MatchString(name) }

// LooksSecret reports whether s holds a credential in a well-known format
// (a bearer token, a Stripe, GitHub, Slack, AWS or Google key, a private
// key).
func LooksSecret(s string) bool { return secretValue.MatchString(s) }

// MaskSecrets returns s with every part that may be a secret replaced by
// as many '*': credentials in well-known formats, the user info of web
// addresses, the values of query parameters with secret names and the value
// after a key with a secret name ("password: x"). Each masked part keeps
// its length in runes, so a caret under a masked source line still points
// at the same column. The renderers pass every text they print through it:
// no diagnostic repeats a secret, whichever check produced it.
func MaskSecrets(s string) string {
	if s == "" {
		return s
	}
	s = secretValue.ReplaceAllStringFunc(s, stars)
	s = urlUserInfo.ReplaceAllStringFunc(s, func(m string) string {
		g := urlUserInfo.FindStringSubmatch(m)
		return g[1] + stars(g[2]) + "@"
	})
	s = queryParam.ReplaceAllStringFunc(s, func(m string) string {
		g := queryParam.FindStringSubmatch(m)
		if !IsSecretParam(g[2]) {
			return m
		}
		return g[1] + g[2] + "=" + stars(g[3])
	})
	return keyValue.ReplaceAllStringFunc(s, func(m string) string {
		g := keyValue.FindStringSubmatch(m)
		if !IsSecretKey(g[3]) {
			return m
		}
		return g[1] + g[2] + g[3] + g[4] + stars(g[5])
	})
}

func stars(s string) string { return strings.Repeat("*", utf8.RuneCountInString(s)) }
