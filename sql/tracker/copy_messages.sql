COPY @extschema@.tracker_message
    (source, generation, queue_id, queued_at, instance, job, event, message, raw,
     reject_reason, job_id)
FROM STDIN (FORMAT binary)
