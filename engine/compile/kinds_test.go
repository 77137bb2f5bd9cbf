package compile

import (
	"testing"

	"github.com/parleyhq/parley/engine/flow"
)

// TestEveryKindCompiles: each kind of flow.StepKinds has a compiled kind.
func TestEveryKindCompiles(t *testing.T) {
	seen := map[StepKind]string{}
	for _, k := range append([]flow.StepKind{{Name: flow.KindGoto}}, flow.StepKinds...) {
		unit, ok := stepKinds[k.Name]
		sk := unit.kind
		if !ok {
			t.Errorf("step kind %q has no compiled kind in stepKinds", k.Name)
			continue
		}
		if other, dup := seen[sk]; dup {
			t.Errorf("step kinds %q and %q compile to the same kind", other, k.Name)
		}
		seen[sk] = k.Name
		if unit.compile == nil && k.Name != flow.KindGoto {
			t.Errorf("step kind %q has no compile function", k.Name)
		}
	}
}
