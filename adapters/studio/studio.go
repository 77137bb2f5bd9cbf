package studio

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/engine/diag"
)

// Prefix is where the studio is mounted.
const Prefix = "/studio"

// Limits.
const (
	// MaxSourceBytes bounds a flow sent to lint or save.
	MaxSourceBytes = 1 << 20
	// MaxUsers bounds the test users kept in memory; the oldest goes first.
	MaxUsers = 256
	// MaxJump is the furthest one clock jump goes.
	MaxJump = 3660 * 24 * time.Hour
)

// Errors a Flows implementation returns (wrapped) for the studio to answer
// in words.
var (
	// ErrUnknownFile: the file is not one of Files.
	ErrUnknownFile = errors.New("no such flow file")
	// ErrNotClean: Save refused a flow with errors; nothing was written.
	ErrNotClean = errors.New("the flow has errors")
	// ErrNotReloaded: Save wrote the file but the served flows did not
	// reload (another file has errors, or two files share a flow id).
	ErrNotReloaded = errors.New("saved, but the served flows did not reload")
	// ErrNoFlow: Chat was asked for a flow that is not loaded.
	ErrNoFlow = errors.New("that flow is not loaded")
)

// Flows is the flow directory as the studio sees it.
type Flows interface {
	// Files lists the flow files that may be opened, by name relative to
	// the flow directory, sorted.
	Files() []string
	// Source returns a file's bytes.
	Source(file string) ([]byte, error)
	// Check lints src as if it were file, as `parley lint` would.
	Check(file string, src []byte) Checked
	// Save writes src to file only when it lints with no error (otherwise
	// ErrNotClean, with the diagnostics) and reloads the served flows.
	Save(file string, src []byte) (Checked, error)
}

// TestUsers runs the studio's test users on the engine and the vault. user
// is a studio session id; the implementation keeps it apart from every
// channel's customers. now is the test user's own clock.
type TestUsers interface {
	Chat(ctx context.Context, user, flow string, in Inbound, now time.Time) (Reply, error)
	// Held is what the vault holds for user, judged at now.
	Held(ctx context.Context, user string, now time.Time) (Held, error)
	// Sweep deletes, for user only, what has expired at now; it returns
	// how many fields went.
	Sweep(ctx context.Context, user string, now time.Time) (int, error)
	// Erase erases user as the erasure right does; now is the real time.
	Erase(ctx context.Context, user string, now time.Time) error
}

// Checked is a flow as the studio shows it.
type Checked struct {
	Flow    string           // the flow's id; "" when it could not be read
	Diags   diag.Diagnostics // what parley lint reports
	Graph   []byte           // the SVG graph; nil when the flow has errors
	DataMap *DataMap         // nil when the flow could not be read
}

// DataMap is what a flow collects, why, on which basis, for how long and
// who receives it (the record of processing's inventory).
type DataMap struct {
	Purposes   []Purpose   `json:"purposes"`
	Fields     []Field     `json:"fields"`
	Recipients []Recipient `json:"recipients"`
}

// Purpose is one declared purpose.
type Purpose struct {
	Name  string `json:"name"`
	Basis string `json:"basis"`
}

// Field is one declared field.
type Field struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Purpose    string   `json:"purpose"`
	Basis      string   `json:"basis"`
	Retention  string   `json:"retention"`
	Special    string   `json:"special"`
	Recipients []string `json:"recipients"`
}

// Recipient is an integration the flow sends data to.
type Recipient struct {
	Name    string   `json:"name"`
	Host    string   `json:"host"`
	Purpose string   `json:"purpose"`
	Sends   []string `json:"sends"`
}

// Inbound is what the author typed or tapped.
type Inbound struct {
	Text, Choice string
}

// Reply is the outcome of one turn.
type Reply struct {
	Messages []Message `json:"messages"`
	Step     string    `json:"step"`   // the step waiting now, "" when none
	Status   string    `json:"status"` // waiting, ended, handed_off
}

// Message is one message of the bot.
type Message struct {
	Text    string   `json:"text"`
	Options []Option `json:"options"`
}

// Option is one button.
type Option struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// Held is what the vault holds for a test user.
type Held struct {
	Fields   []HeldField   `json:"fields"`
	Consents []HeldConsent `json:"consents"`
}

// HeldField is one stored field.
type HeldField struct {
	Field       string    `json:"field"`
	Value       string    `json:"value"`
	Purpose     string    `json:"purpose"`
	Basis       string    `json:"basis"`
	CollectedAt time.Time `json:"collected_at"`
	// ExpiresAt is RFC 3339, or "" for the end of the conversation.
	ExpiresAt string `json:"expires_at"`
}

// HeldConsent is one consent decision.
type HeldConsent struct {
	Purpose  string    `json:"purpose"`
	Decision string    `json:"decision"`
	At       time.Time `json:"at"`
}

// Config configures the studio routes.
type Config struct {
	Flows Flows     // required
	Users TestUsers // required
	// Now is the real clock (tests move it); time.Now when nil.
	Now func() time.Time
	// Guard, when set, admits clients that are not on this machine through
	// it (the admin token check); when nil they are refused.
	Guard fiber.Handler
	// Logger receives one line per failed request (route and status,
	// never flow text or answers). Nil discards.
	Logger *slog.Logger
}

//go:embed static
var static embed.FS

// csp allows the page's own script, styles and requests, and nothing else.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type handler struct {
	cfg   Config
	log   *slog.Logger
	mu    sync.Mutex
	users map[string]*testUser
	order []string // session ids, oldest first
}

// testUser is one studio session: its clock offset, and a lock so its
// turns, jumps and erasure happen one at a time.
type testUser struct {
	mu     sync.Mutex
	offset time.Duration
}

// Register mounts the studio under Prefix on r. It panics when Flows or
// Users is nil: that is a wiring mistake found at start-up.
func Register(r fiber.Router, cfg Config) {
	if cfg.Flows == nil || cfg.Users == nil {
		panic("studio.Register: Config.Flows and Config.Users are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &handler{cfg: cfg, log: cfg.Logger, users: map[string]*testUser{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	g := r.Group(Prefix, h.admit)
	g.Get("/", h.page("static/index.html", fiber.MIMETextHTMLCharsetUTF8))
	g.Get("/studio.js", h.page("static/studio.js", "text/javascript; charset=utf-8"))
	g.Get("/studio.css", h.page("static/studio.css", "text/css; charset=utf-8"))
	api := g.Group("/api", h.guard)
	api.Get("/files", h.files)
	api.Get("/file", h.file)
	api.Post("/lint", h.lint)
	api.Post("/save", h.save)
	api.Post("/session", h.newSession)
	api.Post("/chat", h.chat)
	api.Post("/held", h.held)
	api.Post("/clock", h.clock)
	api.Post("/erase", h.erase)
}

// forwardingHeaders are the headers reverse proxies add. A proxy on this
// machine connects from loopback and often names the upstream (127.0.0.1)
// as the Host, so without them every request it forwards would look local.
var forwardingHeaders = []string{fiber.HeaderForwarded, fiber.HeaderXForwardedFor, fiber.HeaderXForwardedHost,
	fiber.HeaderXForwardedProto, "X-Real-Ip", fiber.HeaderVia}

// local reports whether the request comes from this machine under a
// loopback host name, and not through a proxy.
func local(c *fiber.Ctx) bool {
	if !c.Context().RemoteIP().IsLoopback() {
		return false
	}
	for _, h := range forwardingHeaders {
		if len(c.Request().Header.Peek(h)) > 0 {
			return false
		}
	}
	host := string(c.Request().Host())
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// admit refuses clients that are not on this machine unless a guard is
// configured; the page itself holds nothing secret, the API is guarded.
func (h *handler) admit(c *fiber.Ctx) error {
	if local(c) || h.cfg.Guard != nil {
		return c.Next()
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusForbidden).SendString("The studio answers only on this machine (open it at http://127.0.0.1:PORT/studio), " +
		"not through a proxy. To reach it from elsewhere, start parley serve with --studio-remote and an admin token.\n")
}

// guard sends API requests of remote clients through Config.Guard.
func (h *handler) guard(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	// The browser says which site made the request: the studio's own page
	// is same-origin; another page (another site, or another port of this
	// machine) gets nothing, whatever it sends. Clients that are not
	// browsers send no such header.
	if site := c.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
		return h.fail(c, fiber.StatusForbidden, "otherSite")
	}
	if c.Method() == fiber.MethodPost {
		// A JSON body needs a CORS preflight from another site's page.
		if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
			return h.fail(c, fiber.StatusUnsupportedMediaType, "notJSON")
		}
		if len(c.BodyRaw()) > MaxSourceBytes+4096 {
			return h.fail(c, fiber.StatusRequestEntityTooLarge, "tooLarge")
		}
	}
	if local(c) {
		return c.Next()
	}
	return h.cfg.Guard(c)
}

func (h *handler) page(name, contentType string) fiber.Handler {
	body, err := static.ReadFile(name)
	if err != nil {
		panic("studio: missing embedded " + name)
	}
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, contentType)
		c.Set(fiber.HeaderContentSecurityPolicy, csp)
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		c.Set(fiber.HeaderXFrameOptions, "DENY")
		c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
		c.Set(fiber.HeaderCacheControl, "no-cache")
		return c.Send(body)
	}
}

// failures are the studio's answers in words, by code: the page shows
// them in its own language by code (studio.js has them in every language
// of the interface), other clients read the English "error".
var failures = map[string]string{
	"otherSite":    "the studio takes requests from its own page only",
	"notJSON":      "Content-Type must be application/json",
	"tooLarge":     "the flow is larger than the studio takes (1 MiB)",
	"noFile":       "there is no flow file of that name in the flow directory",
	"unreadable":   "the flow file cannot be read",
	"badRequest":   "the request is not one the studio takes",
	"notReloaded":  "the file was saved, but the served flows did not reload: another flow file has errors or uses the same flow id; see the server log",
	"saveFailed":   "the flow could not be saved; see the server log",
	"userGone":     "this test user is gone (the server restarted or too many were started); start a new test user",
	"notLoaded":    "that flow is not loaded: save it without errors first",
	"turnFailed":   "the turn failed; see the server log",
	"heldFailed":   "the test user's data cannot be read; see the server log",
	"sweepFailed":  "the sweep failed; see the server log",
	"eraseFailed":  "the erasure failed; see the server log",
	"badAdvance":   "say how far to move the clock as years, weeks, days, hours or minutes, such as 1y, 8w, 31d, 12h or 1d12h",
	"advanceRange": "move the clock forward by at least a minute and at most ten years",
}

// fail answers {"code": code, "error": its English words}; they are fixed
// texts of ours, never flow text or an answer.
func (h *handler) fail(c *fiber.Ctx, status int, code string) error {
	if status >= 500 {
		h.log.Error("studio request failed", "route", c.Route().Path, "status", status)
	}
	msg, ok := failures[code]
	if !ok {
		panic("studio: no words for failure " + code)
	}
	return c.Status(status).JSON(fiber.Map{"code": code, "error": msg})
}

func decode(c *fiber.Ctx, v any) error {
	dec := json.NewDecoder(bytes.NewReader(c.Body()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

type fileInfo struct {
	File string `json:"file"`
}

func (h *handler) files(c *fiber.Ctx) error {
	out := []fileInfo{}
	for _, f := range h.cfg.Flows.Files() {
		out = append(out, fileInfo{File: f})
	}
	return c.JSON(fiber.Map{"files": out})
}

// diagnostic is one lint result as the page shows it.
type diagnostic struct {
	Line     int    `json:"line"`
	Col      int    `json:"col"`
	EndLine  int    `json:"end_line"`
	EndCol   int    `json:"end_col"`
	Severity string `json:"severity"`
	Rule     string `json:"rule"`
	Message  string `json:"message"`
	Detail   string `json:"detail,omitempty"`
	Suggest  string `json:"suggest,omitempty"`
}

type checkedJSON struct {
	File        string       `json:"file"`
	Flow        string       `json:"flow"`
	Source      *string      `json:"source,omitempty"`
	Diagnostics []diagnostic `json:"diagnostics"`
	Errors      int          `json:"errors"`
	Graph       string       `json:"graph"`
	DataMap     *DataMap     `json:"datamap"`
	Saved       bool         `json:"saved"`
}

func render(file string, ck Checked) checkedJSON {
	out := checkedJSON{File: file, Flow: ck.Flow, Diagnostics: []diagnostic{}, Graph: string(ck.Graph), DataMap: ck.DataMap,
		Errors: ck.Diags.Count(diag.Error)}
	for _, d := range ck.Diags {
		out.Diagnostics = append(out.Diagnostics, diagnostic{
			Line: d.Subject.Start.Line, Col: d.Subject.Start.Column, EndLine: d.Subject.End.Line, EndCol: d.Subject.End.Column,
			Severity: d.Severity.String(), Rule: string(d.Rule), Message: diag.MaskSecrets(d.Summary),
			Detail: diag.MaskSecrets(d.Detail), Suggest: diag.MaskSecrets(d.Suggestion),
		})
	}
	return out
}

func (h *handler) file(c *fiber.Ctx) error {
	name := c.Query("name")
	src, err := h.cfg.Flows.Source(name)
	if errors.Is(err, ErrUnknownFile) {
		return h.fail(c, fiber.StatusNotFound, "noFile")
	}
	if err != nil {
		return h.fail(c, fiber.StatusInternalServerError, "unreadable")
	}
	out := render(name, h.cfg.Flows.Check(name, src))
	s := string(src)
	out.Source = &s
	return c.JSON(out)
}

type sourceRequest struct {
	File   string `json:"file"`
	Source string `json:"source"`
}

func (h *handler) lint(c *fiber.Ctx) error {
	var rq sourceRequest
	if err := decode(c, &rq); err != nil {
		return h.fail(c, fiber.StatusBadRequest, "badRequest")
	}
	if !h.known(rq.File) {
		return h.fail(c, fiber.StatusNotFound, "noFile")
	}
	return c.JSON(render(rq.File, h.cfg.Flows.Check(rq.File, []byte(rq.Source))))
}

func (h *handler) known(file string) bool {
	for _, f := range h.cfg.Flows.Files() {
		if f == file {
			return true
		}
	}
	return false
}

func (h *handler) save(c *fiber.Ctx) error {
	var rq sourceRequest
	if err := decode(c, &rq); err != nil {
		return h.fail(c, fiber.StatusBadRequest, "badRequest")
	}
	ck, err := h.cfg.Flows.Save(rq.File, []byte(rq.Source))
	switch {
	case errors.Is(err, ErrUnknownFile):
		return h.fail(c, fiber.StatusNotFound, "noFile")
	case errors.Is(err, ErrNotClean):
		out := render(rq.File, ck)
		return c.Status(fiber.StatusUnprocessableEntity).JSON(out)
	case errors.Is(err, ErrNotReloaded):
		return h.fail(c, fiber.StatusConflict, "notReloaded")
	case err != nil:
		h.log.Error("studio save failed", "err", err)
		return h.fail(c, fiber.StatusInternalServerError, "saveFailed")
	}
	out := render(rq.File, ck)
	out.Saved = true
	return c.JSON(out)
}

// user returns the test user of a session id, or nil.
func (h *handler) user(id string) *testUser {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.users[id]
}

func (h *handler) newSession(c *fiber.Ctx) error {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	id := hex.EncodeToString(b[:])
	h.mu.Lock()
	if len(h.order) >= MaxUsers {
		delete(h.users, h.order[0])
		h.order = h.order[1:]
	}
	h.users[id] = &testUser{}
	h.order = append(h.order, id)
	h.mu.Unlock()
	return c.JSON(fiber.Map{"session": id, "now": h.cfg.Now().UTC()})
}

type sessionRequest struct {
	Session string `json:"session"`
	Flow    string `json:"flow"`
	Text    string `json:"text"`
	Choice  string `json:"choice"`
	Advance string `json:"advance"`
}

// withUser decodes a session request and runs fn with its test user locked
// and its clock.
func (h *handler) withUser(c *fiber.Ctx, fn func(rq sessionRequest, now time.Time, u *testUser) error) error {
	var rq sessionRequest
	if err := decode(c, &rq); err != nil {
		return h.fail(c, fiber.StatusBadRequest, "badRequest")
	}
	u := h.user(rq.Session)
	if u == nil {
		return h.fail(c, fiber.StatusNotFound, "userGone")
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return fn(rq, h.cfg.Now().Add(u.offset), u)
}

func (h *handler) chat(c *fiber.Ctx) error {
	return h.withUser(c, func(rq sessionRequest, now time.Time, _ *testUser) error {
		r, err := h.cfg.Users.Chat(c.UserContext(), rq.Session, rq.Flow, Inbound{Text: rq.Text, Choice: rq.Choice}, now)
		if errors.Is(err, ErrNoFlow) {
			return h.fail(c, fiber.StatusNotFound, "notLoaded")
		}
		if err != nil {
			h.log.Error("studio turn failed", "err", err)
			return h.fail(c, fiber.StatusInternalServerError, "turnFailed")
		}
		if r.Messages == nil {
			r.Messages = []Message{}
		}
		return c.JSON(r)
	})
}

func (h *handler) heldJSON(c *fiber.Ctx, session string, now time.Time, offset time.Duration, extra fiber.Map) error {
	held, err := h.cfg.Users.Held(c.UserContext(), session, now)
	if err != nil {
		h.log.Error("studio: reading the test user's data failed", "err", err)
		return h.fail(c, fiber.StatusInternalServerError, "heldFailed")
	}
	if held.Fields == nil {
		held.Fields = []HeldField{}
	}
	if held.Consents == nil {
		held.Consents = []HeldConsent{}
	}
	out := fiber.Map{"now": now.UTC(), "offset_hours": offset.Hours(), "fields": held.Fields, "consents": held.Consents}
	for k, v := range extra {
		out[k] = v
	}
	return c.JSON(out)
}

func (h *handler) held(c *fiber.Ctx) error {
	return h.withUser(c, func(rq sessionRequest, now time.Time, u *testUser) error {
		return h.heldJSON(c, rq.Session, now, u.offset, nil)
	})
}

// clock moves the test user's clock forward by rq.Advance, then sweeps
// what expired for that user.
func (h *handler) clock(c *fiber.Ctx) error {
	return h.withUser(c, func(rq sessionRequest, _ time.Time, u *testUser) error {
		d, err := parseAdvance(rq.Advance)
		if err != nil {
			return h.fail(c, fiber.StatusBadRequest, err.Error())
		}
		u.offset += d
		now := h.cfg.Now().Add(u.offset)
		n, err := h.cfg.Users.Sweep(c.UserContext(), rq.Session, now)
		if err != nil {
			h.log.Error("studio sweep failed", "err", err)
			return h.fail(c, fiber.StatusInternalServerError, "sweepFailed")
		}
		return h.heldJSON(c, rq.Session, now, u.offset, fiber.Map{"swept": n})
	})
}

// parseAdvance reads the units of retention, "1y" (365 days), "8w",
// "31d", "12h", "90m", or a combination such as "1d12h".
func parseAdvance(s string) (time.Duration, error) {
	bad := errors.New("badAdvance")
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, bad
	}
	var total time.Duration
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 || i == len(s) || i > 6 {
			return 0, bad
		}
		n, _ := strconv.Atoi(s[:i])
		switch s[i] {
		case 'y':
			total += time.Duration(n) * 365 * 24 * time.Hour
		case 'w':
			total += time.Duration(n) * 7 * 24 * time.Hour
		case 'd':
			total += time.Duration(n) * 24 * time.Hour
		case 'h':
			total += time.Duration(n) * time.Hour
		case 'm':
			total += time.Duration(n) * time.Minute
		default:
			return 0, bad
		}
		s = s[i+1:]
	}
	if total <= 0 || total > MaxJump {
		return 0, errors.New("advanceRange")
	}
	return total, nil
}

// erase erases the test user at the real time, not the test user's: the
// erasure ledger dates every erasure, and an erasure dated in the future
// would date every later real one after it.
func (h *handler) erase(c *fiber.Ctx) error {
	return h.withUser(c, func(rq sessionRequest, now time.Time, u *testUser) error {
		if err := h.cfg.Users.Erase(c.UserContext(), rq.Session, h.cfg.Now()); err != nil {
			h.log.Error("studio erasure failed", "err", err)
			return h.fail(c, fiber.StatusInternalServerError, "eraseFailed")
		}
		return h.heldJSON(c, rq.Session, now, u.offset, fiber.Map{"erased": true})
	})
}
