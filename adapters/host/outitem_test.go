package host

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

var outItemCases = []outItem{
	{Ch: "whatsapp", Outbound: Outbound{Req: json.RawMessage(`{"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"Hi \"Ada\" \\ \u00e9 \u2028 <b>&</b>"}}`)}, InboundAt: 1764400000000000000, Flow: "booking", Queued: 1764400000000000001},
	{Ch: "web", Outbound: Outbound{To: "user \"7\"\n\x01\t", Req: json.RawMessage(`{"text":"x"}`), Free: true}, InboundAt: -5},
	{Outbound: Outbound{Req: json.RawMessage(`null`)}},
	{Ch: "whatsapp", Outbound: Outbound{Req: json.RawMessage(`{"a": [1, 2]}`)}, Flow: "é<>&\u2029"},
	{Ch: "bad\xffutf8", Outbound: Outbound{Req: json.RawMessage(`{"a":1}`)}},
	{Ch: "whatsapp", Outbound: Outbound{Req: json.RawMessage(`{not json`)}},
}

// encodeOutItem writes what json.Marshal writes for a compact request,
// and whatever it writes decodes to the same item.
func TestEncodeOutItem(t *testing.T) {
	for _, oi := range outItemCases {
		got := encodeOutItem(oi)
		want, _ := json.Marshal(oi)
		if json.Valid(oi.Req) && !bytes.Contains(oi.Req, []byte(" ")) && !bytes.ContainsAny(oi.Req, "<>&\u2028") &&
			!bytes.ContainsAny([]byte(oi.Ch+oi.To+oi.Flow), "<>&\u2028\u2029\xff") && !bytes.Equal(got, want) {
			t.Errorf("encodeOutItem = %s\njson.Marshal  = %s", got, want)
		}
		checkOutItemRoundTrip(t, oi, got, want)
	}
}

func checkOutItemRoundTrip(t *testing.T, oi outItem, got, want []byte) {
	t.Helper()
	if want == nil {
		if got != nil {
			t.Errorf("encodeOutItem(%q) = %s, want nil as json.Marshal", oi.Req, got)
		}
		return
	}
	var a, b outItem
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("encodeOutItem wrote %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	var ra, rb any
	json.Unmarshal(a.Req, &ra)
	json.Unmarshal(b.Req, &rb)
	a.Req, b.Req = nil, nil
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ra, rb) {
		t.Errorf("decoded %+v %v, want %+v %v", a, ra, b, rb)
	}
}

func FuzzEncodeOutItem(f *testing.F) {
	for _, oi := range outItemCases {
		f.Add(oi.Ch, oi.To, []byte(oi.Req), oi.Free, oi.InboundAt, oi.Flow, oi.Queued)
	}
	f.Fuzz(func(t *testing.T, ch, to string, req []byte, free bool, in int64, flow string, q int64) {
		oi := outItem{Ch: ch, Outbound: Outbound{To: to, Req: req, Free: free}, InboundAt: in, Flow: flow, Queued: q}
		want, _ := json.Marshal(oi)
		checkOutItemRoundTrip(t, oi, encodeOutItem(oi), want)
	})
}

// BenchmarkEncodeOutItem is the stored form of one reply of a turn, and
// json.Marshal of it (what a turn did before) for comparison.
//
//	go test ./adapters/host -run '^$' -bench EncodeOutItem -benchmem
func BenchmarkEncodeOutItem(b *testing.B) {
	oi := outItemCases[0]
	b.Run("encodeOutItem", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			encodeOutItem(oi)
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			json.Marshal(oi)
		}
	})
}
