// Package postgres implements store.Store on PostgreSQL (15 or later)
// through pgx, for running several Parley instances on one database.
//
// The schema lives in migrations/*.sql (embedded) and is applied at Open,
// in order, each version once, under an advisory lock so that instances
// starting together do not race. A database migrated by a newer Parley is
// refused.
//
// Isolation: Update runs at SERIALIZABLE, so conflicting transactions fail
// with store.ErrConflict (SQLSTATE 40001, 40P01) instead of losing updates.
// Queue leases are rows of parley_queue_leases, one per (queue, partition):
// taking one is an INSERT … ON CONFLICT DO UPDATE … WHERE the old lease has
// expired, which PostgreSQL serializes on the row, so two instances never
// hold the same partition at once. Every time (expiry, lease end) comes
// from the Go clock given to Open, never from the server's now().
//
// Purge deletes the rows and then runs VACUUM FULL on parley_records, which
// rewrites the table and its indexes into new files and removes the old
// ones: plain VACUUM leaves the bytes of dead tuples in the pages. What
// remains elsewhere (WAL, freed disk blocks, replicas, base backups) is in
// docs/storage.md.
package postgres

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/parleyhq/parley/engine/store"
)

var (
	_ store.Store     = (*Store)(nil)
	_ store.Compactor = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrations embed.FS

// Options configure Open.
type Options struct {
	// URL is a PostgreSQL connection URL or DSN (postgres://user@host/db).
	URL string
	// Now is the store clock (time.Now when nil).
	Now func() time.Time
	// MaxConns bounds the connection pool (pgx's default when 0).
	MaxConns int32
}

// Store is a PostgreSQL-backed store.Store. Safe for concurrent use, and
// by any number of processes on the same database.
type Store struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	closed atomic.Bool
}

// scanPage is how many rows Scan reads per query.
const scanPage = 256

// Open connects, applies the schema migrations and returns the store.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// pgx's message can echo the URL, password included.
		return nil, errors.New("postgres store: the connection URL is not valid; expected postgres://user@host:port/database")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres store: connect: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres store: cannot connect to the database (is the server running, and do the host, port, user and database in the URL match it?): %w", err)
	}
	s := &Store{pool: pool, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// migrationLock is the advisory lock key held while migrating.
const migrationLock = 0x7061726c6579 // "parley"

// migrate applies every embedded migration the database lacks.
func (s *Store) migrate(ctx context.Context) error {
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(files)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS parley_schema_migrations (
			version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
		if err != nil {
			return err
		}
		var have int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM parley_schema_migrations").Scan(&have); err != nil {
			return err
		}
		if have > len(files) {
			return fmt.Errorf("the database schema is at version %d, newer than this Parley knows (%d): upgrade Parley or point it at another database", have, len(files))
		}
		for i, f := range files {
			v, err := strconv.Atoi(strings.SplitN(path.Base(f), "_", 2)[0])
			if err != nil || v != i+1 {
				return fmt.Errorf("migration %s is out of sequence", f)
			}
			if v <= have {
				continue
			}
			sql, err := migrations.ReadFile(f)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol); err != nil {
				return fmt.Errorf("migration %s: %w", path.Base(f), err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO parley_schema_migrations (version) VALUES ($1)", v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres store: schema: %w", err)
	}
	return nil
}

// mapErr turns PostgreSQL's errors into the store's sentinels.
func mapErr(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01"):
		return fmt.Errorf("postgres store: %w (SQLSTATE %s)", store.ErrConflict, pe.Code)
	}
	return err
}

func (s *Store) usable(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("postgres store: %w", store.ErrClosed)
	}
	return ctx.Err()
}

// ts is t for a timestamptz parameter: NULL when zero.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func fromTS(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// keyRange returns the condition on key for a prefix with $1 and $2 as its
// bounds. The two forms are different statements, so each gets its own
// plan: a generic plan for "$2 IS NULL OR key < $2" could not use the
// upper bound and would read the index to its end.
func keyRange(prefix []byte) (cond string, lo, hi []byte) {
	if prefix == nil {
		prefix = []byte{} // pgx sends a nil slice as NULL, and key >= NULL matches nothing
	}
	if hi = store.PrefixEnd(prefix); hi == nil {
		return "key >= $1 AND $2::bytea IS NULL", prefix, nil
	}
	return "key >= $1 AND key < $2", prefix, hi
}

// txn adapts a pgx transaction.
type txn struct {
	ctx context.Context
	tx  pgx.Tx
	now time.Time
}

func (x *txn) Get(key []byte) (store.Record, error) {
	r := store.Record{Key: bytes.Clone(key)}
	var exp *time.Time
	err := x.tx.QueryRow(x.ctx, `SELECT value, expires_at FROM parley_records
		WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2)`, key, x.now).Scan(&r.Value, &exp)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Record{}, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, mapErr(err)
	}
	r.ExpiresAt = fromTS(exp)
	return r, nil
}

// Scan reads pages of scanPage rows and calls fn between queries, so fn
// may use the transaction.
func (x *txn) Scan(prefix []byte, fn func(store.Record) error) error {
	cond, from, end := keyRange(prefix)
	for {
		rows, err := x.tx.Query(x.ctx, `SELECT key, value, expires_at FROM parley_records
			WHERE `+cond+` AND (expires_at IS NULL OR expires_at > $3)
			ORDER BY key LIMIT $4`, from, end, x.now, scanPage)
		if err != nil {
			return mapErr(err)
		}
		page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Record, error) {
			var r store.Record
			var exp *time.Time
			err := row.Scan(&r.Key, &r.Value, &exp)
			r.ExpiresAt = fromTS(exp)
			return r, err
		})
		if err != nil {
			return mapErr(err)
		}
		for _, r := range page {
			if err := fn(r); errors.Is(err, store.ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		from = append(bytes.Clone(page[len(page)-1].Key), 0)
	}
}

func (x *txn) Set(key, value []byte, exp time.Time) error {
	if value == nil {
		value = []byte{}
	}
	_, err := x.tx.Exec(x.ctx, `INSERT INTO parley_records (key, value, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`, key, value, ts(exp))
	return mapErr(err)
}

func (x *txn) Delete(key []byte) error {
	_, err := x.tx.Exec(x.ctx, "DELETE FROM parley_records WHERE key = $1", key)
	return mapErr(err)
}

// View implements store.KV at REPEATABLE READ, READ ONLY: one snapshot.
func (s *Store) View(ctx context.Context, fn func(store.Reader) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(x *txn) error { return fn(x) })
}

// Update implements store.KV at SERIALIZABLE.
func (s *Store) Update(ctx context.Context, fn func(store.Txn) error) error {
	return s.run(ctx, pgx.TxOptions{IsoLevel: pgx.Serializable}, func(x *txn) error { return fn(x) })
}

func (s *Store) run(ctx context.Context, o pgx.TxOptions, fn func(*txn) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	tx, err := s.pool.BeginTx(ctx, o)
	if err != nil {
		return fmt.Errorf("postgres store: begin: %w", mapErr(err))
	}
	// Rolls back when fn fails or panics; after Commit it does nothing.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(&txn{ctx: ctx, tx: tx, now: s.now()}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres store: commit: %w", mapErr(err))
	}
	return nil
}

// DeleteExpired implements store.Purger.
func (s *Store) DeleteExpired(ctx context.Context, prefix []byte) ([][]byte, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	cond, lo, hi := keyRange(prefix)
	rows, err := s.pool.Query(ctx, "DELETE FROM parley_records WHERE "+cond+" AND expires_at <= $3 RETURNING key", lo, hi, s.now())
	if err != nil {
		return nil, fmt.Errorf("postgres store: delete expired: %w", mapErr(err))
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("postgres store: delete expired: %w", mapErr(err))
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
	return keys, nil
}

// Purge implements store.Purger: DELETE, then VACUUM FULL, which copies the
// live rows of parley_records (and rebuilds its indexes) into new files and
// unlinks the old ones. It holds an exclusive lock on the table while it
// runs, so every read and write waits: batch purges. Dead rows that a
// transaction still open elsewhere can see are copied too, so purge when no
// long transaction runs.
func (s *Store) Purge(ctx context.Context, prefixes ...[]byte) error {
	if len(prefixes) == 0 {
		return nil
	}
	if err := s.usable(ctx); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, p := range prefixes {
			cond, lo, hi := keyRange(p)
			_, err := tx.Exec(ctx, "DELETE FROM parley_records WHERE "+cond, lo, hi)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		_, err = s.pool.Exec(ctx, "VACUUM (FULL) parley_records")
	}
	if err != nil {
		return fmt.Errorf("postgres store: purge: %w", mapErr(err))
	}
	return nil
}

// Compact implements store.Compactor: VACUUM FULL rewrites parley_records
// into new files, so the bytes of deleted rows leave the disk (plain VACUUM
// leaves them in the pages).
func (s *Store) Compact(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "VACUUM (FULL) parley_records"); err != nil {
		return fmt.Errorf("postgres store: compact: %w", mapErr(err))
	}
	return nil
}

// NextSeq implements store.Sequences with one row per name, incremented in
// its own transaction: numbers are strictly increasing across instances.
func (s *Store) NextSeq(ctx context.Context, name string) (uint64, error) {
	if err := s.usable(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.pool.QueryRow(ctx, `INSERT INTO parley_sequences (name, value) VALUES ($1, 1)
		ON CONFLICT (name) DO UPDATE SET value = parley_sequences.value + 1 RETURNING value`, name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("postgres store: sequence: %w", mapErr(err))
	}
	return uint64(n), nil
}

// Sync implements store.Store: a committed transaction is already durable
// (with the server's default synchronous_commit=on).
func (s *Store) Sync(ctx context.Context) error { return s.usable(ctx) }

// Close closes the pool; closing twice is harmless.
func (s *Store) Close() error {
	if !s.closed.Swap(true) {
		s.pool.Close()
	}
	return nil
}
