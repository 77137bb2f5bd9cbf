package session

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/vault"
)

// TranscriptLine is one message of a hand-off, as the console shows it and
// an access export lists it.
type TranscriptLine struct {
	From      string    `json:"from"` // runtime.TranscriptCustomer or runtime.TranscriptStaff
	Text      string    `json:"text"`
	At        time.Time `json:"at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// HandoffEntry is one conversation in the team's hand-off queue.
type HandoffEntry = vault.HandoffEntry

// handoffPurpose and handoffBasis are what a transcript line is kept for:
// the customer asked for a person (or the flow offered one), so answering
// them is a step they requested (GDPR art. 6(1)(b)).
const (
	handoffPurpose = "handoff"
	handoffBasis   = "contract"
)

// transcriptRecord is transcript line (runtime's name for it) as a field
// record of the subject: sealed under the subject key, expiring with the
// flow's handoff.transcript_retention, exported and erased like every
// answer. The name orders the lines and says who wrote each.
func transcriptRecord(line, from, text string, at, expires time.Time, st *runtime.State) vault.FieldRecord {
	b, _ := EncodeValue(text)
	return vault.FieldRecord{
		Name:  vault.TranscriptPrefix + line + "." + from,
		Value: b, Purpose: handoffPurpose, Basis: handoffBasis,
		CollectedAt: at, ExpiresAt: expires, Flow: st.Flow, FlowVersion: st.Version,
	}
}

// transcriptLines picks the transcript lines out of a subject's fields,
// oldest first.
func transcriptLines(fields []vault.FieldRecord) []TranscriptLine {
	out := []TranscriptLine{}
	names := make([]string, 0, len(fields))
	byName := map[string]vault.FieldRecord{}
	for _, f := range fields {
		if strings.HasPrefix(f.Name, vault.TranscriptPrefix) {
			names = append(names, f.Name)
			byName[f.Name] = f
		}
	}
	sort.Strings(names)
	for _, n := range names {
		f := byName[n]
		v, err := DecodeValue(f.Value)
		text, _ := v.(string)
		if err != nil {
			continue
		}
		from := n[strings.LastIndexByte(n, '.')+1:]
		out = append(out, TranscriptLine{From: from, Text: text, At: f.CollectedAt.UTC(), ExpiresAt: f.ExpiresAt.UTC()})
	}
	return out
}

// Transcript returns what was written while subject was handed off (and is
// still kept), oldest first.
func (s *Store) Transcript(_ context.Context, subject string, now time.Time) ([]TranscriptLine, error) {
	_, fields, err := s.V.LoadSubject(vault.SubjectID(subject), now)
	if err != nil {
		return nil, err
	}
	return transcriptLines(fields), nil
}

// DropHandoff takes subject out of the hand-off queue when its
// conversation is gone.
func (s *Store) DropHandoff(_ context.Context, subject string) error {
	return s.V.DropHandoff(vault.SubjectID(subject))
}

// Handoffs lists the conversations waiting for a person, oldest first.
func (s *Store) Handoffs(context.Context) ([]HandoffEntry, error) { return s.V.Handoffs() }

// AuditEntry is one audit log entry; AuditFilter selects entries.
// SubjectID is the vault's pseudonym of a subject (AuditFilter.Subject).
type (
	AuditEntry  = vault.AuditEntry
	AuditFilter = vault.AuditFilter
	SubjectID   = vault.SubjectID
)

// AuditEntries returns the audit entries f selects, oldest first.
func (s *Store) AuditEntries(_ context.Context, f AuditFilter) ([]AuditEntry, error) {
	return s.V.AuditEntries(f)
}
