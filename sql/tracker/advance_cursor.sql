-- Last statement of a batch: the new cursor and counters of source $1.
UPDATE @extschema@.tracker_source
   SET generation = $2,
       last_id = $3,
       last_fingerprint = $4,
       messages_stored = messages_stored + $5,
       messages_rejected = messages_rejected + $6,
       last_read_at = now(),
       last_error = NULL,
       last_error_at = NULL
 WHERE source = $1
