package vault

import "fmt"

// syncNoPanic runs a group sync's fsync and turns a panic into an error. The
// fsync runs with groupSync.mu released; a panic unwinding from it through
// sync's deferred Unlock would unlock an unlocked mutex, a fatal error no
// recover can catch (a read-only or failing data directory killed the
// server that way). As an error, the callers' writes fail, the webhook is
// answered 5xx and the next sync tries again.
func syncNoPanic(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("vault: fsync failed: %v", v)
		}
	}()
	return fn()
}
