-- Who holds each source $1[i] (for `check --sources` and piggyback): the lease owner id
-- (`host:pid:random`) while its lease runs, with the source's last read and error.
SELECT s.source,
       CASE WHEN s.lease_until > now() THEN s.lease_owner END,
       CASE WHEN s.lease_until > now() THEN s.lease_until END,
       s.last_read_at, s.last_error, s.messages_stored, s.messages_rejected
  FROM @extschema@.tracker_source s
 WHERE s.source = ANY ($1::text[])
 ORDER BY s.source
