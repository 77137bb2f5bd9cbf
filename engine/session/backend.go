package session

import (
	"context"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/vault"
)

// The methods in this file give `parley serve` (adapters/server, the admin
// API and the notice sender) what it needs of the vault in the runtime's
// terms, so adapters declare interfaces and never import the vault.

// Notice is an erasure or stop notice waiting for delivery to a recipient.
type Notice = vault.Notice

// Stats are the vault's counts, for the admin API's summary.
type Stats = vault.Stats

// Errors a caller branches on, the vault's own (errors.Is matches either).
var (
	ErrNotFound      = vault.ErrNotFound
	ErrCorrupt       = vault.ErrCorrupt
	ErrClosed        = vault.ErrClosed
	ErrAuditTampered = vault.ErrAuditTampered
)

// WebSessionKey returns the key that signs web chat session cookies.
func (s *Store) WebSessionKey() ([]byte, error) { return s.V.WebSessionKey() }

// Sweep deletes what has expired and returns how many field records went.
func (s *Store) Sweep(_ context.Context, now time.Time) (expired int, err error) {
	st, err := s.V.Sweep(now)
	return st.Expired, err
}

// SweepSubject deletes what of one subject has expired at now (the
// studio's test user, on its own clock) and returns how many field
// records went.
func (s *Store) SweepSubject(_ context.Context, subject string, now time.Time) (expired int, err error) {
	st, err := s.V.SweepSubject(vault.SubjectID(subject), now)
	return st.Expired, err
}

// RecipientRef is a recipient's own pseudonymous reference for subject.
func (s *Store) RecipientRef(subject, flow, integration string) string {
	return s.V.RecipientRef(vault.SubjectID(subject), flow, integration)
}

// DueNotices returns up to max notices due for delivery at now.
func (s *Store) DueNotices(_ context.Context, now time.Time, max int) ([]Notice, error) {
	return s.V.DueNotices(now, max)
}

// NoticeDelivered removes a delivered notice from the queue.
func (s *Store) NoticeDelivered(_ context.Context, receipt string) error {
	return s.V.NoticeDelivered(receipt)
}

// NoticeFailed reschedules a notice, or gives it up (gaveUp).
func (s *Store) NoticeFailed(_ context.Context, n Notice, now time.Time) (gaveUp bool, err error) {
	return s.V.NoticeFailed(n, now)
}

// NoticesQueued is signalled when new notices are queued.
func (s *Store) NoticesQueued() <-chan struct{} { return s.V.NoticesQueued() }

// Export is the data-subject access export of a subject (ExportSubject).
func (s *Store) Export(_ context.Context, subject string, now time.Time) (*Export, error) {
	return ExportSubject(s.V, vault.SubjectID(subject), now)
}

// Erase erases a subject (EraseSubject).
func (s *Store) Erase(_ context.Context, subject string, now time.Time) (*ErasureReceipt, error) {
	return EraseSubject(s.V, vault.SubjectID(subject), now)
}

// Rectify replaces a field's value (RectifySubject).
func (s *Store) Rectify(_ context.Context, subject, field, value string, now time.Time, flows runtime.Lookup) error {
	return RectifySubject(s.V, vault.SubjectID(subject), field, value, now, flows)
}

// AuditVerify checks the audit chain and returns how many entries it holds.
func (s *Store) AuditVerify(context.Context) (int, error) { return s.V.AuditVerify() }

// Audit appends an audit entry.
func (s *Store) Audit(_ context.Context, actor, action, subjectRef string) error {
	return s.V.Audit(actor, action, subjectRef, nil)
}

// Stats returns the vault's counts.
func (s *Store) Stats(context.Context) (Stats, error) { return s.V.Stats() }
