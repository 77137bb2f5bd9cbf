package load

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/internal/flowgen"
)

// TestLoadRefusesFilesOverTheCap checks that a file just over MaxFileBytes
// is refused with one diagnostic before it is parsed (it is not even valid
// YAML), and that a file just under the cap is parsed.
func TestLoadRefusesFilesOverTheCap(t *testing.T) {
	big := []byte(minimal + "# " + strings.Repeat("x", MaxFileBytes) + "\n  [unclosed\n")
	f, ds := File("big.yaml", big)
	if f != nil || len(ds) != 1 || ds[0].Rule != diag.FileTooLarge {
		t.Fatalf("File(%d bytes) = flow %v, %v; want only %s", len(big), f != nil, ds.Err(), diag.FileTooLarge)
	}
	if d := ds[0]; d.Subject.Start.Line != 1 || !strings.Contains(d.Summary, "1.0 MiB") || !strings.Contains(d.Summary, "split") {
		t.Errorf("diagnostic %q at %s: want line 1, the cap in MiB and what to do", d.Summary, d.Subject)
	}

	under := []byte(minimal + "# " + strings.Repeat("x", MaxFileBytes-len(minimal)-3) + "\n")
	if len(under) != MaxFileBytes {
		t.Fatalf("test file is %d bytes, want exactly %d", len(under), MaxFileBytes)
	}
	if f, ds := File("under.yaml", under); f == nil || len(ds) != 0 {
		t.Errorf("a file of exactly MaxFileBytes was not loaded: %v", ds.Err())
	}
}

func TestLoadTabIndentationPosition(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
	}{
		{"tab before a key", "parley: 1\nsteps:\n  a:\n\tsay: hi\n", 4, 1},
		{"tab after spaces", "parley: 1\nsteps:\n  a:\n    say: hi\n  \tb:\n", 5, 3},
		{"tab-only line after a value", "parley: 1\nsteps:\n  a:\n    say: hi\n\t\n  b:\n    say: x\n", 5, 1},
		{"tab at the top level", "parley: 1\n\tid: x\n", 2, 1},
		{"an @ is not blamed on a tab in the quoted text above", "a: \"x\n\ty\"\n@b: c\n", 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ds := mustLoad(t, tc.src)
			if len(ds) != 1 || ds[0].Rule != diag.YAMLSyntax {
				t.Fatalf("got %v, want one %s", ds.Err(), diag.YAMLSyntax)
			}
			if p := ds[0].Subject.Start; p.Line != tc.line || p.Column != tc.col {
				t.Errorf("tab reported at %d:%d, want %d:%d (%q)", p.Line, p.Column, tc.line, tc.col, ds[0].Summary)
			}
		})
	}
}

func TestLoadInvalidUTF8Position(t *testing.T) {
	tests := []struct {
		name      string
		src       string
		line, col int
	}{
		{"leading byte in plain text", minimal[:len(minimal)-len("    say: hi\n    end: true\n")] + "    say: hi \xff there\n    end: true\n", 7, 13},
		{"truncated sequence after a multi-byte letter", "parley: 1\nid: t\ndescription: \"Ciào \xc3\"\n", 3, 20},
		{"first line", "\xfeparley: 1\n", 1, 1},
		{"last line without newline", minimal + "# ok\n# \xe2\x82", 10, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, ds := mustLoad(t, tc.src)
			if f != nil || len(ds) != 1 || ds[0].Rule != diag.YAMLSyntax {
				t.Fatalf("got flow %v, %v; want one %s", f != nil, ds.Err(), diag.YAMLSyntax)
			}
			if p := ds[0].Subject.Start; p.Line != tc.line || p.Column != tc.col {
				t.Errorf("bad byte reported at %d:%d, want %d:%d", p.Line, p.Column, tc.line, tc.col)
			}
			if !strings.Contains(ds[0].Summary, "UTF-8") {
				t.Errorf("message %q does not name the encoding", ds[0].Summary)
			}
		})
	}
}

// BenchmarkLoadHostileFile loads a 10 MB file: it must be refused without
// parsing, so it costs next to nothing. Compare with BenchmarkLoadFlowAtCap.
func BenchmarkLoadHostileFile(b *testing.B) {
	src := flowgen.Large(90000)
	if len(src) < 10<<20-(1<<20) {
		b.Fatalf("generated %d bytes, want about 10 MB", len(src))
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if f, _ := File("hostile.yaml", src); f != nil {
			b.Fatal("a 10 MB file was parsed")
		}
	}
}

// BenchmarkLoadFlowAtCap loads the largest flow accepted: a valid flow of
// just under MaxFileBytes.
func BenchmarkLoadFlowAtCap(b *testing.B) {
	n := 8000
	src := flowgen.Large(n)
	for len(src) > MaxFileBytes {
		n -= 200
		src = flowgen.Large(n)
	}
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		if f, ds := File("cap.yaml", src); f == nil || ds.HasErrors() {
			b.Fatalf("flow at the cap did not load: %v", ds.Err())
		}
	}
}
