DROP TABLE IF EXISTS email_blobs;
DROP TABLE IF EXISTS blob_counts;
DROP TABLE IF EXISTS blobs;
DROP FUNCTION IF EXISTS blob_counts_track();
DROP TABLE IF EXISTS blob_chunks;
DROP SEQUENCE IF EXISTS blob_chunks_id_seq;
DELETE FROM outbox_messages WHERE aggregate_type = 'blob';
