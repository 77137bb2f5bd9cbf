package main

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestDiskGuardRefusesBelowTheMargin: the guard fails while the free space
// is under the margin, in words that say what to do, caches the reading
// for a second and recovers by itself once space returns. The real statfs
// reading of a test directory is used once, to prove it works here.
func TestDiskGuardRefusesBelowTheMargin(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	free, reads := uint64(10<<20), 0
	g := diskGuard("/data", 64<<20, func(string) (uint64, error) { reads++; return free, nil }, clock)
	err := g()
	if err == nil || !strings.Contains(err.Error(), "10 MiB free, below --min-free 64 MiB") {
		t.Fatalf("guard with 10 MiB free = %v, want a refusal naming the figures", err)
	}
	free = 1 << 30
	if g() == nil || reads != 1 {
		t.Errorf("within the second the reading is cached: reads %d", reads)
	}
	now = now.Add(time.Second)
	if err := g(); err != nil {
		t.Errorf("guard once space returned = %v, want nil", err)
	}
	broken := diskGuard("/data", 1, func(string) (uint64, error) { return 0, errors.New("statfs: no such file") }, clock)
	if broken() == nil {
		t.Error("an unreadable free-space figure is not refused")
	}
	avail, err := diskFree(t.TempDir())
	if err != nil || avail == 0 {
		t.Fatalf("diskFree(temp dir) = %d, %v", avail, err)
	}
	if err := diskGuard(t.TempDir(), avail+1<<40, diskFree, time.Now)(); err == nil {
		t.Error("a margin above the real free space is not refused")
	}
}
