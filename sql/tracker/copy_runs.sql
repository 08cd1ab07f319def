COPY @extschema@.job_log (job_id, owner, job_name, start_time, pid, end_time, status)
FROM STDIN (FORMAT binary)
