package vault

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
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
type BroadcastRun struct {
	ID             string
	Flow, Template string
	Started        time.Time
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

// BroadcastStart returns the unfinished broadcast of template in flow
// (resumed), or records a new one started at now.
func (v *Vault) BroadcastStart(flow, template string, now time.Time) (run BroadcastRun, resumed bool, err error) {
	if strings.Contains(flow+template, "/") || flow == "" || template == "" {
		return run, false, errors.New("vault: broadcast without a flow or template name")
	}
	err = v.update(func(txn kvTxn) error {
		if item, err := txn.Get(keyBM(flow, template)); err == nil {
			err = item.Value(func(b []byte) error {
				if h, ok := parseHdr(b); ok && !h.expired(now) {
					d := dec{b: b[valHdrLen:]}
					run = BroadcastRun{ID: d.str(), Flow: flow, Template: template, Started: d.time()}
					resumed = d.err == nil
				}
				return nil
			})
			if err != nil || resumed {
				return err
			}
		}
		id, err := randomBytes(8)
		if err != nil {
			return err
		}
		run = BroadcastRun{ID: fmt.Sprintf("%x", id), Flow: flow, Template: template, Started: now}
		var e enc
		e.str(run.ID)
		e.time(run.Started)
		return txn.SetTTL(keyBM(flow, template), clearValue(now.Add(BroadcastKeep), e.b), BroadcastKeep+ttlMargin)
	})
	if err != nil {
		return BroadcastRun{}, false, fmt.Errorf("vault: broadcast start: %w", err)
	}
	return run, resumed, nil
}

// BroadcastMark records, durably, the state of the broadcast's send to s.
func (v *Vault) BroadcastMark(run BroadcastRun, s SubjectID, state byte, now time.Time) error {
	err := v.update(func(txn kvTxn) error {
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
func (v *Vault) BroadcastFinish(run BroadcastRun) error {
	err := v.update(func(txn kvTxn) error { return txn.Delete(keyBM(run.Flow, run.Template)) })
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return fmt.Errorf("vault: broadcast finish: %w", err)
	}
	return nil
}
