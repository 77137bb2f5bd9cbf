package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Contact is where a subject who granted a consent can be reached for that
// purpose outside a conversation (a broadcast of the purpose's template):
// the channel and the customer's id on it, sealed under the subject key at
// b/<s>/<purpose>/<flow>. It is written only with a grant in a flow that
// declares a template for the purpose, and goes with the consent: a
// withdrawal, STOP or erasure removes it.
type Contact struct {
	Subject        SubjectID
	Purpose, Flow  string
	Channel, To    string
	Granted, Until time.Time
}

func prefixB(s SubjectID) []byte { return []byte("b/" + s + "/") }

func keyB(s SubjectID, purpose, flow string) []byte {
	return []byte("b/" + string(s) + "/" + purpose + "/" + flow)
}

func encodeContact(c *Contact) []byte {
	var e enc
	e.str(c.Purpose)
	e.str(c.Flow)
	e.str(c.Channel)
	e.str(c.To)
	e.time(c.Granted)
	e.time(c.Until)
	return e.b
}

func decodeContact(s SubjectID, b []byte) (Contact, error) {
	d := dec{b: b}
	c := Contact{Subject: s, Purpose: d.str(), Flow: d.str(), Channel: d.str(), To: d.str(), Granted: d.time(), Until: d.time()}
	if d.err != nil {
		return Contact{}, ErrCorrupt
	}
	return c, nil
}

// applyContacts drops the contacts a turn's STOP or withdrawals end, then
// writes its new ones (a grant after a withdrawal in the same turn wins).
func applyContacts(txn kvTxn, s SubjectID, sk *subjectKey, c *Change, now time.Time) error {
	if c.Stop {
		if err := killLive(txn, prefixB(s)); err != nil {
			return err
		}
	}
	for _, p := range c.Withdrawn {
		if err := killLive(txn, []byte(string(prefixB(s))+p+"/")); err != nil {
			return err
		}
	}
	for i := range c.Contacts {
		ct := &c.Contacts[i]
		if ct.Purpose == "" || ct.Flow == "" || ct.To == "" || strings.Contains(ct.Purpose+ct.Flow, "/") {
			return errors.New("contact without a purpose, flow or address")
		}
		if !ct.Until.After(now) {
			continue
		}
		k := keyB(s, ct.Purpose, ct.Flow)
		val, err := sealValue(sk.aead, k, valHdr{expiry: ct.Until.UnixNano()}, encodeContact(ct))
		if err != nil {
			return err
		}
		if err := txn.SetTTL(k, val, ct.Until.Sub(now)+ttlMargin); err != nil {
			return err
		}
	}
	return nil
}

// Contacts returns the live contacts for purpose in flow whose subject's
// latest consent decision for it is a grant, sorted by subject: the only
// audience a broadcast of the purpose's template may have.
func (v *Vault) Contacts(flow, purpose string, now time.Time) ([]Contact, error) {
	var subjects []SubjectID
	err := v.view(func(txn kvReader) error {
		return txn.Scan([]byte("b/"), false, func(k []byte, _ kvItem) error {
			if len(k) > 2+subjectLen && string(k[2+subjectLen:]) == "/"+purpose+"/"+flow {
				subjects = append(subjects, SubjectID(bytes.Clone(k[2:2+subjectLen])))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: contacts: %w", err)
	}
	var out []Contact
	for _, s := range subjects {
		c, ok, err := v.Contact(s, flow, purpose, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Subject < out[j].Subject })
	return out, nil
}

// Contact returns the subject's live contact for purpose in flow, and
// false when there is none or the subject's latest consent decision for the
// purpose is not a grant. A broadcast asks again right before each send, so
// a STOP processed meanwhile takes effect before the next one.
func (v *Vault) Contact(s SubjectID, flow, purpose string, now time.Time) (Contact, bool, error) {
	var c Contact
	found := false
	err := v.view(func(txn kvReader) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil || sk == nil {
			return err
		}
		k := keyB(s, purpose, flow)
		item, err := txn.Get(k)
		if err != nil {
			return nil // none
		}
		return item.Value(func(b []byte) error {
			h, ok := parseHdr(b)
			if !ok || h.expired(now) {
				return nil
			}
			pt, err := openValue(sk.aead, k, b)
			if err != nil {
				return err
			}
			c, err = decodeContact(s, pt)
			found = err == nil
			return err
		})
	})
	if err != nil || !found {
		return Contact{}, false, err
	}
	granted, err := v.ConsentGranted(s, flow, purpose, now)
	if err != nil || !granted {
		return Contact{}, false, err
	}
	return c, true, nil
}

// BroadcastKeep is how long a broadcast's progress is kept.
const BroadcastKeep = 30 * 24 * time.Hour

// Broadcast progress states of one subject.
const (
	BroadcastSending byte = 1 // the send started: after a crash it may have been delivered
	BroadcastSent    byte = 2
	BroadcastFailed  byte = 3
)

// BroadcastRun is one broadcast of a flow's template: bm/<flow>/<template>
// holds the unfinished one, so running the same broadcast again resumes it.
// The record also holds a lease: who runs the broadcast and until when, so
// that two processes (or two requests) never run it at once.
type BroadcastRun struct {
	ID             string
	Flow, Template string
	Started        time.Time
	owner          string // this instance's id and a token of this run
}

// BroadcastLease is how long a broadcast stays claimed by the process
// running it without recording progress. Every send renews it. A run
// whose process died is resumed by another process on a shared store
// (PostgreSQL) once its lease has passed; on a data directory, which one
// process opens at a time, at once.
const BroadcastLease = time.Minute

// ErrBroadcastRunning is returned by BroadcastStart when the template's
// broadcast is being run, by this process or (on a shared store) by
// another one whose lease has not passed: see BroadcastBusy.
var ErrBroadcastRunning = errors.New("vault: this template's broadcast is already running")

// ErrBroadcastTaken is returned by BroadcastMark and BroadcastFinish to a
// run whose lease passed and which another process took over: it must stop
// at once (that process sends the rest).
var ErrBroadcastTaken = errors.New("vault: this broadcast was taken over by another process after its lease passed")

// BroadcastBusy is the error of a start refused because the broadcast is
// running; Until is when its lease passes if its process makes no progress.
type BroadcastBusy struct {
	ID    string
	Until time.Time
}

func (e *BroadcastBusy) Error() string {
	return fmt.Sprintf("%v (broadcast %s; if the process running it died, it can be resumed after %s)",
		ErrBroadcastRunning, e.ID, e.Until.UTC().Format(time.RFC3339))
}

func (e *BroadcastBusy) Unwrap() error { return ErrBroadcastRunning }

// instanceID is a random name for one open vault, made on first use.
type instanceID struct {
	once sync.Once
	id   string
}

func (i *instanceID) get() string {
	i.once.Do(func() {
		b, err := randomBytes(8)
		if err != nil {
			panic("vault: no randomness: " + err.Error())
		}
		i.id = fmt.Sprintf("%x", b)
	})
	return i.id
}

func keyBM(flow, template string) []byte { return []byte("bm/" + flow + "/" + template) }

func keyBQ(id string, s SubjectID) []byte { return []byte("bq/" + id + "/" + string(s)) }

// clearValue is an unsealed record with the header the sweep reads.
func clearValue(exp time.Time, payload []byte) []byte {
	out := make([]byte, valHdrLen, valHdrLen+len(payload))
	out[0] = 1
	binary.BigEndian.PutUint64(out[2:], uint64(exp.UnixNano()))
	return append(out, payload...)
}

// bmRecord is the unfinished broadcast record: the run and its lease.
type bmRecord struct {
	run   BroadcastRun
	lease time.Time // zero: released
}

func readBM(txn kvReader, flow, template string, now time.Time) (rec bmRecord, ok bool, err error) {
	item, err := txn.Get(keyBM(flow, template))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return rec, false, err
	}
	err = item.Value(func(b []byte) error {
		if h, live := parseHdr(b); live && !h.expired(now) {
			d := dec{b: b[valHdrLen:]}
			rec.run = BroadcastRun{ID: d.str(), Flow: flow, Template: template, Started: d.time()}
			if d.err != nil {
				return ErrCorrupt
			}
			if len(d.b) > 0 { // older records hold no lease
				rec.run.owner, rec.lease = d.str(), d.time()
				if d.err != nil {
					return ErrCorrupt
				}
			}
			ok = true
		}
		return nil
	})
	return rec, ok, err
}

func writeBM(txn kvTxn, rec bmRecord, now time.Time) error {
	var e enc
	e.str(rec.run.ID)
	e.time(rec.run.Started)
	e.str(rec.run.owner)
	e.time(rec.lease)
	exp := rec.run.Started.Add(BroadcastKeep)
	return txn.SetTTL(keyBM(rec.run.Flow, rec.run.Template), clearValue(exp, e.b), max(exp.Sub(now), 0)+ttlMargin)
}

// BroadcastStart claims the broadcast of template in flow for this run:
// the unfinished one (resumed) or a new one started at now. It fails with
// a *BroadcastBusy (ErrBroadcastRunning) while another run holds it: one
// in this process, or on a shared store one in any process whose lease
// has not passed. A data directory is opened by one process at a time, so
// there a lease another process left behind is a dead one and is taken
// over at once.
func (v *Vault) BroadcastStart(flow, template string, now time.Time) (run BroadcastRun, resumed bool, err error) {
	if strings.Contains(flow+template, "/") || flow == "" || template == "" {
		return run, false, errors.New("vault: broadcast without a flow or template name")
	}
	token, err := randomBytes(8)
	if err != nil {
		return run, false, err
	}
	me := v.bcastID.get()
	owner := fmt.Sprintf("%s/%x", me, token)
	err = v.update(func(txn kvTxn) error {
		resumed = false
		rec, ok, err := readBM(txn, flow, template, now)
		if err != nil {
			return err
		}
		if ok {
			held := rec.run.owner != "" && rec.lease.After(now)
			mine := strings.HasPrefix(rec.run.owner, me+"/")
			if held && (mine || v.Shared()) {
				return &BroadcastBusy{ID: rec.run.ID, Until: rec.lease}
			}
			resumed = true
		} else {
			id, err := randomBytes(8)
			if err != nil {
				return err
			}
			rec.run = BroadcastRun{ID: fmt.Sprintf("%x", id), Flow: flow, Template: template, Started: now}
		}
		rec.run.owner, rec.lease = owner, now.Add(BroadcastLease)
		run = rec.run
		return writeBM(txn, rec, now)
	})
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return BroadcastRun{}, false, fmt.Errorf("vault: broadcast start: %w", err)
	}
	return run, resumed, nil
}

// claimBM checks, inside txn, that run still holds its broadcast, and
// renews its lease (or, with lease zero, releases it).
func claimBM(txn kvTxn, run BroadcastRun, lease, now time.Time) error {
	rec, ok, err := readBM(txn, run.Flow, run.Template, now)
	if err != nil {
		return err
	}
	if !ok || rec.run.ID != run.ID || rec.run.owner != run.owner {
		return ErrBroadcastTaken
	}
	rec.lease = lease
	return writeBM(txn, rec, now)
}

// BroadcastMark records, durably, the state of the broadcast's send to s,
// and renews run's lease. ErrBroadcastTaken: another process took the
// broadcast over; nothing was written.
func (v *Vault) BroadcastMark(run BroadcastRun, s SubjectID, state byte, now time.Time) error {
	err := v.update(func(txn kvTxn) error {
		if err := claimBM(txn, run, now.Add(BroadcastLease), now); err != nil {
			return err
		}
		var e enc
		e.uint(uint64(state))
		e.time(now)
		return txn.SetTTL(keyBQ(run.ID, s), clearValue(now.Add(BroadcastKeep), e.b), BroadcastKeep+ttlMargin)
	})
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return fmt.Errorf("vault: broadcast progress: %w", err)
	}
	return nil
}

// BroadcastRelease gives up run's lease without finishing it (the run
// stopped on an error or was interrupted): the next start resumes it at
// once. A run already taken over is left alone.
func (v *Vault) BroadcastRelease(run BroadcastRun, now time.Time) error {
	err := v.update(func(txn kvTxn) error {
		err := claimBM(txn, run, time.Time{}, now)
		if errors.Is(err, ErrBroadcastTaken) {
			return nil
		}
		return err
	})
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return fmt.Errorf("vault: broadcast release: %w", err)
	}
	return nil
}

// BroadcastMarks returns the recorded state of every subject of run.
func (v *Vault) BroadcastMarks(run BroadcastRun) (map[SubjectID]byte, error) {
	out := map[SubjectID]byte{}
	prefix := []byte("bq/" + run.ID + "/")
	err := v.view(func(txn kvReader) error {
		return txn.Scan(prefix, true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				if len(b) > valHdrLen {
					d := dec{b: b[valHdrLen:]}
					if st := d.uint(); d.err == nil {
						out[SubjectID(bytes.Clone(k[len(prefix):]))] = byte(st)
					}
				}
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: broadcast progress: %w", err)
	}
	return out, nil
}

// BroadcastFinish marks run finished: the next broadcast of its template
// is a new one. Its progress stays until BroadcastKeep has passed.
// ErrBroadcastTaken: another process took it over (and finishes it).
func (v *Vault) BroadcastFinish(run BroadcastRun, now time.Time) error {
	err := v.update(func(txn kvTxn) error {
		if err := claimBM(txn, run, now, now); err != nil {
			return err
		}
		return txn.Delete(keyBM(run.Flow, run.Template))
	})
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return fmt.Errorf("vault: broadcast finish: %w", err)
	}
	return nil
}
