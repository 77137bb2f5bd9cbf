package memory_test

import (
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/memory"
	"github.com/parleyhq/parley/engine/store/storetest"
)

var backend = storetest.Backend{
	Open: func(t testing.TB, now func() time.Time) store.Store {
		s := memory.New(now)
		t.Cleanup(func() { s.Close() })
		return s
	},
	Raw: func(t testing.TB, s store.Store) []byte { return s.(*memory.Store).Raw() },
}

// TestConformance runs the suite every backend passes.
func TestConformance(t *testing.T) { storetest.RunConformance(t, backend) }

// BenchmarkTurn is the store-level turn the other backends measure.
func BenchmarkTurn(b *testing.B) { storetest.BenchmarkTurn(b, backend) }
