SELECT @extschema@._tracker_end_runs($1, $2, $3)
