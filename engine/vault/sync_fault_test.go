package vault

import (
	"errors"
	"testing"
)

// TestGroupSyncSurvivesAPanickingFsync: an fsync that panics (Badger on a
// failing disk) makes the waiting callers' sync fail with an error instead
// of killing the process ("sync: unlock of unlocked mutex"), and the next
// sync runs normally once the disk recovers.
func TestGroupSyncSurvivesAPanickingFsync(t *testing.T) {
	var g groupSync
	err := g.sync(func() error { panic("write /data/inbox/000001.vlog: read-only file system") })
	if err == nil {
		t.Fatal("a panicking fsync reported success")
	}
	calls := 0
	if err := g.sync(func() error { calls++; return nil }); err != nil || calls != 1 {
		t.Errorf("sync after the disk recovered = %v (%d fsyncs), want success after one", err, calls)
	}
	if err := g.sync(func() error { return errors.New("EIO") }); err == nil {
		t.Error("a failing fsync reported success")
	}
}
