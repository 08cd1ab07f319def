-- One evaluation's states and the tracker's heartbeat ($2: its stale bound in seconds); see
-- _tracker_store_states.
SELECT @extschema@._tracker_store_states($1, make_interval(secs => $2::double precision),
       $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
