package host

import "context"

// Tracked returns what the host holds in memory per customer and per
// message: send queues and in-flight inbox marks.
func (h *Host) Tracked() (queues, messages int) {
	h.sendMu.Lock()
	queues = len(h.sendQ)
	h.sendMu.Unlock()
	h.inflight.Range(func(any, any) bool { messages++; return true })
	return queues, messages
}

// Rescan runs one inbox rescan now.
func (h *Host) Rescan(ctx context.Context) error { return h.rescanInbox(ctx) }
