package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/compile"
)

// Engine runs conversations for many subjects at once: Load, Step, Save,
// with the turns of one subject strictly one after the other. Set the fields,
// then do not copy it.
type Engine struct {
	// Programs holds the served programs by flow id.
	Programs map[string]*compile.Program
	// Default is the flow id new conversations start in; it may be empty
	// when Programs holds exactly one program.
	Default string
	Store   Store
	Caller  Caller
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	locks [256]sync.Mutex
}

// ErrNoFlow means the engine cannot tell which flow a conversation runs.
var ErrNoFlow = errors.New("runtime: no flow for the conversation")

// Handle runs one inbound message for subject (a pseudonymous id) and
// returns the messages to send. Errors come from the store and never carry
// message text or values.
func (e *Engine) Handle(ctx context.Context, subject string, in Inbound) ([]Message, error) {
	mu := &e.locks[stripe(subject)]
	mu.Lock()
	defer mu.Unlock()

	now := time.Now
	if e.Now != nil {
		now = e.Now
	}
	t := now()
	st, err := e.Store.Load(ctx, subject, t)
	if err != nil {
		return nil, fmt.Errorf("load conversation: %w", err)
	}
	if st == nil {
		st = &State{}
	}
	p := e.program(st.Flow)
	if p == nil {
		return nil, ErrNoFlow
	}
	turn := Step(p, st, in, Env{Now: t, Ctx: ctx, Caller: e.Caller})
	if err := e.Store.Save(ctx, subject, st, turn.Effects, t); err != nil {
		return nil, fmt.Errorf("save conversation: %w", err)
	}
	return turn.Out, nil
}

func (e *Engine) program(id string) *compile.Program {
	if p, ok := e.Programs[id]; ok && id != "" {
		return p
	}
	if p, ok := e.Programs[e.Default]; ok {
		return p
	}
	if len(e.Programs) == 1 {
		for _, p := range e.Programs {
			return p
		}
	}
	return nil
}

// stripe picks the lock of a subject (FNV-1a).
func stripe(s string) uint8 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return uint8(h ^ h>>8 ^ h>>16 ^ h>>24)
}
