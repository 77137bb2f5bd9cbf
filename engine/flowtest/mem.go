package flowtest

import (
	"context"
	"sort"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// MemBackend opens backends on runtime.MemStore: quick, and enough for tests
// of this package. It keeps conversations for ever (MemStore has no
// conversation retention); parley test runs on the encrypted vault instead.
func MemBackend(func() time.Time) (Backend, func() error, error) {
	return memBackend{runtime.NewMemStore()}, func() error { return nil }, nil
}

type memBackend struct{ *runtime.MemStore }

func (memBackend) Subject(channel, userID string) string { return channel + ":" + userID }

func (m memBackend) Held(ctx context.Context, subject string, now time.Time) (Held, error) {
	st, err := m.Load(ctx, subject, now)
	if err != nil || st == nil {
		return Held{}, err
	}
	h := Held{Conversation: true, Consents: map[string]string{}}
	for f := range st.Values {
		h.Fields = append(h.Fields, f)
	}
	sort.Strings(h.Fields)
	for p, c := range st.Consent {
		h.Consents[p] = ConsentWord(c)
	}
	return h, nil
}

// ConsentWord names a consent state as tests write it.
func ConsentWord(c runtime.ConsentState) string {
	switch c {
	case runtime.ConsentGranted:
		return "granted"
	case runtime.ConsentDeclined:
		return "declined"
	case runtime.ConsentWithdrawn:
		return "withdrawn"
	}
	return ""
}
