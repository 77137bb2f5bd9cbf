package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parleyhq/parley/engine/store"
)

// Lifecycle is one kind of record the vault stores: what it holds, who
// deletes it and when. Nothing about a customer is kept forever by default.
type Lifecycle struct {
	Kind  string // short name
	Where string // storage key (or file) pattern
	Holds string // what it holds
	Who   string // what deletes it
	When  string // when it is gone, and how it is made unreadable
}

// Lifecycles is the lifecycle table of every record kind. docs/privacy.md
// reproduces it (LifecycleMarkdown); a test fails when the two differ, and
// each row has a test that attacks the real files after the row's lifetime.
var Lifecycles = []Lifecycle{
	{"field values", "f/<s>/<field>", "one collected answer, sealed under the subject key",
		"Sweep (DropPrefix of every version)",
		"the field's `retention:` after collection; session fields when the conversation ends or `SessionTTL` (24h) after collection"},
	{"conversation state", "s/<s>", "step, language, consent answers and notices of the conversation, sealed under the subject key",
		"Sweep (DropPrefix of every version)",
		"the flow's `conversation_retention:` (default 30d) after the last turn that wrote it"},
	{"inbox payloads", "iq/<seq> (Dir/inbox)", "the inbound message (text, sender's number), sealed under the subject key and a transient key",
		"the sync loop (delete after the turn's main DB sync); the transient key rotation",
		"deleted about one `SyncInterval` (1s) after the turn commits; unreadable once its transient key is destroyed, at most `TransientKeyPeriod` (5m) plus one tick after the turn commits"},
	{"inbox dedupe markers", "in/<hmac(msg id)> (Dir/inbox), ip/<hmac(msg id)>", "message sequence number, subject pseudonym, arrival time; no content",
		"Sweep", "`DedupeWindow` (7d) after arrival"},
	{"outbox payloads", "out/<seq>", "a reply to send (may hold names, emails), sealed under the subject key and a transient key",
		"the sender (OutboxDone once Meta accepted it, or on a permanent failure); the transient key rotation",
		"unreadable at most `TransientKeyPeriod` (5m) plus one tick after the send was accepted or given up; an entry never accepted is dropped `OutboxMaxAge` (24h) after it was queued"},
	{"status callback map", "ow/<hmac(wamid)>", "outbox sequence number, subject pseudonym and delivery status (sent, delivered, read, failed; never regressing) of a sent reply; no content",
		"Badger's TTL, then compaction", "`DedupeWindow` (7d) after the send (late \"read\" callbacks)"},
	{"window state", "wn/<s>", "when the channel last reported the subject's messaging window closed, and the inbound time of the turn whose re-engagement was sent; no content",
		"the expiry (Sweep on a store); Erase at once", "`WindowKeep` (48h) after its last write"},
	{"work queue entries", "parley_queue_items, parley_queue_leases (store only)", "subject pseudonym and the sequence number of a pending inbox or outbox record; the claim's token, owner (host/pid) and expiry; no content",
		"the turn's commit or the reply's acknowledgement (ack); Erase at once (DeletePartition)", "with the inbox or outbox record they point at; deleted rows leave the table files at autovacuum"},
	{"transient keys", "Dir/keys/<id>.key", "a 32-byte key sealing inbox and outbox payloads, wrapped under the master key",
		"the transient key rotation (os.Remove)",
		"one `TransientKeyPeriod` (5m) after it was made; pending payloads are re-sealed under the next key first"},
	{"consent records", "c/<s>/<purpose>/<seq>", "one consent decision (purpose, granted, time, notice hash, message id, the campaign or ad the conversation started from), sealed under the subject key",
		"Sweep (DropPrefix of every version)",
		"the proof period after the decision: the longest retention of the purpose's fields plus 1 year (compiled from the flow; 2 years when the caller declares none)"},
	{"reminders", "t/<s>/<purpose>/<flow>/<template>", "a message a flow scheduled (template, due time, channel and the customer's id on it), sealed under the subject key",
		"the reminder scheduler (dead marker once queued in the outbox); a commit with STOP or the purpose's withdrawal; Sweep (DropPrefix of every version); Erase (crypto-shredding)",
		"when queued for sending; on STOP, withdrawal of its purpose or erasure; at the expiry of the field it was computed from, or `ReminderGrace` (6h) after its due time if never queued"},
	{"broadcast contacts", "b/<s>/<purpose>/<flow>", "the channel and the customer's id on it, for a purpose they granted in a flow that declares a template for it, sealed under the subject key",
		"a commit with STOP or the purpose's withdrawal; Sweep (DropPrefix of every version); Erase (crypto-shredding)",
		"on STOP, withdrawal or erasure; at the end of the grant's consent proof period"},
	{"broadcast progress", "bq/<broadcast>/<s>, bm/<flow>/<template>", "which subjects a broadcast was sent to (pseudonym, state, time) and the broadcast's own state with the lease of the run sending it (random ids, a time); no content, no address",
		"Sweep", "`BroadcastKeep` (30 days) after it was written"},
	{"subject keys", "k/<s>", "the subject's data key, wrapped under the master key",
		"Sweep (DropPrefix of every version); Erase at once (crypto-shredding)",
		"when the subject holds nothing: no unexpired field, state, consent record, recipient record, reminder, broadcast contact, inbox or outbox entry"},
	{"recipient records", "r/<s>/<flow>/<integration>", "that an integration was sent data about the subject (names, address, first and last send), sealed under the subject key",
		"Sweep (DropPrefix of every version); Erase at once (crypto-shredding)",
		"`RecipientKeep` (2 years) after the last send; the subject's key is kept while one is unexpired, so erase notices can still reach the recipient"},
	{"recipient notices", "nq/<receipt>", "an erase or stop notice to an integration: its address, its pseudonymous reference for the subject, a receipt id; no personal data",
		"the notice sender: once delivered, or when it gives up",
		"when the recipient accepted it, or `NoticeGiveUp` (7 days) after it was queued"},
	{"channel addresses", "ch/<s>", "the channel and user id (a WhatsApp number) replies go to, sealed to the address key and under the subject key; written at the subject's first turn or next consent answer once `PARLEY_ADDRESS_KEY` is set",
		"Sweep with the subject's key; Erase at once (crypto-shredding, then the purge)",
		"with the subject's key: when the subject holds nothing else, or on erasure; it never keeps the key alive"},
	{"incidents", "ic/<id>", "a personal data breach as recorded by `parley incident add`: what, when detected, record kinds, purposes, estimated and notified counts, sealed under the meta key; no personal data",
		"Sweep", "`IncidentKeep` (5 years) after it was recorded"},
	{"incident notification marks", "iw/<id>/<s>", "that an incident's notification was queued for a subject (pseudonym); no content, no address",
		"Sweep", "`IncidentNotifyKeep` (30 days) after it was written"},
	{"purge queue", "pq/<s>", "the pseudonym of an erased subject whose files are not purged yet",
		"the batched purge", "`PurgeDelay` (10s) after the erasure, or when the vault closes"},
	{"hand-off transcript", "f/<s>/~handoff/<since>.<n>.<who>", "one message written while the conversation was handed off to a person (by the customer or the team), sealed under the subject key as a field record",
		"Sweep (DropPrefix of every version); Erase at once (crypto-shredding)",
		"the flow's `handoff.transcript_retention:` (default 30d) after the message"},
	{"hand-off queue", "hq/<s>", "that the subject's conversation waits for a person: channel, flow, reason (keyword, step id, integration name), since and until; sealed under the meta key; no content",
		"the hand-off ending (hand-back, close, timeout, end of the conversation); Erase at once",
		"when the hand-off ends; Badger's TTL 30d after its timeout as a backstop"},
	{"audit entries", "a/<seq>", "pseudonymous record of rights requests and operator actions, hash-chained",
		"the audit retention sweep (audit.go)", "`AuditRetention` (default 2 years) after the entry"},
	{"erasure ledger", "e/<s>, erasures.log (PostgreSQL: table parley_ledger)", "subject pseudonym, erasure time, receipt id; no personal data",
		"the ledger retention sweep (ledger.go)", "`LedgerRetention` (default 2 years) after the erasure"},
	{"audit head file", "audit.head (beside erasures.log; PostgreSQL: parley_ledger)", "sequence and hash of the last audit entry and of the retention anchor; no personal data",
		"rewritten with every audit entry", "with the data directory (the ledger table)"},
	{"staff accounts", "st/a/<hmac(user name)>", "a staff member's user name, role, argon2id password hash, TOTP secret and SHA-256 hashes of the unused recovery codes, sealed under the meta key; never a password or recovery code",
		"`parley staff remove` (delete; Badger drops older versions at compaction)", "when the account is removed; a disabled account stays until removed"},
	{"staff sessions", "st/s/<hmac(sha256(session))>", "account, role, sign-in time, last use, CSRF token and stage of one console sign-in, sealed under the meta key; never the session cookie itself",
		"sign-out, `parley staff disable`, `remove` or `reset` (at once, by the account's generation); Badger's TTL as a backstop",
		"the absolute session timeout (`--session-max`, default 12h) after sign-in, or the idle timeout (`--session-idle`, default 30m) after the last request"},
	{"API tokens", "st/t/<hmac(sha256(token))>", "name, owner, role, creation and expiry of an automation token and the SHA-256 of the token; never the token",
		"`parley staff token revoke`; Badger's TTL as a backstop", "its expiry (`--expires`, default 90 days), or when revoked"},
	{"vault metadata", "m/...", "key check, pepper (sealed), schema version, sequences, audit head; no personal data",
		"nobody: it is the vault itself", "with the data directory"},
}

// LifecycleMarkdown renders Lifecycles as the Markdown table in
// docs/privacy.md.
func LifecycleMarkdown() string {
	var b strings.Builder
	b.WriteString("| Record | Stored as | Holds | Deleted by | Gone (and unreadable) |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, l := range Lifecycles {
		fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", l.Kind, l.Where, l.Holds, l.Who, l.When)
	}
	return b.String()
}

// sweepLifecycle drops expired conversation states and consent records
// (every version, with DropPrefix) and then destroys the keys of subjects
// that hold nothing any more. A state whose current version is live but
// whose older versions expired (the customer came back after
// conversation_retention, before a sweep) is dropped too and its current
// version written back, so the old conversation does not wait in the files
// for a compaction. Writers are held off meanwhile.
func (v *Vault) sweepLifecycle(now time.Time, st *SweepStats) error {
	v.dropMu.Lock()
	var drop, legacy [][]byte
	var keep []store.Record
	var err error
	if !v.embedded() {
		// A store keeps no older versions the vault can see (a purge
		// removes them physically): the current state decides.
		err = v.view(func(txn kvReader) error {
			return txn.Scan([]byte("s/"), true, func(key []byte, item kvItem) error {
				return item.Value(func(b []byte) error {
					h, ok := parseHdr(b)
					switch {
					case ok && h.expired(now):
						drop = append(drop, bytes.Clone(key))
						st.States++
					case ok && h.expiry == 0:
						legacy = append(legacy, bytes.Clone(key))
					}
					return nil
				})
			})
		})
	} else {
		drop, legacy, keep, err = v.sweepStateVersions(now, st)
	}
	if err == nil {
		err = v.view(func(txn kvReader) error {
			err := txn.Scan([]byte("c/"), true, func(key []byte, item kvItem) error {
				return item.Value(func(b []byte) error {
					h, ok := parseHdr(b)
					switch {
					case ok && h.expired(now):
						drop = append(drop, bytes.Clone(key))
						st.Consents++
					case ok && h.expiry == 0:
						legacy = append(legacy, bytes.Clone(key))
					}
					return nil
				})
			})
			if err != nil {
				return err
			}
			err = txn.Scan([]byte("r/"), true, func(key []byte, item kvItem) error {
				return item.Value(func(b []byte) error {
					if h, ok := parseHdr(b); ok && h.expired(now) {
						drop = append(drop, bytes.Clone(key))
						st.Recipients++
					}
					return nil
				})
			})
			if err != nil {
				return err
			}
			for _, kind := range []struct {
				prefix string
				n      *int
			}{{"t/", &st.Reminders}, {"b/", &st.Contacts}, {"bq/", &st.Broadcasts}, {"bm/", &st.Broadcasts}, {"iw/", &st.Incidents}} {
				err := txn.Scan([]byte(kind.prefix), true, func(key []byte, item kvItem) error {
					return item.Value(func(b []byte) error {
						if h, ok := parseHdr(b); ok && h.expired(now) {
							drop = append(drop, bytes.Clone(key))
							*kind.n++
						}
						return nil
					})
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil && len(drop) > 0 {
		err = v.dropPrefixes(drop)
	}
	if err == nil {
		err = v.writeBack(keep)
	}
	v.dropMu.Unlock()
	if err != nil {
		return err
	}
	if err := v.dateLegacy(legacy, now); err != nil {
		return err
	}
	n, err := v.dropIdleKeys(now)
	st.Keys = n
	return err
}

// sweepStateVersions reads every version Badger keeps of s/ (conversation
// states): an expired current version is dropped; a live current version
// over expired older ones is dropped and kept (written back after the drop).
func (v *Vault) sweepStateVersions(now time.Time, st *SweepStats) (drop, legacy [][]byte, keep []store.Record, err error) {
	var cur []byte // key of the group being read
	var latest *store.Record
	done := false // the group is decided
	err = v.bdb.ScanVersions(context.Background(), []byte("s/"), func(ver store.Version) error {
		if !bytes.Equal(ver.Key, cur) {
			cur, latest, done = ver.Key, nil, false
			if ver.Gone {
				done = true // nothing live: a purge would skip it
				return nil
			}
		}
		if done {
			return nil
		}
		h, ok := parseHdr(ver.Value)
		expired := ok && h.expired(now)
		switch {
		case latest == nil && expired:
			drop, done = append(drop, cur), true
			st.States++
		case latest == nil:
			latest = &store.Record{Key: cur, Value: ver.Value, ExpiresAt: ver.ExpiresAt}
			if ok && h.expiry == 0 {
				legacy = append(legacy, cur)
			}
		case expired:
			drop, keep, done = append(drop, cur), append(keep, *latest), true
			st.States++
		}
		return nil
	})
	return drop, legacy, keep, err
}

// dropIdleKeys destroys, every version of them, the data keys of subjects
// that hold nothing unexpired. A first pass finds the candidates while
// turns go on; then, with no writer of the main DB running and no inbox
// entry being sealed (those seal under the key outside the main DB's
// transactions), each candidate is checked again and dropped, so a
// subject gaining data meanwhile keeps its key.
func (v *Vault) dropIdleKeys(now time.Time) (int, error) {
	idle, err := v.idleSubjects(now, nil)
	if err != nil || len(idle) == 0 {
		return 0, err
	}
	v.tk.use.Lock()
	defer v.tk.use.Unlock()
	v.dropMu.Lock()
	defer v.dropMu.Unlock()
	if idle, err = v.idleSubjects(now, idle); err != nil || len(idle) == 0 {
		return 0, err
	}
	var prefixes [][]byte
	for _, s := range idle {
		prefixes = append(prefixes, subjectPrefixes(s)...)
	}
	if err := v.dropPrefixes(prefixes); err != nil {
		return 0, err
	}
	v.keyMu.Lock()
	for _, s := range idle {
		delete(v.newKeys, s)
	}
	v.keyMu.Unlock()
	return len(idle), nil
}

// idleSubjects returns the subjects with a live data key and no unexpired
// state, field, consent or recipient record, inbox or outbox entry: among all
// subjects, or only among the given ones.
func (v *Vault) idleSubjects(now time.Time, only []SubjectID) ([]SubjectID, error) {
	raw, err := v.readInbox(nil)
	if err != nil {
		return nil, err
	}
	held := map[SubjectID]bool{}
	for _, q := range raw {
		held[q.subject] = true
	}
	var idle []SubjectID
	err = v.view(func(txn kvReader) error {
		err := txn.Scan(prefixOut, true, func(_ []byte, item kvItem) error {
			return item.Value(func(b []byte) error {
				d := dec{b: b}
				held[SubjectID(d.str())] = true
				return nil
			})
		})
		if err != nil {
			return err
		}
		// Keys under s/, f/, c/ and r/ all have the subject id at offset 2.
		live := func(prefix []byte) error {
			return txn.Scan(prefix, true, func(k []byte, item kvItem) error {
				return item.Value(func(b []byte) error {
					if h, ok := parseHdr(b); ok && !h.expired(now) && len(k) >= 2+subjectLen {
						held[SubjectID(k[2:2+subjectLen])] = true
					}
					return nil
				})
			})
		}
		keyLiveIdle := func(s SubjectID, b []byte) {
			if !held[s] && len(b) >= keyHdrLen && b[1] == keyLive {
				idle = append(idle, s)
			}
		}
		if only == nil {
			for _, p := range []string{"s/", "f/", "c/", "r/", "t/", "b/"} {
				if err := live([]byte(p)); err != nil {
					return err
				}
			}
			return txn.Scan([]byte("k/"), true, func(k []byte, item kvItem) error {
				return item.Value(func(b []byte) error { keyLiveIdle(SubjectID(k[2:]), b); return nil })
			})
		}
		for _, s := range only {
			for _, p := range [][]byte{keyS(s), prefixF(s), prefixC(s), prefixR(s), prefixT(s), prefixB(s)} {
				if err := live(p); err != nil {
					return err
				}
			}
			item, err := txn.Get(keyK(s))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := item.Value(func(b []byte) error { keyLiveIdle(s, b); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	return idle, err
}

// dateLegacy gives states and consent records written before they had an
// expiry one: a state the default conversation retention from now, a
// consent record the default proof period from its decision. They are
// re-sealed under the subject's key with the expiry in the header.
func (v *Vault) dateLegacy(keys [][]byte, now time.Time) error {
	for _, k := range keys {
		if len(k) < 2+subjectLen {
			continue
		}
		s := SubjectID(k[2 : 2+subjectLen])
		err := v.update(func(txn kvTxn) error {
			sk, err := v.liveKey(txn, s, false, now)
			if err != nil || sk == nil {
				return err
			}
			item, err := txn.Get(k)
			if err != nil {
				return err
			}
			b, err := item.ValueCopy(nil)
			if err != nil {
				return err
			}
			if h, ok := parseHdr(b); !ok || h.expiry != 0 {
				return nil // written again meanwhile
			}
			pt, err := openValue(sk.aead, k, b)
			if err != nil {
				return err
			}
			until := now.Add(v.opts.ConversationRetention)
			if k[0] == 'c' {
				c, err := decodeConsent(pt)
				if err != nil {
					return err
				}
				until = c.At.Add(v.opts.ConsentProof)
			}
			val, err := sealValue(sk.aead, k, valHdr{expiry: until.UnixNano()}, pt)
			if err != nil {
				return err
			}
			return txn.Set(k, val)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}
