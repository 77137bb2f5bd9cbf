package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parleyhq/parley/adapters/admin"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

// adminBackend carries out admin API requests on the server's flows and
// vault. Its errors never carry personal data: the admin package logs them.
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

func (b adminBackend) subject(channel, user string) vault.SubjectID {
	return b.s.vault.SubjectID(channel, user)
}

func (b adminBackend) Export(_ context.Context, channel, user string) (json.RawMessage, error) {
	ex, err := session.ExportSubject(b.s.vault, b.subject(channel, user), b.s.cfg.Now())
	if err != nil {
		return nil, mapErr(err)
	}
	return json.Marshal(ex)
}

func (b adminBackend) Erase(_ context.Context, channel, user string) (json.RawMessage, error) {
	r, err := session.EraseSubject(b.s.vault, b.subject(channel, user), b.s.cfg.Now())
	if err != nil {
		return nil, mapErr(err)
	}
	b.s.metrics.Erased.Inc()
	return json.Marshal(r)
}

func (b adminBackend) Rectify(_ context.Context, channel, user, field, value string) error {
	err := session.RectifySubject(b.s.vault, b.subject(channel, user), field, value, b.s.cfg.Now(), b.s.flows.Get)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return fmt.Errorf("%w: no such field is held", admin.ErrNotFound)
	case errors.Is(err, runtime.ErrInvalidValue), errors.Is(err, session.ErrFlowNotLoaded):
		// The reason names the field and what it takes (from the flow),
		// never the value, so it may go back to the client.
		return &admin.RejectedValueError{Reason: err.Error()}
	case err != nil && !errors.Is(err, vault.ErrCorrupt) && !errors.Is(err, vault.ErrClosed):
		return fmt.Errorf("%w: the value does not fit the field", admin.ErrInvalid)
	}
	return err
}

func (b adminBackend) AuditVerify(context.Context) (int, error) {
	n, err := b.s.vault.AuditVerify()
	if errors.Is(err, vault.ErrAuditTampered) {
		return n, fmt.Errorf("%w: after %d entries", admin.ErrChainBroken, n)
	}
	return n, err
}

func (b adminBackend) Audit(_ context.Context, actor, action, subjectRef string) error {
	return b.s.vault.Audit(actor, action, subjectRef, nil)
}

func (b adminBackend) MetricsSummary(context.Context) (json.RawMessage, error) {
	st, err := b.s.vault.Stats()
	if err != nil {
		return nil, err
	}
	sum := map[string]any{
		"flows": len(b.s.flows.All()), "subjects": st.Subjects, "fields": st.Fields, "consents": st.Consents,
		"inbox_pending": st.InboxPending, "outbox_pending": st.OutboxPending, "audit_entries": st.AuditEntries,
		"erasures": st.Erasures, "disk_bytes": st.DiskBytes,
	}
	return json.Marshal(sum)
}

func mapErr(err error) error {
	if errors.Is(err, vault.ErrNotFound) {
		return fmt.Errorf("%w: nothing held", admin.ErrNotFound)
	}
	return err
}
