package vault

import "sync"

// groupSync coalesces fsyncs: a caller that needs its committed writes on
// stable storage waits for a Sync that *started* after its commit, and one
// Sync covers every caller waiting at that moment (group commit). Under load
// N concurrent critical commits cost about one fsync instead of N.
type groupSync struct {
	mu        sync.Mutex
	cond      *sync.Cond
	running   bool
	started   uint64 // generation of the last Sync begun
	completed uint64 // generation of the last Sync finished
	errGen    uint64 // generation of the last failed Sync
	err       error
}

func (g *groupSync) sync(fn func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cond == nil {
		g.cond = sync.NewCond(&g.mu)
	}
	target := g.started + 1 // a Sync already running may have missed our write
	for g.completed < target {
		if g.running {
			g.cond.Wait()
			continue
		}
		g.running = true
		g.started++
		gen := g.started
		g.mu.Unlock()
		err := syncNoPanic(fn)
		g.mu.Lock()
		g.running = false
		g.completed = gen
		if err != nil {
			g.errGen, g.err = gen, err
		}
		g.cond.Broadcast()
	}
	if g.err != nil && g.errGen >= target {
		return g.err
	}
	return nil
}

// durable makes every write committed so far survive a power cut, as the
// sync policy asks for critical records.
func (v *Vault) durable() error {
	if !v.needsSync() {
		return nil
	}
	return v.group.sync(v.syncMain)
}

// needsSync: only SyncCritical on disk fsyncs explicitly (SyncAlways already
// fsynced every commit; SyncNever and in-memory stores never do).
func (v *Vault) needsSync() bool {
	return !v.opts.InMemory && v.embedded() && v.opts.Sync == SyncCritical
}

// syncMain fsyncs the main DB. Data keys created before it began are on
// stable storage once it succeeds (see keyCreated).
func (v *Vault) syncMain() error {
	v.keyMu.Lock()
	gen := v.keyGen
	v.keyMu.Unlock()
	if v.opts.onSync != nil {
		v.opts.onSync(dbSubdir)
	}
	if err := v.syncDB(); err != nil {
		return err
	}
	v.keyMu.Lock()
	for s, g := range v.newKeys {
		if g <= gen {
			delete(v.newKeys, s)
		}
	}
	v.keyMu.Unlock()
	return nil
}

// keyCreated notes, after the commit that made it, a subject data key not
// yet on stable storage. InboxPut seals payloads under that key into the
// (fsynced) inbox DB, so it syncs the main DB first while the key is listed
// here.
func (v *Vault) keyCreated(s SubjectID) {
	if !v.needsSync() {
		return
	}
	v.keyMu.Lock()
	v.keyGen++
	v.newKeys[s] = v.keyGen
	v.keyMu.Unlock()
}

func (v *Vault) keyUnsynced(s SubjectID) bool {
	if !v.needsSync() {
		return false
	}
	v.keyMu.Lock()
	defer v.keyMu.Unlock()
	_, ok := v.newKeys[s]
	return ok
}
