package server

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/parleyhq/parley/engine/check"
	"github.com/parleyhq/parley/engine/compile"
	"github.com/parleyhq/parley/engine/diag"
)

// Flows is the set of flows being served. A reload that finds any error in
// any file is refused as a whole, and the flows already loaded keep serving.
type Flows struct {
	dir string
	mu  sync.Mutex // serialises reloads
	cur atomic.Pointer[flowSet]
}

type flowSet struct {
	byID   map[string]*compile.Program
	fileOf map[string]string // id: the file it was loaded from
	order  []string          // ids, sorted
}

// LoadFlows lints and compiles every flow file under dir.
func LoadFlows(dir string) (*Flows, string, error) {
	f := &Flows{dir: dir}
	report, err := f.Reload()
	return f, report, err
}

// ErrFlowErrors is returned (wrapped) when a reload is refused.
var ErrFlowErrors = fmt.Errorf("flows have errors")

// Reload re-reads the flow directory. On success the new set replaces the old
// one atomically; report holds any warnings. When a flow has errors, report
// holds the rendered diagnostics and the returned error wraps ErrFlowErrors.
func (f *Flows) Reload() (report string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	paths, err := check.Expand([]string{f.dir})
	if err != nil {
		return "", err
	}
	if len(paths) == 0 {
		return "", fmt.Errorf("no flow files (*.yaml) in %s", f.dir)
	}
	checked, err := check.Files(paths)
	if err != nil {
		return "", err
	}
	set := &flowSet{byID: map[string]*compile.Program{}, fileOf: map[string]string{}}
	for _, r := range checked.Results {
		if r.Program == nil {
			continue
		}
		id := r.Program.ID()
		if prev, dup := set.fileOf[id]; dup {
			return "", fmt.Errorf("%w: flow id %q is used by both %s and %s", ErrFlowErrors, id, prev, r.File.Name)
		}
		set.fileOf[id] = r.File.Name
		set.byID[id] = r.Program
		set.order = append(set.order, id)
	}
	all := checked.Diags
	var b strings.Builder
	diag.WriteText(&b, all, checked.Source)
	if all.HasErrors() {
		n := all.Count(diag.Error)
		noun := "errors"
		if n == 1 {
			noun = "error"
		}
		return b.String(), fmt.Errorf("%w: %d %s", ErrFlowErrors, n, noun)
	}
	sort.Strings(set.order)
	f.cur.Store(set)
	return b.String(), nil
}

// Get returns the program with the given flow id.
func (f *Flows) Get(id string) (*compile.Program, bool) {
	s := f.cur.Load()
	if s == nil {
		return nil, false
	}
	p, ok := s.byID[id]
	return p, ok
}

// fileOf returns the file the served flow with this id was loaded from.
func (f *Flows) fileOf(id string) (string, bool) {
	s := f.cur.Load()
	if s == nil {
		return "", false
	}
	p, ok := s.fileOf[id]
	return p, ok
}

// All returns every program, sorted by id.
func (f *Flows) All() []*compile.Program {
	s := f.cur.Load()
	if s == nil {
		return nil
	}
	out := make([]*compile.Program, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.byID[id])
	}
	return out
}
