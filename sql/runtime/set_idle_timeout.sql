-- Apply a changed jobmon.background_idle_timeout to the background session: the server
-- itself ends the session once it has been idle that long (0: never).
SELECT pg_catalog.set_config('idle_session_timeout', $1, false)
