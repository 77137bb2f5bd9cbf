-- Parley store schema, version 2: the vault's erasure ledger and audit head,
-- apart from parley_records. A restore of an older copy of the records
-- (pg_restore of a dump, a copy of the tables) leaves this table as it is,
-- and the vault re-applies every erasure it lists at the next start. Back
-- it up apart from the records and never restore an older copy over it
-- (docs/storage.md). It holds pseudonymous subject ids, key ids and times.

CREATE TABLE parley_ledger (
	key   bytea PRIMARY KEY,
	value bytea NOT NULL
);
