-- Takes or renews the lease of source $1 for tracker $2 for $3 seconds, unless another
-- tracker holds an unexpired one; returns the cursor only when the lease is ours.
-- A source seen for the first time has no row yet: ensure_source.sql creates it.
UPDATE @extschema@.tracker_source
   SET lease_owner = $2,
       lease_until = now() + make_interval(secs => $3)
 WHERE source = $1
   AND (lease_owner IS NULL OR lease_owner = $2 OR lease_until IS NULL OR lease_until < now())
RETURNING generation, last_id, last_fingerprint
