package host

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parleyhq/parley/engine/session"
	"github.com/parleyhq/parley/engine/store"
)

// SharedStore is implemented by a store that several processes serve at
// once (engine/session on PostgreSQL). The host then keeps no inbox or
// outbox work in memory: it claims a conversation's oldest inbound message
// or reply with a lease, works on it while renewing the lease, and acks the
// lease in the commit (Extra.Lease, Ack.Lease). While a lease holds, no
// other process gets any work of that conversation, so its turns run one at
// a time and its replies go out in commit order, whichever instance took
// them; a process that dies leaves its leases to expire and the next
// claimer takes the work over.
type SharedStore interface {
	// Shared reports whether the store is shared (false on Badger: the
	// host then works from memory, one process per data directory).
	Shared() bool
	ClaimInbox(ctx context.Context, owner string, max int, d time.Duration) ([]session.InboxClaim, error)
	ClaimOutbox(ctx context.Context, owner string, max int, d time.Duration) ([]session.OutboxClaim, error)
	ExtendLease(ctx context.Context, l store.Lease, d time.Duration) (store.Lease, error)
	ReleaseLease(ctx context.Context, l store.Lease, notBefore time.Time) error
	OutboxDoneLeased(ctx context.Context, seq uint64, l store.Lease) error
	// The window state every instance sees (see Status and sendHead).
	WindowClosed(ctx context.Context, subject string, at time.Time) error
	// WindowClosedAt is when the channel last reported the subject's window
	// closed, to any instance (zero: never, or the customer wrote since).
	WindowClosedAt(ctx context.Context, subject string) (time.Time, error)
	WindowTemplated(ctx context.Context, subject string, inboundAt int64) (first bool, err error)
	// InboxSettled reports whether a stored message needs no more work.
	InboxSettled(ctx context.Context, msgID string) (bool, error)
	// AdoptUnqueued makes work stored before the store was shared
	// claimable, once; it returns how many entries it queued.
	AdoptUnqueued(ctx context.Context) (int, error)
}

// Defaults of the shared mode (Config.Lease, Config.ClaimEvery).
const (
	defaultLease      = 30 * time.Second
	defaultClaimEvery = 250 * time.Millisecond
	// turnRetry is how long a claimed message whose turn failed waits
	// before anyone claims it again.
	turnRetry = time.Second
)

// shared is the host's state in shared mode.
type shared struct {
	st    SharedStore
	owner string
	// inKick and outKick wake the claim loops: a message was stored, a
	// turn committed replies, or a claim finished (its conversation's
	// next entry is due).
	inKick, outKick chan struct{}
	// busyIn and busyOut count the claims being worked on: at most
	// Workers and Senders.
	busyIn, busyOut atomic.Int64
	wg              sync.WaitGroup // claim loops
	// quitOut stops the outbox claim loop; Stop closes it after h.quit,
	// once the turns have finished and the claimable replies are sent.
	quitOut chan struct{}
}

// sharedStore returns the store's shared side when it is shared.
func sharedStore(s Store) (SharedStore, bool) {
	ss, ok := s.(SharedStore)
	if !ok || !ss.Shared() {
		return nil, false
	}
	return ss, true
}

// defaultOwner names this process in lease diagnostics.
func defaultOwner() string {
	name, _ := os.Hostname()
	return name + "/" + strconv.Itoa(os.Getpid())
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// startShared starts the claim loops in place of recovery and rescans:
// work left by a dead process is claimed once its leases expire.
func (h *Host) startShared(ctx context.Context) error {
	sh := h.shared
	n, err := sh.st.AdoptUnqueued(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		h.log.Info("work stored before instances shared it is claimable now", "entries", n)
	}
	sh.inKick, sh.outKick = make(chan struct{}, 1), make(chan struct{}, 1)
	h.bg, h.quit, sh.quitOut = make(chan struct{}), make(chan struct{}), make(chan struct{})
	sh.wg.Add(2)
	go h.claimLoop(ctx, h.quit, sh.inKick, &sh.busyIn, h.cfg.Workers, h.claimTurns)
	go h.claimLoop(ctx, sh.quitOut, sh.outKick, &sh.busyOut, h.cfg.Senders, h.claimSends)
	go func() {
		sh.wg.Wait()
		close(h.bg)
	}()
	kick(sh.inKick)
	kick(sh.outKick)
	return nil
}

// claimLoop claims work whenever it is kicked and every ClaimEvery, as
// long as fewer than limit claims are being worked on, until quit.
func (h *Host) claimLoop(ctx context.Context, quit chan struct{}, kicked chan struct{}, busy *atomic.Int64, limit int, claim func(ctx context.Context, max int) (int, error)) {
	defer h.shared.wg.Done()
	t := time.NewTicker(h.cfg.ClaimEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-quit:
			return
		case <-kicked:
		case <-t.C:
		}
		for !closed(quit) {
			free := limit - int(busy.Load())
			if free <= 0 {
				break
			}
			n, err := claim(ctx, free)
			if err != nil {
				h.storeFailed(err)
				h.log.Error("claiming work failed", "err", err)
				break
			}
			if n < free {
				break
			}
		}
	}
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// drainOutbox, in Stop after the turns finished, waits while this process
// sends what it claimed and claims what is claimable now (a conversation's
// next reply, due once the one before it is acknowledged), until nothing
// is left to claim and nothing is being sent, or ctx ends. A reply given
// back for a later retry stays for whichever instance runs then.
func (h *Host) drainOutbox(ctx context.Context) {
	sh := h.shared
	tick := time.NewTicker(drainEvery)
	defer tick.Stop()
	for {
		if sh.busyOut.Load() == 0 {
			n, err := h.claimSends(ctx, h.cfg.Senders)
			if err != nil || n == 0 {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-h.stopCtx.Done():
			return
		case <-tick.C:
		}
	}
}

// drainEvery is how often drainOutbox looks whether the sends finished.
const drainEvery = 5 * time.Millisecond

// keepLease renews l every third of the lease until stop is called or the
// lease is lost.
func (h *Host) keepLease(l store.Lease) (stop func()) {
	done := make(chan struct{})
	every := h.cfg.Lease / 3
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				var err error
				if l, err = h.shared.st.ExtendLease(context.WithoutCancel(h.ctx), l, h.cfg.Lease); err != nil {
					if !errors.Is(err, store.ErrLeaseLost) {
						h.log.Error("lease not renewed", "err", err)
					}
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// claimTurns claims up to max inbound messages and queues their turns.
func (h *Host) claimTurns(ctx context.Context, max int) (int, error) {
	sh := h.shared
	cs, err := sh.st.ClaimInbox(ctx, sh.owner, max, h.cfg.Lease)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		h.runClaim(ctx, "inbox", h.turns, c.Entry.Subject, c.Lease, &sh.busyIn, sh.inKick, func() { h.runClaimedTurn(c) })
	}
	return len(cs), nil
}

// runClaim queues work on a claimed entry on pool, keeping its lease
// renewed from now on (the work may wait behind others for its worker) and
// counted in busy; kicked is kicked when it is done (the subject's next
// entry is due). If it cannot be queued, the entry is given back.
func (h *Host) runClaim(ctx context.Context, queue string, pool *Pool, subject string, l store.Lease, busy *atomic.Int64, kicked chan struct{}, work func()) {
	if l.Attempts > 1 {
		h.metrics.Takeovers.WithLabelValues(queue).Inc()
	}
	busy.Add(1)
	stop := h.keepLease(l)
	err := pool.Submit(h.stopCtx, subject, func() {
		defer func() {
			stop()
			busy.Add(-1)
			kick(kicked)
		}()
		work()
	})
	if err != nil {
		stop()
		busy.Add(-1)
		_ = h.shared.st.ReleaseLease(context.WithoutCancel(ctx), l, time.Time{})
	}
}

// runClaimedTurn processes a claimed message; a turn that did not commit
// gives its message back, due again after turnRetry.
func (h *Host) runClaimedTurn(c session.InboxClaim) {
	var m Message
	if err := json.Unmarshal(c.Entry.Payload, &m); err != nil {
		h.log.Error("inbox entry unreadable; dropped", "seq", c.Entry.Seq)
		l := c.Lease
		h.store.Commit(h.ctx, c.Entry.Subject, session.Extra{InboxDone: c.Entry.MsgID, Lease: &l})
		return
	}
	if m.Ch == "" {
		m.Ch = h.first
	}
	l := c.Lease
	if !h.process(c.Entry.Subject, m, &l) {
		_ = h.shared.st.ReleaseLease(context.WithoutCancel(h.ctx), c.Lease, h.cfg.Now().Add(turnRetry))
	}
}

// claimSends claims up to max replies and queues their sends.
func (h *Host) claimSends(ctx context.Context, max int) (int, error) {
	sh := h.shared
	cs, err := sh.st.ClaimOutbox(ctx, sh.owner, max, h.cfg.Lease)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		h.runClaim(ctx, "outbox", h.senders, c.Entry.Subject, c.Lease, &sh.busyOut, sh.outKick, func() {
			h.outboxDepth.Add(1)
			defer h.outboxDepth.Add(-1)
			h.sendClaimed(c)
		})
	}
	return len(cs), nil
}

// sendClaimed sends a claimed reply and acknowledges it, or gives it back
// due again when its retry is.
func (h *Host) sendClaimed(c session.OutboxClaim) {
	subject, l := c.Entry.Subject, c.Lease
	var it outItem
	if err := json.Unmarshal(c.Entry.Payload, &it); err != nil {
		h.log.Error("outbox entry unreadable; dropped", "seq", c.Entry.Seq)
		h.shared.st.OutboxDoneLeased(h.ctx, c.Entry.Seq, l)
		return
	}
	if it.Ch == "" {
		it.Ch = h.first
	}
	// An entry whose send had started was being sent by a claimer that
	// did not acknowledge it (a crash, a lost lease): it may have been
	// delivered, and is counted when sent again.
	q := queued{seq: c.Entry.Seq, item: it, status: c.Entry.Status, attempt: c.Attempts,
		maybeSent: c.Entry.Status != "" && c.Entry.Status != "queued", lease: &l}
	sq := &sendQueue{items: []queued{q}, templated: c.Templated, closed: closedBefore(c.WindowClosedAt, it)}
	delay, done := h.sendHead(subject, sq, &q)
	// A store write that failed (the send mark, or the acknowledgement of
	// a reply the channel accepted) is retried here, holding the claim:
	// given back, the reply would be sent again by the next claimer.
	for try := 0; !done && q.storeErr && try < storeRetries; try++ {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-h.stopCtx.Done():
			t.Stop()
			return // the lease runs out; the next claimer counts a re-send
		}
		q.storeErr = false
		delay, done = h.sendHead(subject, sq, &q)
	}
	if !done && !q.storeErr && !sq.closed {
		// The channel asked for a retry. Meanwhile it may have reported the
		// window closed (to this instance or another): then the reply is
		// given up now, as the retry would, rather than left to linger.
		if at, err := h.shared.st.WindowClosedAt(h.stopCtx, subject); err == nil && closedBefore(at, it) {
			sq.closed = true
			delay, done = h.sendHead(subject, sq, &q)
		}
	}
	if !done {
		_ = h.shared.st.ReleaseLease(context.WithoutCancel(h.ctx), l, h.cfg.Now().Add(delay))
	}
}

// closedBefore reports whether the window, as the channel last reported it
// at closedAt (to whichever instance), is closed for the reply it: closed
// until the customer writes after that report.
func closedBefore(closedAt time.Time, it outItem) bool {
	return !closedAt.IsZero() && it.InboundAt <= closedAt.UnixNano()
}

// storeRetries is how many times a claimed reply's failed store write is
// retried before the claim is given back.
const storeRetries = 10

// waitSettled waits (at most 5 s, checking every settleEvery) until
// whichever instance claims it has processed the stored message msgID.
func (h *Host) waitSettled(ctx context.Context, msgID string) {
	kick(h.shared.inKick)
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(settleEvery)
	defer tick.Stop()
	for {
		if done, err := h.shared.st.InboxSettled(ctx, msgID); err != nil || done {
			return
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-h.stopCtx.Done():
			return
		}
	}
}

// settleEvery is how often waitSettled looks.
const settleEvery = 20 * time.Millisecond

// closeWindowShared records a closed window for every instance.
func (h *Host) closeWindowShared(ctx context.Context, subject string) {
	if err := h.shared.st.WindowClosed(ctx, subject, h.cfg.Now()); err != nil {
		h.storeFailed(err)
		h.log.Error("closed window not recorded", "subject", subject, "err", err)
	}
}

// stillHeld reports whether q's claim is still this process's, renewing
// it: checked right before a send, so that a claim lost while the send
// waited (its lease expired, and another process may be sending the reply
// now) sends nothing. A send that outlasts a renewed lease is the crash
// case: the next claimer finds the reply marked as being sent and counts
// it.
func (h *Host) stillHeld(ctx context.Context, q *queued) bool {
	if q.lease == nil {
		return true
	}
	if _, err := h.shared.st.ExtendLease(ctx, *q.lease, h.cfg.Lease); err != nil {
		if !errors.Is(err, store.ErrLeaseLost) {
			h.storeFailed(err)
			h.log.Error("claim not renewed before a send; the reply waits", "err", err)
		}
		return false
	}
	return true
}

// outboxDone removes a reply given up or dropped (and acks its claim).
func (h *Host) outboxDone(ctx context.Context, q *queued) {
	if q.lease != nil {
		h.shared.st.OutboxDoneLeased(ctx, q.seq, *q.lease)
		return
	}
	h.store.OutboxDone(ctx, q.seq)
}
