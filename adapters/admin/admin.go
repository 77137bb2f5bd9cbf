package admin

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"regexp"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Prefix is where Register mounts the API, relative to the router it gets.
const Prefix = "/admin/v1"

// Action names, as they appear in audit entries ("<action>:<outcome>").
const (
	ActionFlowsList      = "flows.list"
	ActionMetricsSummary = "metrics.summary"
	ActionExport         = "subjects.export"
	ActionErase          = "subjects.erase"
	ActionRectify        = "subjects.rectify"
	ActionAuditVerify    = "audit.verify"
	ActionFlowsReload    = "flows.reload"
	// ActionStudio is the authoring studio (/studio) reached from a
	// non-loopback address (parley serve --studio-remote): it edits and
	// reloads flows, so it takes the role that reloads them.
	ActionStudio = "studio"
	// ActionAuth is used for the lockout entry written when a client starts
	// a cooldown after too many bad tokens.
	ActionAuth = "auth"
	// ActionMe is GET /me: who is signed in and what the role allows, so
	// the console shows only that (the server refuses the rest anyway).
	ActionMe = "me"
)

// Outcomes, the part of an audit action after the colon.
const (
	OutcomeRequested       = "requested"       // authorized; written before acting
	OutcomeOK              = "ok"              // done
	OutcomeRefused         = "refused"         // reload refused: a flow has errors
	OutcomeInvalid         = "invalid"         // bad request body
	OutcomeNotFound        = "not_found"       // nothing held for that subject
	OutcomeBroken          = "broken"          // audit chain does not verify
	OutcomeError           = "error"           // the backend failed
	OutcomeDenied          = "denied"          // valid token, role lacks the action (403)
	OutcomeUnauthenticated = "unauthenticated" // missing or bad token (401)
	OutcomeLockout         = "lockout"         // too many bad tokens; cooldown starts
)

// Actors used when no valid token was presented.
const (
	ActorAnonymous = "anonymous" // no token at all
	ActorUnknown   = "unknown"   // a token that matches none
)

// grants is the permission matrix; see Role.
var grants = map[Role][]string{
	RoleViewer: {ActionMe, ActionFlowsList, ActionMetricsSummary},
	RoleOperator: {ActionMe, ActionFlowsList, ActionMetricsSummary, ActionExport, ActionBroadcast,
		ActionHandoffsList, ActionHandoffsRead, ActionHandoffsReply, ActionHandoffsReturn, ActionHandoffsClose},
	RoleDPO: {ActionMe, ActionFlowsList, ActionMetricsSummary, ActionExport, ActionErase, ActionRectify, ActionAuditVerify, ActionBroadcast,
		ActionHandoffsList, ActionHandoffsRead, ActionHandoffsReply, ActionHandoffsReturn, ActionHandoffsClose, ActionAuditRead},
	RoleAdmin: {ActionMe, ActionFlowsList, ActionMetricsSummary, ActionFlowsReload, ActionStudio, ActionStaffList, ActionStaffChange},
}

// Can reports whether r may perform action.
func (r Role) Can(action string) bool { return slices.Contains(grants[r], action) }

// FlowInfo describes a served flow. It has the same fields as web.FlowInfo,
// so a slice of one converts element by element to the other; it is
// declared here so the admin API does not depend on the chat adapter.
type FlowInfo struct {
	ID          string   `json:"id"`
	Version     int      `json:"version"`
	Description string   `json:"description"`
	Languages   []string `json:"languages"`
}

// ReloadResult is what a reload did. When OK is false the old flows keep
// serving and Diagnostics says why (rendered lint output).
type ReloadResult struct {
	OK          bool
	Diagnostics string
}

// Backend carries out admin actions; the lead wires it to the runtime engine,
// the vault and the audit log. channel and user are the subject as the
// channel knows it (for the web chat: channel "web" and the browser's id);
// the backend pseudonymises them. Errors are never shown to the client but
// are logged, so like every Parley error they must not carry personal data;
// wrap ErrNotFound, ErrInvalid or ErrChainBroken to choose the status, or
// return a *RejectedValueError from Rectify.
type Backend interface {
	Flows() []FlowInfo
	Reload(ctx context.Context) (ReloadResult, error)
	Export(ctx context.Context, channel, user string) (json.RawMessage, error)
	Erase(ctx context.Context, channel, user string) (json.RawMessage, error)
	Rectify(ctx context.Context, channel, user, field, value string) error
	// AuditVerify checks the audit hash chain and returns how many entries
	// it verified (up to the first bad one when it returns ErrChainBroken).
	AuditVerify(ctx context.Context) (int, error)
	// Audit appends an entry. actor is "<role>:<token id>", "anonymous" or
	// "unknown"; action is "<action>:<outcome>"; subjectRef is a pseudonym
	// (see Config.SubjectRef) or "".
	Audit(ctx context.Context, actor, action, subjectRef string) error
}

// MetricsSource optionally adds the engine's own numbers to
// GET /metrics-summary. It must not return personal data.
type MetricsSource interface {
	MetricsSummary(ctx context.Context) (json.RawMessage, error)
}

// Errors a Backend returns (wrapped) to pick a response.
var (
	// ErrNotFound: nothing is held for that subject (404).
	ErrNotFound = errors.New("subject not found")
	// ErrInvalid: the backend refused the field or value (400).
	ErrInvalid = errors.New("invalid request")
	// ErrChainBroken: the audit chain does not verify (409).
	ErrChainBroken = errors.New("audit chain broken")
)

// RejectedValueError is returned by Backend.Rectify when the new value does
// not fit the field (422). Unlike other errors its Reason is sent to the
// client, so it must say what the field takes and never repeat the value or
// any other personal data.
type RejectedValueError struct{ Reason string }

func (e *RejectedValueError) Error() string { return "value rejected: " + e.Reason }

// Config configures the admin API. Backend is required, and Tokens or
// Staff (or both).
type Config struct {
	// Tokens are the legacy role tokens of --admin-tokens; they act as
	// service tokens (deprecated: use Staff API tokens).
	Tokens  *Tokens
	Backend Backend
	// Staff, when set, enables per-person accounts: sign-in with a
	// password and a second factor at /console/login, sessions in
	// cookies, and named, expiring API tokens.
	Staff *Staff
	// SessionIdle and SessionMax end a console session after that long
	// without a request, and that long after sign-in whatever happens.
	// Defaults: DefaultSessionIdle, DefaultSessionMax.
	SessionIdle, SessionMax time.Duration
	// SecureCookies marks cookies Secure (with the __Host- prefix) even
	// when the request does not look like HTTPS: set it behind a proxy
	// that ends TLS. Requests over TLS, or with X-Forwarded-Proto: https
	// from a trusted proxy, get Secure cookies anyway.
	SecureCookies bool
	// Issuer names the service in authenticator apps; default "Parley".
	Issuer string
	// Metrics, when set, is included in GET /metrics-summary as "engine".
	Metrics MetricsSource
	// Handoffs, when set, serves the operator console's routes (the
	// hand-off queue, transcripts, replies; the audit log read).
	Handoffs HandoffBackend
	// Logger gets one line per request (action, actor, outcome, status);
	// nil discards.
	Logger *slog.Logger
	// Now is the clock of the bad-token limiter; nil is time.Now.
	Now func() time.Time
	// MaxFailures bad or missing tokens from one client IP within
	// FailureWindow lock it out for Cooldown (429 with Retry-After, even
	// with a good token). Defaults: 5, one minute, five minutes. The client
	// IP is c.IP(): configure Fiber's proxy trust so it cannot be forged.
	MaxFailures   int
	FailureWindow time.Duration
	Cooldown      time.Duration
	// MaxBodyBytes bounds request bodies; 0 means 8 KiB.
	MaxBodyBytes int
	// Channels lists the accepted channel names; nil means whatsapp, web.
	Channels []string
	// SubjectRef turns a subject into the pseudonym written to the audit
	// log; wire the vault's subject id (HMAC with the pepper). When nil, a
	// keyed hash with a per-process random key is used: it never reveals
	// the user, but only correlates entries within one process lifetime.
	SubjectRef func(channel, user string) string
}

type handler struct {
	staff       *Staff
	idle        time.Duration
	maxAge      time.Duration
	forceSecure bool
	issuer      string
	now         func() time.Time
	// accounts throttles sign-in failures per account name, as limiter
	// does per client address.
	accounts *failureLimiter
	// hashSlots bounds concurrent password hashing (see loginPassword).
	hashSlots chan struct{}

	tokens     *Tokens
	backend    Backend
	metrics    MetricsSource
	log        *slog.Logger
	limiter    *failureLimiter
	maxBody    int
	channels   []string
	subjectRef func(channel, user string) string
	handoffs   HandoffBackend

	countMu sync.Mutex
	counts  map[string]int // by outcome
}

// Register mounts the admin API under Prefix on r, and with Config.Staff
// the sign-in pages under LoginPath. It panics when Backend, or both Tokens
// and Staff, are nil: that is a wiring mistake found at start-up. With zero
// tokens and accounts every request is refused.
func Register(r fiber.Router, cfg Config) {
	h := newHandler(cfg)
	if h.staff != nil {
		h.registerLogin(r)
	}
	g := r.Group(Prefix)
	g.Get("/me", h.guard(ActionMe, h.me))
	g.Get("/flows", h.guard(ActionFlowsList, h.flows))
	g.Get("/metrics-summary", h.guard(ActionMetricsSummary, h.metricsSummary))
	g.Post("/subjects/export", h.guard(ActionExport, h.export))
	g.Post("/subjects/erase", h.guard(ActionErase, h.erase))
	g.Post("/subjects/rectify", h.guard(ActionRectify, h.rectify))
	g.Get("/audit/verify", h.guard(ActionAuditVerify, h.auditVerify))
	g.Post("/flows/reload", h.guard(ActionFlowsReload, h.reload))
	g.Post("/broadcasts", h.guard(ActionBroadcast, h.broadcast))
	if cfg.Handoffs != nil {
		h.registerHandoffs(g, cfg.Handoffs)
	}
	if h.staff != nil {
		h.registerStaffAPI(g)
	}
}

// Guard returns middleware that lets a request through only with a token
// whose role may perform action: the same lockout, authentication,
// authorization and audit of refusals as the admin API's own routes (with
// its own lockout counts). Another adapter mounts it in front of routes the
// admin roles govern (the studio, for remote authors).
func Guard(cfg Config, action string) fiber.Handler {
	h := newHandler(cfg)
	return h.guard(action, func(rq *request) error { return rq.c.Next() })
}

func newHandler(cfg Config) *handler {
	if (cfg.Tokens == nil && cfg.Staff == nil) || cfg.Backend == nil {
		panic("admin.Register: Config.Backend and Config.Tokens or Config.Staff are required")
	}
	h := &handler{
		staff:       cfg.Staff,
		idle:        positiveDuration(cfg.SessionIdle, DefaultSessionIdle),
		maxAge:      positiveDuration(cfg.SessionMax, DefaultSessionMax),
		forceSecure: cfg.SecureCookies,
		issuer:      cfg.Issuer,
		tokens:      cfg.Tokens,
		backend:     cfg.Backend,
		metrics:     cfg.Metrics,
		log:         cfg.Logger,
		maxBody:     cfg.MaxBodyBytes,
		channels:    cfg.Channels,
		subjectRef:  cfg.SubjectRef,
		counts:      map[string]int{},
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = 8 << 10
	}
	if h.channels == nil {
		h.channels = []string{"whatsapp", "web"}
	}
	if h.subjectRef == nil {
		h.subjectRef = processSubjectRef()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	h.now = now
	h.hashSlots = make(chan struct{}, goruntime.NumCPU())
	if h.issuer == "" {
		h.issuer = "Parley"
	}
	h.limiter = newFailureLimiter(now, positive(cfg.MaxFailures, 5),
		positiveDuration(cfg.FailureWindow, time.Minute), positiveDuration(cfg.Cooldown, 5*time.Minute))
	h.accounts = newFailureLimiter(now, positive(cfg.MaxFailures, 5),
		positiveDuration(cfg.FailureWindow, time.Minute), positiveDuration(cfg.Cooldown, 5*time.Minute))
	if h.tokens == nil {
		h.tokens = &Tokens{}
	}
	return h
}

func positive(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func positiveDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func processSubjectRef() func(channel, user string) string {
	var key [32]byte
	_, _ = rand.Read(key[:]) // crypto/rand.Read never fails (Go 1.24+)
	return func(channel, user string) string {
		m := hmac.New(sha256.New, key[:])
		m.Write([]byte(channel))
		m.Write([]byte{0})
		m.Write([]byte(user))
		return "p:" + hex.EncodeToString(m.Sum(nil))[:32]
	}
}

// request is one authorized admin request in progress.
type request struct {
	c      *fiber.Ctx
	action string
	actor  string
	role   Role
	ref    string // subject pseudonym, once known
}

type actionFunc func(rq *request) error

// guard runs the lockout check, authentication and authorization shared by
// every route, auditing each refusal, then hands over to fn.
func (h *handler) guard(action string, fn actionFunc) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		// The limiter keeps the IP as a map key beyond this request, and
		// Fiber's strings point into buffers fasthttp reuses: copy it.
		ip := strings.Clone(c.IP())
		if left, blocked := h.limiter.blocked(ip); blocked {
			// Not audited per request: a locked-out client could otherwise
			// flood the audit log. Its lockout was audited when it began.
			h.count("rate_limited")
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(left.Seconds()))))
			return h.fail(c, action, ActorUnknown, "rate_limited", fiber.StatusTooManyRequests, "")
		}
		p, ok, err := h.authenticate(c, action, ip)
		if err != nil || !ok {
			return err
		}
		if !p.Role.Can(action) {
			h.audit(c, p.Actor(), action, OutcomeDenied, "")
			return h.fail(c, action, p.Actor(), OutcomeDenied, fiber.StatusForbidden, "your role may not do that")
		}
		return fn(&request{c: c, action: action, actor: p.Actor(), role: p.Role})
	}
}

// authenticate finds who is calling: a bearer token (an API token of
// Staff, or a legacy token of Tokens) or, without an Authorization header,
// a console session cookie. A refused request is answered here (ok false).
// Only a bad bearer token counts towards the client's lockout: no
// credential at all, or a session that expired, is not a failed one.
func (h *handler) authenticate(c *fiber.Ctx, action, ip string) (Principal, bool, error) {
	token, present := bearerToken(c.Get(fiber.HeaderAuthorization))
	if present {
		p, ok := h.tokens.Identify(token)
		if !ok && h.staff != nil && token != "" {
			var err error
			if p, ok, err = h.staff.identifyToken(token); err != nil {
				h.log.ErrorContext(c.UserContext(), "admin token lookup failed", "adapter", "admin", "err", err)
				return p, false, h.fail(c, action, ActorUnknown, OutcomeError, fiber.StatusServiceUnavailable, "")
			}
		}
		if ok {
			return p, true, nil
		}
		h.audit(c, ActorUnknown, action, OutcomeUnauthenticated, "")
		if h.limiter.fail(ip) {
			h.count(OutcomeLockout)
			h.audit(c, ActorUnknown, ActionAuth, OutcomeLockout, "")
		}
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="parley-admin", error="invalid_token"`)
		return p, false, h.fail(c, action, ActorUnknown, OutcomeUnauthenticated, fiber.StatusUnauthorized, "")
	}
	if h.staff != nil {
		state, _, s, a, err := h.session(c)
		if err != nil {
			h.log.ErrorContext(c.UserContext(), "admin session lookup failed", "adapter", "admin", "err", err)
			return Principal{}, false, h.fail(c, action, ActorUnknown, OutcomeError, fiber.StatusServiceUnavailable, "")
		}
		switch {
		case state == sessionOK && s.Stage == stageFull:
			p := a.principal()
			if stateChanging(c.Method()) && !csrfOK(c, s) {
				h.audit(c, p.Actor(), ActionCSRF, OutcomeRefusedCSRF, "")
				return p, false, h.fail(c, action, p.Actor(), OutcomeDenied, fiber.StatusForbidden,
					"missing or wrong "+HeaderCSRF+" header: send the value of the "+CookieCSRF+" cookie")
			}
			return p, true, nil
		case state != sessionNone:
			if state == sessionInvalid {
				h.clearCookies(c)
			} // a half-done sign-in stays, so the code can still be entered
			h.audit(c, ActorUnknown, action, OutcomeUnauthenticated, "")
			return Principal{}, false, h.fail(c, action, ActorUnknown, OutcomeUnauthenticated, fiber.StatusUnauthorized,
				"your session has ended: sign in again at "+LoginPath)
		}
	}
	h.audit(c, ActorAnonymous, action, OutcomeUnauthenticated, "")
	c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="parley-admin"`)
	return Principal{}, false, h.fail(c, action, ActorAnonymous, OutcomeUnauthenticated, fiber.StatusUnauthorized, "")
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; present says whether any credentials were sent.
func bearerToken(header string) (token string, present bool) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", false
	}
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	token = strings.TrimSpace(rest)
	if len(token) > 1024 {
		return "", true
	}
	return token, true
}

// audit writes one entry and reports whether it was written. The failure is
// logged here without the subject.
func (h *handler) audit(c *fiber.Ctx, actor, action, outcome, ref string) bool {
	if err := h.backend.Audit(c.UserContext(), actor, action+":"+outcome, ref); err != nil {
		h.log.ErrorContext(c.UserContext(), "admin audit write failed", "adapter", "admin",
			"action", action, "actor", actor, "err", err)
		return false
	}
	return true
}

// begin writes the "requested" entry for an authorized action. If the audit
// log cannot take it, it answers 503 and reports false: no action without a
// record.
func (h *handler) begin(rq *request) (bool, error) {
	if !h.audit(rq.c, rq.actor, rq.action, OutcomeRequested, rq.ref) {
		return false, h.fail(rq.c, rq.action, rq.actor, OutcomeError, fiber.StatusServiceUnavailable, "audit log unavailable; nothing was done")
	}
	return true, nil
}

// finish writes the outcome entry and logs the request.
func (h *handler) finish(rq *request, outcome string, status int) {
	h.audit(rq.c, rq.actor, rq.action, outcome, rq.ref)
	h.logRequest(rq.c, rq.action, rq.actor, outcome, status)
}

func (h *handler) logRequest(c *fiber.Ctx, action, actor, outcome string, status int) {
	h.count(outcome)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	} else if status >= 400 {
		level = slog.LevelWarn
	}
	h.log.Log(c.UserContext(), level, "admin request", "adapter", "admin",
		"action", action, "actor", actor, "outcome", outcome, "status", status)
}

// fail logs and answers {"error": msg}; msg must be a fixed text of ours
// (empty means the status text).
func (h *handler) fail(c *fiber.Ctx, action, actor, outcome string, status int, msg string) error {
	if outcome != "rate_limited" {
		h.logRequest(c, action, actor, outcome, status)
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return c.Status(status).JSON(fiber.Map{"error": msg})
}

// failAfter finishes an authorized action that went wrong.
func (h *handler) failAfter(rq *request, outcome string, status int, msg string) error {
	h.audit(rq.c, rq.actor, rq.action, outcome, rq.ref)
	return h.fail(rq.c, rq.action, rq.actor, outcome, status, msg)
}

// backendFailure maps a backend error to a response; the error itself is
// logged without a subject and never sent.
func (h *handler) backendFailure(rq *request, err error) error {
	var rv *RejectedValueError
	switch {
	case errors.Is(err, ErrNotFound):
		return h.failAfter(rq, OutcomeNotFound, fiber.StatusNotFound, "no data is held for that subject")
	case errors.As(err, &rv):
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusUnprocessableEntity, "the value was refused: "+rv.Reason)
	case errors.Is(err, ErrInvalid):
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, "the request was refused: check the field and value")
	}
	h.log.ErrorContext(rq.c.UserContext(), "admin action failed", "adapter", "admin", "action", rq.action, "err", err)
	return h.failAfter(rq, OutcomeError, fiber.StatusInternalServerError, "")
}

func (h *handler) count(outcome string) {
	h.countMu.Lock()
	h.counts[outcome]++
	h.countMu.Unlock()
}

// --- actions ---

func (h *handler) flows(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	fs := append([]FlowInfo(nil), h.backend.Flows()...)
	for i := range fs {
		if fs[i].Languages == nil {
			fs[i].Languages = []string{}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].ID < fs[j].ID })
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"flows": fs})
}

// me answers who is calling (the account or token id and its role) and
// the actions of the grants table the role may perform.
func (h *handler) me(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	actions := slices.Clone(grants[rq.role])
	slices.Sort(actions)
	_, id, _ := strings.Cut(rq.actor, ":")
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"actor": rq.actor, "id": id, "role": rq.role.String(), "actions": actions})
}

func (h *handler) metricsSummary(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	out := map[string]any{"flows": len(h.backend.Flows())}
	h.countMu.Lock()
	counts := make(map[string]int, len(h.counts))
	for k, v := range h.counts {
		counts[k] = v
	}
	h.countMu.Unlock()
	out["admin_requests"] = counts
	if h.metrics != nil {
		raw, err := h.metrics.MetricsSummary(rq.c.UserContext())
		if err != nil || !json.Valid(raw) {
			return h.backendFailure(rq, errors.Join(errors.New("metrics summary"), err))
		}
		out["engine"] = raw
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(out)
}

func (h *handler) export(rq *request) error {
	return h.subjectData(rq, h.backend.Export)
}

func (h *handler) erase(rq *request) error {
	return h.subjectData(rq, h.backend.Erase)
}

func (h *handler) subjectData(rq *request, do func(ctx context.Context, channel, user string) (json.RawMessage, error)) error {
	body, err := h.subjectRequest(rq, false)
	if err != nil || body == nil {
		return err
	}
	if ok, err := h.begin(rq); !ok {
		return err
	}
	raw, err := do(rq.c.UserContext(), body.Channel, body.User)
	if err == nil && !json.Valid(raw) {
		err = errors.New("backend returned invalid JSON")
	}
	if err != nil {
		return h.backendFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	rq.c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return rq.c.Send(raw)
}

func (h *handler) rectify(rq *request) error {
	body, err := h.subjectRequest(rq, true)
	if err != nil || body == nil {
		return err
	}
	if ok, err := h.begin(rq); !ok {
		return err
	}
	if err := h.backend.Rectify(rq.c.UserContext(), body.Channel, body.User, body.Field, body.Value); err != nil {
		return h.backendFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"ok": true})
}

func (h *handler) auditVerify(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	n, err := h.backend.AuditVerify(rq.c.UserContext())
	if errors.Is(err, ErrChainBroken) {
		h.finish(rq, OutcomeBroken, fiber.StatusConflict)
		return rq.c.Status(fiber.StatusConflict).JSON(fiber.Map{"ok": false, "verified": n, "error": "audit chain broken"})
	}
	if err != nil {
		return h.backendFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"ok": true, "verified": n})
}

func (h *handler) reload(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	res, err := h.backend.Reload(rq.c.UserContext())
	if err != nil {
		return h.backendFailure(rq, err)
	}
	if !res.OK {
		h.finish(rq, OutcomeRefused, fiber.StatusUnprocessableEntity)
		return rq.c.Status(fiber.StatusUnprocessableEntity).JSON(fiber.Map{
			"ok": false, "error": "reload refused: a flow has errors; the previous flows keep serving",
			"diagnostics": res.Diagnostics,
		})
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"ok": true, "diagnostics": res.Diagnostics})
}

// --- request bodies ---

// subjectBody is the body of the /subjects/* routes.
type subjectBody struct {
	Channel string `json:"channel"`
	User    string `json:"user"`
	Field   string `json:"field"`
	Value   string `json:"value"`
}

var (
	channelPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	fieldPattern   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
)

const (
	maxUserBytes   = 256
	maxValueChars  = 4096
	invalidBodyMsg = "body must be one JSON object with channel and user (and field and value to rectify)"
)

// decodeOne decodes raw as exactly one JSON object of v's fields, nothing
// unknown and nothing after it.
func decodeOne(raw []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return false
	}
	_, err := dec.Token()
	return err == io.EOF
}

// subjectRequest checks and decodes the body. On a bad body it answers,
// audits the invalid request and returns (nil, nil) or the write error.
func (h *handler) subjectRequest(rq *request, rectify bool) (*subjectBody, error) {
	c := rq.c
	reject := func(status int, msg string) (*subjectBody, error) {
		return nil, h.failAfter(rq, OutcomeInvalid, status, msg)
	}
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return reject(fiber.StatusUnsupportedMediaType, "compressed bodies are not accepted")
	}
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return reject(fiber.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	raw := c.BodyRaw()
	if len(raw) > h.maxBody {
		return reject(fiber.StatusRequestEntityTooLarge, "request body is too large")
	}
	var b subjectBody
	if !decodeOne(raw, &b) {
		return reject(fiber.StatusBadRequest, invalidBodyMsg)
	}
	b.Channel = strings.ToLower(strings.TrimSpace(b.Channel)) // "WhatsApp" as a DPO may type it
	switch {
	case !channelPattern.MatchString(b.Channel) || !slices.Contains(h.channels, b.Channel):
		return reject(fiber.StatusBadRequest, "channel must be one of: "+strings.Join(h.channels, ", "))
	case b.User == "" || len(b.User) > maxUserBytes || !utf8.ValidString(b.User) || strings.ContainsFunc(b.User, unicode.IsControl):
		return reject(fiber.StatusBadRequest, "user must be 1 to 256 bytes of text without control characters")
	case !rectify && (b.Field != "" || b.Value != ""):
		return reject(fiber.StatusBadRequest, "field and value are only for rectify")
	case rectify && !fieldPattern.MatchString(b.Field):
		return reject(fiber.StatusBadRequest, "field must name a flow field")
	case rectify && (b.Value == "" || utf8.RuneCountInString(b.Value) > maxValueChars || !utf8.ValidString(b.Value)):
		return reject(fiber.StatusBadRequest, "value must be 1 to 4096 characters")
	}
	rq.ref = h.subjectRef(b.Channel, b.User)
	return &b, nil
}
