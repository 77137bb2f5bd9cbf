package host

import (
	"context"
	"errors"
	"hash/fnv"
	"sync"
)

// errPoolClosed is Submit's answer once Close has begun.
var errPoolClosed = errors.New("host: pool closed")

// Pool runs jobs on a fixed number of workers. Jobs submitted with the same
// key run one at a time, in submission order, because a key always maps to
// the same worker; this is how each subject's messages are processed in order
// while different subjects proceed in parallel.
type Pool struct {
	queues []chan func()
	wg     sync.WaitGroup
	// mu guards the queues against Close: Submit holds it shared, so a
	// queue is never closed under a sender ("send on closed channel").
	mu      sync.RWMutex
	closing chan struct{} // closed when Close begins: blocked Submits give up
	closed  bool
	once    sync.Once
	// OnPanic, when set, is told about a job that panicked; the worker
	// survives, so one bad message cannot stop every conversation.
	OnPanic func(v any)
}

// NewPool starts workers goroutines, each with a queue of depth jobs.
func NewPool(workers, depth int) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{queues: make([]chan func(), workers), closing: make(chan struct{})}
	for i := range p.queues {
		q := make(chan func(), depth)
		p.queues[i] = q
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for job := range q {
				p.run(job)
			}
		}()
	}
	return p
}

func (p *Pool) run(job func()) {
	defer func() {
		if v := recover(); v != nil && p.OnPanic != nil {
			p.OnPanic(v)
		}
	}()
	job()
}

// Submit queues job under key. It blocks while that worker's queue is full
// (back-pressure) and gives up when ctx is done or the pool is closing.
func (p *Pool) Submit(ctx context.Context, key string, job func()) error {
	h := fnv.New32a()
	h.Write([]byte(key))
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errPoolClosed
	}
	q := p.queues[int(h.Sum32()%uint32(len(p.queues)))]
	select {
	case q <- job:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return errPoolClosed
	}
}

// Close stops accepting jobs and waits for queued ones to finish. Submits
// blocked on a full queue give up at once.
func (p *Pool) Close() {
	p.once.Do(func() {
		close(p.closing)
		p.mu.Lock()
		p.closed = true
		for _, q := range p.queues {
			close(q)
		}
		p.mu.Unlock()
	})
	p.wg.Wait()
}
