package admin

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// Role is what a token may do. Roles are permission sets, not a strict
// ladder: viewer ⊂ operator ⊂ dpo, and admin is viewer plus flow reloads.
// Reloading changes what the bot collects; answering data-subject requests
// is the DPO's job. Keeping them apart is separation of duties: a person
// who needs both holds two tokens.
type Role int

const (
	// RoleViewer may list flows and read the metrics summary.
	RoleViewer Role = iota + 1
	// RoleOperator is a viewer that may also export a subject's data.
	RoleOperator
	// RoleDPO is an operator that may also erase and rectify a subject's
	// data and verify the audit chain.
	RoleDPO
	// RoleAdmin is a viewer that may also reload flows.
	RoleAdmin
)

var roleNames = map[Role]string{RoleViewer: "viewer", RoleOperator: "operator", RoleDPO: "dpo", RoleAdmin: "admin"}

// String returns the role's name as written in a tokens file.
func (r Role) String() string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return "none"
}

// ParseRole returns the role named s ("viewer", "operator", "dpo", "admin").
func ParseRole(s string) (Role, bool) {
	for r, n := range roleNames {
		if n == s {
			return r, true
		}
	}
	return 0, false
}

// minTokenBytes is the shortest plain token accepted: admin tokens must not
// be guessable even at the rate limiter's pace.
const minTokenBytes = 16

// Tokens holds the admin tokens as SHA-256 hashes only, with their roles.
// The zero value and nil hold no tokens, so every request is refused.
type Tokens struct {
	entries []tokenEntry
}

type tokenEntry struct {
	role Role
	hash [sha256.Size]byte
	id   string
}

// Principal is whoever presented a valid token.
type Principal struct {
	Role Role
	// ID is a short public id of the token (8 hex characters derived from
	// its hash, not a prefix of the hash), for audit entries and logs.
	ID string
}

// Actor is how audit entries name the principal: "<role>:<id>".
func (p Principal) Actor() string { return p.Role.String() + ":" + p.ID }

// HashToken returns the "sha256:<hex>" form of token, to write in a tokens
// file instead of the token itself.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// ParseTokens reads a tokens file: one "role:token" or "role:sha256:<64 hex>"
// per line; blank lines and lines starting with '#' are skipped. Errors name
// the line number and never quote the line.
func ParseTokens(r io.Reader, name string) (*Tokens, error) {
	t := &Tokens{}
	var errs []error
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := t.add(line); err != nil {
			errs = append(errs, fmt.Errorf("%s:%d: %w", name, n, err))
		}
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("read %s: %w", name, err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// ParseTokenList reads the PARLEY_ADMIN_TOKENS form: entries as in a tokens
// file, separated by commas. Errors name the entry number only.
func ParseTokenList(s string) (*Tokens, error) {
	t := &Tokens{}
	var errs []error
	for i, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if err := t.add(entry); err != nil {
			errs = append(errs, fmt.Errorf("PARLEY_ADMIN_TOKENS entry %d: %w", i+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// LoadTokens reads the tokens file at path when path is set (the
// --admin-tokens flag wins), otherwise parses env (the value of
// PARLEY_ADMIN_TOKENS, which cmd reads). Both empty gives no tokens.
func LoadTokens(path, env string) (*Tokens, error) {
	if path == "" {
		return ParseTokenList(env)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open admin tokens: %w", err)
	}
	defer f.Close()
	return ParseTokens(f, path)
}

func (t *Tokens) add(entry string) error {
	roleName, secret, ok := strings.Cut(entry, ":")
	if !ok {
		return errors.New("want role:token or role:sha256:<hex>")
	}
	role, ok := ParseRole(strings.TrimSpace(roleName))
	if !ok {
		return errors.New("unknown role (want viewer, operator, dpo or admin)")
	}
	secret = strings.TrimSpace(secret)
	var e tokenEntry
	e.role = role
	if hexed, isHash := strings.CutPrefix(secret, "sha256:"); isHash {
		b, err := hex.DecodeString(hexed)
		if err != nil || len(b) != sha256.Size {
			return errors.New("sha256: must be followed by 64 hex digits")
		}
		copy(e.hash[:], b)
	} else {
		if len(secret) < minTokenBytes {
			return fmt.Errorf("token is shorter than %d characters", minTokenBytes)
		}
		e.hash = sha256.Sum256([]byte(secret))
	}
	for _, old := range t.entries {
		if old.hash == e.hash {
			return errors.New("the same token appears twice")
		}
	}
	e.id = shortID(e.hash)
	t.entries = append(t.entries, e)
	return nil
}

// shortID derives a public id from a token hash. It is keyed so that it is
// not a prefix of the hash a tokens file may hold.
func shortID(hash [sha256.Size]byte) string {
	m := hmac.New(sha256.New, []byte("parley admin token id"))
	m.Write(hash[:])
	return hex.EncodeToString(m.Sum(nil))[:8]
}

// Len is the number of tokens.
func (t *Tokens) Len() int {
	if t == nil {
		return 0
	}
	return len(t.entries)
}

// String shows only how many tokens there are.
func (t *Tokens) String() string { return fmt.Sprintf("admin.Tokens(%d)", t.Len()) }

// LogValue shows only how many tokens there are.
func (t *Tokens) LogValue() slog.Value { return slog.IntValue(t.Len()) }

// Identify returns the principal holding token. It hashes token and compares
// it with every stored hash in constant time, without stopping at a match,
// so timing says nothing about which or how many tokens exist.
func (t *Tokens) Identify(token string) (Principal, bool) {
	if t == nil || token == "" {
		return Principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, false
	}
	e := t.entries[found]
	return Principal{Role: e.role, ID: e.id}, true
}

// hashes returns the stored hashes, for tests that check no token is kept.
func (t *Tokens) hashes() [][sha256.Size]byte {
	out := make([][sha256.Size]byte, 0, t.Len())
	for _, e := range t.entries {
		out = append(out, e.hash)
	}
	return out
}
