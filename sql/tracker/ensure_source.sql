INSERT INTO @extschema@.tracker_source (source) VALUES ($1) ON CONFLICT (source) DO NOTHING
