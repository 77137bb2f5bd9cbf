package pgtest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// TestURL gets two databases from the private cluster: distinct and empty.
func TestURL(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b || !strings.HasPrefix(a, "postgres://parley@127.0.0.1:") {
		t.Fatalf("URL = %q then %q, want two loopback databases", a, b)
	}
	conn, err := pgx.Connect(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&n); err != nil || n != 0 {
		t.Errorf("new database has %d tables (%v), want 0", n, err)
	}
}

// TestNeedsPostgres is run by TestMissingBinaries in a child process.
func TestNeedsPostgres(t *testing.T) {
	if os.Getenv("PGTEST_CHILD") == "" {
		t.Skip("run by TestMissingBinaries")
	}
	URL(t)
}

// TestMissingBinaries: without PostgreSQL a test that needs it skips, and
// fails when PARLEY_POSTGRES_TESTS=required, saying how to install it.
func TestMissingBinaries(t *testing.T) {
	for _, required := range []bool{false, true} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestNeedsPostgres$", "-test.v")
		cmd.Env = append(os.Environ(), "PGTEST_CHILD=1", "PARLEY_POSTGRES_BIN="+t.TempDir(), EnvRequired+"=")
		if required {
			cmd.Env = append(cmd.Env, EnvRequired+"=required")
		}
		out, err := cmd.CombinedOutput()
		switch {
		case !required && (err != nil || !strings.Contains(string(out), "--- SKIP: TestNeedsPostgres")):
			t.Errorf("without binaries: %v\n%s\nwant a skip", err, out)
		case required && (err == nil || !strings.Contains(string(out), "apt-get install postgresql-15")):
			t.Errorf("without binaries, required: %v\n%s\nwant a failure that says how to install it", err, out)
		}
	}
}
