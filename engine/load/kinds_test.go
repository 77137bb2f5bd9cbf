package load

import (
	"testing"

	"github.com/parleyhq/parley/engine/flow"
)

// TestEveryStepKeyDecodes: each kind of flow.StepKinds, each of its keys,
// next and end have a decoder, and no decoder is for a key the table lacks.
func TestEveryStepKeyDecodes(t *testing.T) {
	keys := map[string]bool{"next": true, "end": true}
	for _, k := range flow.StepKinds {
		keys[k.Name] = true
		for _, key := range k.Keys {
			keys[key] = true
		}
	}
	for key := range keys {
		if stepDecoders[key] == nil {
			t.Errorf("step key %q has no decoder in stepDecoders", key)
		}
	}
	for key := range stepDecoders {
		if !keys[key] {
			t.Errorf("stepDecoders decodes %q, which no kind of flow.StepKinds has", key)
		}
	}
}
