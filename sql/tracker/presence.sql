-- Tracker $1 (its lease owner id) is alive while this connection is: a shared advisory lock
-- held for the session, one per connection, released by PostgreSQL when the connection ends
-- (a killed tracker's disappear at once). lease.sql counts the distinct holders as the live
-- trackers. Shared, so a tracker's connections do not wait for each other.
SELECT pg_catalog.pg_advisory_lock_shared(pg_catalog.hashtext('jobmon-tracker presence'),
                                          pg_catalog.hashtext($1::text))
