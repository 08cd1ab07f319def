-- When each source $1[i] was last read successfully, why its latest read failed (if it did),
-- and when it was first polled.
SELECT s.source, s.last_read_at, s.last_error, s.created_at
  FROM @extschema@.tracker_source s
 WHERE s.source = ANY ($1::text[])
