package server

import (
	"context"
	"time"

	"github.com/parleyhq/parley/adapters/host"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
)

// Backend is the storage `parley serve` needs, declared here where it is
// used: the host's, plus the web chat's session key, the retention sweep,
// the recipient notice queue and the rights the admin API exercises.
// engine/session implements it on the vault (cmd/parley wires it).
type Backend interface {
	host.Store
	WebSessionKey() ([]byte, error)
	Sweep(ctx context.Context, now time.Time) (expired int, err error)
	Notices
	Rights
}

// Notices is the durable queue of erasure and stop notices to recipients.
type Notices interface {
	DueNotices(ctx context.Context, now time.Time, max int) ([]session.Notice, error)
	NoticeDelivered(ctx context.Context, receipt string) error
	NoticeFailed(ctx context.Context, n session.Notice, now time.Time) (gaveUp bool, err error)
	// NoticesQueued is signalled when notices are queued.
	NoticesQueued() <-chan struct{}
}

// Rights are the data-subject rights and audit operations of the admin API.
type Rights interface {
	Export(ctx context.Context, subject string, now time.Time) (*session.Export, error)
	Erase(ctx context.Context, subject string, now time.Time) (*session.ErasureReceipt, error)
	Rectify(ctx context.Context, subject, field, value string, now time.Time, flows runtime.Lookup) error
	AuditVerify(ctx context.Context) (int, error)
	Audit(ctx context.Context, actor, action, subjectRef string) error
	Stats(ctx context.Context) (session.Stats, error)
	// Transcript and AuditEntries serve the operator console.
	Transcript(ctx context.Context, subject string, now time.Time) ([]session.TranscriptLine, error)
	AuditEntries(ctx context.Context, f session.AuditFilter) ([]session.AuditEntry, error)
}
