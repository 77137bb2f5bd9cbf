package runtime

import (
	"errors"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/flow"
)

// errBadReply fails a call whose answer lacks a field of its receives: list
// or holds one that does not fit the field. It names no value.
var errBadReply = errors.New("runtime: the integration's answer does not fit its receives: list")

// receive keeps an integration's answer: every field of its receives: list
// is checked as the customer's answer to it would be (type, limits) and
// kept with its own purpose and retention. All or nothing: a missing or
// unfitting field fails the call and keeps none of them.
func (t *turn) receive(in *compile.Integration, reply Reply) error {
	if len(in.Receives) == 0 {
		return nil
	}
	vals := make([]any, len(in.Receives))
	for i, fi := range in.Receives {
		fd := t.p.FieldAt(fi)
		raw, ok := reply[fd.Name]
		if !ok || fd.Type == flow.TypeChoice {
			return errBadReply
		}
		v, valid := parseAnswer(t.p, nil, fd, Inbound{Text: Answer(raw)}, compile.Normalize(raw), t.w, t.li)
		if !valid {
			return errBadReply
		}
		vals[i] = v
	}
	for i, fi := range in.Receives {
		t.store(t.p.FieldAt(fi), vals[i])
	}
	return nil
}
