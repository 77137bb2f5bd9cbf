package runtime

import (
	"errors"
	"math"
	"strconv"
	"time"

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
		if !ok {
			return errBadReply
		}
		v, valid := t.replyValue(fd, raw)
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

// replyValue checks one value of an integration's answer against its
// field. Numbers, dates and true/false come in JSON's own forms, whatever
// the conversation's language: 1234.5, 2026-03-01, true. Every other type
// is checked as the customer's answer would be.
func (t *turn) replyValue(fd *compile.Field, raw string) (any, bool) {
	switch fd.Type {
	case flow.TypeChoice:
		return nil, false // only the customer answers a choice
	case flow.TypeNumber:
		v, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || math.Abs(v) > 1<<53 ||
			fd.HasMin && v < fd.Min || fd.HasMax && v > fd.Max {
			return nil, false
		}
		return v, true
	case flow.TypeDate:
		d, err := time.Parse(time.DateOnly, raw)
		if err != nil {
			return nil, false
		}
		return d.Format(time.DateOnly), true
	case flow.TypeBoolean:
		b, err := strconv.ParseBool(raw)
		if err != nil || raw != "true" && raw != "false" {
			return nil, false
		}
		return b, true
	}
	return parseAnswer(t.p, nil, fd, Inbound{Text: Answer(raw)}, compile.Normalize(raw), t.w, t.li)
}
