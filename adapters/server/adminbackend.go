package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/adapters/admin"
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
