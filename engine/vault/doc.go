// Package vault is Parley's encrypted store for personal data, on the
// storage interfaces of engine/store: by default two embedded Badger v4
// databases in the data directory, opened by name ("badger",
// LocalBackend) through engine/store's registry in the layout the vault has
// always written (this package imports no backend: engine/store/badger
// registers itself, cmd/parley imports it), or a shared store
// (Options.Store: PostgreSQL).
//
// It owns: the databases' encryption at rest (under a key derived from
// the master key), pseudonymous subject ids, one random data key (DEK) per
// subject wrapped by a key-encryption key, AES-256-GCM sealing of every value
// stored about a subject, retention (stored expiry checked against the
// engine's clock, Badger TTL only as a backstop), crypto-shredding plus
// physical purge on erasure, the erasure ledger, the durable inbox and outbox
// of the host (adapters/host), the hash-chained audit log and encrypted
// backups.
//
// It imports no other Parley package: values are opaque bytes, and a bridge
// outside this package (engine/session) maps runtime state and effects onto
// this API. No adapter imports it: the host, the server and the admin API
// declare the interfaces they need, engine/session implements them on a
// *Vault, and cmd/parley wires them (engine/layers_test.go checks it).
//
// Entry points: LoadMasterKey, Open, Restore, AttackerView; on a *Vault:
// SubjectID, LoadSubject, Commit, Export, Erase, Rectify, Sweep, InboxPut,
// OutboxPut, Audit, Backup, Recipients, DueNotices, Handoffs, DropHandoff.
//
// Every record kind has a lifecycle declared in Lifecycles (lifecycle.go):
// what it holds, what deletes it and when; nothing about a customer is
// kept forever by default. Fields, conversation states (Change.StateKeep)
// and consent records (ConsentRecord.KeepUntil) carry their expiry in a
// clear header;
// Sweep drops them with DropPrefix once expired, and then destroys the keys
// of subjects that hold nothing. Inbox and outbox payloads are also sealed
// under transient keys (transient.go), files in Dir/keys that the sync loop
// rotates and deletes every TransientKeyPeriod, so a processed message or a
// sent reply becomes unreadable, old Badger versions included, within
// minutes. AttackerView is the yardstick: what someone holding the data
// directory and the master key can still read.
//
// Storage layout (all keys hold pseudonyms only, never a phone number, user id
// or name):
//
//	k/<s>                  wrapped DEK of subject s (or an "erased" marker until purged)
//	s/<s>                  conversation state blob, sealed; clear header: expiry
//	f/<s>/<field>          field record, sealed; clear 10-byte header: flags + expiry
//	c/<s>/<purpose>/<seq>  consent record, sealed; clear header: end of its proof period
//	r/<s>/<flow>/<name>    recipient record: an integration sent data, sealed (notify.go)
//	ch/<s>                 channel address (a WhatsApp number), sealed to the address key and under the subject's DEK (incident.go, addresskey.go)
//	e/<s>                  erasure ledger entry (time, receipt id; no personal data)
//	pq/<s>                 erased subject waiting for the physical purge
//	ip/<hmac(msg id)>      inbound message processed (inbox seq), written with the turn
//	out/<seq>              outbox entry, payload sealed under the subject's DEK and a transient key
//	ow/<hmac(wamid)>       channel message id -> outbox seq, subject and delivery status (never regressing)
//	a/<seq>                audit entry, hash-chained (deleted after Options.AuditRetention)
//	nq/<receipt>           erasure, stop or hand-off notice, sealed under the meta key; no personal data
//	ic/<id>                personal data breach record (incident.go), sealed under the meta key; no personal data
//	hq/<s>                 hand-off queue entry (channel, flow, reason, since, until), sealed under the meta key; no content (handoff.go)
//	f/<s>/~handoff/<…>     hand-off transcript line: a field record under a reserved name (handoff.go)
//	m/...                  metadata: key check, pepper (sealed), schema, audit head and
//	                       retention anchor, last backup's id (m/backup), sequences
//
// The inbox of inbound messages is a second, small Badger instance in
// Dir/inbox, encrypted at rest under its own key derived from the master key:
//
//	in/<hmac(msg id)>      inbound dedupe marker (Badger TTL: dedupe window + margin)
//	iq/<seq>               pending inbound message, payload sealed under the subject's DEK and a transient key
//	m/seq/inbox            inbox sequence
//
// It is apart because every inbound message is fsynced before the webhook
// answers 200, and a Badger fsync stalls every read and write of its DB
// (DB.Sync holds the DB lock shared; each write batch takes it exclusively,
// and a waiting writer holds off new readers). Inbox fsyncs thus never touch
// the main DB. A message is marked processed in the main DB (ip/), in the
// transaction of its turn; its payload is deleted from the inbox DB only
// after the main DB has been synced, so a power cut that loses an unsynced
// turn still finds the message in the inbox and processes it again. That is
// also why a turn carrying InboxDone does not fsync its consent records: the
// message that carried the consent answer is replayed until the main DB
// holds the record durably. Commits without an inbox message (CLI and web
// chat) fsync their consent records before they return.
//
// Backups (Backup, Restore) hold the main DB only. The inbox is a transient
// queue and is not in backups: messages received but not processed when the
// backup was made are not in it. Meta redelivers only messages the webhook
// has not acknowledged, so a message acknowledged (stored in the inbox) and
// lost with the inbox directory is not delivered again. Restore leaves an
// existing Dir/inbox in place; its entries whose subject key the restored
// data lacks are unreadable and removed by Sweep.
//
// Transient keys are not in backups either: outbox entries restored from a
// backup cannot be opened and are dropped at the first rotation.
//
// Beside the database directory the vault keeps erasures.log, an fsynced,
// append-only copy of the erasure ledger that survives restoring an older
// backup; it is re-applied at every Open and after every Restore. Each
// backup appends a mark to it, and Restore refuses a backup whose mark the
// ledger lacks (RestoreWithoutLedger skips that check). Erasures leave it,
// and e/, after Options.LedgerRetention (the file is rewritten atomically),
// so Restore also refuses backups older than that.
//
// Beside erasures.log is audit.head: the audit chain's last entry (sequence
// and hash) and its retention anchor (the last deleted entry), rewritten
// atomically after every audit entry and copied into every backup
// (m/backup). AuditVerify fails when the store does not extend it: entries
// removed from the end, a re-chained log, an older copy of the store put
// back. Restore is the one rollback it accepts: it appends a "restore" entry
// naming the head it replaces and rewrites the file.
package vault
