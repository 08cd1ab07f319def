-- How many runs job $1 has (an index-only count over its entries), and its tracked state.
SELECT (SELECT count(*) FROM @extschema@.job_log l WHERE l.job_name = $1::text) AS runs,
       t.state, t.alert_text, t.since
  FROM (SELECT 1) one
  LEFT JOIN @extschema@.tracker_job_state t ON t.job_name = $1::text
