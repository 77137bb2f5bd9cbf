package session

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/vault"
)

// ExportedField is one field in an access export.
type ExportedField struct {
	Field       string    `json:"field"`
	Value       any       `json:"value"`
	Purpose     string    `json:"purpose"`
	Basis       string    `json:"basis"`
	CollectedAt time.Time `json:"collected_at"`
	ExpiresAt   string    `json:"expires_at"` // RFC 3339, or "end of conversation"
	Flow        string    `json:"flow"`
	FlowVersion int       `json:"flow_version"`
}

// ExportedConsent is one consent decision in an access export.
type ExportedConsent struct {
	Purpose     string    `json:"purpose"`
	Decision    string    `json:"decision"` // granted or withdrawn
	At          time.Time `json:"at"`
	Flow        string    `json:"flow"`
	FlowVersion int       `json:"flow_version"`
	NoticeHash  string    `json:"notice_hash,omitempty"`
	MessageID   string    `json:"message_id,omitempty"`
}

// Export is an access export (GDPR art. 15 and 20) in a stable JSON shape.
type Export struct {
	Subject      string            `json:"subject"`
	ExportedAt   time.Time         `json:"exported_at"`
	Conversation *ExportedState    `json:"conversation,omitempty"`
	Fields       []ExportedField   `json:"fields"`
	Consents     []ExportedConsent `json:"consents"`
}

// ExportedState says where the subject's conversation is, without values.
type ExportedState struct {
	Flow        string `json:"flow"`
	FlowVersion int    `json:"flow_version"`
	Step        string `json:"step,omitempty"`
	Language    string `json:"language,omitempty"`
}

// ExportSubject returns everything held about the subject as of now.
func ExportSubject(v *vault.Vault, s vault.SubjectID, now time.Time) (*Export, error) {
	ex, err := v.Export(s, now)
	if err != nil {
		return nil, err
	}
	out := &Export{Subject: s.Hex(), ExportedAt: now.UTC(), Fields: []ExportedField{}, Consents: []ExportedConsent{}}
	if ex.State != nil {
		if ps, err := decodeState(ex.State); err == nil && ps.Flow != "" {
			out.Conversation = &ExportedState{Flow: ps.Flow, FlowVersion: ps.Version, Step: ps.Step, Language: ps.Lang}
		}
	}
	for _, f := range ex.Fields {
		val, err := DecodeValue(f.Value)
		if err != nil {
			return nil, err
		}
		exp := "end of conversation"
		if !f.ExpiresAt.IsZero() {
			exp = f.ExpiresAt.UTC().Format(time.RFC3339)
		}
		out.Fields = append(out.Fields, ExportedField{
			Field: f.Name, Value: val, Purpose: f.Purpose, Basis: f.Basis,
			CollectedAt: f.CollectedAt.UTC(), ExpiresAt: exp, Flow: f.Flow, FlowVersion: f.FlowVersion,
		})
	}
	sort.Slice(out.Fields, func(i, j int) bool { return out.Fields[i].Field < out.Fields[j].Field })
	for _, c := range ex.Consents {
		d := "withdrawn"
		if c.Granted {
			d = "granted"
		}
		out.Consents = append(out.Consents, ExportedConsent{
			Purpose: c.Purpose, Decision: d, At: c.At.UTC(), Flow: c.Flow, FlowVersion: c.FlowVersion,
			NoticeHash: c.NoticeHash, MessageID: c.MessageID,
		})
	}
	return out, nil
}

// ErasureReceipt is what an erasure prints: proof without personal data.
type ErasureReceipt struct {
	Receipt      string    `json:"receipt"`
	Subject      string    `json:"subject"`
	ErasedAt     time.Time `json:"erased_at"`
	KeyDestroyed bool      `json:"key_destroyed"`
	Fields       int       `json:"fields"`
	Consents     int       `json:"consent_records"`
	States       int       `json:"conversations"`
	Inbox        int       `json:"inbox_messages"`
	Outbox       int       `json:"outbox_messages"`
}

// EraseSubject erases everything held about the subject and returns a receipt.
func EraseSubject(v *vault.Vault, s vault.SubjectID, now time.Time) (*ErasureReceipt, error) {
	r, err := v.Erase(s, now)
	if err != nil {
		return nil, err
	}
	return &ErasureReceipt{
		Receipt: r.ID, Subject: s.Hex(), ErasedAt: r.At.UTC(), KeyDestroyed: r.KeyDestroyed,
		Fields: r.Fields, Consents: r.Consents, States: r.States, Inbox: r.Inbox, Outbox: r.Outbox,
	}, nil
}

// RectifySubject replaces the value of one held field. The new value keeps
// the kind of the old one: a number field takes a number, a yes/no field
// takes yes or no.
func RectifySubject(v *vault.Vault, s vault.SubjectID, field, value string, now time.Time) error {
	ex, err := v.Export(s, now)
	if err != nil {
		return err
	}
	var old []byte
	for _, f := range ex.Fields {
		if f.Name == field {
			old = f.Value
		}
	}
	if old == nil {
		names := make([]string, 0, len(ex.Fields))
		for _, f := range ex.Fields {
			names = append(names, f.Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("no data is held for this subject: %w", vault.ErrNotFound)
		}
		return fmt.Errorf("no field %q is held; held fields: %s: %w", field, strings.Join(names, ", "), vault.ErrNotFound)
	}
	var nv any
	switch old[0] {
	case 'n':
		f, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(value), ",", "."), 64)
		if err != nil {
			return fmt.Errorf("field %q holds a number; the new value is not one", field)
		}
		nv = f
	case 'b':
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "yes", "true", "1":
			nv = true
		case "no", "false", "0":
			nv = false
		default:
			return fmt.Errorf("field %q holds yes or no; the new value is neither", field)
		}
	default:
		nv = value
	}
	b, err := EncodeValue(nv)
	if err != nil {
		return err
	}
	return v.Rectify(s, field, b, now)
}
