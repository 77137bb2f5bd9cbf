package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestReadCommandsRefuseADirectoryWithoutAVault: every command that only
// reads a vault refuses a mistyped --data (missing, or an empty directory)
// with exit 3 and a message naming the directory, and creates nothing there
// (no vault, no development key). Control: the same commands work on the
// real directory.
func TestReadCommandsRefuseADirectoryWithoutAVault(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, bookingWithCanaries...)
	root := filepath.Dir(e.dir)
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	commands := map[string][]string{
		"subject export":  {"subject", "export", "--user", canaryUser},
		"subject erase":   {"subject", "erase", "--user", canaryUser},
		"subject rectify": {"subject", "rectify", "--user", canaryUser, "--field", "date", "--value", "mon", "--flows", bookingFlow},
		"audit verify":    {"audit", "verify"},
		"backup":          {"backup", "--out", filepath.Join(root, "b.pvb")},
		"purge":           {"purge"},
	}
	for name, args := range commands {
		for _, dir := range []string{filepath.Join(root, "dta"), empty} {
			for _, key := range [][]string{{"--key-file", e.key}, nil} { // nil: the development key path
				r := e.parley("", append(append(args, "--data", dir), key...)...)
				if r.code != exitFailure {
					t.Errorf("%s --data %s: exit %d, want %d\n%s", name, dir, r.code, exitFailure, r.stderr)
				}
				if !strings.Contains(r.stderr, dir+" holds no Parley vault") || !strings.Contains(r.stderr, "point --data at") {
					t.Errorf("%s --data %s: stderr %q; want it to name the directory and say how to point --data at the vault", name, dir, r.stderr)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "dta")); !os.IsNotExist(err) {
		t.Errorf("a mistyped --data was created (stat: %v)", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("an empty --data directory now holds %d entries, want none", len(ents))
	}
	if _, err := os.Stat(filepath.Join(root, "b.pvb")); !os.IsNotExist(err) {
		t.Errorf("backup wrote a file from no vault (stat: %v)", err)
	}
	// Control: the real directory still answers.
	if ex := e.export(e.dir, canaryUser, time.Now()); len(ex.Fields) != 3 {
		t.Errorf("export of the real vault holds %d fields, want 3", len(ex.Fields))
	}
	e.scanLogs(canaries)
}

// TestDevelopmentKeyWarnsOnEveryStart: the CLI prints the development-key
// warning on every command that uses it, not only on the one that created
// it; a configured key prints none.
func TestDevelopmentKeyWarnsOnEveryStart(t *testing.T) {
	e := newEnv(t)
	dir := e.dir
	r := e.parley("hi\nNO\n", "chat", "--flow", bookingFlow, "--data", dir, "--user", canaryUser)
	if r.code != 0 || !strings.Contains(r.stderr, "DEVELOPMENT key was created") {
		t.Fatalf("first run: exit %d, stderr %q; want the creation warning", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"subject", "export", "--data", dir, "--user", canaryUser},
		{"audit", "verify", "--data", dir},
		{"purge", "--data", dir},
	} {
		r := e.parley("", args...)
		if r.code != 0 || !strings.Contains(r.stderr, "WARNING: no master key configured") || !strings.Contains(r.stderr, "DEVELOPMENT key is in use") {
			t.Errorf("parley %s: exit %d, stderr %q; want the development-key warning again", strings.Join(args[:2], " "), r.code, r.stderr)
		}
	}
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PARLEY_MASTER_KEY", strings.TrimSpace(string(key)))
	if r := e.parley("", "audit", "verify", "--data", dir); r.code != 0 || strings.Contains(r.stderr, "WARNING") {
		t.Errorf("with PARLEY_MASTER_KEY set: exit %d, stderr %q; want no warning", r.code, r.stderr)
	}
}

// TestKeyFileReadableByOthersIsRefused: a --key-file or development key
// file that group or others may read is refused with exit 3 and the chmod
// fix, by serve and by the commands that read a vault; nothing is created.
// After chmod 600 the same commands work.
func TestKeyFileReadableByOthersIsRefused(t *testing.T) {
	e := newEnv(t)
	e.chat(canaryUser, "hi", "NO")
	if r := e.parley("hi\nNO\n", "chat", "--flow", bookingFlow, "--data", filepath.Join(filepath.Dir(e.dir), "devkey"), "--user", canaryUser); r.code != 0 {
		t.Fatalf("chat with a development key: exit %d: %s", r.code, r.stderr)
	}
	devKey := filepath.Join(filepath.Dir(e.dir), "devkey", "master.key")
	fresh := filepath.Join(filepath.Dir(e.dir), "fresh")
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604} {
		for _, path := range []string{e.key, devKey} {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
		}
		cases := map[string][]string{
			"serve":          {"serve", "--addr", "127.0.0.1:0", "--flows", "../../flows", "--data", fresh, "--key-file", e.key, "--web-chat", "off"},
			"subject export": {"subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser},
			"chat":           {"chat", "--flow", bookingFlow, "--data", e.dir, "--key-file", e.key},
			"dev key":        {"subject", "export", "--data", filepath.Join(filepath.Dir(e.dir), "devkey"), "--user", canaryUser},
		}
		for name, args := range cases {
			r := e.parley("", args...)
			if r.code != exitFailure || !strings.Contains(r.stderr, "chmod 600") || !strings.Contains(r.stderr, "readable by other users") {
				t.Errorf("%s with a key file of mode %#o: exit %d, stderr %q; want exit %d and the chmod 600 fix", name, mode, r.code, r.stderr, exitFailure)
			}
		}
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Errorf("serve created %s despite refusing the key file (stat: %v)", fresh, err)
	}
	for _, path := range []string{e.key, devKey} {
		if err := os.Chmod(path, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.must("", "subject", "export", "--data", e.dir, "--key-file", e.key, "--user", canaryUser)
	e.must("", "subject", "export", "--data", filepath.Join(filepath.Dir(e.dir), "devkey"), "--user", canaryUser)
	e.scanLogs(canaries)
}

// TestServeRefusesPlainHTTPGraphURL: a non-loopback http:// Graph API
// address is refused at start (exit 2) before anything is stored; https
// and loopback http pass this check.
func TestServeRefusesPlainHTTPGraphURL(t *testing.T) {
	e := newEnv(t)
	t.Setenv("PARLEY_MASTER_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	for _, kv := range [][2]string{
		{"PARLEY_WHATSAPP_APP_SECRET", "s"}, {"PARLEY_WHATSAPP_ACCESS_TOKEN", "graph-token-canary-T0k3n"},
		{"PARLEY_WHATSAPP_PHONE_NUMBER_ID", "1"}, {"PARLEY_WHATSAPP_FLOW", "booking"},
	} {
		t.Setenv(kv[0], kv[1])
	}
	for _, tc := range []struct {
		url  string
		want bool // accepted
	}{
		{"http://graph.example.com", false},
		{"http://10.0.0.5:8080", false},
		{"http://[::ffff:8.8.8.8]", false},
		{"ftp://graph.example.com", false},
		{"https://user:pw@graph.example.com", false},
		{"graph.facebook.com", false},
		{"https://graph.facebook.com", true},
		{"http://127.0.0.1:8090", true},
		{"http://localhost:8090", true},
		{"http://[::1]:8090", true},
	} {
		err := checkGraphURL(tc.url)
		if (err == nil) != tc.want {
			t.Errorf("checkGraphURL(%q) = %v, want accepted %v", tc.url, err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "pw") || !strings.Contains(err.Error(), "PARLEY_WHATSAPP_GRAPH_URL")) {
			t.Errorf("checkGraphURL(%q) = %q: want it to name the variable and not echo credentials", tc.url, err)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	t.Setenv("PARLEY_WHATSAPP_GRAPH_URL", "http://graph.example.com")
	r := e.parley("", "serve", "--addr", "127.0.0.1:0", "--flows", "../../flows", "--data", data, "--web-chat", "off")
	if r.code != exitUsage || !strings.Contains(r.stderr, "PARLEY_WHATSAPP_GRAPH_URL uses http to graph.example.com") || !strings.Contains(r.stderr, "use https://") {
		t.Errorf("serve with an http Graph URL: exit %d, stderr %q; want exit %d and the https fix", r.code, r.stderr, exitUsage)
	}
	if strings.Contains(r.stderr, "graph-token-canary-T0k3n") {
		t.Errorf("serve's refusal echoes the access token:\n%s", r.stderr)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("serve created %s before refusing (stat: %v)", data, err)
	}
}
