// Package engine_test holds the layer test: the package table of STYLE.md
// §2, as data, checked against the real import graph of the module.
package engine_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/parleyhq/parley/"

// layer is one row of the STYLE.md table. May lists the Parley packages the
// package may import directly ("*" for any); MustNot lists imports that are
// refused whatever May says: Parley packages (module-relative) or
// third-party module paths (matched as prefixes). A sub-package follows its
// nearest ancestor's row (unless that row is exact) and may import within
// that row's tree; a package with no row at all fails the test, so a new
// top-level package needs a row first.
type layer struct {
	pkg     string
	may     []string
	mustNot []string
	// exact rows do not extend to sub-packages.
	exact bool
}

// Third-party modules named by the table.
const (
	badger = "github.com/dgraph-io/badger"
	pgx    = "github.com/jackc/pgx"
	fiber  = "github.com/gofiber/fiber"
	yaml   = "gopkg.in/yaml.v3"
	expr   = "github.com/expr-lang/expr"
	jschem = "github.com/santhosh-tekuri/jsonschema"
)

// layers is STYLE.md's table. Rows for packages that do not exist yet
// (engine/check, engine/store, engine/privacy, engine/flowtest,
// adapters/console, adapters/studio) are kept so they are checked the day
// they appear.
var layers = []layer{
	{pkg: "engine/diag", may: nil, mustNot: []string{"*", badger, pgx, fiber, yaml, expr, jschem}},
	{pkg: "engine/flow", may: []string{"engine/diag"}, mustNot: []string{yaml, expr, jschem, badger, fiber}},
	{pkg: "engine/load", may: []string{"engine/diag", "engine/flow", "schemas"}, mustNot: []string{"engine/validate", "engine/compile", "engine/runtime", "engine/vault"}},
	{pkg: "engine/validate", may: []string{"engine/diag", "engine/flow", "schemas"}, mustNot: []string{"engine/compile", "engine/runtime", "engine/vault", "adapters/"}},
	{pkg: "engine/compile", may: []string{"engine/diag", "engine/flow"}, mustNot: []string{"engine/runtime", "engine/vault", "engine/privacy", "adapters/"}},
	{pkg: "engine/runtime", may: []string{"engine/flow", "engine/compile"}, mustNot: []string{"engine/vault", "engine/privacy", "adapters/", badger, fiber}},
	{pkg: "engine/check", may: []string{"engine/diag", "engine/flow", "engine/load", "engine/validate", "engine/compile", "schemas"}, mustNot: []string{"engine/runtime", "engine/vault", "engine/store", "adapters/"}},
	{pkg: "engine/session", may: []string{"engine/runtime", "engine/flow", "engine/vault", "engine/store"}, mustNot: []string{"adapters/", badger, pgx, fiber}},
	// The vault names its data-directory backend ("badger") and finds it in
	// engine/store's registry (store.Open); PostgreSQL comes in as a
	// store.Store from cmd. It imports no backend package.
	{pkg: "engine/vault", may: []string{"engine/store"}, mustNot: []string{"engine/runtime", "engine/compile", "engine/store/", "adapters/", badger, pgx}},
	{pkg: "engine/store", may: nil, mustNot: []string{"*"}},
	{pkg: "engine/store/badger", may: []string{"engine/store"}, mustNot: []string{"engine/vault", "engine/session", "engine/runtime", "adapters/"}},
	{pkg: "engine/store/postgres", may: []string{"engine/store"}, mustNot: []string{"engine/vault", "engine/session", "engine/runtime", "adapters/"}},
	{pkg: "engine/privacy", may: []string{"engine/flow", "engine/vault"}, mustNot: []string{"engine/runtime", "adapters/", "engine/lint"}},
	// lint also reads the policy file (.parley.yaml) against its own JSON
	// schema in schemas, a row STYLE.md's table does not have yet.
	{pkg: "engine/lint", may: []string{"engine/diag", "engine/flow", "engine/check", "schemas"}, mustNot: []string{"engine/runtime", "engine/vault", "engine/store", "adapters/"}},
	// flowgraph draws a compiled flow (parley graph, the studio): not in
	// STYLE.md's table yet; it reads programs and nothing stateful.
	{pkg: "engine/flowgraph", may: []string{"engine/flow", "engine/compile"}, mustNot: []string{"engine/runtime", "engine/vault", "engine/store", "adapters/", badger, pgx, fiber}},
	{pkg: "engine/flowtest", may: []string{"engine/load", "engine/validate", "engine/compile", "engine/runtime", "engine/vault", "engine/diag"}, mustNot: []string{"adapters/", fiber}},
	{pkg: "adapters/host", may: []string{"engine/runtime", "engine/session", "engine/store"}, mustNot: []string{"adapters/whatsapp", "adapters/web", "engine/vault", badger, pgx}},
	{pkg: "adapters/whatsapp", may: []string{"adapters/host", "engine/runtime"}, mustNot: []string{"engine/vault", "engine/store/", "engine/lint", badger, pgx}},
	{pkg: "adapters/web", may: []string{"adapters/host", "engine/runtime"}, mustNot: []string{"engine/vault", "engine/store/", "engine/lint", badger, pgx}},
	{pkg: "adapters/admin", may: []string{"engine/diag"}, mustNot: []string{"engine/vault", "engine/store/", badger, pgx}},
	{pkg: "adapters/console", may: []string{"engine/diag"}, mustNot: []string{"engine/vault", "engine/store/", badger, pgx}},
	{pkg: "adapters/studio", may: []string{"engine/diag"}, mustNot: []string{"engine/vault", "engine/store/", badger, pgx}},
	// adapters/server is not in the table: it is the thin HTTP wiring of
	// `parley serve` (routes, health, metrics endpoint) over the host and
	// the channels. Like every adapter it reaches storage only through
	// interfaces.
	{pkg: "adapters/server", may: []string{"adapters/host", "adapters/whatsapp", "adapters/web", "adapters/admin", "adapters/studio", "adapters/console", "engine/runtime", "engine/session", "engine/compile", "engine/diag", "engine/check", "engine/lint", "engine/flowgraph"}, mustNot: []string{"engine/vault", "engine/store/", badger, pgx}},
	{pkg: "cmd/parley", may: []string{"*"}},
	{pkg: "schemas", may: nil, mustNot: []string{"*"}},
	{pkg: "flows", may: []string{"engine/lint", "engine/flowtest"}},
	// Not in the table: tools and test doubles outside the product.
	{pkg: "engine/internal/flowgen", may: nil},
	{pkg: "bench/loadgen", may: []string{"adapters/whatsapp", "adapters/whatsapp/whatsapptest"}},
	// the bare relay bench/run.sh measures Parley against: the WhatsApp
	// channel's signature check and decoder, nothing of the engine.
	{pkg: "bench/relay", may: []string{"adapters/whatsapp"}, mustNot: []string{"engine/", "adapters/host", badger, pgx}},
	{pkg: "bench/report", may: nil, mustNot: []string{"*"}},
	// the seeder of the large scale steps: a data directory built as
	// `parley serve` builds one (server.New on the vault, the WhatsApp
	// channel), so it wires what cmd/parley wires.
	{pkg: "bench/seed", may: []string{"adapters/server", "adapters/admin", "adapters/whatsapp", "adapters/whatsapp/whatsapptest", "engine/session", "engine/vault", "engine/store/badger"}},
	{pkg: "engine", may: nil, exact: true}, // this test
}

// exceptions are import edges the table forbids that the code still has,
// each with the reason it cannot go yet. Every entry must still be needed:
// an exception no edge uses fails the test, so the list only shrinks.
var exceptions = map[string]string{}

type listed struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

// goList runs `go list -json ./...` at the module root.
func goList(t *testing.T) []listed {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = ".."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json ./...: %v\n%s", err, stderr.String())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages, want the whole module", len(pkgs))
	}
	return pkgs
}

// rowFor returns the row of pkg, or of its nearest ancestor that has one:
// a sub-package (a conformance suite, a test double) follows its parent's
// rules.
func rowFor(pkg string) (layer, bool) {
	for p := pkg; ; {
		for _, l := range layers {
			if l.pkg == p && (p == pkg || !l.exact) {
				return l, true
			}
		}
		i := strings.LastIndex(p, "/")
		if i < 0 {
			return layer{}, false
		}
		p = p[:i]
	}
}

// sameRow reports whether a and b are inside one row's package tree (a
// package and its sub-packages may import each other).
func sameRow(row layer, imp string) bool {
	return imp == row.pkg || strings.HasPrefix(imp, row.pkg+"/")
}

// matches reports whether imp (module-relative for Parley, full path
// otherwise) is named by pattern: "*" (any Parley package), an exact
// package, a folder ending in "/", or a third-party module prefix.
func matches(pattern, imp string, parley bool) bool {
	switch {
	case pattern == "*":
		return parley
	case strings.HasSuffix(pattern, "/"):
		return strings.HasPrefix(imp, pattern)
	case strings.Contains(pattern, "."):
		return !parley && strings.HasPrefix(imp, pattern)
	}
	return imp == pattern
}

// violations returns the forbidden edges of the module's import graph.
func violations(pkgs []listed) (bad []string, unknown []string) {
	for _, p := range pkgs {
		from := strings.TrimPrefix(p.ImportPath, module)
		row, ok := rowFor(from)
		if !ok {
			unknown = append(unknown, from)
			continue
		}
		for _, full := range p.Imports {
			parley := strings.HasPrefix(full, module)
			imp := strings.TrimPrefix(full, module)
			if !parley && !strings.Contains(strings.SplitN(full, "/", 2)[0], ".") {
				continue // standard library
			}
			if parley && sameRow(row, imp) {
				if r, _ := rowFor(imp); r.pkg == row.pkg {
					continue
				}
			}
			edge := from + " -> " + imp
			why := ""
			for _, m := range row.mustNot {
				if matches(m, imp, parley) {
					why = "must not import " + m
				}
			}
			if why == "" && parley {
				allowed := false
				for _, m := range row.may {
					if matches(m, imp, true) {
						allowed = true
					}
				}
				if !allowed {
					why = "not among the packages it may import"
				}
			}
			if why != "" {
				bad = append(bad, fmt.Sprintf("%s (%s)", edge, why))
			}
		}
	}
	sort.Strings(bad)
	sort.Strings(unknown)
	return bad, unknown
}

func TestImportsFollowTheLayerTable(t *testing.T) {
	bad, unknown := violations(goList(t))
	for _, u := range unknown {
		t.Errorf("package %s has no row in the layer table (engine/layers_test.go, from STYLE.md §2); add one before adding the package", u)
	}
	used := map[string]bool{}
	for _, b := range bad {
		edge, _, _ := strings.Cut(b, " (")
		if _, ok := exceptions[edge]; ok {
			used[edge] = true
			continue
		}
		t.Errorf("forbidden import: %s; see the layer table in STYLE.md §2 — reach the package through an interface declared in the importer, wired in cmd/parley", b)
	}
	for edge := range exceptions {
		if !used[edge] {
			t.Errorf("exception %q is no longer needed: remove it from engine/layers_test.go", edge)
		}
	}
}

// TestLayerCheckCatchesForbiddenEdges proves the check can fail: made-up
// graphs with one forbidden edge each are reported.
func TestLayerCheckCatchesForbiddenEdges(t *testing.T) {
	cases := []struct {
		name string
		pkg  listed
		want string
	}{
		{"a channel importing the vault", listed{ImportPath: module + "adapters/whatsapp", Imports: []string{module + "engine/vault"}}, "adapters/whatsapp -> engine/vault"},
		{"the host importing a channel", listed{ImportPath: module + "adapters/host", Imports: []string{module + "adapters/whatsapp"}}, "adapters/host -> adapters/whatsapp"},
		{"the runtime importing badger", listed{ImportPath: module + "engine/runtime", Imports: []string{"github.com/dgraph-io/badger/v4"}}, "engine/runtime -> github.com/dgraph-io/badger/v4"},
		{"the vault importing badger", listed{ImportPath: module + "engine/vault", Imports: []string{module + "engine/store", "github.com/dgraph-io/badger/v4"}}, "engine/vault -> github.com/dgraph-io/badger/v4"},
		{"the vault importing the postgres backend", listed{ImportPath: module + "engine/vault", Imports: []string{module + "engine/store/postgres"}}, "engine/vault -> engine/store/postgres"},
		{"the vault importing the badger backend", listed{ImportPath: module + "engine/vault", Imports: []string{module + "engine/store", module + "engine/store/badger"}}, "engine/vault -> engine/store/badger"},
		{"diag importing flow", listed{ImportPath: module + "engine/diag", Imports: []string{module + "engine/flow"}}, "engine/diag -> engine/flow"},
		{"the host importing the web chat", listed{ImportPath: module + "adapters/host", Imports: []string{module + "adapters/web"}}, "adapters/host -> adapters/web"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad, _ := violations([]listed{tc.pkg})
			if len(bad) != 1 || !strings.HasPrefix(bad[0], tc.want+" (") {
				t.Errorf("violations = %q, want one starting %q", bad, tc.want)
			}
		})
	}
	bad, _ := violations([]listed{{ImportPath: module + "engine/store/storetest", Imports: []string{module + "engine/store", "testing"}}})
	if len(bad) != 0 {
		t.Errorf("a sub-package importing its parent reported: %q", bad)
	}
	bad, _ = violations([]listed{{ImportPath: module + "adapters/whatsapp/whatsapptest", Imports: []string{module + "engine/vault"}}})
	if len(bad) != 1 {
		t.Errorf("a sub-package breaking its parent's rules: %q, want one violation", bad)
	}
	bad, unknown := violations([]listed{{ImportPath: module + "engine/newthing", Imports: []string{"fmt"}}})
	if len(bad) != 0 || len(unknown) != 1 {
		t.Errorf("a package without a row: bad %q unknown %q, want it reported as unknown", bad, unknown)
	}
	bad, _ = violations([]listed{{ImportPath: module + "adapters/host", Imports: []string{"context", module + "engine/runtime", module + "engine/session"}}})
	if len(bad) != 0 {
		t.Errorf("allowed edges reported: %q", bad)
	}
}
