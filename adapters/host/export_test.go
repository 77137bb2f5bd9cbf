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

// WaitSendsIdle blocks until no customer has a reply queued or being sent
// (every send queue acknowledged and dropped).
func (h *Host) WaitSendsIdle() {
	h.sendMu.Lock()
	for len(h.sendQ) > 0 {
		h.sendIdle.Wait()
	}
	h.sendMu.Unlock()
}
