package runtime

import (
	"context"
	"maps"
	"sync"
	"time"
)

// MemStore is a Store in memory, for tests, the simulator and benchmarks. It
// applies effects the way a durable store must: values expire at their
// ExpiresAt (Load never returns an expired value), session values go at
// EffectEnd, EffectErase forgets the subject. It is safe for concurrent use.
type MemStore struct {
	mu       sync.Mutex
	subjects map[string]*memSubject
}

type memSubject struct {
	state    State // without Values
	values   map[string]memValue
	consents []Effect
	notices  []Effect
}

type memValue struct {
	Value
	session bool
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore { return &MemStore{subjects: map[string]*memSubject{}} }

var _ Store = (*MemStore)(nil)

// Load returns a copy of the subject's state with its values unexpired at
// now, or (nil, nil) for a subject never seen.
func (m *MemStore) Load(_ context.Context, subject string, now time.Time) (*State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subjects[subject]
	if !ok {
		return nil, nil
	}
	st := s.state
	st.Consent = maps.Clone(s.state.Consent)
	st.Noticed = maps.Clone(s.state.Noticed)
	st.Values = nil
	for k, v := range s.values {
		if !v.ExpiresAt.IsZero() && !now.Before(v.ExpiresAt) {
			delete(s.values, k) // expired: gone for good
			continue
		}
		if st.Values == nil {
			st.Values = make(map[string]Value, len(s.values))
		}
		st.Values[k] = v.Value
	}
	return &st, nil
}

// Save applies effects in order, then keeps st (its Values are ignored: only
// EffectStore writes values).
func (m *MemStore) Save(_ context.Context, subject string, st *State, effects []Effect, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.subjects[subject]
	if !ok {
		s = &memSubject{}
		m.subjects[subject] = s
	}
	for _, e := range effects {
		switch e.Kind {
		case EffectStore:
			if s.values == nil {
				s.values = map[string]memValue{}
			}
			s.values[e.Field] = memValue{Value: e.Value, session: e.Session}
		case EffectDelete:
			delete(s.values, e.Field)
		case EffectEnd:
			for k, v := range s.values {
				if v.session {
					delete(s.values, k)
				}
			}
		case EffectErase:
			s = &memSubject{}
			m.subjects[subject] = s
		case EffectConsent:
			s.consents = append(s.consents, e)
		case EffectNotice:
			s.notices = append(s.notices, e)
		}
	}
	s.state = *st
	s.state.Values = nil
	s.state.Consent = maps.Clone(st.Consent)
	s.state.Noticed = maps.Clone(st.Noticed)
	return nil
}

// Consents returns the consent effects recorded for subject, oldest first.
func (m *MemStore) Consents(subject string) []Effect {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.subjects[subject]; ok {
		return append([]Effect(nil), s.consents...)
	}
	return nil
}

// Fields returns the names of the values held for subject, expired or not.
func (m *MemStore) Fields(subject string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	if s, ok := m.subjects[subject]; ok {
		for k := range s.values {
			out = append(out, k)
		}
	}
	return out
}
