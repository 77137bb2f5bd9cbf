package session_test

import (
	"context"
	"crypto/rand"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/vault"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func masterKey(t testing.TB) []byte {
	k := make([]byte, vault.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// memVault opens an in-memory vault whose clock is *now.
func memVault(t testing.TB, now *time.Time) *vault.Vault {
	t.Helper()
	v, err := vault.Open(vault.Options{InMemory: true, MasterKey: masterKey(t), Now: func() time.Time { return *now }, PurgeDelay: -1, Sync: vault.SyncNever})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func program(t testing.TB, file string) *compile.Program {
	t.Helper()
	res, err := check.File(file)
	if err != nil {
		t.Fatal(err)
	}
	if res.Program == nil {
		t.Fatalf("%s: %v", file, res.Diags)
	}
	return res.Program
}

func TestValueEncodingRoundTrips(t *testing.T) {
	for _, v := range []any{
		"", "Ada", "zq.canary@example.org", "Zoë 🌱 with\nnewline and \x00 byte", "s", "n1", "b1",
		0.0, 1.0, -2.5, 1e-300, 1.7976931348623157e308, 42.125, math.SmallestNonzeroFloat64,
		true, false,
	} {
		b, err := session.EncodeValue(v)
		if err != nil {
			t.Fatalf("EncodeValue(%#v): %v", v, err)
		}
		got, err := session.DecodeValue(b)
		if err != nil {
			t.Fatalf("DecodeValue(EncodeValue(%#v)): %v", v, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("round trip of %#v gave %#v (stored %q)", v, got, b)
		}
	}
	// The sign of zero survives too.
	b, _ := session.EncodeValue(math.Copysign(0, -1))
	if got, _ := session.DecodeValue(b); !math.Signbit(got.(float64)) {
		t.Errorf("-0 decoded as %v", got)
	}
}

func TestEncodeValueRejectsWhatItCannotStoreExactly(t *testing.T) {
	for _, v := range []any{math.NaN(), math.Inf(1), math.Inf(-1), 3, int64(3), []byte("x"), nil, struct{}{}} {
		if b, err := session.EncodeValue(v); err == nil {
			t.Errorf("EncodeValue(%#v) = %q, want an error", v, b)
		}
	}
}

func TestDecodeValueRejectsDamage(t *testing.T) {
	for _, b := range [][]byte{nil, {}, []byte("x1"), []byte("nabc"), []byte("n")} {
		if v, err := session.DecodeValue(b); err == nil || !errors.Is(err, vault.ErrCorrupt) {
			t.Errorf("DecodeValue(%q) = %v, %v; want ErrCorrupt", b, v, err)
		}
	}
}

// TestSaveLoadMapsStateEffectsAndValues saves hand-made effects and checks
// what Load and the export give back.
func TestSaveLoadMapsStateEffectsAndValues(t *testing.T) {
	now := t0
	v := memVault(t, &now)
	s := session.New(v)
	subj := s.Subject("whatsapp", "15550001234")
	if strings.Contains(subj, "15550001234") || len(subj) != 64 {
		t.Fatalf("subject %q is not a pseudonym", subj)
	}
	ctx := context.Background()
	if st, err := s.Load(ctx, subj, now); st != nil || err != nil {
		t.Fatalf("Load of an unknown subject = %+v, %v; want nil, nil", st, err)
	}
	st := &runtime.State{
		Flow: "booking", Version: 2, Lang: "en", Status: runtime.StatusWaiting, Step: "ask_email", Attempts: 1,
		Consent:     map[string]runtime.ConsentState{"booking": runtime.ConsentGranted},
		Noticed:     map[string]string{"booking": strings.Repeat("ab", 32)},
		LastInbound: now,
		// Values in the state are never written: only EffectStore is.
		Values: map[string]runtime.Value{"ghost": {V: "not an effect"}},
	}
	effects := []runtime.Effect{
		{Kind: runtime.EffectConsent, Purpose: "booking", Basis: "consent", Granted: true, NoticeHash: strings.Repeat("ab", 32), MessageID: "wamid.YES"},
		{Kind: runtime.EffectStore, Field: "name", Purpose: "booking", Basis: "consent", Value: runtime.Value{V: "Ada", CollectedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}},
		{Kind: runtime.EffectStore, Field: "age", Purpose: "booking", Basis: "consent", Value: runtime.Value{V: 41.5, CollectedAt: now, ExpiresAt: now.Add(time.Hour)}},
		{Kind: runtime.EffectStore, Field: "topic", Purpose: "booking", Basis: "consent", Session: true, Value: runtime.Value{V: "where", CollectedAt: now}},
		{Kind: runtime.EffectStore, Field: "ok", Purpose: "booking", Basis: "consent", Value: runtime.Value{V: true, CollectedAt: now, ExpiresAt: now.Add(time.Hour)}},
	}
	if err := s.Save(ctx, subj, st, effects, now); err != nil {
		t.Fatal(err)
	}
	got, err := s.Load(ctx, subj, now)
	if err != nil {
		t.Fatal(err)
	}
	wantState := *st
	wantState.Values = map[string]runtime.Value{
		"name":  {V: "Ada", CollectedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)},
		"age":   {V: 41.5, CollectedAt: now, ExpiresAt: now.Add(time.Hour)},
		"topic": {V: "where", CollectedAt: now}, // session: no expiry of its own
		"ok":    {V: true, CollectedAt: now, ExpiresAt: now.Add(time.Hour)},
	}
	if !sameState(got, &wantState) {
		t.Errorf("Load =\n%+v\nwant\n%+v", *got, wantState)
	}

	ex, err := session.ExportSubject(v, vault.SubjectID(subj), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Consents) != 1 {
		t.Fatalf("consents = %+v", ex.Consents)
	}
	c := ex.Consents[0]
	want := session.ExportedConsent{Purpose: "booking", Decision: "granted", At: now, Flow: "booking", FlowVersion: 2,
		NoticeHash: strings.Repeat("ab", 32), MessageID: "wamid.YES"}
	if c != want {
		t.Errorf("consent record = %+v, want %+v", c, want)
	}
	for _, f := range ex.Fields {
		if f.Flow != "booking" || f.FlowVersion != 2 || f.Purpose != "booking" || f.Basis != "consent" {
			t.Errorf("field %s carries flow %s v%d purpose %s basis %s", f.Field, f.Flow, f.FlowVersion, f.Purpose, f.Basis)
		}
		if f.Field == "topic" && f.ExpiresAt != "end of conversation" {
			t.Errorf("session field expires_at = %q", f.ExpiresAt)
		}
	}
	if ex.Conversation == nil || *ex.Conversation != (session.ExportedState{Flow: "booking", FlowVersion: 2, Status: "waiting", Step: "ask_email", Language: "en"}) {
		t.Errorf("conversation = %+v", ex.Conversation)
	}

	// An hour later the short-lived fields are gone from Load.
	later, err := s.Load(ctx, subj, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := later.Values["age"]; ok || len(later.Values) != 2 {
		t.Errorf("values an hour later = %v, want name and topic", later.Values)
	}

	// Delete and end: the deleted field and the session field go.
	st.Status = runtime.StatusEnded
	if err := s.Save(ctx, subj, st, []runtime.Effect{{Kind: runtime.EffectDelete, Field: "ok"}, {Kind: runtime.EffectEnd}}, now); err != nil {
		t.Fatal(err)
	}
	got, err = s.Load(ctx, subj, now)
	if err != nil {
		t.Fatal(err)
	}
	if keys := valueNames(got); keys != "age,name" {
		t.Errorf("after delete+end the values are %s, want age,name", keys)
	}
	ex, _ = session.ExportSubject(v, vault.SubjectID(subj), now)
	if ex.Conversation == nil || ex.Conversation.Status != "ended" || ex.Conversation.Step != "" {
		t.Errorf("ended conversation exported as %+v", ex.Conversation)
	}

	// Erase: nothing is left, not even the state.
	if err := s.Save(ctx, subj, st, []runtime.Effect{{Kind: runtime.EffectErase}}, now); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Load(ctx, subj, now); got != nil || err != nil {
		t.Errorf("Load after erase = %+v, %v; want nil, nil", got, err)
	}
}

func valueNames(st *runtime.State) string {
	var names []string
	for k := range st.Values {
		names = append(names, k)
	}
	slices.Sort(names)
	return strings.Join(names, ",")
}

func sameState(a, b *runtime.State) bool {
	if a.Flow != b.Flow || a.Version != b.Version || a.Lang != b.Lang || a.Status != b.Status || a.Step != b.Step ||
		a.Attempts != b.Attempts || a.Pending != b.Pending || a.OptedOut != b.OptedOut || !a.LastInbound.Equal(b.LastInbound) ||
		!reflect.DeepEqual(a.Consent, b.Consent) || !reflect.DeepEqual(a.Noticed, b.Noticed) || len(a.Values) != len(b.Values) {
		return false
	}
	for k, av := range a.Values {
		bv, ok := b.Values[k]
		if !ok || av.V != bv.V || !av.CollectedAt.Equal(bv.CollectedAt) || !av.ExpiresAt.Equal(bv.ExpiresAt) {
			return false
		}
	}
	return true
}

// TestTransientAndSessionFieldsOnTheVault drives the support flow on the
// vault: the transient answer is never written, the session topic is held
// during the conversation and dropped at its end.
func TestTransientAndSessionFieldsOnTheVault(t *testing.T) {
	now := t0
	v := memVault(t, &now)
	s := session.New(v)
	p := program(t, "../../flows/support.yaml")
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: s, Now: func() time.Time { return now }}
	subj := s.Subject("web", "alice")
	ctx := context.Background()
	fields := func() string {
		ex, err := session.ExportSubject(v, vault.SubjectID(subj), now)
		if err != nil {
			t.Fatal(err)
		}
		var n []string
		for _, f := range ex.Fields {
			n = append(n, f.Field)
		}
		return strings.Join(n, ",")
	}
	for _, msg := range []string{"hi", "1", "BV777"} {
		if _, err := e.Handle(ctx, subj, runtime.Inbound{Text: runtime.Answer(msg)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := fields(); got != "order,topic" {
		t.Errorf("during the conversation: %s, want order,topic", got)
	}
	out, err := e.Handle(ctx, subj, runtime.Inbound{Text: "yes"}) // saves the transient "happy"
	if err != nil || len(out) != 1 || !strings.Contains(out[0].Text, "Great") {
		t.Fatalf("last turn: %v %v", out, err)
	}
	if got := fields(); got != "order" {
		t.Errorf("after the end: %s, want order (happy transient, topic session)", got)
	}
	st, err := v.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Fields != 1 {
		t.Errorf("vault holds %d live field records, want 1", st.Fields)
	}
}

// TestExportTellsDeclinedFromWithdrawn: a No to the consent question is a
// refusal; STOP after a Yes is a withdrawal.
func TestExportTellsDeclinedFromWithdrawn(t *testing.T) {
	now := t0
	v := memVault(t, &now)
	s := session.New(v)
	p := program(t, "../../flows/booking.yaml")
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: s, Now: func() time.Time { return now }}
	ctx := context.Background()
	subj := s.Subject("whatsapp", "1")
	for i, msg := range []string{"hi", "NO", "hi", "YES", "Ada", "STOP", "hi", "YES"} {
		now = now.Add(time.Minute)
		if _, err := e.Handle(ctx, subj, runtime.Inbound{ID: "m" + string(rune('0'+i)), Text: runtime.Answer(msg)}); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := session.ExportSubject(v, vault.SubjectID(subj), now)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range ex.Consents {
		got = append(got, c.Decision+"@"+c.MessageID)
	}
	if want := "declined@m1 granted@m3 withdrawn@m5 granted@m7"; strings.Join(got, " ") != want {
		t.Errorf("consent history = %s, want %s", strings.Join(got, " "), want)
	}
	if len(ex.Fields) != 0 {
		t.Errorf("fields after STOP and a new grant: %+v", ex.Fields)
	}
}

// TestConversationRetentionReachesTheVault: the flow's
// conversation_retention and its compiled consent proof period go, through
// runtime and session, into the vault's expiry of the state and of the
// consent record.
func TestConversationRetentionReachesTheVault(t *testing.T) {
	src, err := os.ReadFile("../../flows/booking.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "booking.yaml")
	flowSrc := strings.Replace(string(src), "\nversion: 1\n", "\nversion: 1\nconversation_retention: 2d\n", 1)
	if flowSrc == string(src) {
		t.Fatal("booking.yaml has no version: 1 line to insert after")
	}
	if err := os.WriteFile(path, []byte(flowSrc), 0o600); err != nil {
		t.Fatal(err)
	}
	now := t0
	v := memVault(t, &now)
	s := session.New(v)
	p := program(t, path)
	e := &runtime.Engine{Programs: map[string]*compile.Program{p.ID(): p}, Store: s, Now: func() time.Time { return now }}
	ctx := context.Background()
	subj := s.Subject("whatsapp", "1")
	for _, msg := range []string{"hi", "YES"} {
		if _, err := e.Handle(ctx, subj, runtime.Inbound{ID: msg, Text: runtime.Answer(msg)}); err != nil {
			t.Fatal(err)
		}
	}
	if st, err := s.Load(ctx, subj, t0.Add(47*time.Hour)); err != nil || st == nil || st.Step == "" {
		t.Fatalf("state within conversation_retention = %+v, %v; want the waiting step", st, err)
	}
	if st, err := s.Load(ctx, subj, t0.Add(49*time.Hour)); err != nil || st != nil {
		t.Errorf("state after conversation_retention (2d) = %+v, %v; want none", st, err)
	}
	proof := 30*24*time.Hour + 365*24*time.Hour // booking fields keep 30d, plus 1y
	for _, c := range []struct {
		at   time.Duration
		want int
	}{{proof - time.Hour, 1}, {proof + time.Hour, 0}} {
		ex, err := v.Export(vault.SubjectID(subj), t0.Add(c.at))
		if err != nil || len(ex.Consents) != c.want {
			t.Errorf("consent records at +%v = %d, %v; want %d", c.at, len(ex.Consents), err, c.want)
		}
	}
}
