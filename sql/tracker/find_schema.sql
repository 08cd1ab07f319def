-- The schema pg_jobmon is installed in, quoted for splicing into the statements below.
SELECT pg_catalog.quote_ident(n.nspname)
  FROM pg_catalog.pg_extension e
  JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE e.extname = 'pg_jobmon'
