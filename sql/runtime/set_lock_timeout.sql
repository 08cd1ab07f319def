-- Apply a changed jobmon.lock_timeout to the background session.
SELECT pg_catalog.set_config('lock_timeout', $1, false)
