package admin

import (
	"context"
	"encoding/json"
	"errors"
	"mime"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// ActionBroadcast sends (or, dry, counts) one flow template to the
// customers holding a current consent for its purpose.
const ActionBroadcast = "broadcast"

// BroadcastRequest is the body of POST /broadcasts.
type BroadcastRequest struct {
	Flow     string  `json:"flow"`
	Template string  `json:"template"`
	DryRun   bool    `json:"dry_run"`
	Rate     float64 `json:"rate"`
}

// Broadcaster is the optional part of a Backend that runs broadcasts. A
// dry run answers with the audience size and a pseudonymous sample; a real
// one starts and answers at once (its progress and result go to the audit
// log). ErrInvalid: no such flow or template.
type Broadcaster interface {
	Broadcast(ctx context.Context, actor string, r BroadcastRequest) (json.RawMessage, error)
}

// ErrBroadcastBusy is returned by a Broadcaster whose broadcast of the
// template is already being run (another request, another instance, or
// parley broadcast): the request is answered 409 and nothing is sent.
var ErrBroadcastBusy = errors.New("this template's broadcast is already running")

var flowNamePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,63}$`)

func (h *handler) broadcast(rq *request) error {
	bc, ok := h.backend.(Broadcaster)
	if !ok {
		return h.failAfter(rq, OutcomeError, fiber.StatusNotImplemented, "this server does not run broadcasts")
	}
	c := rq.c
	if mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); err != nil || mt != fiber.MIMEApplicationJSON {
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	raw := c.BodyRaw()
	if len(raw) > h.maxBody {
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusRequestEntityTooLarge, "request body is too large")
	}
	var b BroadcastRequest
	if !decodeOne(raw, &b) {
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, invalidBodyMsg)
	}
	b.Flow, b.Template = strings.TrimSpace(b.Flow), strings.TrimSpace(b.Template)
	switch {
	case !flowNamePattern.MatchString(b.Flow) || !flowNamePattern.MatchString(b.Template):
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, "flow and template must name a served flow and a template under its templates:")
	case b.Rate < 0 || b.Rate > 80:
		return h.failAfter(rq, OutcomeInvalid, fiber.StatusBadRequest, "rate is messages per second, at most 80 (0: the default)")
	}
	if ok, err := h.begin(rq); !ok {
		return err
	}
	out, err := bc.Broadcast(c.UserContext(), rq.actor, b)
	if err == nil && !json.Valid(out) {
		err = errors.New("backend returned invalid JSON")
	}
	if errors.Is(err, ErrBroadcastBusy) {
		return h.failAfter(rq, OutcomeRefused, fiber.StatusConflict,
			"this template's broadcast is already running (another request, another instance or parley broadcast); nothing was sent: wait for it to finish, or, if the process running it died, ask again a minute after its last progress to resume it")
	}
	if err != nil {
		return h.backendFailure(rq, err)
	}
	status := fiber.StatusAccepted
	if b.DryRun {
		status = fiber.StatusOK
	}
	h.finish(rq, OutcomeOK, status)
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Status(status).Send(out)
}
