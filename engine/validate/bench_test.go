package validate_test

import (
	"testing"

	"github.com/parleyhq/parley/engine/internal/flowgen"
	"github.com/parleyhq/parley/engine/load"
	"github.com/parleyhq/parley/engine/validate"
)

func TestLargeFlowIsClean(t *testing.T) {
	src := flowgen.Large(1000)
	if ds := check("large.yaml", src); len(ds) != 0 {
		t.Fatalf("generated flow has %d diagnostics, first: %v", len(ds), ds[0].Error())
	}
}

func BenchmarkLoadLargeFlow(b *testing.B) {
	src := flowgen.Large(1000)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		f, ds := load.File("large.yaml", src)
		ds.Extend(validate.Flow(f))
		if ds.HasErrors() {
			b.Fatal(ds.Err())
		}
	}
}
