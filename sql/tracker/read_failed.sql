-- A poll of source $1 failed with error $2 (kept until the next successful read).
UPDATE @extschema@.tracker_source
   SET last_error = $2, last_error_at = now()
 WHERE source = $1
