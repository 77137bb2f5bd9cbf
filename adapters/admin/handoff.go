package admin

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
)

// Actions of the operator console (see grants).
const (
	ActionHandoffsList   = "handoffs.list"
	ActionHandoffsRead   = "handoffs.read"
	ActionHandoffsReply  = "handoffs.reply"
	ActionHandoffsReturn = "handoffs.return"
	ActionHandoffsClose  = "handoffs.close"
	ActionAuditRead      = "audit.read"
)

// HandoffInfo is one conversation waiting for a person, as the console's
// queue lists it: an opaque reference (the subject's pseudonym, the one the
// audit log uses), never a phone number.
type HandoffInfo struct {
	Ref     string    `json:"ref"`
	Channel string    `json:"channel"`
	Flow    string    `json:"flow"`
	Reason  string    `json:"reason"`
	Since   time.Time `json:"since"`
	Until   time.Time `json:"until"`
}

// TranscriptLine is one message of a hand-off.
type TranscriptLine struct {
	From string    `json:"from"` // customer or staff
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// HandoffDetail is one opened hand-off: the queue entry, the steps it can be
// handed back at, and its transcript (personal data: reading it is
// audited).
type HandoffDetail struct {
	HandoffInfo
	Language   string           `json:"language"`
	Steps      []string         `json:"steps"`
	Transcript []TranscriptLine `json:"transcript"`
}

// AuditQuery filters the audit log; zero values select all.
type AuditQuery struct {
	Subject string    // a pseudonym, as the log holds it
	Action  string    // a prefix of the action ("handoffs.", "subjects.erase")
	Actor   string    // a prefix of the actor ("operator:", "dpo:ana")
	Since   time.Time // entries at or after
	Limit   int       // the newest Limit entries (default 200)
}

// AuditRecord is one audit log entry.
type AuditRecord struct {
	Seq     uint64    `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Subject string    `json:"subject,omitempty"`
}

// HandoffBackend carries out the console's actions. Its errors follow
// Backend's: wrap ErrNotFound (no such hand-off, 404) or ErrInvalid (400);
// never personal data.
type HandoffBackend interface {
	Handoffs(ctx context.Context) ([]HandoffInfo, error)
	Handoff(ctx context.Context, ref string) (HandoffDetail, error)
	Reply(ctx context.Context, ref, text string) error
	Return(ctx context.Context, ref, step string) error
	Close(ctx context.Context, ref string) error
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditRecord, error)
}

// ErrNotHandedOff: the conversation is no longer handed off (someone else
// handed it back, closed it, or it timed out): 409.
var ErrNotHandedOff = errors.New("the conversation is not handed off")

const maxReplyChars = 4096

var (
	refPattern  = regexp.MustCompile(`^[0-9a-f]{16,128}$`)
	stepPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

func (h *handler) registerHandoffs(g fiber.Router, b HandoffBackend) {
	h.handoffs = b
	g.Get("/handoffs", h.guard(ActionHandoffsList, h.handoffList))
	g.Get("/handoffs/:ref", h.guard(ActionHandoffsRead, h.handoffRead))
	g.Post("/handoffs/:ref/reply", h.guard(ActionHandoffsReply, h.handoffReply))
	g.Post("/handoffs/:ref/return", h.guard(ActionHandoffsReturn, h.handoffReturn))
	g.Post("/handoffs/:ref/close", h.guard(ActionHandoffsClose, h.handoffClose))
	g.Get("/audit", h.guard(ActionAuditRead, h.auditRead))
}

func (h *handler) handoffList(rq *request) error {
	if ok, err := h.begin(rq); !ok {
		return err
	}
	hs, err := h.handoffs.Handoffs(rq.c.UserContext())
	if err != nil {
		return h.handoffFailure(rq, err)
	}
	if hs == nil {
		hs = []HandoffInfo{}
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"handoffs": hs})
}

// handoffRef checks the :ref of the route; it answers on a bad one.
func (h *handler) handoffRef(rq *request) (bool, error) {
	ref := strings.Clone(rq.c.Params("ref"))
	if !refPattern.MatchString(ref) {
		return false, h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, "the reference must be the one the queue lists")
	}
	rq.ref = ref
	return true, nil
}

func (h *handler) handoffRead(rq *request) error {
	if ok, err := h.handoffRef(rq); !ok {
		return err
	}
	// Audited before the transcript is read: an access to personal data.
	if ok, err := h.begin(rq); !ok {
		return err
	}
	d, err := h.handoffs.Handoff(rq.c.UserContext(), rq.ref)
	if err != nil {
		return h.handoffFailure(rq, err)
	}
	if d.Transcript == nil {
		d.Transcript = []TranscriptLine{}
	}
	if d.Steps == nil {
		d.Steps = []string{}
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(d)
}

// consoleBody is the body of the console's POST routes.
type consoleBody struct {
	Text string `json:"text"`
	Step string `json:"step"`
}

// consoleRequest decodes a POST body that may only hold key (or nothing
// when key is ""); it answers on a bad one.
func (h *handler) consoleRequest(rq *request, key string) (*consoleBody, error) {
	c := rq.c
	reject := func(status int, msg string) (*consoleBody, error) {
		return nil, h.failAfter(rq, OutcomeInvalid, status, msg)
	}
	var b consoleBody
	raw := c.BodyRaw()
	if key == "" && len(bytes.TrimSpace(raw)) == 0 {
		return &b, nil
	}
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return reject(fiber.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	if len(raw) > h.maxBody+maxReplyChars*4 {
		return reject(fiber.StatusRequestEntityTooLarge, "request body is too large")
	}
	if !decodeOne(raw, &b) {
		return reject(fiber.StatusBadRequest, "body must be one JSON object with "+key)
	}
	switch {
	case key != "text" && b.Text != "", key != "step" && b.Step != "":
		return reject(fiber.StatusBadRequest, "body must be one JSON object with "+key)
	case key == "text" && (strings.TrimSpace(b.Text) == "" || utf8.RuneCountInString(b.Text) > maxReplyChars || !utf8.ValidString(b.Text) ||
		strings.ContainsFunc(b.Text, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' })):
		return reject(fiber.StatusBadRequest, "text must be 1 to 4096 characters")
	case key == "step" && !stepPattern.MatchString(b.Step):
		return reject(fiber.StatusBadRequest, "step must be the id of a step of the conversation's flow")
	}
	return &b, nil
}

func (h *handler) handoffReply(rq *request) error {
	return h.handoffAction(rq, "text", func(ctx context.Context, b *consoleBody) error { return h.handoffs.Reply(ctx, rq.ref, b.Text) })
}

func (h *handler) handoffReturn(rq *request) error {
	return h.handoffAction(rq, "step", func(ctx context.Context, b *consoleBody) error { return h.handoffs.Return(ctx, rq.ref, b.Step) })
}

func (h *handler) handoffClose(rq *request) error {
	return h.handoffAction(rq, "", func(ctx context.Context, _ *consoleBody) error { return h.handoffs.Close(ctx, rq.ref) })
}

func (h *handler) handoffAction(rq *request, key string, do func(context.Context, *consoleBody) error) error {
	if ok, err := h.handoffRef(rq); !ok {
		return err
	}
	b, err := h.consoleRequest(rq, key)
	if err != nil || b == nil {
		return err
	}
	if ok, err := h.begin(rq); !ok {
		return err
	}
	if err := do(rq.c.UserContext(), b); err != nil {
		return h.handoffFailure(rq, err)
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return rq.c.JSON(fiber.Map{"ok": true})
}

func (h *handler) handoffFailure(rq *request, err error) error {
	switch {
	case errors.Is(err, ErrNotHandedOff):
		return h.failAfter(rq, OutcomeNotFound, fiber.StatusConflict, "the conversation is no longer handed off: someone handed it back or closed it, or it timed out")
	case errors.Is(err, ErrNotFound):
		return h.failAfter(rq, OutcomeNotFound, fiber.StatusNotFound, "no conversation is handed off under that reference")
	case errors.Is(err, ErrInvalid):
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, "the flow has no such step")
	}
	return h.backendFailure(rq, err)
}

// auditRead lists audit entries: ?subject=<pseudonym>&action=<prefix>&
// actor=<prefix>&since=<RFC 3339>&limit=<n>.
func (h *handler) auditRead(rq *request) error {
	c := rq.c
	q := AuditQuery{Subject: strings.Clone(c.Query("subject")), Action: strings.Clone(c.Query("action")), Actor: strings.Clone(c.Query("actor")), Limit: 200}
	bad := func(msg string) error { return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, msg) }
	if q.Subject != "" && !refPattern.MatchString(q.Subject) {
		return bad("subject must be a pseudonym as the log shows it")
	}
	if len(q.Action) > 64 || len(q.Actor) > 128 {
		return bad("action and actor filters are at most 64 and 128 characters")
	}
	if s := c.Query("since"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return bad("since must be a time like 2026-11-29T10:00:00Z")
		}
		q.Since = t
	}
	if s := c.Query("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 5000 {
			return bad("limit must be a number from 1 to 5000")
		}
		q.Limit = n
	}
	rq.ref = q.Subject
	if ok, err := h.begin(rq); !ok {
		return err
	}
	es, err := h.handoffs.AuditLog(c.UserContext(), q)
	if err != nil {
		return h.backendFailure(rq, err)
	}
	if es == nil {
		es = []AuditRecord{}
	}
	h.finish(rq, OutcomeOK, fiber.StatusOK)
	return c.JSON(fiber.Map{"entries": es})
}
