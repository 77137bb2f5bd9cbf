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

func TestStateCodecKeepsTheCampaign(t *testing.T) {
	for _, st := range []*runtime.State{
		{Flow: "booking", Campaign: "spring-24"},
		{Flow: "booking", Campaign: "ad:120208", Offered: []runtime.Option{{ID: "a", Title: "A"}}},
	} {
		ps, err := decodeState(encodeState(st))
		if err != nil {
			t.Fatal(err)
		}
		if ps.Campaign != st.Campaign || len(ps.Offered) != len(st.Offered) {
			t.Errorf("decoded campaign %q and %d options, want %q and %d", ps.Campaign, len(ps.Offered), st.Campaign, len(st.Offered))
		}
	}
}
