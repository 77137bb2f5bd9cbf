package check

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
	"github.com/parleyhq/parley/engine/flow"
	"github.com/parleyhq/parley/engine/load"
	"github.com/parleyhq/parley/engine/validate"
)

// Result is the outcome of checking one file.
type Result struct {
	File    *flow.File
	Flow    *flow.Flow       // nil when the file could not be parsed at all
	Program *compile.Program // nil when there are errors
	Diags   diag.Diagnostics
}

// Source checks one flow held in memory. Later stages run only when earlier
// ones left the invariants they rely on, but every stage reports all it finds.
func Source(name string, src []byte) *Result {
	r := &Result{File: &flow.File{Name: name, Src: src}}
	f, ds := load.File(name, src)
	r.Diags = ds
	if f == nil {
		r.Diags.Sort()
		return r
	}
	r.Flow = f
	if f.File != nil {
		r.File = f.File
	}
	if ds.HasErrors() {
		// The graph checks need only the steps, which load kept: a
		// reviewer sees unreachable steps and endless loops in the same
		// run as the other errors.
		r.Diags.Extend(validate.Graph(f))
	} else {
		r.Diags.Extend(validate.Flow(f))
	}
	if !r.Diags.HasErrors() {
		p, cds := compile.Flow(f)
		r.Diags.Extend(cds)
		if !r.Diags.HasErrors() {
			r.Program = p
		}
	}
	r.Diags.Sort()
	return r
}

// File reads and checks one flow file from disk.
func File(path string) (*Result, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Source(path, src), nil
}

// Set is the outcome of checking several files.
type Set struct {
	Results []*Result        // one per file, in path order
	Diags   diag.Diagnostics // every file's diagnostics, sorted
}

// Source returns the bytes of a checked file, for rendering diagnostics.
func (s *Set) Source(name string) []byte {
	for _, r := range s.Results {
		if r.File.Name == name {
			return r.File.Src
		}
	}
	return nil
}

// Files reads and checks every file in paths (as Expand returns them).
func Files(paths []string) (*Set, error) {
	s := &Set{Results: make([]*Result, 0, len(paths))}
	for _, p := range paths {
		r, err := File(p)
		if err != nil {
			return nil, err
		}
		s.Results = append(s.Results, r)
		s.Diags.Extend(r.Diags)
	}
	s.Diags.Sort()
	return s, nil
}

// MaxWalk bounds how many entries Expand visits below the directories it
// is given: a flows directory holds tens of files, and a mistyped --flows
// (/, /tmp, a home directory) must fail fast with a clear error instead of
// walking the whole disk.
var MaxWalk = 20000

// Expand turns files and directories into the sorted list of flow files
// they name: a directory contributes every *.yaml and *.yml below it
// (hidden files and directories, node_modules and vendor excepted), except
// flow tests (*_test.yaml), which are not flows.
func Expand(paths []string) ([]string, error) {
	return expand(paths, func(p string) bool { return IsFlowFile(p) && !IsTestFile(p) })
}

// ExpandTests is Expand for flow tests: the *_test.yaml and *_test.yml
// files below the directories in paths, and the files named.
func ExpandTests(paths []string) ([]string, error) { return expand(paths, IsTestFile) }

// IsTestFile reports whether path names a flow test (*_test.yaml).
func IsTestFile(path string) bool {
	base := strings.ToLower(filepath.Base(path))
	return strings.HasSuffix(base, "_test.yaml") || strings.HasSuffix(base, "_test.yml")
}

func expand(paths []string, keep func(string) bool) ([]string, error) {
	var out []string
	visited := 0
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if visited++; visited > MaxWalk {
				return fmt.Errorf("%s holds more than %d files and folders, far more than a flows directory: name the directory that holds the flows", p, MaxWalk)
			}
			if d.IsDir() && path != p && (d.Name() == "node_modules" || d.Name() == "vendor") {
				return filepath.SkipDir
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				// Hidden directories, and hidden files such as the lint
				// policy .parley.yaml, are not flows.
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.IsDir() && keep(path) {
				add(path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// IsFlowFile reports whether path has a flow file extension.
func IsFlowFile(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}
