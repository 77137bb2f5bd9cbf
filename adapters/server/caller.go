package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// RefHeader carries, with every integration call, the recipient's own
// pseudonymous reference for the subject (session.Store.RecipientRef): the same one
// its erasure and stop notices name, never the phone number or subject id.
const RefHeader = "Parley-Recipient-Ref"

// HTTPCaller performs integration calls and delivers their notices. A call
// is a JSON POST of exactly the fields of the integration's sends: list (the
// runtime hands over nothing else), with the secret named by secret_env as a
// bearer token. Everything about the integration comes compiled with the
// call, from the program of the conversation's own flow: no name is looked
// up across flows. URLs are https only (lint enforces it too); the secret is
// read from the environment at call time and never logged.
type HTTPCaller struct {
	Getenv func(string) string
	Client *http.Client
	// Ref derives the recipient reference sent in RefHeader; nil sends none.
	Ref func(subject, flow, integration string) string
}

var _ runtime.Caller = (*HTTPCaller)(nil)

// Call implements runtime.Caller. An integration with a receives: list
// or receives_options: answers with a JSON object (see readReply); its other answers are read
// and dropped.
func (h *HTTPCaller) Call(ctx context.Context, c runtime.Call) (runtime.Reply, error) {
	in := &c.Integration
	body, err := json.Marshal(c.Fields)
	if err != nil {
		return nil, err
	}
	ref := ""
	if h.Ref != nil && c.Subject != "" {
		ref = h.Ref(c.Subject, in.Flow, in.Name)
	}
	var reply runtime.Reply
	err = h.post(ctx, in.Name, in.URL, in.SecretEnv, in.Timeout, ref, body, func(r io.Reader) error {
		if len(in.ReceiveNames) == 0 && in.OptionsKey == "" {
			return nil
		}
		var err error
		reply, err = readReply(in.Name, in.ReceiveNames, in.OptionsKey, r)
		return err
	})
	return reply, err
}

// noticeBody is what a recipient is told: no personal data, only its own
// reference for the subject and a receipt id it can quote back.
type noticeBody struct {
	Event       string    `json:"event"` // erase or stop
	Ref         string    `json:"recipient_ref"`
	Receipt     string    `json:"receipt"`
	At          time.Time `json:"at"`
	Flow        string    `json:"flow"`
	Integration string    `json:"integration"`
}

// Notify delivers one erasure or stop notice.
func (h *HTTPCaller) Notify(ctx context.Context, n session.Notice) error {
	body, err := json.Marshal(noticeBody{Event: n.Event, Ref: n.Ref, Receipt: n.Receipt, At: n.At.UTC(),
		Flow: n.Flow, Integration: n.Integration})
	if err != nil {
		return err
	}
	return h.post(ctx, n.Integration, n.URL, n.SecretEnv, compile.DefaultCallTimeout, n.Ref, body, nil)
}

// post sends body to url; read, when set, reads a 2xx answer's body.
func (h *HTTPCaller) post(ctx context.Context, name, url, secretEnv string, timeout time.Duration, ref string, body []byte, read func(io.Reader) error) error {
	if !strings.HasPrefix(url, "https://") {
		return fmt.Errorf("integration %s: only https URLs are called: %w", name, runtime.ErrNotSent)
	}
	if timeout <= 0 || timeout > compile.MaxCallTimeout {
		timeout = compile.DefaultCallTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("integration %s: bad URL: %w", name, runtime.ErrNotSent)
	}
	req.Header.Set("Content-Type", "application/json")
	if ref != "" {
		req.Header.Set(RefHeader, ref)
	}
	if secretEnv != "" && h.Getenv != nil {
		if secret := h.Getenv(secretEnv); secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
	}
	resp, err := noRedirects(h.Client).Do(req)
	if err != nil {
		return fmt.Errorf("integration %s: not reachable", name)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
		return fmt.Errorf("integration %s: answered HTTP %d", name, resp.StatusCode)
	}
	if read != nil {
		if err := read(resp.Body); err != nil {
			return err
		}
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
	return nil
}

// Notifier delivers recipient notices; HTTPCaller is one.
type Notifier interface {
	Notify(ctx context.Context, n session.Notice) error
}

// noticeBatch bounds how many notices one delivery round sends.
const noticeBatch = 64

// deliverNotices sends every due notice once: a delivered one leaves the
// queue, a failed one waits its backoff, and one past its give-up time is
// dropped and counted. Logs name the flow and integration, never the
// reference or the address.
func (s *Server) deliverNotices(ctx context.Context) {
	for {
		now := s.cfg.Now()
		due, err := s.store.DueNotices(ctx, now, noticeBatch)
		if err != nil {
			s.log.Error("recipient notices: read queue", "err", err)
			return
		}
		for _, n := range due {
			if ctx.Err() != nil {
				return
			}
			// A delivery under way finishes (within its timeout) when the
			// server shuts down, so its outcome is recorded, not lost.
			if err := s.cfg.Notices.Notify(context.WithoutCancel(ctx), n); err == nil {
				if err := s.store.NoticeDelivered(context.WithoutCancel(ctx), n.Receipt); err != nil {
					s.log.Error("recipient notices: dequeue", "err", err)
					return
				}
				s.metrics.Notices.WithLabelValues(n.Event, "delivered").Inc()
				continue
			}
			gaveUp, err := s.store.NoticeFailed(context.WithoutCancel(ctx), n, s.cfg.Now())
			if err != nil {
				s.log.Error("recipient notices: reschedule", "err", err)
				return
			}
			if gaveUp {
				s.metrics.Notices.WithLabelValues(n.Event, "given_up").Inc()
				s.log.Warn("recipient notice given up", "event", n.Event, "flow", n.Flow, "integration", n.Integration, "attempts", n.Attempts+1)
				continue
			}
			s.metrics.Notices.WithLabelValues(n.Event, "retry").Inc()
		}
		if len(due) < noticeBatch {
			return
		}
	}
}

// noticeLoop delivers notices when the store queues some and every
// NoticeEvery, for the retries. Shutdown waits for it to finish the notice
// it is sending.
func (s *Server) noticeLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.NoticeEvery)
	defer t.Stop()
	s.deliverNotices(ctx) // left from before a restart, or queued by the CLI
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.store.NoticesQueued():
		case <-t.C:
		}
		s.deliverNotices(ctx)
	}
}

// noRedirects returns c (http.DefaultClient when nil) made to follow no
// redirect: an integration answers at the address the flow declares, and a
// 3xx to another address (plain http, another host) must not receive the
// fields or the bearer token. A 3xx answer then fails the call.
func noRedirects(c *http.Client) *http.Client {
	if c == nil {
		c = http.DefaultClient
	}
	if c.CheckRedirect != nil {
		return c
	}
	cp := *c
	cp.CheckRedirect = whatsapp.RefuseRedirect
	return &cp
}
