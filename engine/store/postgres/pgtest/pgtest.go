// Package pgtest starts a private PostgreSQL cluster for tests: one per test
// binary, on a free 127.0.0.1 port with its unix socket and data in a
// temporary directory, stopped by PID when the tests end. Each URL call
// creates a fresh database in it.
//
// The cluster runs from the binaries of an installed PostgreSQL (initdb and
// postgres found on PATH, in $PARLEY_POSTGRES_BIN or under
// /usr/lib/postgresql/*/bin). When there are none, tests that need it skip,
// unless PARLEY_POSTGRES_TESTS=required, when they fail. As root (CI
// containers) the cluster runs as the "postgres" user, since PostgreSQL
// refuses to run as root.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvRequired is the variable that turns a missing PostgreSQL into a test
// failure: PARLEY_POSTGRES_TESTS=required.
const EnvRequired = "PARLEY_POSTGRES_TESTS"

type cluster struct {
	dir  string
	cmd  *exec.Cmd
	url  string
	err  error
	skip string
}

var (
	once    sync.Once
	current *cluster
	dbs     atomic.Int64
)

// Main runs the tests and then stops the cluster, if one was started.
func Main(m *testing.M) {
	code := m.Run()
	if err := Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Stop stops the cluster, if one was started: for a TestMain that cannot
// use Main (testscript's), after its tests ran.
func Stop() error {
	if current == nil {
		return nil
	}
	return current.stop()
}

// URL returns the connection URL of a new, empty database owned by a
// superuser, starting the cluster on first use. It skips (or fails, see
// EnvRequired) when PostgreSQL is not installed.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { current = start() })
	c := current
	if c.skip != "" {
		if os.Getenv(EnvRequired) == "required" {
			t.Fatalf("%s, and %s=required: install PostgreSQL (apt-get install postgresql-15) or point PARLEY_POSTGRES_BIN at its bin directory", c.skip, EnvRequired)
		}
		t.Skipf("%s; set %s=required to fail instead", c.skip, EnvRequired)
	}
	if c.err != nil {
		t.Fatalf("pgtest: %v", c.err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url+"postgres")
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.url + name
}

// binDir finds the directory holding initdb and postgres.
func binDir() string {
	if d := os.Getenv("PARLEY_POSTGRES_BIN"); d != "" {
		return d
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { // newest major version first
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d
		}
	}
	return ""
}

func start() *cluster {
	bin := binDir()
	for _, name := range []string{"initdb", "postgres"} {
		if _, err := os.Stat(filepath.Join(bin, name)); bin == "" || err != nil {
			return &cluster{skip: "pgtest: no PostgreSQL binaries (initdb, postgres) found"}
		}
	}
	c := &cluster{}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return &cluster{skip: "pgtest: running as root and there is no postgres user to run PostgreSQL as"}
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "parley-pgtest-")
	if err != nil {
		c.err = err
		return c
	}
	c.dir = dir
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			c.err = err
			return c
		}
	}
	data := filepath.Join(dir, "data")
	logf := filepath.Join(dir, "postgres.log")
	run := func(name string, args ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC"}
		// Pdeathsig: if the test binary dies (a -timeout panic) the
		// postmaster gets SIGQUIT (immediate shutdown) instead of running on.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true, Pdeathsig: syscall.SIGQUIT}
		return cmd
	}
	if out, err := run("initdb", "-D", data, "-U", "parley", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		c.err = fmt.Errorf("initdb: %v\n%s", err, out)
		return c
	}
	port, err := freePort()
	if err != nil {
		c.err = err
		return c
	}
	log, err := os.Create(logf)
	if err != nil {
		c.err = err
		return c
	}
	if cred != nil {
		_ = log.Chown(int(cred.Uid), int(cred.Gid))
	}
	// Durability settings are off: a test cluster does not survive a power cut.
	c.cmd = run("postgres", "-D", data, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	c.cmd.Stdout, c.cmd.Stderr = log, log
	if err := c.cmd.Start(); err != nil {
		c.err = fmt.Errorf("start postgres: %w", err)
		return c
	}
	log.Close()
	exited := make(chan struct{})
	go func() { c.cmd.Wait(); close(exited) }()
	c.url = fmt.Sprintf("postgres://parley@127.0.0.1:%d/", port)
	// Readiness: poll a connection, bounded.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, c.url+"postgres")
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return c
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logf)
			c.err = fmt.Errorf("postgres exited at start:\n%s", b)
			return c
		default:
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(logf)
			c.err = errors.Join(fmt.Errorf("postgres not ready after 30s: %w", err), c.stop(), errors.New(string(b)))
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop ends the postmaster by PID: SIGTERM, then SIGKILL (its whole process
// group) if it has not exited within 10 s, and removes the directory.
func (c *cluster) stop() error {
	var errs []error
	if c.cmd != nil && c.cmd.Process != nil {
		pid := c.cmd.Process.Pid
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitGone(pid, 10*time.Second) {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			if !waitGone(pid, 5*time.Second) {
				errs = append(errs, fmt.Errorf("postgres (pid %d) did not exit", pid))
			}
		}
	}
	if c.dir != "" && !strings.Contains(c.dir, "..") {
		if err := os.RemoveAll(c.dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitGone reports whether process pid is gone (reaped by the Wait
// goroutine) within d.
func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// Raw is what an attacker holding the database's files reads: after a
// CHECKPOINT (so that every change is in the files, not only in shared
// buffers), every file of the database's directory: tables, TOAST, indexes,
// free space and visibility maps, the catalogs (pg_statistic included). The
// WAL (pg_wal) is not read: docs/storage.md says what it keeps. url is a
// database pgtest.URL made.
func Raw(t testing.TB, url string) []byte {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	var dataDir string
	var dbOID uint32
	err = conn.QueryRow(ctx, `SELECT current_setting('data_directory'), oid FROM pg_database
		WHERE datname = current_database()`).Scan(&dataDir, &dbOID)
	if err != nil {
		t.Fatalf("locating the database files: %v", err)
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatalf("CHECKPOINT: %v", err)
	}
	dir := filepath.Join(dataDir, "base", strconv.FormatUint(uint64(dbOID), 10))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading %s: %v", dir, err)
	}
	var raw bytes.Buffer
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		raw.Write(b)
	}
	if raw.Len() == 0 {
		t.Fatalf("no database files under %s", dir)
	}
	return raw.Bytes()
}
