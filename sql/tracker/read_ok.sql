-- A poll of source $1 found nothing new: it is reachable and its data is current.
UPDATE @extschema@.tracker_source
   SET last_read_at = now(), last_error = NULL, last_error_at = NULL
 WHERE source = $1
