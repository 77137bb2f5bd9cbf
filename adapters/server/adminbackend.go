package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/adapters/whatsapp"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// adminBackend carries out admin API requests on the server's flows and
// store. Its errors never carry personal data: the admin package logs them.
type adminBackend struct{ s *Server }

var (
	_ admin.Backend       = adminBackend{}
	_ admin.MetricsSource = adminBackend{}
)

func (b adminBackend) Flows() []admin.FlowInfo {
	var out []admin.FlowInfo
	for _, p := range b.s.flows.All() {
		out = append(out, admin.FlowInfo(flowInfo(p)))
	}
	return out
}

func (b adminBackend) Reload(context.Context) (admin.ReloadResult, error) {
	report, err := b.s.flows.Reload()
	if errors.Is(err, ErrFlowErrors) {
		b.s.log.Warn("flow reload refused; the flows already loaded keep serving")
		return admin.ReloadResult{OK: false, Diagnostics: report}, nil
	}
	if err != nil {
		return admin.ReloadResult{}, err
	}
	b.s.log.Info("flows reloaded", "flows", b.s.describe())
	return admin.ReloadResult{OK: true, Diagnostics: report}, nil
}

func (b adminBackend) subject(channel, user string) string {
	return b.s.store.Subject(channel, user)
}

func (b adminBackend) Export(ctx context.Context, channel, user string) (json.RawMessage, error) {
	ex, err := b.s.store.Export(ctx, b.subject(channel, user), b.s.cfg.Now())
	if err != nil {
		return nil, mapErr(err)
	}
	return json.Marshal(ex)
}

func (b adminBackend) Erase(ctx context.Context, channel, user string) (json.RawMessage, error) {
	r, err := b.s.store.Erase(ctx, b.subject(channel, user), b.s.cfg.Now())
	if err != nil {
		return nil, mapErr(err)
	}
	b.s.metrics.Erased.Inc()
	return json.Marshal(r)
}

func (b adminBackend) Rectify(ctx context.Context, channel, user, field, value string) error {
	err := b.s.store.Rectify(ctx, b.subject(channel, user), field, value, b.s.cfg.Now(), b.s.flows.Get)
	switch {
	case errors.Is(err, session.ErrNotFound):
		return fmt.Errorf("%w: no such field is held", admin.ErrNotFound)
	case errors.Is(err, runtime.ErrInvalidValue), errors.Is(err, session.ErrFlowNotLoaded):
		// The reason names the field and what it takes (from the flow),
		// never the value, so it may go back to the client.
		return &admin.RejectedValueError{Reason: err.Error()}
	case err != nil && !errors.Is(err, session.ErrCorrupt) && !errors.Is(err, session.ErrClosed):
		return fmt.Errorf("%w: the value does not fit the field", admin.ErrInvalid)
	}
	return err
}

func (b adminBackend) AuditVerify(ctx context.Context) (int, error) {
	n, err := b.s.store.AuditVerify(ctx)
	if errors.Is(err, session.ErrAuditTampered) {
		return n, fmt.Errorf("%w: after %d entries", admin.ErrChainBroken, n)
	}
	return n, err
}

func (b adminBackend) Audit(ctx context.Context, actor, action, subjectRef string) error {
	return b.s.store.Audit(ctx, actor, action, subjectRef)
}

func (b adminBackend) MetricsSummary(ctx context.Context) (json.RawMessage, error) {
	st, err := b.s.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	sum := map[string]any{
		"flows": len(b.s.flows.All()), "subjects": st.Subjects, "fields": st.Fields, "consents": st.Consents,
		"inbox_pending": st.InboxPending, "outbox_pending": st.OutboxPending, "audit_entries": st.AuditEntries,
		"erasures": st.Erasures, "disk_bytes": st.DiskBytes,
	}
	hs, err := b.s.store.Handoffs(ctx)
	if err != nil {
		return nil, err
	}
	sum["handoffs_waiting"] = len(hs)
	return json.Marshal(sum)
}

func mapErr(err error) error {
	if errors.Is(err, session.ErrNotFound) {
		return fmt.Errorf("%w: nothing held", admin.ErrNotFound)
	}
	return err
}

// broadcaster is the part of the store that runs broadcasts
// (engine/session).
type broadcaster interface {
	Broadcast(ctx context.Context, b session.Broadcast, send session.BroadcastSend) (session.BroadcastResult, error)
}

var _ admin.Broadcaster = adminBackend{}

// Broadcast implements admin.Broadcaster: a dry run answers with the
// audience; a real broadcast runs in the background on the server's
// WhatsApp client, recorded in the audit log, and is resumed by the next
// request for the same template if the server stops meanwhile.
func (b adminBackend) Broadcast(ctx context.Context, actor string, r admin.BroadcastRequest) (json.RawMessage, error) {
	bs, ok := b.s.store.(broadcaster)
	if !ok || b.s.waClient == nil {
		return nil, errors.New("broadcasts need the WhatsApp channel and a session store")
	}
	p, ok := b.s.flows.Get(r.Flow)
	if !ok {
		return nil, fmt.Errorf("no flow %q: %w", r.Flow, admin.ErrInvalid)
	}
	tpl, ok := p.Template(r.Template)
	if !ok {
		return nil, fmt.Errorf("no template %q: %w", r.Template, admin.ErrInvalid)
	}
	job := session.Broadcast{Flow: r.Flow, Template: r.Template, Purpose: tpl.Purpose, Params: tpl.ParamNames,
		Rate: r.Rate, DryRun: r.DryRun, Actor: actor, Now: b.s.cfg.Now}
	send := func(ctx context.Context, c session.Contact, params []string) error {
		if c.Channel != "whatsapp" {
			return errors.New("only WhatsApp customers can be sent a template")
		}
		_, err := b.s.waClient.Send(ctx, whatsapp.RenderTemplate(c.To, tpl.Name, tpl.Language, params))
		return err
	}
	if r.DryRun {
		res, err := bs.Broadcast(ctx, job, send)
		if err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"dry_run": true, "template": tpl.Name, "purpose": tpl.Purpose,
			"audience": res.Audience, "sample": res.Sample})
	}
	if b.s.bgCtx == nil {
		return nil, errors.New("the server is not started")
	}
	key := r.Flow + "/" + r.Template
	b.s.runningMu.Lock()
	if b.s.running[key] {
		b.s.runningMu.Unlock()
		// Two runs of one broadcast would both resume the same progress.
		return nil, fmt.Errorf("broadcast of %s: %w", key, admin.ErrBroadcastBusy)
	}
	if b.s.running == nil {
		b.s.running = map[string]bool{}
	}
	b.s.running[key] = true
	b.s.runningMu.Unlock()
	// The request is answered once the broadcast is claimed, or refused
	// when it runs elsewhere (another instance or parley broadcast).
	started, refused := make(chan struct{}), make(chan error, 1)
	job.Started = func(session.BroadcastResult) { close(started) }
	b.s.broadcasts.Add(1)
	go func() {
		defer b.s.broadcasts.Done()
		defer func() { b.s.runningMu.Lock(); delete(b.s.running, key); b.s.runningMu.Unlock() }()
		res, err := bs.Broadcast(b.s.bgCtx, job, send)
		if err != nil {
			refused <- err
			b.s.log.Error("broadcast stopped; request it again to resume", "flow", r.Flow, "template", r.Template, "err", err)
			return
		}
		b.s.log.Info("broadcast done", "flow", r.Flow, "template", r.Template, "audience", res.Audience,
			"sent", res.Sent+res.Resent, "skipped", res.Skipped, "failed", res.Failed)
	}()
	select {
	case <-started:
	case err := <-refused:
		if errors.Is(err, session.ErrBroadcastRunning) {
			return nil, fmt.Errorf("%w: %w", err, admin.ErrBroadcastBusy)
		}
		return nil, err
	}
	return json.Marshal(map[string]any{"started": true, "template": tpl.Name, "purpose": tpl.Purpose})
}
