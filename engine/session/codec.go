package session

import (
	"encoding/binary"
	"errors"
	"sort"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

// The conversation state is written on every turn, so it has a compact
// binary form rather than JSON: a version byte, then varints and
// length-prefixed strings in a fixed order. Maps are written sorted so the
// same state always gives the same bytes.
const stateVersion = 1

var errState = errors.New("session: stored conversation state is unreadable")

func encodeState(st *runtime.State) []byte {
	b := make([]byte, 0, 96)
	b = append(b, stateVersion)
	b = appendStr(b, st.Flow)
	b = binary.AppendVarint(b, int64(st.Version))
	b = appendStr(b, st.Lang)
	b = binary.AppendVarint(b, int64(st.Status))
	b = appendStr(b, st.Step)
	b = binary.AppendVarint(b, int64(st.Attempts))
	b = appendStr(b, st.Pending)
	b = binary.AppendUvarint(b, uint64(len(st.Consent)))
	for _, k := range sortedKeys(st.Consent) {
		b = appendStr(b, k)
		b = binary.AppendVarint(b, int64(st.Consent[k]))
	}
	b = binary.AppendUvarint(b, uint64(len(st.Noticed)))
	for _, k := range sortedKeys(st.Noticed) {
		b = appendStr(b, k)
		b = appendStr(b, st.Noticed[k])
	}
	if st.OptedOut {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.AppendVarint(b, unixNano(st.LastInbound))
	// Added later, at the end and only when there are some, so states
	// written before decode unchanged: the options an integration offered
	// (a count, then the options; the count may be 0 only when more
	// follows), then a hand-off in progress (or 0), then the messages a web
	// chat visitor has not collected (a count, 0 only when more follows),
	// then the campaign the conversation started from.
	campaign := st.Campaign != ""
	waitingPart := len(st.Waiting) > 0 || campaign
	handoffPart := st.Handoff != nil || waitingPart
	if len(st.Offered) > 0 || handoffPart {
		b = binary.AppendUvarint(b, uint64(len(st.Offered)))
		for _, o := range st.Offered {
			b = appendStr(b, o.ID)
			b = appendStr(b, o.Title)
		}
	}
	if h := st.Handoff; h != nil {
		b = append(b, handoffTag)
		b = appendStr(b, h.Reason)
		b = binary.AppendVarint(b, unixNano(h.Since))
		b = binary.AppendVarint(b, unixNano(h.Until))
		if h.Acked {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
		b = appendStr(b, h.Channel)
		b = appendStr(b, h.To)
		b = binary.AppendUvarint(b, uint64(h.Lines))
	} else if handoffPart {
		b = append(b, 0) // no hand-off
	}
	if waitingPart {
		b = binary.AppendUvarint(b, uint64(len(st.Waiting)))
		for _, m := range st.Waiting {
			b = binary.AppendVarint(b, int64(m.Kind))
			b = appendStr(b, m.Text)
			b = binary.AppendUvarint(b, uint64(len(m.Options)))
			for _, o := range m.Options {
				b = appendStr(b, o.ID)
				b = appendStr(b, o.Title)
			}
		}
	}
	if campaign {
		b = appendStr(b, st.Campaign)
	}
	return b
}

func decodeWaiting(r *reader, n uint64) []runtime.Message {
	if n > maxWaiting {
		r.err = true
		return nil
	}
	out := make([]runtime.Message, 0, n)
	for range n {
		m := runtime.Message{Kind: runtime.MessageKind(r.varint()), Text: r.str()}
		k := r.uvarint()
		if k > 16 {
			r.err = true
			return nil
		}
		for range k {
			m.Options = append(m.Options, runtime.Option{ID: r.str(), Title: r.str()})
		}
		out = append(out, m)
	}
	return out
}

// handoffTag begins the hand-off part of an encoded state.
const handoffTag = 'h'

// maxWaiting bounds the team's replies a web chat visitor has not
// collected yet.
const maxWaiting = 64

func decodeHandoff(r *reader) *runtime.Handoff {
	h := &runtime.Handoff{Reason: r.str()}
	if t := r.varint(); t != 0 {
		h.Since = time.Unix(0, t).UTC()
	}
	if t := r.varint(); t != 0 {
		h.Until = time.Unix(0, t).UTC()
	}
	h.Acked = r.byte1() == 1
	h.Channel, h.To = r.str(), r.str()
	h.Lines = int(r.uvarint())
	return h
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type reader struct {
	b   []byte
	err bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) str() string {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err, r.b = true, nil
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *reader) byte1() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// decodeState reads what encodeState wrote; ps is the persisted part.
func decodeState(b []byte) (state, error) {
	r := &reader{b: b}
	if r.byte1() != stateVersion {
		return state{}, errState
	}
	ps := state{Flow: r.str(), Version: int(r.varint()), Lang: r.str(), Status: runtime.Status(r.varint()),
		Step: r.str(), Attempts: int(r.varint()), Pending: r.str()}
	if n := r.uvarint(); n > 0 && n < 1<<16 {
		ps.Consent = make(map[string]runtime.ConsentState, n)
		for range n {
			k := r.str()
			ps.Consent[k] = runtime.ConsentState(r.varint())
		}
	}
	if n := r.uvarint(); n > 0 && n < 1<<16 {
		ps.Noticed = make(map[string]string, n)
		for range n {
			k := r.str()
			ps.Noticed[k] = r.str()
		}
	}
	ps.OptedOut = r.byte1() == 1
	ps.LastInbound = r.varint()
	if len(r.b) > 0 && !r.err {
		n := r.uvarint()
		if n > runtime.MaxOffered || n == 0 && len(r.b) == 0 {
			return state{}, errState
		}
		if n > 0 {
			ps.Offered = make([]runtime.Option, n)
			for i := range ps.Offered {
				ps.Offered[i] = runtime.Option{ID: r.str(), Title: r.str()}
			}
		}
	}
	if len(r.b) > 0 && !r.err {
		switch r.byte1() {
		case handoffTag:
			ps.Handoff = decodeHandoff(r)
		case 0:
		default:
			return state{}, errState
		}
	}
	if len(r.b) > 0 && !r.err {
		// No waiting messages is written only before a campaign.
		if n := r.uvarint(); n > 0 {
			ps.Waiting = decodeWaiting(r, n)
		} else if len(r.b) == 0 {
			return state{}, errState
		}
	}
	if len(r.b) > 0 && !r.err {
		if ps.Campaign = r.str(); ps.Campaign == "" {
			return state{}, errState
		}
	}
	if r.err || len(r.b) != 0 {
		return state{}, errState
	}
	return ps, nil
}
