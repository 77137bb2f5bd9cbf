package compile_test

import (
	"os"
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/load"
)

// A purpose whose fields have different retentions names each field with
// its own retention, in a sentence that reads as one.
func TestNoticeListsMixedRetentionsPerField(t *testing.T) {
	src, err := os.ReadFile("../../flows/support.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, ds := load.File("support.yaml", src)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	p, ds := compile.Flow(f)
	if ds.HasErrors() {
		t.Fatal(ds.Err())
	}
	for li, want := range map[int]string{
		0: "We keep your order number for 30 days, topic until this conversation ends and answer only while we talk and never store it.",
		1: "Conserviamo: numero d'ordine per 30 giorni",
	} {
		n := p.BuildNotice(0, li, "x")
		if !strings.Contains(n.Text, want) {
			t.Errorf("notice in %s = %q, want it to contain %q", p.Languages()[li], n.Text, want)
		}
	}
}
