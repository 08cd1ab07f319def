-- Ends the runs of a batch; see _tracker_end_runs in sql/tracker.sql.
SELECT @extschema@._tracker_end_runs($1, $2, $3, $4, $5, $6)
