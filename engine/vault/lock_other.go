//go:build !unix

package vault

import "os"

// lockDir relies on Badger's own directory lock where flock is missing.
func lockDir(path string) (*os.File, error) { return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) }

func unlockDir(f *os.File) error { return f.Close() }
