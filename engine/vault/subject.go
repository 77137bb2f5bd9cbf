package vault

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// SubjectID is the pseudonym of one customer: hex HMAC-SHA256 under a pepper
// kept sealed inside the vault, of channel + ":" + user id. It is what every
// storage key, log line and receipt uses instead of a phone number or user
// id. It is still personal data (it links records), so it prints truncated.
type SubjectID string

const subjectLen = 64

// String shows a short prefix, enough to tell subjects apart in logs.
func (s SubjectID) String() string {
	if len(s) > 12 {
		return "subj:" + string(s[:12])
	}
	return "subj:" + string(s)
}

// LogValue logs the same short prefix as String.
func (s SubjectID) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Hex returns the full id, for the CLI and admin API.
func (s SubjectID) Hex() string { return string(s) }

// ParseSubjectID checks the form of a full subject id given by an operator.
func ParseSubjectID(h string) (SubjectID, error) {
	if len(h) != subjectLen {
		return "", fmt.Errorf("vault: subject id must be %d hex digits", subjectLen)
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", errors.New("vault: subject id must be hex")
	}
	return SubjectID(h), nil
}

// SubjectID maps a channel user to its pseudonym. The channel's user id is
// taken as is; the caller normalises it (E.164 for phone numbers).
func (v *Vault) SubjectID(channel, userID string) SubjectID {
	return SubjectID(v.subjectMAC.hex(32, channel, ":", userID))
}

// FieldRecord is one collected field with what privacy needs to know of it.
type FieldRecord struct {
	Name        string
	Value       []byte
	Purpose     string
	Basis       string
	CollectedAt time.Time
	// ExpiresAt is when the value must be gone; zero marks a session field,
	// dropped at the end of the conversation (or Options.SessionTTL after
	// collection if the conversation never ends).
	ExpiresAt   time.Time
	Flow        string
	FlowVersion int
}

// ConsentRecord is one consent decision. Records are append-only.
type ConsentRecord struct {
	// KeepUntil ends the record's proof period (zero: At plus
	// Options.ConsentProof); Sweep then drops it.
	KeepUntil   time.Time
	Purpose     string
	Granted     bool
	At          time.Time
	Flow        string
	FlowVersion int
	NoticeHash  string // hash of the notice text shown
	MessageID   string // channel message id of the answer
	// Seq orders records; it is set by the vault.
	Seq uint64
	// Campaign is the entry link's campaign reference or the ad the
	// conversation started from ("" for none). Not personal data.
	Campaign string
}

// Change is what one conversation turn changes for a subject. Commit applies
// it in one transaction.
type Change struct {
	// State replaces the conversation state; nil keeps it.
	State []byte
	// StateKeep is how long the state is kept after this commit (the
	// flow's conversation_retention; zero: Options.ConversationRetention).
	StateKeep time.Duration
	// Put stores fields (replacing same-named ones).
	Put []FieldRecord
	// Delete removes fields by name.
	Delete []string
	// Channel and User are the address replies go to: held sealed under
	// the subject's key (once; it never changes for a subject) so that a
	// breach notification can reach the customer (incident.go). Written
	// when the commit makes the subject's key or records a consent.
	Channel, User string
	// Consents appends consent records. A commit with consents is fsynced,
	// unless it also carries InboxDone (see CommitTurn).
	Consents []ConsentRecord
	// EndSession drops the subject's session fields.
	EndSession bool
	// Erase erases the subject instead of applying the rest (see Erase).
	Erase bool
	// Outbox queues messages for the subject in the same transaction, so a
	// turn's replies exist exactly when its state does (see CommitTurn).
	Outbox [][]byte
	// OutboxSending stores the first Outbox entry as OutboxSending instead
	// of OutboxQueued: the caller starts its send right after the commit (the
	// subject has no reply waiting before it), so the mark the sender
	// would write before the send is part of this commit. After a crash
	// between the commit and the send it counts as possibly sent, once.
	OutboxSending bool
	// Sent records the integrations this turn sent data to (see notify.go);
	// Stop queues a stop notice for every recipient of the subject with an
	// OnStop address, Withdrawn for those of the withdrawn purposes.
	Sent      []Recipient
	Stop      bool
	Withdrawn []string
	// Handoff puts the subject in the team's hand-off queue (and queues
	// its notice); HandoffDone takes it out.
	Handoff     *HandoffEntry
	HandoffDone bool
	// InboxDone marks this inbound message processed in the same
	// transaction (processed marker ip/ in the main DB): after a crash a
	// message is either fully processed (state, replies, done) or not at
	// all, and then processed again from the inbox. The message's payload
	// leaves the inbox DB only after the main DB was synced.
	InboxDone string
	// Remind schedules reminders (replacing one of the same purpose, flow
	// and template); RemindCancel cancels reminders. Stop cancels every
	// reminder of the subject, Withdrawn those of the withdrawn purposes.
	Remind       []Reminder
	RemindCancel []Reminder
	// RemindSent is the reminder whose message is c.Outbox: the commit
	// fails with ErrReminderGone, writing nothing, unless it is still
	// scheduled, and cancels it (see QueueReminder).
	RemindSent *Reminder
	// Contacts records where the subject can be reached for the purposes
	// they granted (see Contact); Stop and Withdrawn drop them.
	Contacts []Contact
	// Ack, on a store, acks the claim of the inbound message in the same
	// transaction (see shared.go): when the lease was lost meanwhile the
	// commit fails with store.ErrLeaseLost and nothing is written.
	Ack *store.Lease
}

// Export is everything held about a subject, decrypted, for an access
// request.
type Export struct {
	Subject  SubjectID
	At       time.Time
	State    []byte
	Fields   []FieldRecord
	Consents []ConsentRecord
	// Reminders scheduled and Contacts kept for broadcasts, unexpired.
	Reminders []Reminder
	Contacts  []Contact
}

// Receipt proves an erasure without personal data.
type Receipt struct {
	// ID is a hash over the other fields and the id of the destroyed key.
	ID      string
	Subject SubjectID
	At      time.Time
	// KeyDestroyed is false if the subject had no data key (nothing held).
	KeyDestroyed bool
	States       int
	Fields       int
	Consents     int
	Inbox        int
	Outbox       int
	// PurgePending is true while the ciphertexts and the wrapped key still
	// sit in the database files, unreadable, waiting for the batched purge.
	PurgePending bool
	// Notices lists the erasure notices queued for the recipients of the
	// subject's data (see notify.go).
	Notices []SentNotice
}

// Key layout helpers. Subject ids have a fixed length, so "s/"+s is a prefix
// of exactly one subject's keys.
func keyK(s SubjectID) []byte           { return []byte("k/" + s) }
func keyS(s SubjectID) []byte           { return []byte("s/" + s) }
func keyE(s SubjectID) []byte           { return []byte("e/" + s) }
func keyPQ(s SubjectID) []byte          { return []byte("pq/" + s) }
func prefixF(s SubjectID) []byte        { return []byte("f/" + s + "/") }
func prefixC(s SubjectID) []byte        { return []byte("c/" + s + "/") }
func keyF(s SubjectID, f string) []byte { return []byte("f/" + string(s) + "/" + f) }
func keyC(s SubjectID, purpose string, seq uint64) []byte {
	return fmt.Appendf(nil, "c/%s/%s/%016x", string(s), purpose, seq)
}

// subjectPrefixes are dropped physically when a subject is purged.
func subjectPrefixes(s SubjectID) [][]byte {
	return [][]byte{keyK(s), keyS(s), prefixF(s), prefixC(s), prefixR(s), keyCH(s), prefixT(s), prefixB(s), keyHQ(s)}
}

// k/<s> value: ver | status | key id (16) | time (8) | [nonce | wrapped DEK]
const (
	keyLive   = 1
	keyErased = 2
	keyHdrLen = 2 + 16 + 8
)

type subjectKey struct {
	status byte
	id     []byte
	aead   cipher.AEAD
	fresh  bool   // created by this transaction (see Vault.keyCreated)
	cached string // its entry in Vault.ciphers, "" if none
}

var errPurgePending = errors.New("vault: subject erased, purge pending")

func (v *Vault) readKey(txn kvReader, s SubjectID) (*subjectKey, error) {
	item, err := txn.Get(keyK(s))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var sk *subjectKey
	err = item.Value(func(b []byte) error {
		if len(b) < keyHdrLen || b[0] != 1 {
			return ErrCorrupt
		}
		sk = &subjectKey{status: b[1], id: append([]byte(nil), b[2:18]...)}
		if sk.status != keyLive {
			return nil
		}
		ck := string(s) + "\x00" + string(b)
		if a := v.ciphers.get(ck); a != nil {
			sk.aead, sk.cached = a, ck
			return nil
		}
		dek, err := open(v.kek, b[keyHdrLen:], append(keyK(s), b[:keyHdrLen]...))
		if err != nil {
			return ErrCorrupt
		}
		sk.aead, err = newGCM(dek)
		clear(dek)
		if err == nil {
			v.ciphers.put(ck, sk.aead)
			sk.cached = ck
		}
		return err
	})
	return sk, err
}

// liveKey returns the subject's key, creating it when create is set.
func (v *Vault) liveKey(txn kvReader, s SubjectID, create bool, now time.Time) (*subjectKey, error) {
	sk, err := v.readKey(txn, s)
	if err != nil {
		return nil, err
	}
	if sk != nil && sk.status == keyErased {
		if create {
			return nil, errPurgePending
		}
		return nil, nil
	}
	if sk != nil || !create {
		return sk, nil
	}
	// DEKs are random, never derived: what can be re-derived cannot be shredded.
	dek, err := randomBytes(dekSize)
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	id, err := randomBytes(16)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, keyHdrLen, keyHdrLen+nonceSize+dekSize+tagSize)
	hdr[0], hdr[1] = 1, keyLive
	copy(hdr[2:], id)
	binary.BigEndian.PutUint64(hdr[18:], uint64(now.UnixNano()))
	val, err := seal(v.kek, hdr, dek, append(keyK(s), hdr...))
	if err != nil {
		return nil, err
	}
	if !txn.writable() {
		return nil, errors.New("vault: creating a subject key in a read-only transaction")
	}
	if err := txn.Set(keyK(s), val); err != nil {
		return nil, err
	}
	a, err := newGCM(dek)
	if err != nil {
		return nil, err
	}
	return &subjectKey{status: keyLive, id: id, aead: a, fresh: true}, nil
}

// Values under a subject: ver | flags | expiry (8, unix nanos, 0 = none) |
// nonce | ciphertext. The header is in clear so the sweeper can find expired
// and deleted fields without unwrapping every subject's key; it is bound
// into the AEAD with the storage key, so it cannot be altered either.
const (
	valHdrLen   = 10
	flagSession = 1 << 0
	flagDead    = 1 << 1 // deleted; kept live so the sweeper can DropPrefix it
)

type valHdr struct {
	flags  byte
	expiry int64
}

func parseHdr(b []byte) (valHdr, bool) {
	if len(b) < valHdrLen || b[0] != 1 {
		return valHdr{}, false
	}
	return valHdr{flags: b[1], expiry: int64(binary.BigEndian.Uint64(b[2:10]))}, true
}

func (h valHdr) expired(now time.Time) bool {
	return h.flags&flagDead != 0 || (h.expiry != 0 && h.expiry <= now.UnixNano())
}

func sealValue(a cipher.AEAD, key []byte, h valHdr, pt []byte) ([]byte, error) {
	out := make([]byte, valHdrLen, valHdrLen+nonceSize+len(pt)+tagSize)
	out[0], out[1] = 1, h.flags
	binary.BigEndian.PutUint64(out[2:], uint64(h.expiry))
	aad := append(append(make([]byte, 0, len(key)+valHdrLen), key...), out...)
	return seal(a, out, pt, aad)
}

func openValue(a cipher.AEAD, key, b []byte) ([]byte, error) {
	if _, ok := parseHdr(b); !ok {
		return nil, ErrCorrupt
	}
	aad := append(append(make([]byte, 0, len(key)+valHdrLen), key...), b[:valHdrLen]...)
	pt, err := open(a, b[valHdrLen:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

func deadMarker() []byte {
	return []byte{1, flagDead, 0, 0, 0, 0, 0, 0, 0, 0}
}

func encodeField(f *FieldRecord) []byte {
	e := sizedEnc(len(f.Name) + len(f.Value) + len(f.Purpose) + len(f.Basis) + len(f.Flow))
	e.str(f.Name)
	e.bytes(f.Value)
	e.str(f.Purpose)
	e.str(f.Basis)
	e.time(f.CollectedAt)
	e.time(f.ExpiresAt)
	e.str(f.Flow)
	e.int(int64(f.FlowVersion))
	return e.b
}

func decodeField(b []byte) (FieldRecord, error) {
	d := dec{b: b}
	f := FieldRecord{Name: d.str(), Value: d.bytes(), Purpose: d.str(), Basis: d.str(),
		CollectedAt: d.time(), ExpiresAt: d.time(), Flow: d.str(), FlowVersion: int(d.int())}
	if d.err != nil {
		return FieldRecord{}, ErrCorrupt
	}
	return f, nil
}

func encodeConsent(c *ConsentRecord) []byte {
	e := sizedEnc(len(c.Purpose) + len(c.Flow) + len(c.NoticeHash) + len(c.MessageID))
	e.str(c.Purpose)
	e.bool(c.Granted)
	e.time(c.At)
	e.str(c.Flow)
	e.int(int64(c.FlowVersion))
	e.str(c.NoticeHash)
	e.str(c.MessageID)
	e.uint(c.Seq)
	if c.Campaign != "" { // added later: records without one decode as before
		e.str(c.Campaign)
	}
	return e.b
}

func decodeConsent(b []byte) (ConsentRecord, error) {
	d := dec{b: b}
	c := ConsentRecord{Purpose: d.str(), Granted: d.bool(), At: d.time(), Flow: d.str(),
		FlowVersion: int(d.int()), NoticeHash: d.str(), MessageID: d.str(), Seq: d.uint()}
	if d.err == nil && len(d.b) > 0 {
		c.Campaign = d.str()
	}
	if d.err != nil {
		return ConsentRecord{}, ErrCorrupt
	}
	return c, nil
}

// LoadSubject returns the subject's conversation state (nil if none) and its
// unexpired fields, sorted by name. Expiry is judged against now, never
// against Badger's clock.
func (v *Vault) LoadSubject(s SubjectID, now time.Time) (state []byte, fields []FieldRecord, err error) {
	err = v.view(func(txn kvReader) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil || sk == nil {
			return err
		}
		state, fields, err = v.loadWith(txn, s, sk, now)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("vault: load subject %s: %w", s, err)
	}
	return state, fields, nil
}

func (v *Vault) loadWith(txn kvReader, s SubjectID, sk *subjectKey, now time.Time) (state []byte, fields []FieldRecord, err error) {
	item, err := txn.Get(keyS(s))
	switch {
	case err == nil:
		err = item.Value(func(b []byte) error {
			if h, ok := parseHdr(b); ok && h.expired(now) {
				return nil // past conversation_retention: gone for the engine
			}
			state, err = openValue(sk.aead, keyS(s), b)
			return err
		})
		if err != nil {
			return nil, nil, err
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, nil, err
	}
	err = scanLive(txn, prefixF(s), sk, now, func(pt []byte) error {
		f, err := decodeField(pt)
		if err != nil {
			return err
		}
		fields = append(fields, f)
		return nil
	})
	return state, fields, err
}

// scanLive opens, with the subject's key, every unexpired record under
// prefix (fields, recipient records: records with a clear expiry header)
// and hands each plaintext to fn. A record without a header is ErrCorrupt.
func scanLive(txn kvReader, prefix []byte, sk *subjectKey, now time.Time, fn func(pt []byte) error) error {
	return txn.Scan(prefix, true, func(k []byte, item kvItem) error {
		return item.Value(func(b []byte) error {
			h, ok := parseHdr(b)
			if !ok {
				return ErrCorrupt
			}
			if h.expired(now) {
				return nil
			}
			pt, err := openValue(sk.aead, k, b)
			if err != nil {
				return err
			}
			return fn(pt)
		})
	})
}

// Commit applies one turn's change in a single transaction. State and field
// writes are not fsynced (see SyncPolicy); a change with consent records is,
// before Commit returns.
func (v *Vault) Commit(s SubjectID, c Change) error {
	_, err := v.CommitTurn(s, c)
	return err
}

// CommitTurn is Commit that also returns the outbox sequence numbers of
// c.Outbox, in order. It is not fsynced unless it holds consent records:
// Badger applies writes in order, so a power cut that loses the turn also
// loses nothing after it, and the inbound message is still in the (fsynced)
// inbox to be processed again.
//
// Consent records of a turn that carries InboxDone are not fsynced either,
// for the same reason: the inbound message that carried the consent answer
// stays, fsynced, in the inbox DB until the main DB has been synced (the
// purge of processed messages runs only after a main DB sync). A power cut
// before that sync loses the consent record and the processed marker
// together, and the message is processed again, recording the consent
// again. A commit without InboxDone (CLI or web chat), or whose message is
// not in the inbox, has no such replay and is fsynced before it returns.
func (v *Vault) CommitTurn(s SubjectID, c Change) (outSeqs []uint64, err error) {
	if c.Erase {
		_, err := v.Erase(s, v.now())
		return nil, err
	}
	now := v.now()
	// Outbox payloads are sealed under a transient key: no rotation may run
	// between sealing and committing.
	v.tk.use.RLock()
	defer v.tk.use.RUnlock()
	var ref inboxRef
	var known, inInbox bool
	if c.InboxDone != "" {
		if ref, known, inInbox, err = v.inboxRefOf(c.InboxDone); err != nil {
			return nil, fmt.Errorf("vault: commit %s: %w", s, err)
		}
	}
	res, err := v.reserveSeqs(len(c.Outbox), len(c.Consents))
	if err != nil {
		return nil, fmt.Errorf("vault: commit %s: %w", s, err)
	}
	for range 10 {
		fresh, queued := false, false
		err := v.update(func(txn kvTxn) error {
			res.again()
			txn.res = res
			outSeqs = outSeqs[:0]
			if known {
				if err := v.markProcessed(txn, ref, now); err != nil {
					return err
				}
			}
			if c.Ack != nil && txn.t != nil {
				if err := txn.t.Ack(*c.Ack); err != nil {
					return err
				}
			}
			return v.apply(txn, s, &c, now, &outSeqs, &fresh, &queued)
		})
		if errors.Is(err, errPurgePending) {
			// The subject was erased and is talking to us again before the
			// batched purge ran: purge now so a fresh key can be made.
			if err := v.purge([]SubjectID{s}); err != nil {
				return nil, fmt.Errorf("vault: commit %s: %w", s, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("vault: commit %s: %w", s, err)
		}
		if fresh {
			v.keyCreated(s)
		}
		if queued {
			v.kickNotices()
		}
		if known {
			v.queuePurge(ref)
		}
		if len(c.Consents) > 0 && !inInbox {
			return outSeqs, v.durable()
		}
		return outSeqs, nil
	}
	return nil, fmt.Errorf("vault: commit %s: %w", s, errPurgePending)
}

func (v *Vault) apply(txn kvTxn, s SubjectID, c *Change, now time.Time, outSeqs *[]uint64, fresh, queued *bool) error {
	needKey := c.State != nil || len(c.Put) > 0 || len(c.Consents) > 0 || len(c.Outbox) > 0 || len(c.Sent) > 0 || len(c.Remind) > 0 || len(c.Contacts) > 0
	if c.RemindSent != nil {
		needKey = false // a reminder of a subject without a key is gone
	}
	sk, err := v.liveKey(txn, s, needKey, now)
	if err != nil {
		return err
	}
	if sk == nil {
		if c.RemindSent != nil {
			return ErrReminderGone
		}
		return nil // nothing to write and nothing held
	}
	*fresh = sk.fresh
	// The address is written at a subject's first turn (its key is made)
	// and checked again only on turns that record a consent, so ordinary
	// turns pay nothing for it.
	if c.User != "" && (sk.fresh || len(c.Consents) > 0) {
		if err := v.putAddress(txn, s, sk, c.Channel, c.User); err != nil {
			return err
		}
	}
	if r := c.RemindSent; r != nil {
		if err := checkReminder(txn, sk, r, now); err != nil {
			return err
		}
		c.RemindCancel = append(c.RemindCancel, *r)
	}
	if c.State != nil {
		keep := c.StateKeep
		if keep <= 0 {
			keep = v.opts.ConversationRetention
		}
		val, err := sealValue(sk.aead, keyS(s), valHdr{expiry: now.Add(keep).UnixNano()}, c.State)
		if err != nil {
			return err
		}
		if err := txn.Set(keyS(s), val); err != nil {
			return err
		}
	}
	if c.EndSession {
		if err := killFields(txn, s, func(h valHdr) bool { return h.flags&flagSession != 0 }, nil); err != nil {
			return err
		}
	}
	if len(c.Delete) > 0 {
		names := map[string]bool{}
		for _, n := range c.Delete {
			names[n] = true
		}
		if err := killFields(txn, s, func(valHdr) bool { return true }, names); err != nil {
			return err
		}
	}
	for i := range c.Put {
		if err := v.putField(txn, s, sk, &c.Put[i], now); err != nil {
			return err
		}
	}
	for i := range c.Consents {
		cr := c.Consents[i]
		seq, err := v.nextSeq(txn, "consent")
		if err != nil {
			return err
		}
		cr.Seq = seq
		if cr.KeepUntil.IsZero() {
			at := cr.At
			if at.IsZero() {
				at = now
			}
			cr.KeepUntil = at.Add(v.opts.ConsentProof)
		}
		k := keyC(s, cr.Purpose, seq)
		val, err := sealValue(sk.aead, k, valHdr{expiry: cr.KeepUntil.UnixNano()}, encodeConsent(&cr))
		if err != nil {
			return err
		}
		if err := txn.Set(k, val); err != nil {
			return err
		}
	}
	if *queued, err = v.applyRecipients(txn, s, sk, c, now); err != nil {
		return err
	}
	if err := applyReminders(txn, s, sk, c, now); err != nil {
		return err
	}
	if err := applyContacts(txn, s, sk, c, now); err != nil {
		return err
	}
	if handoffQueued, err := v.applyHandoff(txn, s, c, now); err != nil {
		return err
	} else if handoffQueued {
		*queued = true
	}
	for i, payload := range c.Outbox {
		status := OutboxQueued
		if i == 0 && c.OutboxSending {
			status = OutboxSending
		}
		seq, err := v.putOutbox(txn, s, sk, payload, status, now)
		if err != nil {
			return err
		}
		*outSeqs = append(*outSeqs, seq)
	}
	return nil
}

func (v *Vault) putField(txn kvTxn, s SubjectID, sk *subjectKey, f *FieldRecord, now time.Time) error {
	if f.Name == "" {
		return errors.New("field without a name")
	}
	h := valHdr{}
	if f.ExpiresAt.IsZero() {
		from := f.CollectedAt
		if from.IsZero() {
			from = now
		}
		h.flags = flagSession
		h.expiry = from.Add(v.opts.SessionTTL).UnixNano()
	} else {
		h.expiry = f.ExpiresAt.UnixNano()
	}
	left := time.Duration(h.expiry - now.UnixNano())
	if left <= 0 {
		return nil // already expired: never store it
	}
	k := keyF(s, f.Name)
	val, err := sealValue(sk.aead, k, h, encodeField(f))
	if err != nil {
		return err
	}
	// Badger's TTL is a backstop on the wall clock; our expiry decides.
	return txn.SetTTL(k, val, left+ttlMargin)
}

// killFields replaces the live fields that match (and are among names, when
// names is set) with dead markers (see killMatching).
func killFields(txn kvTxn, s SubjectID, match func(valHdr) bool, names map[string]bool) error {
	return killMatching(txn, prefixF(s), func(name string, h valHdr) bool {
		return (names == nil || names[name]) && match(h)
	})
}

// Export returns everything held about the subject: state, unexpired fields
// with purpose, basis, times and flow, and the full consent history.
func (v *Vault) Export(s SubjectID, now time.Time) (Export, error) {
	ex := Export{Subject: s, At: now.UTC()}
	err := v.view(func(txn kvReader) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil || sk == nil {
			return err
		}
		if ex.State, ex.Fields, err = v.loadWith(txn, s, sk, now); err != nil {
			return err
		}
		err = scanLive(txn, prefixT(s), sk, now, func(pt []byte) error {
			r, err := decodeReminder(s, pt)
			ex.Reminders = append(ex.Reminders, r)
			return err
		})
		if err != nil {
			return err
		}
		err = scanLive(txn, prefixB(s), sk, now, func(pt []byte) error {
			c, err := decodeContact(s, pt)
			ex.Contacts = append(ex.Contacts, c)
			return err
		})
		if err != nil {
			return err
		}
		return txn.Scan(prefixC(s), true, func(k []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				if h, ok := parseHdr(b); ok && h.expired(now) {
					return nil // proof period over
				}
				pt, err := openValue(sk.aead, k, b)
				if err != nil {
					return err
				}
				c, err := decodeConsent(pt)
				if err != nil {
					return err
				}
				ex.Consents = append(ex.Consents, c)
				return nil
			})
		})
	})
	if err != nil {
		return Export{}, fmt.Errorf("vault: export %s: %w", s, err)
	}
	sortConsents(ex.Consents)
	return ex, nil
}

// Rectify replaces the value of an existing, unexpired field, keeping its
// purpose, collection time and expiry (a correction does not extend
// retention). It returns ErrNotFound otherwise.
func (v *Vault) Rectify(s SubjectID, field string, value []byte, now time.Time) error {
	err := v.update(func(txn kvTxn) error {
		sk, err := v.liveKey(txn, s, false, now)
		if err != nil {
			return err
		}
		if sk == nil {
			return ErrNotFound
		}
		k := keyF(s, field)
		item, err := txn.Get(k)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var f FieldRecord
		var h valHdr
		err = item.Value(func(b []byte) error {
			var ok bool
			if h, ok = parseHdr(b); !ok {
				return ErrCorrupt
			}
			if h.expired(now) {
				return ErrNotFound
			}
			pt, err := openValue(sk.aead, k, b)
			if err != nil {
				return err
			}
			f, err = decodeField(pt)
			return err
		})
		if err != nil {
			return err
		}
		f.Value = value
		val, err := sealValue(sk.aead, k, h, encodeField(&f))
		if err != nil {
			return err
		}
		return txn.SetTTL(k, val, time.Duration(h.expiry-now.UnixNano())+ttlMargin)
	})
	if err != nil {
		return fmt.Errorf("vault: rectify %s: %w", s, err)
	}
	return v.durable()
}

func receiptID(r *Receipt, keyID string) string {
	h := sha256.New()
	fmt.Fprintf(h, "parley-erasure-receipt/v1\x00%s\x00%s\x00%d\x00%t\x00%d\x00%d\x00%d\x00%d\x00%d",
		string(r.Subject), keyID, r.At.UnixNano(), r.KeyDestroyed, r.States, r.Fields, r.Consents, r.Inbox, r.Outbox)
	return hex.EncodeToString(h.Sum(nil))
}
