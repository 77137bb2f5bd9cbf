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
		err := fn()
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
	if v.opts.InMemory || v.opts.Sync != SyncCritical {
		return nil // SyncAlways already fsynced the commit; SyncNever never does
	}
	return v.group.sync(v.db.Sync)
}
