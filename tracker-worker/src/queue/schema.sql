CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY,
  timestamp REAL DEFAULT (strftime('%J','now')),
  instance TEXT, job TEXT, event TEXT, message TEXT);
CREATE INDEX IF NOT EXISTS messages_by_date ON messages(timestamp);
