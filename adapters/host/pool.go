package host

import (
	"context"
	"hash/fnv"
	"sync"
)

// Pool runs jobs on a fixed number of workers. Jobs submitted with the same
// key run one at a time, in submission order, because a key always maps to
// the same worker; this is how each subject's messages are processed in order
// while different subjects proceed in parallel.
type Pool struct {
	queues []chan func()
	wg     sync.WaitGroup
	// OnPanic, when set, is told about a job that panicked; the worker
	// survives, so one bad message cannot stop every conversation.
	OnPanic func(v any)
}

// NewPool starts workers goroutines, each with a queue of depth jobs.
func NewPool(workers, depth int) *Pool {
	if workers < 1 {
		workers = 1
	}
	p := &Pool{queues: make([]chan func(), workers)}
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
// (back-pressure) and gives up when ctx is done.
func (p *Pool) Submit(ctx context.Context, key string, job func()) error {
	h := fnv.New32a()
	h.Write([]byte(key))
	q := p.queues[int(h.Sum32()%uint32(len(p.queues)))]
	select {
	case q <- job:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting jobs and waits for queued ones to finish.
func (p *Pool) Close() {
	for _, q := range p.queues {
		close(q)
	}
	p.wg.Wait()
}
