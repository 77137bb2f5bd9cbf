package session

import (
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/parleyhq/parley/engine/runtime"
)

// TestStateCodecKeepsOfferedOptions: the options an integration offered
// survive the turn's save until the question is answered.
func TestStateCodecKeepsOfferedOptions(t *testing.T) {
	offer := []runtime.Option{{ID: "mon9", Title: "Mon 9:00"}, {ID: "tue14", Title: "Mar 14:00"}}
	got, err := decodeState(encodeState(&runtime.State{Flow: "slots", Step: "pick", Offered: offer}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Offered, offer) {
		t.Errorf("Offered = %+v, want %+v", got.Offered, offer)
	}
}

// TestStateCodecReadsStatesWrittenBeforeOffers: a state written before
// options were kept (these bytes, pinned) still decodes, with none held,
// and a state without offers is written exactly as before.
func TestStateCodecReadsStatesWrittenBeforeOffers(t *testing.T) {
	const old = "0107626f6f6b696e670602656e020861736b5f6e616d650200010462696e6702000000"
	b, _ := hex.DecodeString(old)
	got, err := decodeState(b)
	if err != nil {
		t.Fatalf("old state: %v", err)
	}
	if got.Flow != "booking" || got.Step != "ask_name" || got.Offered != nil {
		t.Errorf("old state decoded as %+v", got)
	}
	st := &runtime.State{Flow: "booking", Version: 3, Lang: "en", Status: runtime.StatusWaiting, Step: "ask_name",
		Attempts: 1, Consent: map[string]runtime.ConsentState{"bing": runtime.ConsentGranted}}
	if enc := hex.EncodeToString(encodeState(st)); enc != old {
		t.Errorf("a state without offers is written as %s, want %s as before", enc, old)
	}
}

// TestStateCodecRejectsDamagedOffers: a list count of zero or above the
// bound, or a list cut short, is damage.
func TestStateCodecRejectsDamagedOffers(t *testing.T) {
	b := encodeState(&runtime.State{Flow: "slots", Offered: []runtime.Option{{ID: "a", Title: "A"}}})
	base := encodeState(&runtime.State{Flow: "slots"})
	for _, bad := range [][]byte{b[:len(b)-1], append(append([]byte{}, base...), 0), append(append([]byte{}, base...), runtime.MaxOffered+1)} {
		if _, err := decodeState(bad); err == nil {
			t.Errorf("decodeState(%x) succeeded, want an error", bad)
		}
	}
}
