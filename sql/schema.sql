-- pg_jobmon tables, sequences, seed rows and dump configuration; runs first at CREATE EXTENSION,
-- before any function exists. Names, columns, column order and constraint names are those of
-- pg_jobmon 1.5.0 so existing queries, scripts and dumps keep working.

-- Consider partitioning job_log / job_detail on start_time when logging traffic is high.
CREATE TABLE @extschema@.job_log (
    job_id bigint NOT NULL,
    owner text NOT NULL,
    job_name text NOT NULL,
    start_time timestamp with time zone NOT NULL,
    end_time timestamp with time zone,
    status text,
    pid integer NOT NULL,
    CONSTRAINT job_log_job_id_pkey PRIMARY KEY (job_id)
);
CREATE INDEX job_log_job_name_idx ON @extschema@.job_log (job_name);
CREATE INDEX job_log_start_time_idx ON @extschema@.job_log (start_time);
CREATE INDEX job_log_status_idx ON @extschema@.job_log (status);
CREATE INDEX job_log_pid_idx ON @extschema@.job_log (pid);
-- check_job_status() probes it once per configured job (a run since the warning threshold?
-- the last start in the window?) instead of reading the whole window of job_log.
CREATE INDEX job_log_job_name_start_time_idx ON @extschema@.job_log (job_name, start_time);
CREATE SEQUENCE @extschema@.job_log_job_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE @extschema@.job_log_job_id_seq OWNED BY @extschema@.job_log.job_id;
ALTER TABLE @extschema@.job_log
    ALTER COLUMN job_id SET DEFAULT nextval('@extschema@.job_log_job_id_seq'::regclass);


CREATE TABLE @extschema@.job_detail (
    job_id bigint NOT NULL,
    step_id bigint NOT NULL,
    action text NOT NULL,
    start_time timestamp with time zone NOT NULL,
    end_time timestamp with time zone,
    elapsed_time real,
    status text,
    message text,
    CONSTRAINT job_detail_step_id_pkey PRIMARY KEY (step_id),
    CONSTRAINT job_detail_job_id_fkey FOREIGN KEY (job_id)
        REFERENCES @extschema@.job_log (job_id) ON DELETE CASCADE
);
CREATE INDEX job_detail_job_id_idx ON @extschema@.job_detail (job_id);
CREATE SEQUENCE @extschema@.job_detail_step_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
ALTER SEQUENCE @extschema@.job_detail_step_id_seq OWNED BY @extschema@.job_detail.step_id;
ALTER TABLE @extschema@.job_detail
    ALTER COLUMN step_id SET DEFAULT nextval('@extschema@.job_detail_step_id_seq'::regclass);


-- Filled and emptied by the job_log trigger: one row per unsuccessful run since the job's last
-- successful one, which is what makes the failure counts "consecutive".
CREATE TABLE @extschema@.job_check_log (
    job_id bigint NOT NULL,
    job_name text NOT NULL,
    alert_code integer DEFAULT 3 NOT NULL
);


-- Kept for installations and scripts written for 1.5.0; a row, if present, supplies the
-- background connection's parameters.
CREATE TABLE @extschema@.dblink_mapping_jobmon (
    username text,
    port text,
    pwd text,
    host text,
    hostaddr text
);

-- The advisory lock serialises concurrent first inserts, which a plain count would let through
-- (each transaction would see only its own row). BEFORE ROW triggers see the rows already
-- inserted by the same statement, so a multi-row INSERT is caught as well.
CREATE FUNCTION @extschema@.dblink_limit_trig() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('pg_jobmon'),
                                             pg_catalog.hashtext('dblink_mapping_jobmon'));
    IF EXISTS (SELECT 1 FROM @extschema@.dblink_mapping_jobmon) THEN
        RAISE EXCEPTION 'Only a single row may exist in this table';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER dblink_limit_trig
    BEFORE INSERT ON @extschema@.dblink_mapping_jobmon
    FOR EACH ROW EXECUTE FUNCTION @extschema@.dblink_limit_trig();


CREATE TABLE @extschema@.job_check_config (
    job_name text NOT NULL,
    warn_threshold interval NOT NULL,
    error_threshold interval NOT NULL,
    active boolean DEFAULT false NOT NULL,
    sensitivity smallint DEFAULT 0 NOT NULL,
    escalate integer,
    CONSTRAINT job_check_config_job_name_pkey PRIMARY KEY (job_name)
);


CREATE TABLE @extschema@.job_status_text (
    alert_code integer NOT NULL,
    alert_text text NOT NULL,
    CONSTRAINT job_status_text_alert_code_pkey PRIMARY KEY (alert_code)
);
INSERT INTO @extschema@.job_status_text (alert_code, alert_text) VALUES
    (1, 'OK'),
    (2, 'WARNING'),
    (3, 'CRITICAL');

-- A restore runs CREATE EXTENSION (which seeds codes 1-3) before loading the dumped rows. The
-- dump filter below leaves out unchanged seed rows; a seed code whose text the user changed is
-- dumped, and this trigger turns its re-insert into an update of the fresh seed row instead of a
-- duplicate-key failure that would abort loading the whole table.
CREATE FUNCTION @extschema@.job_status_text_seed_trig() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NEW.alert_code IN (1, 2, 3) THEN
        UPDATE @extschema@.job_status_text
           SET alert_text = NEW.alert_text
         WHERE alert_code = NEW.alert_code;
        IF FOUND THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER job_status_text_seed_trig
    BEFORE INSERT ON @extschema@.job_status_text
    FOR EACH ROW EXECUTE FUNCTION @extschema@.job_status_text_seed_trig();

-- The pre-0.3 name of job_status_text, still used by 2012-era monitoring queries.
CREATE VIEW @extschema@.job_alert_nagios (error_code, error_text) AS
    SELECT alert_code, alert_text FROM @extschema@.job_status_text;


-- Unlike 1.5.0, the job history is dumped too, and so are the sequences, so that a restored
-- database neither loses its history nor hands out job and step ids that already exist.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_log_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_detail', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_detail_step_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_check_log', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_check_config', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.dblink_mapping_jobmon', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.job_status_text',
    $$WHERE (alert_code, alert_text) NOT IN ((1, 'OK'), (2, 'WARNING'), (3, 'CRITICAL'))$$);
