-- Takes, renews or gives up the lease of source $1 for tracker $2 for $3 seconds; $4 is the
-- number of configured sources. Runs after lease_lock.sql in the same transaction.
--
-- Balance: the live trackers (holders of presence.sql's lock, this one included) share the
-- sources, each holding at most its share, ceil($4 / live trackers). A tracker takes a free
-- source (no lease, or an expired one) while it holds fewer than its share, or when no
-- other live tracker holds fewer (then nobody else wants it), or when the source has been
-- free for a whole lease period (so a tracker that is connected but does not poll cannot
-- keep sources unread). At renewal a tracker over its share gives the source up (owner
-- NULL, lease_until the time it was given up) while another live tracker holds fewer than
-- its share. Returns (kept, cursor...) when the row was ours or taken: kept false means it
-- was just given up; no row while another tracker holds it.
-- A source seen for the first time has no row yet: ensure_source.sql creates it.
WITH live AS (
    SELECT DISTINCT l.objid
      FROM pg_catalog.pg_locks l
     WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
       AND l.classid = (pg_catalog.hashtext('jobmon-tracker presence')::bigint & 4294967295)::oid
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                          WHERE d.datname = pg_catalog.current_database())
), held AS (
    SELECT s.lease_owner,
           (pg_catalog.hashtext(s.lease_owner)::bigint & 4294967295)::oid AS objid,
           count(*) AS n
      FROM @extschema@.tracker_source s
     WHERE s.lease_owner IS NOT NULL AND s.lease_until > now() AND s.source <> $1
     GROUP BY s.lease_owner
), fair AS (
    SELECT ceil($4::bigint::numeric / greatest(count(*), 1))::bigint AS share FROM live
), d AS (
    SELECT coalesce((SELECT h.n FROM held h WHERE h.lease_owner = $2), 0) < f.share
           OR NOT EXISTS (
               SELECT 1
                 FROM live l
                 LEFT JOIN held h ON h.objid = l.objid
                WHERE l.objid <> (pg_catalog.hashtext($2::text)::bigint & 4294967295)::oid
                  AND coalesce(h.n, 0) < f.share) AS room
      FROM fair f
)
UPDATE @extschema@.tracker_source t
   SET lease_owner = CASE WHEN t.lease_owner IS DISTINCT FROM $2 OR d.room THEN $2 END,
       lease_until = CASE WHEN t.lease_owner IS DISTINCT FROM $2 OR d.room
                          THEN now() + make_interval(secs => $3) ELSE now() END
  FROM d
 WHERE t.source = $1
   AND (t.lease_owner = $2
        OR ((t.lease_owner IS NULL OR t.lease_until IS NULL OR t.lease_until < now())
            AND (d.room
                 OR coalesce(t.lease_until, t.created_at) < now() - make_interval(secs => $3))))
RETURNING t.lease_owner IS NOT NULL, t.generation, t.last_id, t.last_fingerprint
