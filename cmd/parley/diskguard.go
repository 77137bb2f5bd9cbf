package main

import (
	"fmt"
	"sync"
	"time"
)

// defaultMinFreeMiB is serve's default --min-free: the space the data
// directory's file system must keep free for Parley to accept messages.
// Badger maps its files into memory, and a write to a mapped page on a full
// disk kills the process (SIGBUS) rather than returning an error, so writes
// are refused well before the disk is full.
const defaultMinFreeMiB = 256

// diskGuard returns a check that fails while the file system holding dir
// has fewer than margin bytes available. free reads that figure (statfs);
// the answer is cached for a second, so the webhook path pays one system
// call per second, not one per message.
func diskGuard(dir string, margin uint64, free func(dir string) (uint64, error), now func() time.Time) func() error {
	var (
		mu      sync.Mutex
		checked time.Time
		last    error
	)
	return func() error {
		mu.Lock()
		defer mu.Unlock()
		if t := now(); t.Sub(checked) >= time.Second || t.Before(checked) {
			checked = t
			last = nil
			avail, err := free(dir)
			switch {
			case err != nil:
				last = fmt.Errorf("free space of the data directory unknown: %w", err)
			case avail < margin:
				last = fmt.Errorf("the data directory's disk has %d MiB free, below --min-free %d MiB: free some space (Parley resumes by itself)", avail>>20, margin>>20)
			}
		}
		return last
	}
}
