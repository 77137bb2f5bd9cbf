package vault

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parleyhq/parley/engine/store"
)

// Exists reports whether dir holds a vault that Open has created, so that
// commands which only read a vault can refuse a mistyped directory instead
// of creating an empty vault there and answering "nothing held".
func Exists(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, dbSubdir, "MANIFEST"))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("vault: look for a vault in %s: %w", dir, err)
}

// ExistsOn reports whether st holds a Parley vault (Options.Store): one was
// opened on it before, so its key check is there.
func ExistsOn(st store.Store) (bool, error) {
	err := st.View(context.Background(), func(r store.Reader) error {
		_, err := r.Get(keyCheck)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
