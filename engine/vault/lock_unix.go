//go:build unix

package vault

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes an exclusive, non-blocking flock on path. The vault locks
// before Badger does, so the erasure ledger beside the database is covered
// too and the caller gets ErrLocked instead of Badger's error text. flock
// locks belong to the open file, so a second Open in the same process is
// refused as well.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("vault: lock: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) error {
	// Closing the file drops the flock; the file stays so that the data
	// directory does not change between runs.
	return f.Close()
}
