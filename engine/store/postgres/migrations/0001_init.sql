-- Parley store schema, version 1. Values and payloads arrive sealed by the
-- vault; keys, queue names and partition keys hold pseudonyms only.

CREATE TABLE parley_records (
	key        bytea PRIMARY KEY,
	value      bytea NOT NULL,
	expires_at timestamptz
);
-- Keep (sealed) values out of pg_statistic: ANALYZE would copy samples of
-- them there, where a purge does not reach.
ALTER TABLE parley_records ALTER COLUMN value SET STATISTICS 0;
-- Sealed values do not compress; storing large ones uncompressed (TOAST
-- out of line only) also keeps raw-byte privacy tests meaningful.
ALTER TABLE parley_records ALTER COLUMN value SET STORAGE EXTERNAL;
CREATE INDEX parley_records_expiry ON parley_records (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE parley_sequences (
	name  text PRIMARY KEY,
	value bigint NOT NULL
);

CREATE TABLE parley_queue_items (
	queue      text NOT NULL,
	seq        bigserial NOT NULL,
	partition  text NOT NULL,
	payload    bytea NOT NULL,
	attempts   integer NOT NULL DEFAULT 0,
	not_before timestamptz,
	PRIMARY KEY (queue, seq)
);
ALTER TABLE parley_queue_items ALTER COLUMN payload SET STATISTICS 0;
CREATE INDEX parley_queue_items_partition ON parley_queue_items (queue, partition, seq);

CREATE TABLE parley_queue_leases (
	queue      text NOT NULL,
	partition  text NOT NULL,
	seq        bigint NOT NULL,
	token      text NOT NULL,
	owner      text NOT NULL,
	expires_at timestamptz NOT NULL,
	PRIMARY KEY (queue, partition)
);
