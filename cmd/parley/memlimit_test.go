//go:build linux

package main

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestServeMemoryLimit starts `parley serve` processes and reads the limit
// the Go runtime is working to from /metrics: the default caps the heap
// that GOGC=400 would otherwise let grow to five times the live heap;
// PARLEY_MEMORY_LIMIT and --memory-limit set it, 0 lifts it, and GOMEMLIMIT
// is honoured when Parley's own setting is absent.
func TestServeMemoryLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	graph := httptest.NewServer(http.NotFoundHandler())
	defer graph.Close()
	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"default", []string{"PARLEY_MEMORY_LIMIT=", "GOMEMLIMIT="}, "1.17440512e+08"},
		{"PARLEY_MEMORY_LIMIT", []string{"PARLEY_MEMORY_LIMIT=100", "GOMEMLIMIT=900MiB"}, "1.048576e+08"},
		{"GOMEMLIMIT", []string{"PARLEY_MEMORY_LIMIT=", "GOMEMLIMIT=300MiB"}, "3.145728e+08"},
		{"no limit", []string{"PARLEY_MEMORY_LIMIT=0", "GOMEMLIMIT="}, "9.223372036854776e+18"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startServe(t, "../../flows", t.TempDir(), graph.URL, append(tc.env, "GOGC=")...)
			defer func() { p.cmd.Process.Kill(); <-p.exited }()
			if got := metric(t, p.base, "go_gc_gomemlimit_bytes"); got != tc.want {
				t.Errorf("go_gc_gomemlimit_bytes = %s, want %s", got, tc.want)
			}
			if got := metric(t, p.base, "go_gc_gogc_percent"); got != "400" {
				t.Errorf("go_gc_gogc_percent = %s, want 400", got)
			}
		})
	}
}

// TestServeMemoryLimitRejectsNonsense: a limit that is not a number of MiB
// stops serve before it opens anything, with a message saying what to set.
func TestServeMemoryLimitRejectsNonsense(t *testing.T) {
	e := newEnv(t)
	t.Setenv("PARLEY_MEMORY_LIMIT", "lots")
	r := e.parley("", "serve", "--data", e.dir, "--key-file", e.key, "--flows", "../../flows")
	if r.code != exitUsage || !strings.Contains(r.stderr, `PARLEY_MEMORY_LIMIT="lots" is not a number of MiB`) {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
	t.Setenv("PARLEY_MEMORY_LIMIT", "")
	r = e.parley("", "serve", "--memory-limit", "-5", "--data", e.dir, "--key-file", e.key, "--flows", "../../flows")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--memory-limit must be a number of MiB") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// metric returns the value of an unlabelled metric from /metrics.
func metric(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return ""
}
