package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLintSharedFlowID: a flow copied to a new file without a new id lints
// with an error at the copy's id: line (parley serve would refuse to start
// with both); the same id in two directories, served apart, is fine.
func TestLintSharedFlowID(t *testing.T) {
	src, err := os.ReadFile("../../flows/booking.yaml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, p := range []string{"shop/booking.yaml", "shop/salon.yaml", "other/booking.yaml"} {
		path := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idLine := strings.Count(string(src[:bytes.Index(src, []byte("\nid: booking"))+1]), "\n") + 1
	var out, errb bytes.Buffer
	code := run([]string{"lint", filepath.Join(root, "shop")}, strings.NewReader(""), &out, &errb)
	want := filepath.Join(root, "shop", "salon.yaml") + ":" + strconv.Itoa(idLine) + ":5: error: flow id \"booking\" is already used by booking.yaml"
	if code != exitFindings || !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "PARLEY-104") {
		t.Errorf("parley lint shop/ = %d\n%s\nwant %d and %q", code, out.String(), exitFindings, want)
	}
	out.Reset()
	if code := run([]string{"lint", filepath.Join(root, "shop", "booking.yaml"), filepath.Join(root, "other")}, strings.NewReader(""), &out, &errb); code != exitOK {
		t.Errorf("parley lint of two directories with one id each = %d, want %d\n%s", code, exitOK, out.String())
	}
}
