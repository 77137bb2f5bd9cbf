package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/parleyhq/parley/engine/runtime"
)

// UserPrefix namespaces web chat users: Chatter.Chat receives UserPrefix+id.
const UserPrefix = "web:"

// Limits on a chat request.
const (
	// DefaultMaxBodyBytes bounds a POST /api/chat body. A 4096-character
	// text written as JSON \u escapes needs at most 6 bytes a character.
	DefaultMaxBodyBytes = 32 << 10
	// MaxTextChars is the longest text a customer may send, in characters.
	MaxTextChars = 4096
	// maxChoiceBytes bounds an option id.
	maxChoiceBytes = 256
)

// ErrUnknownFlow may be returned (wrapped) by Chatter.Chat when the flow
// disappeared between the check and the call (a reload); it becomes a 404.
var ErrUnknownFlow = errors.New("unknown flow")

// FlowInfo describes one flow that can be chatted with.
type FlowInfo struct {
	ID          string   `json:"id"`
	Version     int      `json:"version"`
	Description string   `json:"description"`
	Languages   []string `json:"languages"` // the first one is the default
}

// Chatter runs one turn of a conversation. The lead wires it to the runtime
// engine and the vault.
type Chatter interface {
	// Chat feeds one inbound message to the conversation of user in flow
	// flowID and returns the messages to show. user is already namespaced
	// ("web:<id>"). An inbound with empty Text and Choice is sent by the page
	// when it opens a new conversation, to get the flow's first messages.
	Chat(ctx context.Context, flowID, user string, in runtime.Inbound) ([]runtime.Message, error)
	// Flows lists the flows currently served.
	Flows() []FlowInfo
}

// Config configures the web chat routes.
type Config struct {
	// Chat runs the conversations. Required.
	Chat Chatter
	// Logger receives one line per failed turn (flow and status, never
	// text). Nil discards.
	Logger *slog.Logger
	// MaxBodyBytes bounds a chat request body; 0 means DefaultMaxBodyBytes.
	// The app's own fiber.Config.BodyLimit still applies first.
	MaxBodyBytes int
	// NewMessageID returns the id given to each inbound message (it ends up
	// in consent records). Nil uses "web-" + 16 random bytes in hex.
	NewMessageID func() string
	// SessionKey signs the session cookies (SessionCookie). Derive it from a
	// long-lived secret so sessions survive a restart; nil uses a random
	// key for the life of the process.
	SessionKey []byte
}

var langPattern = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{1,8})?$`)

type handler struct {
	chat     Chatter
	log      *slog.Logger
	maxBody  int
	newID    func() string
	sessions sessions
}

// Register mounts the page and the chat API on r. It panics when cfg.Chat is
// nil: that is a wiring mistake found at start-up.
func Register(r fiber.Router, cfg Config) {
	if cfg.Chat == nil {
		panic("web.Register: Config.Chat is nil")
	}
	h := &handler{chat: cfg.Chat, log: cfg.Logger, maxBody: cfg.MaxBodyBytes, newID: cfg.NewMessageID,
		sessions: newSessions(cfg.SessionKey)}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBodyBytes
	}
	if h.newID == nil {
		h.newID = randomMessageID
	}
	r.Get("/", servePage)
	r.Get("/api/flows", h.flows)
	r.Post("/api/chat", h.post)
	r.Post("/api/session", h.newSession)
	if col, ok := cfg.Chat.(Collector); ok {
		r.Post("/api/updates", func(c *fiber.Ctx) error { return h.updates(c, col) })
	}
}

// Collector is implemented by a Chatter whose conversations can be handed
// off to a person: what the team says waits until the page collects it.
type Collector interface {
	// Collect returns, and forgets, the messages waiting for user.
	Collect(ctx context.Context, user string) ([]runtime.Message, error)
}

// updates answers the page's poll while a person has the conversation:
// the team's replies, and what the bot says when it takes the
// conversation back.
func (h *handler) updates(c *fiber.Ctx, col Collector) error {
	apiHeaders(c)
	// The JSON content type keeps cross-site form posts out.
	if code, msg := checkJSONRequest(c, h.maxBody); code != 0 {
		return writeJSONError(c, code, msg)
	}
	out, err := col.Collect(c.UserContext(), UserPrefix+h.sessions.visitor(c))
	if err != nil {
		h.log.ErrorContext(c.UserContext(), "web chat updates failed", "adapter", "web")
		return writeError(c, fiber.StatusInternalServerError)
	}
	msgs := make([]chatMessage, 0, len(out))
	for _, m := range out {
		msgs = append(msgs, render(m))
	}
	return c.JSON(fiber.Map{"messages": msgs})
}

// newSession starts a new conversation as a new visitor (the page's
// Restart): a fresh signed session cookie replaces the old one.
func (h *handler) newSession(c *fiber.Ctx) error {
	apiHeaders(c)
	// The JSON content type keeps cross-site form posts out.
	if code, msg := checkJSONRequest(c, h.maxBody); code != 0 {
		return writeJSONError(c, code, msg)
	}
	h.sessions.issue(c)
	return c.SendStatus(fiber.StatusNoContent)
}

func randomMessageID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "web-" + hex.EncodeToString(b[:])
}

func apiHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
}

func (h *handler) flows(c *fiber.Ctx) error {
	fs := h.sortedFlows()
	apiHeaders(c)
	return c.JSON(fiber.Map{"flows": fs})
}

func (h *handler) sortedFlows() []FlowInfo {
	fs := append([]FlowInfo(nil), h.chat.Flows()...)
	for i := range fs {
		if fs[i].Languages == nil {
			fs[i].Languages = []string{}
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].ID < fs[j].ID })
	return fs
}

// chatRequest is the body of POST /api/chat. It has no user field: the
// visitor is whoever the session cookie says.
type chatRequest struct {
	Flow   string `json:"flow"`
	Text   string `json:"text"`
	Choice string `json:"choice"`
	Lang   string `json:"lang"`
}

// chatMessage is one message in the response.
type chatMessage struct {
	Kind    string       `json:"kind"`
	Text    string       `json:"text"`
	Options []chatOption `json:"options"`
}

type chatOption struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

func (h *handler) post(c *fiber.Ctx) error {
	apiHeaders(c)
	if code, msg := checkJSONRequest(c, h.maxBody); code != 0 {
		return writeJSONError(c, code, msg)
	}
	var req chatRequest
	if err := decodeStrict(c.BodyRaw(), &req); err != nil {
		return writeJSONError(c, fiber.StatusBadRequest,
			"body must be one JSON object with the fields flow, text, choice and lang (the visitor is identified by the session cookie, never by a field)")
	}
	if msg := req.validate(); msg != "" {
		return writeJSONError(c, fiber.StatusBadRequest, msg)
	}
	if !h.hasFlow(req.Flow) {
		return writeJSONError(c, fiber.StatusNotFound, "unknown flow")
	}
	in := runtime.Inbound{
		ID:     h.newID(),
		Text:   runtime.Answer(req.Text),
		Choice: req.Choice,
		Lang:   req.Lang,
	}
	out, err := h.chat.Chat(c.UserContext(), req.Flow, UserPrefix+h.sessions.visitor(c), in)
	if err != nil {
		if errors.Is(err, ErrUnknownFlow) {
			return writeJSONError(c, fiber.StatusNotFound, "unknown flow")
		}
		// The flow id is the author's, not personal data; the error is not
		// logged in case an implementation wrapped what the user typed.
		h.log.ErrorContext(c.UserContext(), "web chat turn failed", "flow", req.Flow, "adapter", "web")
		return writeError(c, fiber.StatusInternalServerError)
	}
	msgs := make([]chatMessage, 0, len(out))
	for _, m := range out {
		msgs = append(msgs, render(m))
	}
	return c.JSON(fiber.Map{"messages": msgs})
}

func (h *handler) hasFlow(id string) bool {
	for _, f := range h.chat.Flows() {
		if f.ID == id {
			return true
		}
	}
	return false
}

// validate returns a fixed message for the first invalid field, or "".
// Messages name the field, never its value.
func (r *chatRequest) validate() string {
	switch {
	case r.Flow == "":
		return "flow is required"
	case len(r.Flow) > 128 || !utf8.ValidString(r.Flow):
		return "flow is not a valid flow id"
	case utf8.RuneCountInString(r.Text) > MaxTextChars:
		return "text is longer than 4096 characters"
	case len(r.Choice) > maxChoiceBytes || hasControl(r.Choice):
		return "choice is not a valid option id"
	case r.Lang != "" && !langPattern.MatchString(r.Lang):
		return "lang must be a language code such as en or pt-BR"
	}
	return ""
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// checkJSONRequest enforces what every JSON API request of ours must be:
// no Content-Encoding (Body() would inflate without a bound and answer its
// error text as the body), a JSON content type, and at most maxBody bytes.
// It returns a status and fixed message, or 0.
func checkJSONRequest(c *fiber.Ctx, maxBody int) (int, string) {
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return fiber.StatusUnsupportedMediaType, "compressed bodies are not accepted"
	}
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || mt != fiber.MIMEApplicationJSON {
		return fiber.StatusUnsupportedMediaType, "Content-Type must be application/json"
	}
	if len(c.BodyRaw()) > maxBody {
		return fiber.StatusRequestEntityTooLarge, "request body is too large"
	}
	return 0, ""
}

// decodeStrict decodes exactly one JSON object with no unknown fields.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// KindName is the wire name of a message kind: "say", "ask", "retry",
// "consent", "notice", "rights" or "handoff" ("unknown" for anything else).
func KindName(k runtime.MessageKind) string {
	switch k {
	case runtime.KindSay:
		return "say"
	case runtime.KindAsk:
		return "ask"
	case runtime.KindRetry:
		return "retry"
	case runtime.KindConsent:
		return "consent"
	case runtime.KindNotice:
		return "notice"
	case runtime.KindRights:
		return "rights"
	case runtime.KindHandoff:
		return "handoff"
	case runtime.KindStaff:
		return "staff"
	}
	return "unknown"
}
