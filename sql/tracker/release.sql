-- Gives up the leases of tracker $1 (on shutdown, or of sources no longer configured: $2 NULL
-- means all of them), so another tracker takes them over at once. lease_until keeps when
-- (lease.sql tells a source given up just now from one nobody has wanted for a while).
UPDATE @extschema@.tracker_source
   SET lease_owner = NULL, lease_until = now()
 WHERE lease_owner = $1 AND ($2::text[] IS NULL OR source = ANY ($2))
