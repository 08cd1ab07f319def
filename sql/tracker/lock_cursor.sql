-- First statement of a batch: locks source $1's row and returns its cursor, so the batch
-- commits only if nobody stored anything since it was read.
SELECT generation, last_id, last_fingerprint
  FROM @extschema@.tracker_source
 WHERE source = $1
   FOR UPDATE
