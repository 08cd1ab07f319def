-- Adds a batch's steps to job_detail; see _tracker_add_steps in sql/tracker.sql.
SELECT @extschema@._tracker_add_steps($1, $2, $3, $4, $5)
