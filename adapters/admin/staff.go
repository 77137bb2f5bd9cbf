package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// StaffStore keeps staff records as opaque blobs: kind is "account",
// "session" or "token"; id is the account name, the SHA-256 (hex) of a
// session cookie or of an API token. A zero expires keeps the record until
// deleted; otherwise it reads as absent from then on (by now). cmd/parley
// wires the vault (*vault.Vault implements it).
type StaffStore interface {
	StaffGet(kind, id string, now time.Time) (blob []byte, found bool, err error)
	StaffPut(kind, id string, blob []byte, expires, now time.Time) error
	StaffDelete(kind, id string) error
	StaffList(kind string, now time.Time) ([][]byte, error)
}

// Record kinds of a StaffStore.
const (
	kindAccount = "account"
	kindSession = "session"
	kindToken   = "token"
)

// Staff audit actions ("<action>:<outcome>").
const (
	ActionSignIn       = "staff.signin"  // ok, failed, disabled, throttled
	ActionSecondStep   = "staff.second"  // failed (wrong code), recovery (a recovery code was used)
	ActionEnrol        = "staff.enrol"   // ok, failed
	ActionSignOut      = "staff.signout" // ok
	ActionAccount      = "staff.account" // added, role, disabled, enabled, removed, reset
	ActionTokenChange  = "staff.token"   // added, revoked
	ActionSession      = "staff.session" // expired, revoked (a cookie that no longer opens a session)
	ActionCSRF         = "staff.csrf"    // refused
	ActorCLI           = "cli"           // changes made with parley staff
	OutcomeFailed      = "failed"        // wrong password or code
	OutcomeThrottled   = "throttled"     // refused: too many failures
	OutcomeRefusedCSRF = "refused"       // state change without the CSRF header
)

// Account is one person's staff account as stored (JSON, sealed by the
// store). It never holds a password, only its argon2id hash.
type Account struct {
	Name     string    `json:"name"`
	ID       string    `json:"id"` // public id for audit entries: "u-" + 8 hex
	Role     string    `json:"role"`
	Password string    `json:"password"`            // argon2id PHC string
	TOTP     []byte    `json:"totp,omitempty"`      // enrolled TOTP secret
	LastStep int64     `json:"last_step,omitempty"` // last TOTP step used (no replay)
	Recovery []string  `json:"recovery,omitempty"`  // SHA-256 of unused recovery codes
	Disabled bool      `json:"disabled,omitempty"`
	Gen      int       `json:"gen"` // bumped by disable, reset, role change: ends every session at once
	Created  time.Time `json:"created"`
}

func (a *Account) role() Role { r, _ := ParseRole(a.Role); return r }

// needsSecondFactor: TOTP is mandatory for every role that can reach
// customer data or change the bot (operator, dpo, admin); a viewer who
// enrolled uses it too.
func (a *Account) needsSecondFactor() bool { return a.role() != RoleViewer || a.TOTP != nil }

func (a *Account) principal() Principal { return Principal{Role: a.role(), ID: a.ID} }

// AccountInfo is what parley staff list and GET /admin/v1/staff show.
type AccountInfo struct {
	Name         string    `json:"name"`
	ID           string    `json:"id"`
	Role         string    `json:"role"`
	Enrolled     bool      `json:"two_factor"`
	Disabled     bool      `json:"disabled"`
	RecoveryLeft int       `json:"recovery_codes_left"`
	Created      time.Time `json:"created"`
}

// apiToken is an automation token as stored: never the token, only the
// SHA-256 it is stored under.
type apiToken struct {
	ID      string    `json:"id"` // "t-" + 8 hex, shown by list, used by revoke
	Name    string    `json:"name"`
	Owner   string    `json:"owner,omitempty"` // account name; empty for a service token
	Role    string    `json:"role"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

// TokenInfo is what parley staff token list and GET /admin/v1/staff/tokens
// show: never the token.
type TokenInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner,omitempty"`
	Role    string    `json:"role"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

var (
	namePattern      = regexp.MustCompile(`^[a-z][a-z0-9._-]{1,31}$`)
	tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$`)
)

// Errors of the staff operations, for the CLI to explain.
var (
	ErrNoAccount     = errors.New("no staff account has that name")
	ErrAccountExists = errors.New("a staff account with that name exists already")
	ErrNoToken       = errors.New("no API token has that id")
)

// Staff manages staff accounts and API tokens on a StaffStore; parley
// staff and the admin API use it. Audit receives every change.
type Staff struct {
	store StaffStore
	now   func() time.Time
	audit func(ctx context.Context, actor, action, subjectRef string) error
	// params is the password hashing cost (tests of other packages may
	// lower it through NewStaff's caller; the default is passwordParams).
	params argonParams
}

// NewStaff returns a Staff on store; now nil is time.Now. audit must not be nil.
func NewStaff(store StaffStore, now func() time.Time, audit func(ctx context.Context, actor, action, subjectRef string) error) *Staff {
	if now == nil {
		now = time.Now
	}
	return &Staff{store: store, now: now, audit: audit, params: passwordParams}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// staffRef is how audit entries name the account a change is about.
func staffRef(a *Account) string { return "staff:" + a.ID }

func (s *Staff) get(name string) (*Account, error) {
	b, ok, err := s.store.StaffGet(kindAccount, name, s.now())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrNoAccount
	}
	var a Account
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("staff account: %w", err)
	}
	return &a, nil
}

func (s *Staff) put(a *Account) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return s.store.StaffPut(kindAccount, a.Name, b, time.Time{}, s.now())
}

// change audits a change before making it (no change without a record).
func (s *Staff) change(ctx context.Context, actor, action, outcome string, a *Account, do func() error) error {
	if err := s.audit(ctx, actor, action+":"+outcome, staffRef(a)); err != nil {
		return fmt.Errorf("audit log unavailable, nothing was changed: %w", err)
	}
	return do()
}

// CheckName says in plain words what is wrong with an account name.
func CheckName(name string) error {
	if !namePattern.MatchString(name) {
		return errors.New("a user name is 2 to 32 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter (such as maria.rossi)")
	}
	return nil
}

// CheckPassword says in plain words what is wrong with a new password.
func CheckPassword(pw string) error { return checkPasswordRules(pw) }

// Add creates an account. Operators, DPOs and admins enrol a second factor
// at their first sign-in.
func (s *Staff) Add(ctx context.Context, actor, name, role, password string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if _, ok := ParseRole(role); !ok {
		return errors.New("unknown role: use viewer, operator, dpo or admin")
	}
	if err := checkPasswordRules(password); err != nil {
		return err
	}
	if _, err := s.get(name); err == nil {
		return ErrAccountExists
	} else if !errors.Is(err, ErrNoAccount) {
		return err
	}
	a := &Account{Name: name, ID: "u-" + randomHex(4), Role: role, Password: hashPassword(password, s.params), Created: s.now().UTC()}
	return s.change(ctx, actor, ActionAccount, "added_"+role, a, func() error { return s.put(a) })
}

// List returns the accounts, sorted by name.
func (s *Staff) List() ([]AccountInfo, error) {
	blobs, err := s.store.StaffList(kindAccount, s.now())
	if err != nil {
		return nil, err
	}
	out := []AccountInfo{}
	for _, b := range blobs {
		var a Account
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("staff account: %w", err)
		}
		out = append(out, AccountInfo{Name: a.Name, ID: a.ID, Role: a.Role, Enrolled: a.TOTP != nil,
			Disabled: a.Disabled, RecoveryLeft: len(a.Recovery), Created: a.Created})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// SetDisabled disables (or enables) an account; disabling ends its
// sessions and stops its API tokens at once.
func (s *Staff) SetDisabled(ctx context.Context, actor, name string, disabled bool) error {
	a, err := s.get(name)
	if err != nil {
		return err
	}
	outcome := "enabled"
	if disabled {
		outcome = "disabled"
	}
	a.Disabled = disabled
	a.Gen++
	return s.change(ctx, actor, ActionAccount, outcome, a, func() error { return s.put(a) })
}

// SetRole changes an account's role; its sessions end at once and its API
// tokens (which carry the old role) stop working.
func (s *Staff) SetRole(ctx context.Context, actor, name, role string) error {
	if _, ok := ParseRole(role); !ok {
		return errors.New("unknown role: use viewer, operator, dpo or admin")
	}
	a, err := s.get(name)
	if err != nil {
		return err
	}
	a.Role = role
	a.Gen++
	return s.change(ctx, actor, ActionAccount, "role_"+role, a, func() error { return s.put(a) })
}

// Remove deletes an account; its sessions and tokens stop at once.
func (s *Staff) Remove(ctx context.Context, actor, name string) error {
	a, err := s.get(name)
	if err != nil {
		return err
	}
	return s.change(ctx, actor, ActionAccount, "removed", a, func() error { return s.store.StaffDelete(kindAccount, name) })
}

// Reset sets a new password and clears the second factor and recovery
// codes, so the person enrols again at the next sign-in (a lost phone);
// every session of the account ends at once.
func (s *Staff) Reset(ctx context.Context, actor, name, password string) error {
	if err := checkPasswordRules(password); err != nil {
		return err
	}
	a, err := s.get(name)
	if err != nil {
		return err
	}
	a.Password = hashPassword(password, s.params)
	a.TOTP, a.LastStep, a.Recovery = nil, 0, nil
	a.Gen++
	return s.change(ctx, actor, ActionAccount, "reset", a, func() error { return s.put(a) })
}

// DefaultTokenTTL is how long an API token lives unless told otherwise.
const DefaultTokenTTL = 90 * 24 * time.Hour

// AddToken makes an API token and returns it: this is the only time it is
// shown. owner "" makes a service token with role; otherwise the token is
// the person's and has their role (role must be theirs or empty).
func (s *Staff) AddToken(ctx context.Context, actor, name, owner, role string, ttl time.Duration) (token string, info TokenInfo, err error) {
	if !tokenNamePattern.MatchString(name) {
		return "", info, errors.New("a token name is 1 to 64 letters, digits, spaces, '.', '_' or '-' (such as crm-export)")
	}
	if ttl <= 0 {
		return "", info, errors.New("the expiry must be a positive duration, such as 720h")
	}
	ref := "service:" + name
	if owner != "" {
		a, err := s.get(owner)
		if err != nil {
			return "", info, err
		}
		if role != "" && role != a.Role {
			return "", info, fmt.Errorf("%s's role is %s: a personal token has its owner's role", owner, a.Role)
		}
		role, ref = a.Role, staffRef(a)
	}
	if _, ok := ParseRole(role); !ok {
		return "", info, errors.New("a service token needs --role viewer, operator, dpo or admin")
	}
	token = "pt_" + randomToken()
	now := s.now().UTC()
	t := apiToken{ID: "t-" + randomHex(4), Name: name, Owner: owner, Role: role, Hash: sha256Hex(token), Created: now, Expires: now.Add(ttl)}
	b, err := json.Marshal(t)
	if err != nil {
		return "", info, err
	}
	if err := s.audit(ctx, actor, ActionTokenChange+":added_"+role, ref+"/"+t.ID); err != nil {
		return "", info, fmt.Errorf("audit log unavailable, nothing was changed: %w", err)
	}
	if err := s.store.StaffPut(kindToken, t.Hash, b, t.Expires, s.now()); err != nil {
		return "", info, err
	}
	return token, t.info(), nil
}

func (t *apiToken) info() TokenInfo {
	return TokenInfo{ID: t.ID, Name: t.Name, Owner: t.Owner, Role: t.Role, Created: t.Created, Expires: t.Expires}
}

func (s *Staff) tokens() ([]apiToken, error) {
	blobs, err := s.store.StaffList(kindToken, s.now())
	if err != nil {
		return nil, err
	}
	var out []apiToken
	for _, b := range blobs {
		var t apiToken
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("staff token: %w", err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+out[i].ID < out[j].Name+out[j].ID })
	return out, nil
}

// Tokens lists the unexpired API tokens (never the tokens themselves).
func (s *Staff) Tokens() ([]TokenInfo, error) {
	ts, err := s.tokens()
	if err != nil {
		return nil, err
	}
	out := make([]TokenInfo, 0, len(ts))
	for i := range ts {
		out = append(out, ts[i].info())
	}
	return out, nil
}

// RevokeToken deletes the API token with id ("t-…"); it stops at once.
func (s *Staff) RevokeToken(ctx context.Context, actor, id string) error {
	ts, err := s.tokens()
	if err != nil {
		return err
	}
	for _, t := range ts {
		if t.ID == id {
			if err := s.audit(ctx, actor, ActionTokenChange+":revoked", "token:"+t.ID); err != nil {
				return fmt.Errorf("audit log unavailable, nothing was changed: %w", err)
			}
			return s.store.StaffDelete(kindToken, t.Hash)
		}
	}
	return ErrNoToken
}

// identifyToken returns the principal of an API token, if it is live and
// (for a personal token) its owner's account is enabled with the same role.
func (s *Staff) identifyToken(token string) (Principal, bool, error) {
	if !strings.HasPrefix(token, "pt_") {
		return Principal{}, false, nil
	}
	b, ok, err := s.store.StaffGet(kindToken, sha256Hex(token), s.now())
	if err != nil || !ok {
		return Principal{}, false, err
	}
	var t apiToken
	if err := json.Unmarshal(b, &t); err != nil {
		return Principal{}, false, fmt.Errorf("staff token: %w", err)
	}
	if !s.now().Before(t.Expires) {
		return Principal{}, false, nil
	}
	if t.Owner != "" {
		a, err := s.get(t.Owner)
		if errors.Is(err, ErrNoAccount) {
			return Principal{}, false, nil
		}
		if err != nil {
			return Principal{}, false, err
		}
		if a.Disabled || a.Role != t.Role {
			return Principal{}, false, nil
		}
	}
	r, ok := ParseRole(t.Role)
	return Principal{Role: r, ID: t.ID}, ok, nil
}
