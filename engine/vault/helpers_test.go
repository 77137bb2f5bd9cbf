package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a manual clock; tests move it by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, MasterKeySize) }

// openMem opens a vault in memory, or on a fresh PostgreSQL database while
// a backend run (backends_test.go) says so.
func openMem(t testing.TB, c *clock) *Vault {
	t.Helper()
	o := Options{InMemory: true, MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1}
	if onPostgres {
		o.InMemory, o.Store = false, pgStore(t, c)
	}
	v, err := Open(o)
	if err != nil {
		t.Fatalf("Open(in memory) = %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func diskOpts(dir string, c *clock) Options {
	return Options{Dir: dir, MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1}
}

func openDisk(t testing.TB, dir string, c *clock) *Vault {
	t.Helper()
	v, err := Open(diskOpts(dir, c))
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	return v
}

// Canary values: if any of them shows up in a file, in any common encoding,
// personal data leaked.
var canaries = []string{
	"Zelda Quokkafeather",
	"zelda.quokka@example.test",
	"+447700900123",
	"wa-user-9911223344",
	"my tooth hurts since Tuesday",
}

// needles returns the plain, base64 (std and URL, every alignment) and hex
// forms of s.
func needles(s string) []string {
	out := []string{s, hex.EncodeToString([]byte(s)), strings.ToUpper(hex.EncodeToString([]byte(s)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := 0; shift < 3; shift++ {
			b := append(make([]byte, shift), s...)
			full := enc.EncodeToString(b)
			start := (shift + 2) / 3 * 4
			end := len(b) / 3 * 4
			out = append(out, full[start:end])
		}
	}
	return out
}

// assertNoCanaries scans every file under root.
func assertNoCanaries(t *testing.T, root string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		assertBytesClean(t, path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", root)
	}
}

func assertBytesClean(t *testing.T, name string, b []byte) {
	t.Helper()
	for _, c := range canaries {
		for _, n := range needles(c) {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s contains canary %q (as %q)", filepath.Base(name), c, n)
			}
		}
	}
}

// snapshotDir maps each file under root to its content.
func snapshotDir(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		m[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// attackFinds closes nothing: the vault in dir must be closed. It runs the
// master-key attacker (AttackerView) and returns the secrets it can read,
// in any of the encodings needles lists.
func attackFinds(t *testing.T, dir string, secrets ...string) []string {
	t.Helper()
	r, err := AttackerView(dir, testKey(1))
	if err != nil {
		t.Fatalf("AttackerView: %v", err)
	}
	var found []string
	for _, s := range secrets {
		for _, n := range needles(s) {
			if r.Contains([]byte(n)) {
				found = append(found, s)
				break
			}
		}
	}
	return found
}

// ticked opens a disk vault whose sync loop runs when tick is sent to;
// a send returns once the loop took it, so two sends mean one full round.
func ticked(t *testing.T, dir string, c *clock) (*Vault, func()) {
	t.Helper()
	o := diskOpts(dir, c)
	o.tick = make(chan time.Time)
	v, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s) = %v", dir, err)
	}
	return v, func() { o.tick <- c.Now(); o.tick <- c.Now() }
}
