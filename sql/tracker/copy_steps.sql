COPY @extschema@.job_detail
    (job_id, action, start_time, end_time, elapsed_time, status, message)
FROM STDIN (FORMAT binary)
