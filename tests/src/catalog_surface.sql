-- The SQL surface of pg_jobmon as the catalog shows it, one line per fact, for comparing
-- two installations (two PostgreSQL majors; an updated and a fresh install). Objects in
-- the extension's schema and objects that belong to the extension, less those of other
-- extensions in the same schema. Column order is by
-- position among live columns (attnum would differ after a dropped column). Names are
-- printed schema-qualified: run with search_path = pg_catalog.
WITH ext AS (
    SELECT e.oid, e.extnamespace, e.extconfig, e.extcondition
      FROM pg_catalog.pg_extension e
     WHERE e.extname = 'pg_jobmon'
), members AS (
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
       AND d.refobjid = ext.oid
       AND d.deptype = 'e'
), member_flag AS (
    SELECT classid, objid, true AS member FROM members
), foreign_members AS (
    -- Objects of other extensions that share the schema (dblink, installed with 1.5.0).
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
       AND d.refobjid <> ext.oid
       AND d.deptype = 'e'
), foreign_relations AS (
    SELECT c.oid
      FROM pg_catalog.pg_class c
      JOIN foreign_members f
        ON (f.classid = 'pg_catalog.pg_class'::regclass AND f.objid = c.oid)
        OR (f.classid = 'pg_catalog.pg_type'::regclass AND f.objid = c.reltype)
), facts AS (
    SELECT 'function ' || p.oid::regprocedure::text
           || ' returns ' || pg_catalog.pg_get_function_result(p.oid)
           || ' | arguments ' || pg_catalog.pg_get_function_arguments(p.oid)
           || ' | language ' || l.lanname
           || ' | volatility ' || p.provolatile::text
           || ' | strict ' || p.proisstrict
           || ' | security definer ' || p.prosecdef
           || ' | set ' || coalesce(pg_catalog.array_to_string(p.proconfig, ', '), '-')
           || ' | public may execute ' || pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE')
           -- the body too: a later edit of a function must ship in an update script
           || ' | body md5 ' || pg_catalog.md5(p.prosrc)
           || ' | owned by extension ' || coalesce(m.member, false)
           || ' | comment ' || coalesce(pg_catalog.obj_description(p.oid, 'pg_proc'), '-')
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_language l ON l.oid = p.prolang
      CROSS JOIN ext
      LEFT JOIN member_flag m ON m.classid = 'pg_catalog.pg_proc'::regclass AND m.objid = p.oid
     WHERE (p.pronamespace = ext.extnamespace OR m.member)
       AND NOT EXISTS (SELECT 1 FROM foreign_members f
                        WHERE f.classid = 'pg_catalog.pg_proc'::regclass AND f.objid = p.oid)
    UNION ALL
    SELECT 'relation ' || c.oid::regclass::text
           || ' | kind ' || c.relkind::text
           || ' | owned by extension ' || coalesce(m.member, false)
           || ' | comment ' || coalesce(pg_catalog.obj_description(c.oid, 'pg_class'), '-')
      FROM pg_catalog.pg_class c
      CROSS JOIN ext
      LEFT JOIN member_flag m ON m.classid = 'pg_catalog.pg_class'::regclass AND m.objid = c.oid
     WHERE (c.relnamespace = ext.extnamespace OR m.member)
       AND c.relkind <> 'i'
       AND c.oid NOT IN (SELECT oid FROM foreign_relations)
    UNION ALL
    SELECT 'column ' || c.oid::regclass::text || '.' || a.attname
           || ' | position ' || pg_catalog.row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
           || ' | type ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
           || ' | not null ' || a.attnotnull
           || ' | default ' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')
           || ' | comment ' || coalesce(pg_catalog.col_description(c.oid, a.attnum), '-')
      FROM pg_catalog.pg_attribute a
      JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
      LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
      CROSS JOIN ext
     WHERE c.relnamespace = ext.extnamespace
       AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c')
       AND c.oid NOT IN (SELECT oid FROM foreign_relations)
       AND a.attnum > 0
       AND NOT a.attisdropped
    UNION ALL
    SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indrelid
      CROSS JOIN ext
     WHERE c.relnamespace = ext.extnamespace
       AND c.oid NOT IN (SELECT oid FROM foreign_relations)
    UNION ALL
    -- NOT NULL constraints are catalog rows from PostgreSQL 18 on; the columns above
    -- already say which columns are NOT NULL.
    SELECT 'constraint ' || k.conrelid::regclass::text || ' ' || k.conname
           || ' | ' || pg_catalog.pg_get_constraintdef(k.oid)
      FROM pg_catalog.pg_constraint k
      CROSS JOIN ext
     WHERE k.connamespace = ext.extnamespace
       AND k.contype <> 'n'
       AND k.conrelid NOT IN (SELECT oid FROM foreign_relations)
    UNION ALL
    SELECT 'trigger ' || pg_catalog.pg_get_triggerdef(t.oid)
      FROM pg_catalog.pg_trigger t
      JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
      CROSS JOIN ext
     WHERE c.relnamespace = ext.extnamespace
       AND NOT t.tgisinternal
       AND c.oid NOT IN (SELECT oid FROM foreign_relations)
       -- ours run our functions; a user's own trigger on job_detail is not the extension's
       AND t.tgfoid IN (SELECT objid FROM members
                         WHERE classid = 'pg_catalog.pg_proc'::regclass)
    UNION ALL
    -- What a view reads, from its rewrite rule's dependencies: pg_get_viewdef's text is
    -- worded differently from one major to the next (16 dropped the table qualifiers).
    SELECT 'view ' || c.oid::regclass::text || ' | reads ' || coalesce((
               SELECT pg_catalog.string_agg(DISTINCT d.refobjid::regclass::text || '.' || a.attname, ', '
                                               ORDER BY d.refobjid::regclass::text || '.' || a.attname)
                 FROM pg_catalog.pg_rewrite r
                 JOIN pg_catalog.pg_depend d
                   ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
                 JOIN pg_catalog.pg_attribute a
                   ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                WHERE r.ev_class = c.oid
                  AND d.refobjid <> c.oid
                  AND d.refobjsubid > 0), '-')
      FROM pg_catalog.pg_class c
      CROSS JOIN ext
     WHERE c.relnamespace = ext.extnamespace
       AND c.relkind IN ('v', 'm')
       AND c.oid NOT IN (SELECT oid FROM foreign_relations)
    UNION ALL
    SELECT 'sequence ' || s.seqrelid::regclass::text
           || ' | type ' || s.seqtypid::regtype::text
           || ' | start ' || s.seqstart || ' | increment ' || s.seqincrement
           || ' | min ' || s.seqmin || ' | max ' || s.seqmax || ' | cycle ' || s.seqcycle
           || ' | owned by ' || coalesce((
                  SELECT d.refobjid::regclass::text || '.' || a.attname
                    FROM pg_catalog.pg_depend d
                    JOIN pg_catalog.pg_attribute a
                      ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
                   WHERE d.classid = 'pg_catalog.pg_class'::regclass
                     AND d.objid = s.seqrelid
                     AND d.refclassid = 'pg_catalog.pg_class'::regclass
                     AND d.deptype = 'a'), '-')
      FROM pg_catalog.pg_sequence s
      JOIN pg_catalog.pg_class c ON c.oid = s.seqrelid
      CROSS JOIN ext
     WHERE c.relnamespace = ext.extnamespace
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' | kind ' || t.typtype::text
      FROM pg_catalog.pg_type t
      CROSS JOIN ext
     WHERE t.typnamespace = ext.extnamespace
       AND t.typtype NOT IN ('c', 'b')
       AND NOT EXISTS (SELECT 1 FROM foreign_members f
                        WHERE f.classid = 'pg_catalog.pg_type'::regclass AND f.objid = t.oid)   -- row types of tables, and their arrays' base
    UNION ALL
    SELECT 'config dump ' || cfg.rel::regclass::text || ' | where ' || coalesce(cfg.cond, '-')
      FROM ext, unnest(ext.extconfig, ext.extcondition) AS cfg(rel, cond)  -- the multi-argument form cannot be qualified
    UNION ALL
    SELECT 'extension ' || e.extname || ' ' || e.extversion
           || ' | relocatable ' || e.extrelocatable
           || ' | requires ' || coalesce((
                  SELECT pg_catalog.string_agg(r.extname, ', ' ORDER BY r.extname)
                    FROM pg_catalog.pg_depend d
                    JOIN pg_catalog.pg_extension r ON r.oid = d.refobjid
                   WHERE d.classid = 'pg_catalog.pg_extension'::regclass
                     AND d.objid = e.oid
                     AND d.refclassid = 'pg_catalog.pg_extension'::regclass), '-')
      FROM pg_catalog.pg_extension e
      JOIN ext ON ext.oid = e.oid
)
SELECT line FROM facts AS f(line) ORDER BY line COLLATE "C"
