// Package vault is Parley's encrypted store for personal data, built on
// Badger v4.
//
// It owns: the Badger database (encryption at rest under a key derived from
// the master key), pseudonymous subject ids, one random data key (DEK) per
// subject wrapped by a key-encryption key, AES-256-GCM sealing of every value
// stored about a subject, retention (stored expiry checked against the
// engine's clock, Badger TTL only as a backstop), crypto-shredding plus
// physical purge on erasure, the erasure ledger, the durable inbox and outbox
// of the channel adapters, the hash-chained audit log and encrypted backups.
//
// It imports no other Parley package: values are opaque bytes, and a bridge
// outside this package maps runtime state and effects onto this API.
//
// Entry points: LoadMasterKey, Open, Restore; on a *Vault: SubjectID,
// LoadSubject, Commit, Export, Erase, Rectify, Sweep, InboxPut, OutboxPut,
// Audit, Backup.
//
// Storage layout (all keys hold pseudonyms only, never a phone number, user id
// or name):
//
//	k/<s>                  wrapped DEK of subject s (or an "erased" marker until purged)
//	s/<s>                  conversation state blob, sealed
//	f/<s>/<field>          field record, sealed; clear 10-byte header: flags + expiry
//	c/<s>/<purpose>/<seq>  consent record, sealed
//	e/<s>                  erasure ledger entry (time, receipt id; no personal data)
//	pq/<s>                 erased subject waiting for the physical purge
//	in/<hmac(msg id)>      inbound dedupe marker
//	iq/<seq>               pending inbound message, payload sealed under the subject's DEK
//	out/<seq>              outbox entry, payload sealed under the subject's DEK
//	ow/<hmac(wamid)>       channel message id -> outbox seq, for status callbacks
//	a/<seq>                audit entry, hash-chained
//	m/...                  metadata: key check, pepper (sealed), schema, audit head, sequences
//
// Beside the database directory the vault keeps erasures.log, an fsynced,
// append-only copy of the erasure ledger that survives restoring an older
// backup; it is re-applied at every Open and after every Restore.
package vault
