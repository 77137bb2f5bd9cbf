package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/engine/store"
)

// Enqueue implements store.Txn. The seq comes from a PostgreSQL sequence:
// unique and increasing in the order of the INSERTs, across instances.
func (x *txn) Enqueue(queue, partition string, payload []byte) (uint64, error) {
	if payload == nil {
		payload = []byte{}
	}
	var seq int64
	err := x.tx.QueryRow(x.ctx, `INSERT INTO parley_queue_items (queue, partition, payload)
		VALUES ($1, $2, $3) RETURNING seq`, queue, partition, payload).Scan(&seq)
	return uint64(seq), mapErr(err)
}

// Ack implements store.Txn.
func (x *txn) Ack(l store.Lease) error {
	tag, err := x.tx.Exec(x.ctx, `DELETE FROM parley_queue_leases
		WHERE queue = $1 AND partition = $2 AND token = $3 AND seq = $4 AND expires_at > $5`,
		l.Queue, l.Partition, l.Token, int64(l.Seq), x.now)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrLeaseLost
	}
	_, err = x.tx.Exec(x.ctx, "DELETE FROM parley_queue_items WHERE queue = $1 AND seq = $2", l.Queue, int64(l.Seq))
	return mapErr(err)
}

// Claim implements store.Queues: it lists the due heads of partitions
// without a live lease, then takes each lease with a conditional upsert in
// its own short transaction; a partition another instance took in between
// is skipped.
func (s *Store) Claim(ctx context.Context, queue, owner string, max int, d time.Duration) ([]store.Lease, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	rows, err := s.pool.Query(ctx, `SELECT partition FROM (
			SELECT DISTINCT ON (partition) partition, seq, not_before FROM parley_queue_items
			WHERE queue = $1 ORDER BY partition, seq) h
		WHERE (not_before IS NULL OR not_before <= $2)
		  AND NOT EXISTS (SELECT 1 FROM parley_queue_leases l
			WHERE l.queue = $1 AND l.partition = h.partition AND l.expires_at > $2)
		ORDER BY seq LIMIT $3`, queue, now, max)
	if err != nil {
		return nil, fmt.Errorf("postgres store: claim from %s for %s: %w", queue, owner, mapErr(err))
	}
	parts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres store: claim from %s for %s: %w", queue, owner, mapErr(err))
	}
	var out []store.Lease
	for _, p := range parts {
		l, ok, err := s.claimOne(ctx, queue, p, owner, now, d)
		if err != nil {
			return out, fmt.Errorf("postgres store: claim from %s for %s: %w", queue, owner, mapErr(err))
		}
		if ok {
			out = append(out, l)
		}
	}
	return out, nil
}

// claimOne takes partition's lease if it is free, and leases its head.
func (s *Store) claimOne(ctx context.Context, queue, partition, owner string, now time.Time, d time.Duration) (store.Lease, bool, error) {
	l := store.Lease{Queue: queue, Partition: partition, Token: store.NewLeaseToken(), ExpiresAt: now.Add(d)}
	ok := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var got string
		err := tx.QueryRow(ctx, `INSERT INTO parley_queue_leases AS l (queue, partition, seq, token, owner, expires_at)
			VALUES ($1, $2, 0, $3, $4, $5)
			ON CONFLICT (queue, partition) DO UPDATE
				SET seq = 0, token = excluded.token, owner = excluded.owner, expires_at = excluded.expires_at
				WHERE l.expires_at <= $6
			RETURNING token`, queue, partition, l.Token, owner, l.ExpiresAt, now).Scan(&got)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // leased by someone else
		}
		if err != nil {
			return err
		}
		// With the lease held nobody else can ack, so the head is stable.
		var seq int64
		var nb *time.Time
		err = tx.QueryRow(ctx, `UPDATE parley_queue_items SET attempts = attempts + 1
			WHERE queue = $1 AND seq = (SELECT min(seq) FROM parley_queue_items WHERE queue = $1 AND partition = $2)
			RETURNING seq, payload, attempts, not_before`, queue, partition).Scan(&seq, &l.Payload, &l.Attempts, &nb)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && nb != nil && nb.After(now)) {
			return errNotDue // acked meanwhile, or released for later: roll back the lease
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE parley_queue_leases SET seq = $3 WHERE queue = $1 AND partition = $2", queue, partition, seq); err != nil {
			return err
		}
		l.Seq, ok = uint64(seq), true
		return nil
	})
	if errors.Is(err, errNotDue) {
		return store.Lease{}, false, nil
	}
	return l, ok, err
}

var errNotDue = errors.New("not due")

// Extend implements store.Queues.
func (s *Store) Extend(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error) {
	if err := s.usable(ctx); err != nil {
		return store.Lease{}, err
	}
	now := s.now()
	tag, err := s.pool.Exec(ctx, `UPDATE parley_queue_leases SET expires_at = $6
		WHERE queue = $1 AND partition = $2 AND token = $3 AND seq = $4 AND expires_at > $5`,
		l.Queue, l.Partition, l.Token, int64(l.Seq), now, now.Add(d))
	if err != nil {
		return store.Lease{}, fmt.Errorf("postgres store: extend lease: %w", mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return store.Lease{}, fmt.Errorf("postgres store: extend lease: %w", store.ErrLeaseLost)
	}
	l.ExpiresAt = now.Add(d)
	return l, nil
}

// Release implements store.Queues.
func (s *Store) Release(ctx context.Context, l store.Lease, notBefore time.Time) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	now := s.now()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM parley_queue_leases
			WHERE queue = $1 AND partition = $2 AND token = $3 AND seq = $4 AND expires_at > $5`,
			l.Queue, l.Partition, l.Token, int64(l.Seq), now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrLeaseLost
		}
		_, err = tx.Exec(ctx, "UPDATE parley_queue_items SET not_before = $3 WHERE queue = $1 AND seq = $2",
			l.Queue, int64(l.Seq), ts(notBefore))
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres store: release lease: %w", mapErr(err))
	}
	return nil
}

// ScanQueue implements store.Reader, reading pages of scanPage entries.
func (x *txn) ScanQueue(queue string, fn func(store.Entry) error) error {
	var after int64
	for {
		rows, err := x.tx.Query(x.ctx, `SELECT partition, seq, payload, attempts, not_before FROM parley_queue_items
			WHERE queue = $1 AND seq > $2 ORDER BY seq LIMIT $3`, queue, after, scanPage)
		if err != nil {
			return mapErr(err)
		}
		page, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Entry, error) {
			e := store.Entry{Queue: queue}
			var seq int64
			var nb *time.Time
			err := row.Scan(&e.Partition, &seq, &e.Payload, &e.Attempts, &nb)
			e.Seq, e.NotBefore = uint64(seq), fromTS(nb)
			return e, err
		})
		if err != nil {
			return mapErr(err)
		}
		for _, e := range page {
			if err := fn(e); errors.Is(err, store.ErrStop) {
				return nil
			} else if err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = int64(page[len(page)-1].Seq)
	}
}

// DeletePartition implements store.Txn.
func (x *txn) DeletePartition(queue, partition string) (int, error) {
	tag, err := x.tx.Exec(x.ctx, "DELETE FROM parley_queue_items WHERE queue = $1 AND partition = $2", queue, partition)
	if err != nil {
		return 0, mapErr(err)
	}
	if _, err := x.tx.Exec(x.ctx, "DELETE FROM parley_queue_leases WHERE queue = $1 AND partition = $2", queue, partition); err != nil {
		return 0, mapErr(err)
	}
	return int(tag.RowsAffected()), nil
}
