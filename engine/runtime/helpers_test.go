package runtime_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/load"
	"github.com/parleyhq/parley/engine/runtime"
)

var t0 = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

func loadFile(t testing.TB, path string) *compile.Program {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return compileSrc(t, path, string(src))
}

func compileSrc(t testing.TB, name, src string) *compile.Program {
	t.Helper()
	// Runtime tests keep their flows short: a missing start: or controller:
	// (required of authors by the schema) is fine here; anything else the
	// loader finds is a broken test.
	f, lds := load.File(name, []byte(src))
	if f == nil {
		t.Fatalf("load %s: %v", name, lds.Err())
	}
	for _, d := range lds {
		if d.Severity == diag.Error && d.Rule != diag.MissingKey {
			t.Fatalf("load %s: %v", name, d)
		}
	}
	p, ds := compile.Flow(f)
	if ds.HasErrors() {
		t.Fatalf("compile %s: %v", name, ds)
	}
	return p
}

// convo drives one conversation through Step and remembers everything.
type convo struct {
	t       testing.TB
	p       *compile.Program
	st      runtime.State
	now     time.Time
	caller  runtime.Caller
	lang    string
	subject string
	turns   []runtime.Turn
	n       int
}

func newConvo(t testing.TB, p *compile.Program) *convo {
	return &convo{t: t, p: p, now: t0}
}

func (c *convo) say(text string) runtime.Turn {
	return c.send(runtime.Inbound{Text: runtime.Answer(text)})
}

func (c *convo) tap(id string) runtime.Turn {
	return c.send(runtime.Inbound{Choice: id})
}

func (c *convo) send(in runtime.Inbound) runtime.Turn {
	c.t.Helper()
	c.n++
	if in.ID == "" {
		in.ID = "wamid." + strings.Repeat("x", c.n)
	}
	if in.Lang == "" {
		in.Lang = c.lang
	}
	tr := runtime.Step(c.p, &c.st, in, runtime.Env{Now: c.now, Ctx: context.Background(), Caller: c.caller, Subject: c.subject})
	c.turns = append(c.turns, tr)
	return tr
}

func texts(tr runtime.Turn) []string {
	out := make([]string, len(tr.Out))
	for i, m := range tr.Out {
		out[i] = m.Text
	}
	return out
}

func effects(tr runtime.Turn, k runtime.EffectKind) []runtime.Effect {
	var out []runtime.Effect
	for _, e := range tr.Effects {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func wantReplies(t testing.TB, tr runtime.Turn, n int, kinds ...runtime.MessageKind) {
	t.Helper()
	if len(tr.Out) != n {
		t.Fatalf("got %d replies %q, want %d", len(tr.Out), texts(tr), n)
	}
	for i, k := range kinds {
		if tr.Out[i].Kind != k {
			t.Errorf("reply %d kind = %d, want %d (%q)", i, tr.Out[i].Kind, k, tr.Out[i].Text)
		}
	}
}

func wantContains(t testing.TB, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%q does not contain %q", s, p)
		}
	}
}

// fakeCaller records what each call received.
type fakeCaller struct {
	mu    sync.Mutex
	fail  bool
	err   error // returned instead when set
	calls []call
	raw   []runtime.Call
	reply runtime.Reply // the integration's answer
}

type call struct {
	integration string
	fields      map[string]string
}

func (f *fakeCaller) Call(_ context.Context, c runtime.Call) (runtime.Reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call{c.Integration.Name, c.Fields})
	f.raw = append(f.raw, c)
	if f.err != nil {
		return nil, f.err
	}
	if f.fail {
		return nil, errors.New("unavailable")
	}
	return f.reply, nil
}
