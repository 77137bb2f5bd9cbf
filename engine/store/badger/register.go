package badger

import (
	"context"

	"github.com/parleyhq/parley/engine/store"
)

var _ store.Local = (*Store)(nil)

// Name is the name this backend is registered under in engine/store: the
// vault opens its data directory with store.Open(ctx, Name, …).
const Name = "badger"

func init() {
	store.Register(Name, func(_ context.Context, c store.Config) (store.Store, error) {
		return Open(Options{Dir: c.Dir, InMemory: c.InMemory, EncryptionKey: c.EncryptionKey, SyncWrites: c.SyncWrites,
			ReadOnly: c.ReadOnly, Small: c.Small, Raw: c.Raw, Now: c.Now, Logger: c.Logger})
	})
}
