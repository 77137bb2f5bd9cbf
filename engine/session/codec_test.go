package session

import (
	"reflect"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/runtime"
)

func TestStateCodecRoundTrips(t *testing.T) {
	st := &runtime.State{
		Flow: "booking", Version: 3, Lang: "it", Status: runtime.StatusWaiting, Step: "ask_email",
		Attempts: 2, Pending: "consent:booking",
		Consent:     map[string]runtime.ConsentState{"booking": runtime.ConsentGranted, "triage": runtime.ConsentDeclined},
		Noticed:     map[string]string{"support": "abc123"},
		OptedOut:    true,
		LastInbound: time.Date(2026, 11, 23, 10, 0, 0, 5, time.UTC),
	}
	got, err := decodeState(encodeState(st))
	if err != nil {
		t.Fatal(err)
	}
	want := state{Flow: "booking", Version: 3, Lang: "it", Status: runtime.StatusWaiting, Step: "ask_email",
		Attempts: 2, Pending: "consent:booking", Consent: st.Consent, Noticed: st.Noticed, OptedOut: true,
		LastInbound: st.LastInbound.UnixNano()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decodeState(encodeState(st)) = %+v, want %+v", got, want)
	}
}

func TestStateCodecIsDeterministic(t *testing.T) {
	st := &runtime.State{Consent: map[string]runtime.ConsentState{}, Noticed: map[string]string{}}
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		st.Consent[k] = runtime.ConsentGranted
		st.Noticed[k] = k + k
	}
	first := string(encodeState(st))
	for range 20 {
		if string(encodeState(st)) != first {
			t.Fatal("encodeState gave different bytes for the same state")
		}
	}
}

func TestStateCodecRejectsDamage(t *testing.T) {
	b := encodeState(&runtime.State{Flow: "booking", Step: "ask_name"})
	for _, bad := range [][]byte{nil, {9}, b[:len(b)-1], append(append([]byte{}, b...), 0)} {
		if _, err := decodeState(bad); err == nil {
			t.Errorf("decodeState(%q) succeeded, want an error", bad)
		}
	}
}

// TestStateCodecKeepsItsTail: the parts added at the end of the state —
// offered options, a hand-off in progress (with the customer's address a
// reply needs), the messages a web chat visitor has not collected, and the
// campaign the conversation started from — survive the round trip in every
// combination, each with and without the others.
func TestStateCodecKeepsItsTail(t *testing.T) {
	at := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := &runtime.Handoff{Reason: "step:person", Since: at, Until: at.Add(4 * time.Hour), Acked: true, Lines: 3, Channel: "whatsapp", To: "15550001111"}
	w := []runtime.Message{{Kind: runtime.KindStaff, Text: "hello"}, {Kind: runtime.KindAsk, Text: "pick", Options: []runtime.Option{{ID: "a", Title: "A"}}}}
	offered := []runtime.Option{{ID: "mon9", Title: "Monday 9:00"}}
	for mask := range 16 {
		st := &runtime.State{Flow: "shop", Status: runtime.StatusHandedOff}
		if mask&1 != 0 {
			st.Offered = offered
		}
		if mask&2 != 0 {
			st.Handoff = h
		}
		if mask&4 != 0 {
			st.Waiting = w
		}
		if mask&8 != 0 {
			st.Campaign = "ad:120208"
		}
		got, err := decodeState(encodeState(st))
		if err != nil {
			t.Fatalf("combination %04b: %v", mask, err)
		}
		if !reflect.DeepEqual(got.Handoff, st.Handoff) || !reflect.DeepEqual(got.Waiting, st.Waiting) ||
			!reflect.DeepEqual(got.Offered, st.Offered) || got.Campaign != st.Campaign {
			t.Errorf("combination %04b: round trip of %+v gave %+v", mask, st, got)
		}
	}
}
