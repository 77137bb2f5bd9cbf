package vault

import (
	"bytes"
	"crypto/ecdh"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Incident is a personal data breach as the controller documents it (GDPR
// Art 33(5)): what happened, when it was detected, which record kinds and
// purposes it touched and how many customers it may concern, and whether
// they were told (Art 34). It holds no personal data: counts, never who.
type Incident struct {
	ID                string
	What              string
	DetectedAt        time.Time
	RecordedAt        time.Time
	Kinds             []string // IncidentKinds
	Purposes          []string // purpose names; none: every purpose
	EstimatedSubjects int
	// NotifiedAt is when the Art 34 message was queued (zero: not yet),
	// for Notified customers, as template Template in Language.
	NotifiedAt         time.Time
	Notified           int
	Template, Language string
	// KeepUntil ends the record's life (RecordedAt plus IncidentKeep).
	KeepUntil time.Time
}

// IncidentKeep is how long an incident record is kept: the documentation
// of Art 33(5) must outlive the supervisory authority's follow-up.
const IncidentKeep = 5 * 365 * 24 * time.Hour

// IncidentKinds are the record kinds an incident may name: field values,
// consent records, conversation states and recipient records.
var IncidentKinds = []string{"fields", "consents", "conversations", "recipients"}

// ErrIncidentNotified is returned by NotifyIncident for an incident whose
// customers were already notified.
var ErrIncidentNotified = errors.New("vault: the incident's customers were already notified")

// ch/<s>: the channel address of a subject (incident.go).
func keyCH(s SubjectID) []byte { return []byte("ch/" + s) }

// ic/<id>: an incident, sealed under the meta key.
func keyIC(id string) []byte { return []byte("ic/" + id) }

func encodeIncident(in *Incident) []byte {
	var e enc
	e.str(in.ID)
	e.str(in.What)
	e.time(in.DetectedAt)
	e.time(in.RecordedAt)
	e.str(strings.Join(in.Kinds, ","))
	e.str(strings.Join(in.Purposes, ","))
	e.int(int64(in.EstimatedSubjects))
	e.time(in.NotifiedAt)
	e.int(int64(in.Notified))
	e.str(in.Template)
	e.str(in.Language)
	e.time(in.KeepUntil)
	return e.b
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func decodeIncident(b []byte) (Incident, error) {
	d := dec{b: b}
	in := Incident{ID: d.str(), What: d.str(), DetectedAt: d.time(), RecordedAt: d.time(),
		Kinds: splitList(d.str()), Purposes: splitList(d.str()), EstimatedSubjects: int(d.int()),
		NotifiedAt: d.time(), Notified: int(d.int()), Template: d.str(), Language: d.str(), KeepUntil: d.time()}
	if d.err != nil {
		return Incident{}, ErrCorrupt
	}
	return in, nil
}

func (v *Vault) putIncident(txn kvTxn, in *Incident) error {
	k := keyIC(in.ID)
	val, err := seal(v.meta, nil, encodeIncident(in), k)
	if err != nil {
		return err
	}
	return txn.Set(k, val)
}

func (v *Vault) getIncident(txn kvReader, id string) (Incident, error) {
	item, err := txn.Get(keyIC(id))
	if errors.Is(err, store.ErrNotFound) {
		return Incident{}, ErrNotFound
	}
	if err != nil {
		return Incident{}, err
	}
	var in Incident
	err = item.Value(func(b []byte) error {
		pt, err := open(v.meta, b, keyIC(id))
		if err != nil {
			return ErrCorrupt
		}
		in, err = decodeIncident(pt)
		return err
	})
	return in, err
}

// AddIncident records an incident and returns it with its id: the
// detection day and a number, 2026-11-29-1. Kinds must be IncidentKinds.
func (v *Vault) AddIncident(in Incident, now time.Time) (Incident, error) {
	for _, k := range in.Kinds {
		if !slices.Contains(IncidentKinds, k) {
			return Incident{}, fmt.Errorf("vault: unknown record kind %q", k)
		}
	}
	in.RecordedAt = now.UTC()
	in.DetectedAt = in.DetectedAt.UTC()
	in.KeepUntil = in.RecordedAt.Add(IncidentKeep)
	in.NotifiedAt, in.Notified, in.Template, in.Language = time.Time{}, 0, "", ""
	day := in.DetectedAt.Format(time.DateOnly)
	err := v.update(func(txn kvTxn) error {
		n := 0
		err := txn.Scan([]byte("ic/"+day+"-"), false, func([]byte, kvItem) error { n++; return nil })
		if err != nil {
			return err
		}
		in.ID = day + "-" + strconv.Itoa(n+1)
		return v.putIncident(txn, &in)
	})
	if err != nil {
		return Incident{}, fmt.Errorf("vault: add incident: %w", err)
	}
	return in, nil
}

// scanIncidents calls fn with every incident record and its key.
func (v *Vault) scanIncidents(fn func(k []byte, in Incident)) error {
	return v.view(func(txn kvReader) error {
		return txn.Scan([]byte("ic/"), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				pt, err := open(v.meta, b, k)
				if err != nil {
					return ErrCorrupt
				}
				in, err := decodeIncident(pt)
				if err == nil {
					fn(k, in)
				}
				return err
			})
		})
	})
}

// Incidents returns every incident recorded, oldest detection first.
func (v *Vault) Incidents() ([]Incident, error) {
	var out []Incident
	err := v.scanIncidents(func(_ []byte, in Incident) { out = append(out, in) })
	if err != nil {
		return nil, fmt.Errorf("vault: incidents: %w", err)
	}
	slices.SortStableFunc(out, func(a, b Incident) int {
		if c := a.DetectedAt.Compare(b.DetectedAt); c != 0 {
			return c
		}
		return a.RecordedAt.Compare(b.RecordedAt)
	})
	return out, nil
}

// GetIncident returns one incident, or ErrNotFound.
func (v *Vault) GetIncident(id string) (Incident, error) {
	var in Incident
	err := v.view(func(txn kvReader) (err error) {
		in, err = v.getIncident(txn, id)
		return err
	})
	if err != nil {
		return Incident{}, fmt.Errorf("vault: incident %s: %w", id, err)
	}
	return in, nil
}

// Addressee is an affected subject and the channel address its replies go
// to: Held says one is held; Channel and User are set only when the
// private address key was given.
type Addressee struct {
	Subject SubjectID
	Held    bool
	Channel string
	User    string
}

// IncidentAudience returns the subjects the incident concerns, as of now:
// those holding an unexpired record of one of its kinds, for one of its
// purposes when the kind has one (fields, consents, recipients). Erased
// subjects hold nothing readable and are never among them. Each comes with
// the channel address held sealed under its key, if any.
func (v *Vault) IncidentAudience(id string, priv *ecdh.PrivateKey, now time.Time) ([]Addressee, error) {
	var out []Addressee
	err := v.view(func(txn kvReader) error {
		in, err := v.getIncident(txn, id)
		if err != nil {
			return err
		}
		out, err = v.audience(txn, &in, priv, now)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("vault: incident %s: %w", id, err)
	}
	return out, nil
}

// CountAffected counts the subjects an incident not yet recorded would
// concern, as of now (IncidentAudience).
func (v *Vault) CountAffected(in Incident, now time.Time) (int, error) {
	var n int
	err := v.view(func(txn kvReader) error {
		aud, err := v.audience(txn, &in, nil, now)
		n = len(aud)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("vault: count affected: %w", err)
	}
	return n, nil
}

func (v *Vault) audience(txn kvReader, in *Incident, priv *ecdh.PrivateKey, now time.Time) ([]Addressee, error) {
	purpose := func(p string) bool { return len(in.Purposes) == 0 || slices.Contains(in.Purposes, p) }
	keys := map[SubjectID]*subjectKey{}
	hit := map[SubjectID]bool{}
	scan := func(prefix string, match func(pt []byte) (bool, error)) error {
		return txn.Scan([]byte(prefix), true, func(k []byte, item kvItem) error {
			if len(k) < len(prefix)+subjectLen {
				return nil
			}
			s := SubjectID(k[len(prefix) : len(prefix)+subjectLen])
			if hit[s] {
				return nil
			}
			sk, err := v.cachedKey(txn, keys, s)
			if err != nil || sk == nil {
				return err // erased or expired: nothing readable
			}
			return item.Value(func(b []byte) error {
				h, ok := parseHdr(b)
				if !ok || h.expired(now) || h.flags&flagDead != 0 {
					return nil
				}
				pt, err := openValue(sk.aead, k, b)
				if err != nil {
					return err
				}
				ok, err = match(pt)
				if ok {
					hit[s] = true
				}
				return err
			})
		})
	}
	for _, kind := range in.Kinds {
		var err error
		switch kind {
		case "fields":
			err = scan("f/", func(pt []byte) (bool, error) {
				f, err := decodeField(pt)
				return err == nil && purpose(f.Purpose), err
			})
		case "consents":
			err = scan("c/", func(pt []byte) (bool, error) {
				c, err := decodeConsent(pt)
				return err == nil && purpose(c.Purpose), err
			})
		case "conversations":
			err = scan("s/", func([]byte) (bool, error) { return true, nil })
		case "recipients":
			err = scan("r/", func(pt []byte) (bool, error) {
				r, err := decodeRecipient(pt)
				return err == nil && purpose(r.Purpose), err
			})
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]Addressee, 0, len(hit))
	for s := range hit {
		a := Addressee{Subject: s}
		var err error
		a.Held, a.Channel, a.User, err = v.address(txn, s, keys[s], priv)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Addressee) int { return strings.Compare(string(a.Subject), string(b.Subject)) })
	return out, nil
}

// address reports whether a channel address is held for s and, with the
// private address key, reads it.
func (v *Vault) address(txn kvReader, s SubjectID, sk *subjectKey, priv *ecdh.PrivateKey) (held bool, channel, user string, err error) {
	item, err := txn.Get(keyCH(s))
	if errors.Is(err, store.ErrNotFound) {
		return false, "", "", nil
	}
	if err != nil {
		return false, "", "", err
	}
	if priv == nil {
		return true, "", "", nil
	}
	err = item.Value(func(b []byte) error {
		inner, err := openValue(sk.aead, keyCH(s), b)
		if err != nil {
			return err
		}
		pt, err := openWithAddressKey(priv, inner, keyCH(s))
		if err != nil {
			return ErrWrongAddressKey
		}
		c, u, ok := bytes.Cut(pt, []byte{0})
		if !ok {
			return ErrCorrupt
		}
		channel, user = string(c), string(u)
		return nil
	})
	return true, channel, user, err
}

// ErrWrongAddressKey means the private address key given does not open the
// addresses held (it is not the pair of the server's PARLEY_ADDRESS_KEY).
var ErrWrongAddressKey = errors.New("vault: the private address key does not open the addresses held")

// putAddress holds the channel address of s, sealed to the address key and
// under the subject's key, unless it is held already (a subject id is
// derived from its address, so it never changes) or no address key is set.
func (v *Vault) putAddress(txn kvTxn, s SubjectID, sk *subjectKey, channel, user string) error {
	pub := v.addrKey.Load()
	if pub == nil {
		return nil
	}
	if _, err := txn.Get(keyCH(s)); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	inner, err := sealToAddressKey(pub, []byte(channel+"\x00"+user), keyCH(s))
	if err != nil {
		return err
	}
	val, err := sealValue(sk.aead, keyCH(s), valHdr{}, inner)
	if err != nil {
		return err
	}
	return txn.Set(keyCH(s), val)
}

// notifyBatch is how many customers one transaction of NotifyIncident
// queues: a breach may concern more than one Badger transaction holds.
var notifyBatch = 500

// notifyBatchDone, when set (tests), runs after each committed batch; an
// error stops the notification there, as a crash would.
var notifyBatchDone func(batch int) error

// IncidentNotifyKeep is how long the marks of the customers a notification
// queued (iw/<id>/<s>: pseudonyms only) are kept, so that a notification
// interrupted halfway resumes without queueing anyone twice.
const IncidentNotifyKeep = 30 * 24 * time.Hour

func keyIW(id string, s SubjectID) []byte { return []byte("iw/" + id + "/" + string(s)) }

// NotifyIncident queues one outbox entry for each affected subject whose
// channel address on channel is held: payload(user) is the entry. The
// entries are written in batches (notifyBatch customers per transaction);
// each entry is written with a mark of its subject (iw/), in the same
// transaction, and a subject already marked is skipped, so a notification
// that crashed halfway is resumed by running it again, queueing nobody
// twice, and two runs at once queue each customer once. The incident's
// notified mark is written last. The host's outbox then delivers the
// entries (paced, resumed after a restart; on a shared store the running
// instances claim them at once). It returns how many are queued in all,
// earlier interrupted runs included; an incident already notified is
// refused (ErrIncidentNotified).
func (v *Vault) NotifyIncident(id, channel, template, language string, priv *ecdh.PrivateKey, payload func(user string) []byte, now time.Time) (int, error) {
	v.tk.use.RLock()
	defer v.tk.use.RUnlock()
	var aud []Addressee
	err := v.view(func(txn kvReader) error {
		in, err := v.getIncident(txn, id)
		if err != nil {
			return err
		}
		if !in.NotifiedAt.IsZero() {
			return ErrIncidentNotified
		}
		aud, err = v.audience(txn, &in, priv, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("vault: notify incident %s: %w", id, err)
	}
	aud = slices.DeleteFunc(aud, func(a Addressee) bool { return a.Channel != channel || a.User == "" })
	total := 0
	for b := 0; len(aud) > 0; b++ {
		chunk := aud[:min(notifyBatch, len(aud))]
		aud = aud[len(chunk):]
		res, err := v.reserveSeqs(len(chunk), 0)
		if err != nil {
			return total, fmt.Errorf("vault: notify incident %s: %w", id, err)
		}
		n := 0
		err = v.update(func(txn kvTxn) error {
			res.again()
			txn.res = res
			n = 0
			in, err := v.getIncident(txn, id)
			if err != nil {
				return err
			}
			if !in.NotifiedAt.IsZero() {
				return ErrIncidentNotified
			}
			for _, a := range chunk {
				if _, err := txn.Get(keyIW(id, a.Subject)); err == nil {
					n++ // queued by an earlier run
					continue
				} else if !errors.Is(err, store.ErrNotFound) {
					return err
				}
				sk, err := v.liveKey(txn, a.Subject, false, now)
				if err != nil {
					return err
				}
				if sk == nil {
					continue // erased meanwhile
				}
				if _, err := v.putOutbox(txn, a.Subject, sk, payload(a.User), OutboxQueued, now); err != nil {
					return err
				}
				if err := txn.SetTTL(keyIW(id, a.Subject), clearValue(now.Add(IncidentNotifyKeep), nil), IncidentNotifyKeep+ttlMargin); err != nil {
					return err
				}
				n++
			}
			return nil
		})
		if err == nil {
			err = v.durable()
		}
		if err == nil && notifyBatchDone != nil {
			err = notifyBatchDone(b)
		}
		if err != nil {
			return total, fmt.Errorf("vault: notify incident %s: %w", id, err)
		}
		total += n
	}
	err = v.update(func(txn kvTxn) error {
		in, err := v.getIncident(txn, id)
		if err != nil {
			return err
		}
		if !in.NotifiedAt.IsZero() {
			return ErrIncidentNotified
		}
		in.NotifiedAt, in.Notified, in.Template, in.Language = now.UTC(), total, template, language
		return v.putIncident(txn, &in)
	})
	if err == nil {
		err = v.durable()
	}
	if err != nil {
		return total, fmt.Errorf("vault: notify incident %s: %w", id, err)
	}
	return total, nil
}

// sweepIncidents drops incident records past their KeepUntil.
func (v *Vault) sweepIncidents(now time.Time) (int, error) {
	var drop [][]byte
	err := v.scanIncidents(func(k []byte, in Incident) {
		if !in.KeepUntil.IsZero() && now.After(in.KeepUntil) {
			drop = append(drop, bytes.Clone(k))
		}
	})
	if err != nil || len(drop) == 0 {
		return 0, err
	}
	return len(drop), v.update(func(txn kvTxn) error {
		for _, k := range drop {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}
