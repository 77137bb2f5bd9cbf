package vault

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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
