package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/engine/store"
)

var _ store.Ledger = (*Store)(nil)

// LedgerPut implements store.Ledger on the table parley_ledger.
func (s *Store) LedgerPut(ctx context.Context, key, value []byte) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if value == nil {
		value = []byte{}
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO parley_ledger (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
	if err != nil {
		return fmt.Errorf("postgres store: ledger: %w", mapErr(err))
	}
	return nil
}

// LedgerDelete implements store.Ledger.
func (s *Store) LedgerDelete(ctx context.Context, key []byte) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, "DELETE FROM parley_ledger WHERE key = $1", key); err != nil {
		return fmt.Errorf("postgres store: ledger: %w", mapErr(err))
	}
	return nil
}

// LedgerScan implements store.Ledger.
func (s *Store) LedgerScan(ctx context.Context, fn func(key, value []byte) error) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, "SELECT key, value FROM parley_ledger ORDER BY key")
	if err != nil {
		return fmt.Errorf("postgres store: ledger: %w", mapErr(err))
	}
	type kv struct{ k, v []byte }
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (kv, error) {
		var x kv
		err := r.Scan(&x.k, &x.v)
		return x, err
	})
	if err != nil {
		return fmt.Errorf("postgres store: ledger: %w", mapErr(err))
	}
	for _, r := range recs {
		if err := fn(r.k, r.v); err != nil {
			return err
		}
	}
	return nil
}
