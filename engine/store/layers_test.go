package store

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// TestImportsFollowLayers keeps the storage packages where STYLE.md's layer
// table puts them: the interfaces import nothing of ours and no third-party
// module; each backend imports the interfaces and its own driver only, so
// nothing above a backend can learn which one is in use.
func TestImportsFollowLayers(t *testing.T) {
	const mod = "github.com/parleyhq/parley/"
	allowed := map[string][]string{
		".":         nil,
		"storetest": {mod + "engine/store"},
		// Badger's backup stream comes as its ristretto buffers of
		// protobuf lists: part of the driver.
		"badger":          {mod + "engine/store", "github.com/dgraph-io/badger/v4", "github.com/dgraph-io/ristretto/v2/z", "google.golang.org/protobuf/proto"},
		"postgres":        {mod + "engine/store", "github.com/jackc/pgx/v5"},
		"postgres/pgtest": {"github.com/jackc/pgx/v5"},
	}
	seen := 0
	for dir, ok := range allowed {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no Go files in %s: %v", dir, err)
		}
		var bad []string
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range af.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				first := strings.Split(p, "/")[0]
				if !strings.Contains(first, ".") {
					continue // standard library
				}
				fine := false
				for _, a := range ok {
					if p == a || strings.HasPrefix(p, a+"/") {
						fine = true
					}
				}
				if !fine {
					bad = append(bad, filepath.Base(f)+" imports "+p)
				}
			}
			seen++
		}
		sort.Strings(bad)
		for _, b := range bad {
			t.Errorf("engine/store/%s: %s, which the layer table forbids", dir, b)
		}
	}
	if seen < 6 {
		t.Errorf("checked %d files, expected the storage packages' sources", seen)
	}
}
