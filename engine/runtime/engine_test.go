package runtime_test

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/runtime"
)

func engineFor(t testing.TB, clock *atomic.Int64) (*runtime.Engine, *runtime.MemStore) {
	p := loadFile(t, "../../flows/booking.yaml")
	ms := runtime.NewMemStore()
	e := &runtime.Engine{
		Programs: map[string]*compile.Program{p.ID(): p},
		Store:    ms,
		Now:      func() time.Time { return time.Unix(0, clock.Load()).UTC() },
	}
	return e, ms
}

var bookingScript = []string{"hi", "YES", "Ada", "not-an-email", "ada@example.com", "2"}

func TestEngineBookingThroughStore(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	e, ms := engineFor(t, &clock)
	var counts []int
	for _, s := range bookingScript {
		out, err := e.Handle(t.Context(), "subj-1", runtime.Inbound{ID: "m-" + s, Text: runtime.Answer(s)})
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, len(out))
	}
	if !slices.Equal(counts, []int{2, 1, 1, 1, 1, 1}) {
		t.Errorf("reply counts %v, want [2 1 1 1 1 1]", counts)
	}
	if c := ms.Consents("subj-1"); len(c) != 1 || !c[0].Granted || c[0].MessageID != "m-YES" {
		t.Errorf("consents %+v", c)
	}
	got := ms.Fields("subj-1")
	slices.Sort(got)
	if !slices.Equal(got, []string{"date", "email", "name"}) {
		t.Errorf("stored fields %v", got)
	}

	// 29 days later the values are still there; after 30 they are gone.
	clock.Store(t0.Add(29 * 24 * time.Hour).UnixNano())
	st, _ := ms.Load(t.Context(), "subj-1", time.Unix(0, clock.Load()))
	if len(st.Values) != 3 {
		t.Errorf("values after 29 days: %d, want 3", len(st.Values))
	}
	clock.Store(t0.Add(30 * 24 * time.Hour).UnixNano())
	out, err := e.Handle(t.Context(), "subj-1", runtime.Inbound{Text: "my data"})
	if err != nil {
		t.Fatal(err)
	}
	wantContains(t, out[0].Text, "We hold no answers")
	if len(ms.Fields("subj-1")) != 0 {
		t.Errorf("expired values still held: %v", ms.Fields("subj-1"))
	}
}

func TestMemStoreSessionValuesGoAtEnd(t *testing.T) {
	ms := runtime.NewMemStore()
	ctx := t.Context()
	st := &runtime.State{Status: runtime.StatusWaiting}
	err := ms.Save(ctx, "s", st, []runtime.Effect{
		{Kind: runtime.EffectStore, Field: "a", Value: runtime.Value{V: "x", CollectedAt: t0}, Session: true},
		{Kind: runtime.EffectStore, Field: "b", Value: runtime.Value{V: "y", CollectedAt: t0, ExpiresAt: t0.Add(time.Hour)}},
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ms.Load(ctx, "s", t0)
	if len(got.Values) != 2 {
		t.Fatalf("values %v, want a and b", got.Values)
	}
	_ = ms.Save(ctx, "s", got, []runtime.Effect{{Kind: runtime.EffectEnd}}, t0)
	got, _ = ms.Load(ctx, "s", t0)
	if _, ok := got.Values["a"]; ok || len(got.Values) != 1 {
		t.Errorf("values after end %v, want only b", got.Values)
	}
	got, _ = ms.Load(ctx, "s", t0.Add(time.Hour))
	if len(got.Values) != 0 {
		t.Errorf("values at expiry %v, want none", got.Values)
	}
	if st, _ := ms.Load(ctx, "never", t0); st != nil {
		t.Errorf("unknown subject: %+v, want nil", st)
	}
}

func TestEngineConcurrentSessions(t *testing.T) {
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	e, ms := engineFor(t, &clock)
	const workers, sessions = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*sessions)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range sessions {
				// Two goroutines share each subject to exercise the per-subject lock.
				subject := fmt.Sprintf("subject-%d", (w/2)*sessions+s)
				for _, msg := range bookingScript {
					if _, err := e.Handle(t.Context(), subject, runtime.Inbound{Text: runtime.Answer(msg)}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i := range workers / 2 * sessions {
		subject := fmt.Sprintf("subject-%d", i)
		st, err := ms.Load(t.Context(), subject, t0)
		if err != nil || st == nil {
			t.Fatalf("%s: %v %v", subject, st, err)
		}
		if st.Consent["booking"] != runtime.ConsentGranted {
			t.Errorf("%s: consent %v", subject, st.Consent)
		}
	}
}

func BenchmarkEngineHandle(b *testing.B) {
	var clock atomic.Int64
	clock.Store(t0.UnixNano())
	e, _ := engineFor(b, &clock)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var subject string
		i := 0
		for pb.Next() {
			if i%len(bookingScript) == 0 { // a new customer for every conversation
				subject = fmt.Sprintf("bench-%d", next.Add(1))
			}
			msg := bookingScript[i%len(bookingScript)]
			if _, err := e.Handle(b.Context(), subject, runtime.Inbound{Text: runtime.Answer(msg)}); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
