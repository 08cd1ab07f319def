-- `jobmon-tracker nagios`: check_job_status() with its default window.
SELECT alert_code, alert_status, job_name, alert_text
  FROM @extschema@.check_job_status()
