-- $1 new job_log ids, taken from job_log's own sequence.
SELECT nextval('@extschema@.job_log_job_id_seq') FROM generate_series(1, $1::integer)
