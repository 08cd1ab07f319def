-- The sources whose messages the age purge walks: every source a tracker has stored for.
SELECT s.source FROM @extschema@.tracker_source s ORDER BY s.source
