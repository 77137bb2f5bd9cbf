package compile_test

import (
	"strings"
	"testing"
	"time"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/load"
)

const day = 24 * time.Hour

func TestConversationRetentionAndConsentProof(t *testing.T) {
	steps := "  a:\n    say: hi\n"
	p, ds := compile.Flow(parseFlow(t, "f.yaml", head+steps))
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	if got := p.ConversationRetention(); got != 30*day {
		t.Errorf("default conversation retention = %v, want 30d", got)
	}
	pu, _ := p.Purpose("booking")
	if want := 30*day + 365*day; pu.ConsentProof != want {
		t.Errorf("booking proof period = %v, want %v (longest field retention 30d + 1y)", pu.ConsentProof, want)
	}

	src := strings.Replace(head, "languages:", "conversation_retention: 12h\nlanguages:", 1)
	src = strings.Replace(src, "age: { type: number, purpose: booking, retention: 30d }", "age: { type: number, purpose: booking, retention: 2y }", 1)
	p, ds = compile.Flow(parseFlow(t, "f.yaml", src+steps))
	if len(ds) != 0 {
		t.Fatalf("diagnostics: %v", ds)
	}
	if got := p.ConversationRetention(); got != 12*time.Hour {
		t.Errorf("conversation_retention: 12h compiled to %v", got)
	}
	pu, _ = p.Purpose("booking")
	if want := 3 * 365 * day; pu.ConsentProof != want {
		t.Errorf("booking proof period = %v, want %v (2y + 1y)", pu.ConsentProof, want)
	}

	// A bad value is caught when the flow is loaded (the schema), in the
	// author's words, with the short form suggested.
	src = strings.Replace(head, "languages:", "conversation_retention: 30 days\nlanguages:", 1)
	_, all := load.File("f.yaml", []byte(src+steps))
	var lds diag.Diagnostics
	for _, d := range all {
		if d.Rule != diag.MissingKey { // the test head has no start:
			lds = append(lds, d)
		}
	}
	if len(lds) != 1 || lds[0].Rule != diag.InvalidValue || lds[0].Subject.Start.Line != 4 ||
		!strings.Contains(lds[0].Summary, "such as 30d") || !strings.Contains(lds[0].Suggestion, `"30d"`) {
		t.Errorf("conversation_retention: 30 days gave %v, want one invalid-value diagnostic at line 4 suggesting 30d", lds)
	}
}
