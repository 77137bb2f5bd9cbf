package vault

import (
	"context"
	"testing"

	"github.com/parleyhq/parley/engine/store"
	"github.com/parleyhq/parley/engine/store/postgres"
	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// The vault's backend-neutral tests run twice: on Badger (as written) and,
// here, on PostgreSQL, each on a fresh database of the private cluster
// pgtest starts. Without PostgreSQL binaries they skip, unless
// PARLEY_POSTGRES_TESTS=required.

func TestMain(m *testing.M) { pgtest.Main(m) }

// onPostgres makes openMem open its vault on PostgreSQL.
var onPostgres bool

// pgStore opens a store on a fresh database, on the test's clock, closed
// at the end of the test (after the vault, which the caller closes first).
func pgStore(t testing.TB, c *clock) store.Store {
	t.Helper()
	url := pgtest.URL(t)
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Now: c.Now})
	if err != nil {
		t.Fatalf("postgres.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// backendNeutral are the tests that run on every backend: they open their
// vaults with openMem and judge only what the vault's API returns.
var backendNeutral = []struct {
	name string
	fn   func(*testing.T)
}{
	{"CommitThenLoadSubject", TestCommitThenLoadSubject},
	{"Rectify", TestRectify},
	{"ExportHasConsentHistory", TestExportHasConsentHistory},
	{"OutboxLifecycle", TestOutboxLifecycle},
	{"ConcurrentTurnsAndErasures", TestConcurrentTurnsAndErasures},
	{"AuditEntriesAreNeverBackdated", TestAuditEntriesAreNeverBackdated},
	{"StopNoticesOnlyForNewData", TestStopNoticesOnlyForNewData},
	{"NoticeRetriesThenGivesUp", TestNoticeRetriesThenGivesUp},
}

func TestOnPostgres(t *testing.T) {
	pgtest.URL(t) // skips (or fails) here when there is no PostgreSQL
	onPostgres = true
	t.Cleanup(func() { onPostgres = false })
	for _, tc := range backendNeutral {
		t.Run(tc.name, tc.fn)
	}
}
