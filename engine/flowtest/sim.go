package flowtest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

// Sim is one simulated customer talking to a program on a store: the turn
// that parley chat and parley test share, so a flow test exercises exactly
// what an author tries in the terminal.
type Sim struct {
	Prog    *compile.Program
	Store   runtime.Store
	Subject string
	Lang    string
	Caller  runtime.Caller
	Now     func() time.Time
}

// Turn runs one message. ended reports that the simulation is over: this
// turn ended the conversation, or answered the question that was pending
// (DELETE MY DATA's confirmation). A rights keyword on a conversation that
// had already ended (a customer coming back with MY DATA or DELETE MY DATA)
// leaves it ended but the simulation goes on, as the customer can still
// answer.
func (s *Sim) Turn(ctx context.Context, in runtime.Inbound) (_ []runtime.Message, _ *runtime.State, ended bool, _ error) {
	now := s.Now()
	st, err := s.Store.Load(ctx, s.Subject, now)
	if err != nil {
		return nil, nil, false, err
	}
	if st == nil {
		st = &runtime.State{}
	}
	wasOpen, wasPending := st.Status != runtime.StatusEnded, st.Pending != ""
	turn := runtime.Step(s.Prog, st, in, runtime.Env{Now: now, Ctx: ctx, Caller: s.Caller, Lang: s.Lang})
	for i := range turn.Effects {
		// Simulated calls reach nobody: no recipient to record or notify.
		turn.Effects[i].Target = nil
	}
	if err := s.Store.Save(ctx, s.Subject, st, turn.Effects, now); err != nil {
		return nil, nil, false, err
	}
	ended = st.Status == runtime.StatusEnded && st.Pending == "" && (wasOpen || wasPending)
	return turn.Out, st, ended, nil
}

// Render writes a message as the non-interactive simulator prints it: the
// text, then one line per option, "[1] Mon 9:00". Flow tests compare
// replies in this form.
func Render(m runtime.Message) string {
	var b strings.Builder
	b.WriteString(m.Text)
	for i, o := range m.Options {
		fmt.Fprintf(&b, "\n[%d] %s", i+1, o.Title)
	}
	return b.String()
}
