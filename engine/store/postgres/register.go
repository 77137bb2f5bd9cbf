package postgres

import (
	"context"

	"github.com/parleyhq/parley/engine/store"
)

// init registers the backend under both schemes PostgreSQL URLs use, so
// that store.OpenURL opens postgres://… and postgresql://… here.
func init() {
	open := func(ctx context.Context, c store.Config) (store.Store, error) {
		return Open(ctx, Options{URL: c.URL, Now: c.Now})
	}
	store.Register("postgres", open)
	store.Register("postgresql", open)
}
