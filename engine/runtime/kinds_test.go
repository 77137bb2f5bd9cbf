package runtime

import (
	"testing"

	"github.com/parleyhq/parley/engine/compile"
)

// TestEveryKindRuns: every compiled step kind has a runner.
func TestEveryKindRuns(t *testing.T) {
	for k := compile.StepGoto; k <= compile.StepRemind; k++ {
		if runners[k] == nil {
			t.Errorf("compiled step kind %d has no runner", k)
		}
	}
}
