package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestServeStudio: `parley serve` serves the studio at /studio by default
// (and says where), a test user books through it on the real vault, and
// --studio=false takes it away.
func TestServeStudio(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes; skipped with -short")
	}
	flows := filepath.Join(t.TempDir(), "flows")
	if err := copyDir("../../flows", flows); err != nil {
		t.Fatal(err)
	}
	stop := func(p *serverProc) {
		p.cmd.Process.Signal(syscall.SIGTERM)
		<-p.exited
	}
	post := func(p *serverProc, path string, body any, out any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		resp, err := http.Post(p.base+"/studio/api"+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatalf("POST %s = %d %q: %v", path, resp.StatusCode, raw, err)
			}
		}
		return resp.StatusCode
	}

	p := startServe(t, flows, t.TempDir(), "http://127.0.0.1:1")
	resp, err := http.Get(p.base + "/studio") // as serve prints it
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Contains(page, []byte("Parley studio")) {
		t.Errorf("GET /studio = %d, want the studio page", resp.StatusCode)
	}
	var s struct{ Session string }
	if st := post(p, "/session", struct{}{}, &s); st != http.StatusOK {
		t.Fatalf("new test user: %d", st)
	}
	var last struct {
		Messages []struct{ Text string }
		Status   string
	}
	for _, in := range []map[string]string{{"text": ""}, {"choice": "yes"}, {"text": "Ada"}, {"text": "ada@example.com"}, {"text": "2"}} {
		in["session"], in["flow"] = s.Session, "booking"
		if st := post(p, "/chat", in, &last); st != http.StatusOK {
			t.Fatalf("turn %v: %d", in, st)
		}
	}
	if last.Status != "ended" || len(last.Messages) != 1 || !strings.HasPrefix(last.Messages[0].Text, "All set, Ada") {
		t.Errorf("last turn = %+v, want the confirmation and the end", last)
	}
	stop(p)
	if out := p.output(); !strings.Contains(out, "The studio is at "+p.base+"/studio") {
		t.Errorf("serve did not say where the studio is:\n%s", out)
	}
	if out := p.output(); strings.Contains(out, "ada@example.com") || strings.Contains(out, "Ada") {
		t.Errorf("the server log holds the test user's answers:\n%s", out)
	}

	off := startServeArgs(t, flows, t.TempDir(), "http://127.0.0.1:1", []string{"--studio=false"})
	defer stop(off)
	resp, err = http.Get(off.base + "/studio/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("with --studio=false GET /studio/ = %d, want 404", resp.StatusCode)
	}
}

// TestServeStudioRemoteNeedsAdminTokens: --studio-remote without admin
// tokens is refused before anything listens, and says what to add.
func TestServeStudioRemoteNeedsTheStudio(t *testing.T) {
	t.Setenv("PARLEY_ADMIN_TOKENS", "")
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--studio-remote", "--studio=false", "--flows", "../../flows", "--data", t.TempDir(), "--addr", "127.0.0.1:0"},
		strings.NewReader(""), &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "--studio-remote needs the studio on") {
		t.Errorf("serve --studio-remote --studio=false = %d, stderr:\n%s", code, errb.String())
	}
}
