-- Run the following calls as the caller's current_user (a parameter, never spliced).
SELECT pg_catalog.set_config('role', $1, false)
