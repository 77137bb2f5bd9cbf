package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for Client. The Graph API version is configuration: current Meta
// docs show v23.0 to v25.0, and a version is retired about two years after
// its release.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v25.0"
	// DefaultTimeout bounds one Graph API call when Client.HTTP is nil.
	DefaultTimeout = 15 * time.Second
	// maxResponseBytes bounds what is read of a Graph API response.
	maxResponseBytes = 1 << 20
)

var defaultHTTP = &http.Client{Timeout: DefaultTimeout, CheckRedirect: RefuseRedirect}

// RefuseRedirect, as an http.Client's CheckRedirect, makes it follow no
// redirect: a 3xx answer is returned as the answer. A 3xx from the Graph
// API then fails the send instead of carrying the reply and the access
// token to another address.
func RefuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Client sends messages through the Cloud API. The zero value of BaseURL,
// APIVersion and HTTP selects the defaults; tests point BaseURL at an
// httptest.Server. A Client is safe for concurrent use.
type Client struct {
	BaseURL       string
	APIVersion    string
	PhoneNumberID string
	// AccessToken is a system-user token. It is sent only in the
	// Authorization header and never appears in errors.
	AccessToken string
	// HTTP should carry a Timeout; nil uses one with DefaultTimeout.
	HTTP *http.Client

	ep atomic.Pointer[clientEndpoint]
}

// APIError is a failed Graph API call: an error object from Meta, an
// unexpected HTTP status, or a transport failure (HTTPStatus 0, Err set).
// Its Error text holds codes, the title and the trace id, never the request
// body, the token or the recipient.
type APIError struct {
	// HTTPStatus is 0 when no response arrived.
	HTTPStatus int
	// Code is error.code (130429, 131047, …); 0 with HasCode false when the
	// response held no Graph error object.
	Code    int
	HasCode bool
	Subcode int
	Type    string
	// Title is error.message, e.g. "(#130429) Rate limit hit".
	Title string
	// Details is error_data.details: for humans, not for branching. It is
	// kept out of Error().
	Details   string
	FBTraceID string
	// RetryAfter is the Retry-After header, when Meta sent one.
	RetryAfter time.Duration
	// Err is the transport error, when there was no response.
	Err error
	// uncertain: the request may have reached Meta (timeout, connection
	// dropped after sending), so a retry may duplicate the message.
	uncertain bool
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("whatsapp: graph api")
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
		return b.String()
	}
	fmt.Fprintf(&b, ": http %d", e.HTTPStatus)
	if e.HasCode {
		fmt.Fprintf(&b, ", code %d", e.Code)
	}
	if e.Subcode != 0 {
		fmt.Fprintf(&b, ", subcode %d", e.Subcode)
	}
	if e.Title != "" {
		fmt.Fprintf(&b, ": %s", e.Title)
	}
	if e.FBTraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.FBTraceID)
	}
	return b.String()
}

// Unwrap returns the transport error, if any.
func (e *APIError) Unwrap() error { return e.Err }

// transientCodes are retried with backoff: throttling (4, 80007, 130429,
// 131056) and transient server trouble (1, 2, 131000, 131016, 131057,
// 132069 flow throttled).
var transientCodes = map[int]bool{
	1: true, 2: true, 4: true, 80007: true, 130429: true, 131000: true,
	131016: true, 131056: true, 131057: true, 132069: true,
}

// permanentCodes are never retried whatever the HTTP status says (Meta
// lists code 3 as HTTP 500, for instance). Codes in neither table fall back
// on the HTTP status.
var permanentCodes = map[int]bool{
	0: true, 3: true, 10: true, 100: true, 190: true, 368: true,
	131008: true, 131009: true, 131021: true, 131026: true, 131030: true,
	131031: true, 131042: true, 131047: true, 131048: true, 131049: true,
	131050: true, 131051: true, 131052: true, 131053: true, 131062: true,
	132000: true, 132001: true, 132005: true, 132007: true, 132012: true,
	132015: true, 132016: true, 132068: true, 133010: true, 130472: true,
}

// Retryable reports whether sending again later may succeed: throttling and
// transient codes, 429 and 5xx without a known permanent code, timeouts and
// network errors. A caller's own cancellation is not retryable.
func (e *APIError) Retryable() bool {
	if e.Err != nil {
		return !errors.Is(e.Err, context.Canceled)
	}
	if e.HasCode {
		if transientCodes[e.Code] {
			return true
		}
		if permanentCodes[e.Code] || (e.Code >= 200 && e.Code <= 299) {
			return false
		}
	}
	return e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500
}

// OutsideWindow reports error 131047 (re-engagement): more than 24 hours
// since the user last wrote. Never retry as free-form; send an approved
// template instead. The same code can arrive later in a failed status.
func (e *APIError) OutsideWindow() bool { return e.HasCode && e.Code == 131047 }

// Throttled reports a throughput limit on the business number: HTTP 429 or
// 130429. Hold the whole number (Pacer.HoldNumber) until the retry.
func (e *APIError) Throttled() bool {
	return e.HTTPStatus == http.StatusTooManyRequests || (e.HasCode && e.Code == 130429)
}

// PairRateLimited reports 131056: too many messages to this one user. Slow
// that user only (Pacer.HoldUser); other users are unaffected.
func (e *APIError) PairRateLimited() bool { return e.HasCode && e.Code == 131056 }

// Uncertain reports whether the message may have been accepted although the
// call failed (the response was lost). The Cloud API has no idempotency
// key, so a retry may deliver it twice: retry once, then mark it uncertain.
func (e *APIError) Uncertain() bool { return e.uncertain }

// IsRetryable reports whether err is an *APIError that is Retryable.
func IsRetryable(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Retryable()
}

// IsOutsideWindow reports whether err is an *APIError for error 131047.
func IsOutsideWindow(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.OutsideWindow()
}

// Send posts one message and returns its wamid. Store it before anything
// else: statuses and button replies refer to it. HTTP 200 means accepted,
// not delivered. Failures are *APIError.
func (c *Client) Send(ctx context.Context, req SendRequest) (wamid string, err error) {
	return c.send(ctx, req)
}

// SendJSON is Send for a request already encoded (an outbox entry).
func (c *Client) SendJSON(ctx context.Context, req json.RawMessage) (wamid string, err error) {
	return c.send(ctx, req)
}

func (c *Client) send(ctx context.Context, req any) (wamid string, err error) {
	var resp struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
	}
	if err := c.post(ctx, req, &resp); err != nil {
		return "", err
	}
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" {
		return "", errors.New("whatsapp: graph api: send response without a message id")
	}
	return resp.Messages[0].ID, nil
}

// MarkRead marks an inbound message (and the ones before it) as read.
func (c *Client) MarkRead(ctx context.Context, wamid string) error {
	return c.markRead(ctx, wamid, false)
}

// ShowTyping marks an inbound message as read and shows "typing…" until the
// next reply or for 25 seconds. Use it only when a reply is coming.
func (c *Client) ShowTyping(ctx context.Context, wamid string) error {
	return c.markRead(ctx, wamid, true)
}

func (c *Client) markRead(ctx context.Context, wamid string, typing bool) error {
	type indicator struct {
		Type string `json:"type"`
	}
	body := struct {
		MessagingProduct string     `json:"messaging_product"`
		Status           string     `json:"status"`
		MessageID        string     `json:"message_id"`
		TypingIndicator  *indicator `json:"typing_indicator,omitempty"`
	}{MessagingProduct: "whatsapp", Status: "read", MessageID: wamid}
	if typing {
		body.TypingIndicator = &indicator{Type: "text"}
	}
	var resp struct {
		Success bool `json:"success"`
	}
	if err := c.post(ctx, body, &resp); err != nil {
		return err
	}
	if !resp.Success {
		return errors.New("whatsapp: graph api: mark read not acknowledged")
	}
	return nil
}

// cachedEndpoint is the messages URL and the Authorization header, built
// once per configuration: a send is on every turn's path.
func (c *Client) cachedEndpoint() *clientEndpoint {
	if e := c.ep.Load(); e != nil && e.base == c.BaseURL && e.ver == c.APIVersion && e.pnid == c.PhoneNumberID && e.token == c.AccessToken {
		return e
	}
	e := &clientEndpoint{base: c.BaseURL, ver: c.APIVersion, pnid: c.PhoneNumberID, token: c.AccessToken,
		url: c.buildEndpoint(), auth: []string{"Bearer " + c.AccessToken}}
	c.ep.Store(e)
	return e
}

// clientEndpoint caches what cachedEndpoint builds from a Client's
// fields, with the fields it was built from (a caller may change them).
type clientEndpoint struct {
	base, ver, pnid, token string
	url                    string
	auth                   []string
}

// headerJSON is a constant request header value; net/http reads a
// request's headers and never changes them, so every request shares it.
var headerJSON = []string{"application/json"}

// responseBufs holds the buffers Graph API answers are read into.
var responseBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *Client) buildEndpoint() string {
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	ver := c.APIVersion
	if ver == "" {
		ver = DefaultAPIVersion
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(ver) + "/" + url.PathEscape(c.PhoneNumberID) + "/messages"
}

// post sends body as JSON and decodes a 2xx answer into out.
func (c *Client) post(ctx context.Context, body, out any) error {
	if c.PhoneNumberID == "" || c.AccessToken == "" {
		return errors.New("whatsapp: client needs a phone number id and an access token")
	}
	// An outbox entry is sent as stored: encodeJSON made it (render.go),
	// and encoding it again would only re-check and copy it.
	payload, ok := body.(json.RawMessage)
	if !ok || len(payload) == 0 {
		var err error
		if payload, err = encodeJSON(body); err != nil {
			return fmt.Errorf("whatsapp: encode request: %w", err)
		}
	}
	ep := c.cachedEndpoint()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.url, bytes.NewReader(payload))
	if err != nil {
		return fmt.Errorf("whatsapp: build request: %w", err)
	}
	req.Header = http.Header{"Authorization": ep.auth, "Content-Type": headerJSON, "Accept": headerJSON}
	hc := c.HTTP
	switch {
	case hc == nil:
		hc = defaultHTTP
	case hc.CheckRedirect == nil:
		cp := *hc
		cp.CheckRedirect = RefuseRedirect
		hc = &cp
	}
	resp, err := hc.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer resp.Body.Close()
	buf := responseBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 64<<10 {
			buf.Reset()
			responseBufs.Put(buf)
		}
	}()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes)); err != nil {
		return transportError(err)
	}
	data := buf.Bytes()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("whatsapp: graph api: decode http %d response: %w", resp.StatusCode, err)
	}
	return nil
}

// transportError wraps a failure with no usable response. Only a failure to
// connect is certain not to have delivered anything; the url.Error wrapper
// is dropped so the error text does not repeat the endpoint.
func transportError(err error) *APIError {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var oe *net.OpError
	dial := errors.As(err, &oe) && oe.Op == "dial"
	return &APIError{Err: inner, uncertain: !dial && !errors.Is(err, context.Canceled)}
}

func responseError(resp *http.Response, data []byte) *APIError {
	e := &APIError{HTTPStatus: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	var w struct {
		Error *struct {
			Message   string `json:"message"`
			Type      string `json:"type"`
			Code      *int   `json:"code"`
			Subcode   int    `json:"error_subcode"`
			FBTraceID string `json:"fbtrace_id"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &w) == nil && w.Error != nil {
		if w.Error.Code != nil {
			e.Code, e.HasCode = *w.Error.Code, true
		}
		e.Subcode = w.Error.Subcode
		e.Type = w.Error.Type
		e.Title = clip(w.Error.Message, 200)
		e.Details = clip(w.Error.ErrorData.Details, 500)
		e.FBTraceID = clip(w.Error.FBTraceID, 100)
	}
	return e
}

// clip bounds strings copied from a response into an error.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	return truncate(s, max/4)
}

// parseRetryAfter reads delay-seconds or an HTTP date; 0 when absent or bad.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
