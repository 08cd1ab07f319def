COPY @extschema@.job_log (job_id, owner, job_name, start_time, pid) FROM STDIN (FORMAT binary)
