-- The optional 1.5.0 connection row; read with the extension owner's rights because
-- callers usually cannot (and should not) read it.
SELECT username, port, pwd, host, hostaddr
  FROM @extschema@.dblink_mapping_jobmon
 LIMIT 1
