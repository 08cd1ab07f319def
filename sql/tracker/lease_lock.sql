-- First statement of a lease transaction: trackers decide on leases one at a time, each on
-- what the others have committed (lease.sql's counts would race otherwise).
SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('jobmon-tracker leases'), 0)
