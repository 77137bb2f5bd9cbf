package vault

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Recipients and their notices (GDPR art. 19: whoever received personal
// data is told when it is erased, or when the customer objects).
//
// Every integration call is recorded as a Recipient of the subject, sealed
// under the subject's data key like the subject's other records:
//
//	r/<s>/<flow>/<integration>   recipient record, sealed; clear header: expiry
//
// so it dies with the subject. When the subject is erased, types STOP, or
// withdraws consent for a recipient's purpose, a notice is queued for each
// recipient that declared the matching address:
//
//	nq/<receipt>                 queued notice, sealed under the vault's meta key
//
// A notice holds no personal data: the event, the flow and integration
// names, the address, the name of the secret's environment variable, the
// recipient's own pseudonymous reference for the subject (RecipientRef), a
// random receipt id and times. It survives the subject's erasure (it is not
// sealed under the subject's key) and lives until it is delivered or, at the
// latest, NoticeGiveUp after it was queued; then it is deleted and counted.

// Notice events.
const (
	NoticeErase = "erase"
	NoticeStop  = "stop"
)

const (
	// NoticeGiveUp is how long a notice is retried before it is dropped.
	NoticeGiveUp = 7 * 24 * time.Hour
	// RecipientKeep is how long a recipient record is kept after the last
	// data was sent to it, unless the subject is erased first.
	RecipientKeep = 2 * 365 * 24 * time.Hour
	// noticeBackoff is the wait after the first failed delivery; it doubles
	// with every failure up to noticeMaxBackoff.
	noticeBackoff    = 30 * time.Second
	noticeMaxBackoff = time.Hour
)

// Recipient is an integration that was sent data about a subject.
type Recipient struct {
	Flow, Integration, Purpose string
	// OnErase and OnStop are the addresses notices go to ("" for none);
	// SecretEnv names the environment variable of their bearer token.
	OnErase, OnStop, SecretEnv string
	// FirstSent and LastSent are when data was first and last sent.
	FirstSent, LastSent time.Time
	// Notices lists the notices queued for this recipient, oldest first.
	Notices []SentNotice
	// FormerRefs are the references the recipient was sent data under
	// before the customer changed number (Move): the recipient may still
	// hold data under them, so every notice goes out once per reference.
	FormerRefs []string
}

// SentNotice is one notice queued for a recipient, as listed in exports and
// erasure receipts.
type SentNotice struct {
	Flow, Integration string
	Event             string // NoticeErase or NoticeStop
	Receipt           string
	At                time.Time
}

// Notice is a queued notice waiting for delivery. Its fields are what goes
// out, plus where and how to retry; none of them is personal data.
type Notice struct {
	Receipt           string
	Event             string
	Flow, Integration string
	URL, SecretEnv    string
	// Ref is the recipient's pseudonymous reference for the subject, the
	// one sent with every call (RecipientRef).
	Ref      string
	At       time.Time // when the event happened
	NextAt   time.Time // next attempt
	Attempts int
	GiveUpAt time.Time
}

// noticeSignal wakes the deliverer when notices are queued.
type noticeSignal struct {
	once sync.Once
	ch   chan struct{}
}

func (n *noticeSignal) c() chan struct{} {
	n.once.Do(func() { n.ch = make(chan struct{}, 1) })
	return n.ch
}

// NoticesQueued receives a value after notices were queued, so a deliverer
// can run at once instead of at its next tick.
func (v *Vault) NoticesQueued() <-chan struct{} { return v.notices.c() }

func (v *Vault) kickNotices() {
	select {
	case v.notices.c() <- struct{}{}:
	default:
	}
}

// RecipientRef is the pseudonymous reference under which integration of
// flow knows subject s: an HMAC of the subject id under a key kept inside
// the vault, different for every flow and integration, so two recipients
// cannot link their customers by it and none learns the phone number.
func (v *Vault) RecipientRef(s SubjectID, flow, integration string) string {
	key := hmacSum(v.subjectKey, "parley/recipient-ref/v1")
	return hex.EncodeToString(hmacSum(key, flow, "\x00", integration, "\x00", string(s)))
}

func prefixR(s SubjectID) []byte { return []byte("r/" + s + "/") }
func keyR(s SubjectID, flow, integration string) []byte {
	return []byte("r/" + string(s) + "/" + flow + "/" + integration)
}

var prefixNQ = []byte("nq/")

func keyNQ(receipt string) []byte { return append(slices.Clip(prefixNQ), receipt...) }

func encodeRecipient(r *Recipient) []byte {
	var e enc
	for _, s := range []string{r.Flow, r.Integration, r.Purpose, r.OnErase, r.OnStop, r.SecretEnv} {
		e.str(s)
	}
	e.time(r.FirstSent)
	e.time(r.LastSent)
	e.uint(uint64(len(r.Notices)))
	for _, n := range r.Notices {
		e.str(n.Event)
		e.str(n.Receipt)
		e.time(n.At)
	}
	// Added after the first release: a record without it has none.
	e.uint(uint64(len(r.FormerRefs)))
	for _, ref := range r.FormerRefs {
		e.str(ref)
	}
	return e.b
}

func decodeRecipient(b []byte) (Recipient, error) {
	d := dec{b: b}
	r := Recipient{Flow: d.str(), Integration: d.str(), Purpose: d.str(), OnErase: d.str(), OnStop: d.str(),
		SecretEnv: d.str(), FirstSent: d.time(), LastSent: d.time()}
	n := d.uint()
	for i := uint64(0); i < n && d.err == nil; i++ {
		r.Notices = append(r.Notices, SentNotice{Flow: r.Flow, Integration: r.Integration, Event: d.str(), Receipt: d.str(), At: d.time()})
	}
	if d.err == nil && len(d.b) > 0 {
		n = d.uint()
		for i := uint64(0); i < n && d.err == nil; i++ {
			r.FormerRefs = append(r.FormerRefs, d.str())
		}
	}
	if d.err != nil {
		return Recipient{}, ErrCorrupt
	}
	return r, nil
}

func encodeNotice(n *Notice) []byte {
	var e enc
	for _, s := range []string{n.Receipt, n.Event, n.Flow, n.Integration, n.URL, n.SecretEnv, n.Ref} {
		e.str(s)
	}
	e.time(n.At)
	e.time(n.NextAt)
	e.int(int64(n.Attempts))
	e.time(n.GiveUpAt)
	return e.b
}

func decodeNotice(b []byte) (Notice, error) {
	d := dec{b: b}
	n := Notice{Receipt: d.str(), Event: d.str(), Flow: d.str(), Integration: d.str(), URL: d.str(),
		SecretEnv: d.str(), Ref: d.str(), At: d.time(), NextAt: d.time(), Attempts: int(d.int()), GiveUpAt: d.time()}
	if d.err != nil {
		return Notice{}, ErrCorrupt
	}
	return n, nil
}

// putRecipient seals r under the subject's key; it expires RecipientKeep
// after the last send.
func putRecipient(txn kvTxn, s SubjectID, sk *subjectKey, r *Recipient, now time.Time) error {
	k := keyR(s, r.Flow, r.Integration)
	exp := r.LastSent.Add(RecipientKeep)
	val, err := sealValue(sk.aead, k, valHdr{expiry: exp.UnixNano()}, encodeRecipient(r))
	if err != nil {
		return err
	}
	return txn.SetTTL(k, val, exp.Sub(now)+ttlMargin)
}

// recipients returns the subject's unexpired recipient records.
func recipients(txn kvReader, s SubjectID, sk *subjectKey, now time.Time) ([]Recipient, error) {
	var out []Recipient
	err := scanLive(txn, prefixR(s), sk, now, func(pt []byte) error {
		r, err := decodeRecipient(pt)
		if err != nil {
			return err
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// applyRecipients records the recipients of a turn and queues the stop
// notices it calls for; it reports whether it queued any.
func (v *Vault) applyRecipients(txn kvTxn, s SubjectID, sk *subjectKey, c *Change, now time.Time) (bool, error) {
	if len(c.Sent) == 0 && !c.Stop && len(c.Withdrawn) == 0 {
		return false, nil
	}
	held, err := recipients(txn, s, sk, now)
	if err != nil {
		return false, err
	}
	byKey := map[string]*Recipient{}
	var order []string // file order of held records, then new ones: same input, same notices
	for i := range held {
		id := held[i].Flow + "/" + held[i].Integration
		byKey[id] = &held[i]
		order = append(order, id)
	}
	changed := map[string]bool{}
	for _, sent := range c.Sent {
		if sent.Flow == "" || sent.Integration == "" || strings.Contains(sent.Flow, "/") {
			return false, errors.New("recipient without a flow or integration name")
		}
		id := sent.Flow + "/" + sent.Integration
		r := byKey[id]
		if r == nil {
			r = &Recipient{FirstSent: now}
			byKey[id] = r
			order = append(order, id)
		}
		notices, first := r.Notices, r.FirstSent
		*r = sent
		r.Notices, r.FirstSent, r.LastSent = notices, first, now
		changed[id] = true
	}
	queued := false
	if c.Stop || len(c.Withdrawn) > 0 {
		for _, id := range order {
			r := byKey[id]
			if r.OnStop == "" || !c.Stop && !slices.Contains(c.Withdrawn, r.Purpose) {
				continue
			}
			// Tell a recipient once per stop, and only if it was sent data
			// since it was last told.
			if last := lastNotice(r, NoticeStop); !last.IsZero() && !r.LastSent.After(last) {
				continue
			}
			ns, err := v.queueNotice(txn, s, r, NoticeStop, r.OnStop, now)
			if err != nil {
				return false, err
			}
			r.Notices = append(r.Notices, ns...)
			changed[id] = true
			queued = true
		}
	}
	for _, id := range order {
		if !changed[id] {
			continue
		}
		if err := putRecipient(txn, s, sk, byKey[id], now); err != nil {
			return false, err
		}
	}
	return queued, nil
}

func lastNotice(r *Recipient, event string) time.Time {
	var t time.Time
	for _, n := range r.Notices {
		if n.Event == event && n.At.After(t) {
			t = n.At
		}
	}
	return t
}

// queueNotice queues r's notices of one event: one for the reference the
// recipient knows the subject by now and one for each former reference
// (FormerRefs). The caller records the returned SentNotices where the
// subject can see them.
func (v *Vault) queueNotice(txn kvTxn, s SubjectID, r *Recipient, event, url string, now time.Time) ([]SentNotice, error) {
	refs := append([]string{v.RecipientRef(s, r.Flow, r.Integration)}, r.FormerRefs...)
	out := make([]SentNotice, 0, len(refs))
	for _, ref := range refs {
		id, err := randomBytes(16)
		if err != nil {
			return nil, err
		}
		n := Notice{
			Receipt: hex.EncodeToString(id), Event: event, Flow: r.Flow, Integration: r.Integration,
			URL: url, SecretEnv: r.SecretEnv, Ref: ref,
			At: now.UTC(), NextAt: now, GiveUpAt: now.Add(NoticeGiveUp),
		}
		if err := v.putNotice(txn, &n, now); err != nil {
			return nil, err
		}
		out = append(out, SentNotice{Flow: r.Flow, Integration: r.Integration, Event: event, Receipt: n.Receipt, At: n.At})
	}
	return out, nil
}

func (v *Vault) putNotice(txn kvTxn, n *Notice, now time.Time) error {
	k := keyNQ(n.Receipt)
	val, err := seal(v.meta, nil, encodeNotice(n), k)
	if err != nil {
		return err
	}
	return txn.SetTTL(k, val, n.GiveUpAt.Sub(now)+ttlMargin)
}

// queueErasureNotices queues an erasure notice for every recipient of s with
// an OnErase address; Erase calls it while the subject's key still opens
// the recipient records.
func (v *Vault) queueErasureNotices(txn kvTxn, s SubjectID, sk *subjectKey, now time.Time) ([]SentNotice, error) {
	held, err := recipients(txn, s, sk, now)
	if err != nil {
		return nil, err
	}
	var out []SentNotice
	for i := range held {
		if held[i].OnErase == "" {
			continue
		}
		ns, err := v.queueNotice(txn, s, &held[i], NoticeErase, held[i].OnErase, now)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	sortNotices(out)
	return out, nil
}

func sortNotices(ns []SentNotice) {
	slices.SortFunc(ns, func(a, b SentNotice) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Flow+"/"+a.Integration, b.Flow+"/"+b.Integration)
	})
}

// Recipients returns the integrations that were sent data about s, with the
// notices queued for each, sorted by flow and integration.
func (v *Vault) Recipients(s SubjectID, now time.Time) ([]Recipient, error) {
	var out []Recipient
	err := v.view(func(txn kvReader) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil || sk == nil {
			return err
		}
		out, err = recipients(txn, s, sk, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vault: recipients of %s: %w", s, err)
	}
	return out, nil
}

// errEnough ends a scan early.
var errEnough = errors.New("enough")

// DueNotices returns up to max queued notices whose next attempt is due.
func (v *Vault) DueNotices(now time.Time, max int) ([]Notice, error) {
	var out []Notice
	err := v.view(func(txn kvReader) error {
		return txn.Scan(prefixNQ, true, func(k []byte, item kvItem) error {
			if len(out) >= max {
				return errEnough
			}
			return item.Value(func(b []byte) error {
				pt, err := open(v.meta, b, k)
				if err != nil {
					return ErrCorrupt
				}
				n, err := decodeNotice(pt)
				if err != nil {
					return err
				}
				if !n.NextAt.After(now) {
					out = append(out, n)
				}
				return nil
			})
		})
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, fmt.Errorf("vault: notices: %w", err)
	}
	return out, nil
}

// NoticeDelivered removes a delivered notice from the queue.
func (v *Vault) NoticeDelivered(receipt string) error {
	if err := v.update(func(txn kvTxn) error { return txn.Delete(keyNQ(receipt)) }); err != nil {
		return fmt.Errorf("vault: notice delivered: %w", err)
	}
	return nil
}

// NoticeFailed records a failed delivery of n: the next attempt waits a
// doubling backoff, and once n.GiveUpAt has passed the notice is removed
// and gaveUp is true.
func (v *Vault) NoticeFailed(n Notice, now time.Time) (gaveUp bool, err error) {
	err = v.update(func(txn kvTxn) error {
		if !now.Before(n.GiveUpAt) {
			gaveUp = true
			return txn.Delete(keyNQ(n.Receipt))
		}
		wait := noticeBackoff << min(n.Attempts, 10)
		n.Attempts++
		n.NextAt = now.Add(min(wait, noticeMaxBackoff))
		return v.putNotice(txn, &n, now)
	})
	if err != nil {
		return false, fmt.Errorf("vault: notice failed: %w", err)
	}
	return gaveUp, nil
}
