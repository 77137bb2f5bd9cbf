package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/compile"
)

// Lookup finds a served program by flow id. Packages above the runtime
// (engine/session) take one without importing engine/compile.
type Lookup func(id string) (*compile.Program, bool)

// Engine runs conversations for many subjects at once: Load, Step, Save,
// with the turns of one subject strictly one after the other. Set the fields,
// then do not copy it.
type Engine struct {
	// Programs holds the served programs by flow id. Lookup, when set, is
	// used instead, so a server can swap flows on reload without a race.
	Programs map[string]*compile.Program
	Lookup   Lookup
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
	out, _, err := e.HandleFlow(ctx, subject, "", in)
	return out, err
}

// HandleFlow is Handle for a host that chooses the flow: flowID (or, when
// empty, Default) is used for a new or ended conversation; a conversation in
// progress stays in its own flow while that flow is served. It also returns
// the conversation's status after the turn.
func (e *Engine) HandleFlow(ctx context.Context, subject, flowID string, in Inbound) ([]Message, Status, error) {
	turn, st, err := e.HandleWith(ctx, subject, flowID, in, func(st *State, t Turn, now time.Time) error {
		return e.Store.Save(ctx, subject, st, t.Effects, now)
	})
	if err != nil {
		return nil, 0, err
	}
	return turn.Out, st.Status, nil
}

// HandleWith runs one turn like HandleFlow but lets the caller save it, so a
// channel can commit its rendered replies in the same transaction as the new
// state. save runs while the subject's lock is held.
func (e *Engine) HandleWith(ctx context.Context, subject, flowID string, in Inbound, save func(st *State, t Turn, now time.Time) error) (Turn, *State, error) {
	st, t, unlock, err := e.lockAndLoad(ctx, subject)
	if err != nil {
		return Turn{}, nil, err
	}
	defer unlock()
	if st == nil {
		st = &State{}
	}
	var p *compile.Program
	if st.Flow != "" && st.Status != StatusNew && st.Status != StatusEnded {
		p = e.program(st.Flow)
	}
	if p == nil && flowID != "" {
		p = e.program(flowID)
	}
	if p == nil {
		p = e.program(st.Flow)
	}
	if p == nil {
		return Turn{}, nil, ErrNoFlow
	}
	env := Env{Now: t, Ctx: ctx, Caller: e.Caller, Subject: subject}
	if hl, ok := e.Store.(HeldLister); ok {
		env.Held = func() (Held, error) { return hl.Held(ctx, subject, t) }
	}
	turn := Step(p, st, in, env)
	if err := save(st, turn, t); err != nil {
		return Turn{}, nil, fmt.Errorf("save conversation: %w", err)
	}
	return turn, st, nil
}

// Program returns the program of flow id, and false when no flow has that
// id (the default flow is not substituted).
func (e *Engine) Program(id string) (*compile.Program, bool) {
	if e.Lookup != nil {
		return e.Lookup(id)
	}
	p, ok := e.Programs[id]
	return p, ok
}

func (e *Engine) program(id string) *compile.Program {
	if e.Lookup != nil {
		if id != "" {
			if p, ok := e.Lookup(id); ok {
				return p
			}
		}
		if p, ok := e.Lookup(e.Default); ok && e.Default != "" {
			return p
		}
		return nil
	}
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

// HandleStaff carries out a team member's action (StepStaff) on subject's
// handed-off conversation, under the subject's lock like a customer's turn;
// save commits it. ErrNotHandedOff when the conversation is not handed off
// (or does not exist).
func (e *Engine) HandleStaff(ctx context.Context, subject string, op StaffOp, save func(st *State, t Turn, now time.Time) error) (Turn, *State, error) {
	st, t, unlock, err := e.lockAndLoad(ctx, subject)
	if err != nil {
		return Turn{}, nil, err
	}
	defer unlock()
	if st == nil || st.Status != StatusHandedOff && op.Kind != StaffCollect {
		return Turn{}, nil, ErrNotHandedOff
	}
	p := e.program(st.Flow)
	if p == nil {
		return Turn{}, nil, ErrNoFlow
	}
	turn, err := StepStaff(p, st, op, Env{Now: t, Ctx: ctx, Caller: e.Caller, Subject: subject})
	if err != nil {
		return Turn{}, nil, err
	}
	if err := save(st, turn, t); err != nil {
		return Turn{}, nil, fmt.Errorf("save conversation: %w", err)
	}
	return turn, st, nil
}

// lockAndLoad takes subject's lock (turns of one subject run one after the
// other) and loads its conversation as of now; st is nil for a subject
// never seen. The caller runs unlock when its turn is saved.
func (e *Engine) lockAndLoad(ctx context.Context, subject string) (st *State, now time.Time, unlock func(), err error) {
	mu := &e.locks[stripe(subject)]
	mu.Lock()
	clock := time.Now
	if e.Now != nil {
		clock = e.Now
	}
	now = clock()
	st, err = e.Store.Load(ctx, subject, now)
	if err != nil {
		mu.Unlock()
		return nil, now, nil, fmt.Errorf("load conversation: %w", err)
	}
	return st, now, mu.Unlock, nil
}
