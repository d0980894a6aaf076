-- The event log (SPEC section 8). Applied by `npm run dev` and `npm test` to the local
-- database, and by `wrangler d1 migrations apply EVENTS --remote` before a deploy.

-- One row per accepted event. `seq` orders the list (newest first) and is the cursor:
-- it only grows, so paging never repeats or skips an event while new ones arrive.
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,          -- its webhook-id
  event TEXT NOT NULL,
  message_id TEXT,
  timestamp TEXT NOT NULL,          -- as LeadNest sent it
  received_at INTEGER NOT NULL,     -- unix milliseconds
  body TEXT NOT NULL,               -- exactly as received (a verified UTF-8 JSON text)
  status TEXT NOT NULL DEFAULT 'pending'  -- pending | delivered | failed | unrouted
);
CREATE INDEX events_received_at ON events (received_at);
CREATE INDEX events_status ON events (status, seq);
CREATE INDEX events_message_id ON events (message_id);

-- One row per (event, route) the event matched.
CREATE TABLE deliveries (
  event_id TEXT NOT NULL,
  route TEXT NOT NULL,
  status TEXT NOT NULL,             -- pending | delivered | failed
  PRIMARY KEY (event_id, route)
) WITHOUT ROWID;
CREATE INDEX deliveries_route ON deliveries (route, status);

-- Every attempt of a delivery, numbered per delivery (a replay appends).
CREATE TABLE attempts (
  event_id TEXT NOT NULL,
  route TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,              -- unix milliseconds
  duration_ms INTEGER NOT NULL,
  outcome TEXT NOT NULL,            -- delivered | retry | failed | sent (to a queue route)
  status INTEGER,                   -- the response's status, when there was one
  headers TEXT,                     -- the response's headers, a JSON object
  body TEXT,                        -- the first 2 KiB of the response's body
  error TEXT,                       -- why there was no answer (timeout, network error, ...)
  PRIMARY KEY (event_id, route, attempt)
) WITHOUT ROWID;
-- The retention purge deletes attempts by age, including any whose event never
-- reached the log.
CREATE INDEX attempts_at ON attempts (at);

-- Redeliveries answered `duplicate`, per event: a table of their own, so a count another
-- isolate writes before the event itself is kept, and an event's late first write is never
-- taken for a redelivery.
CREATE TABLE redeliveries (
  event_id TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  last_at INTEGER NOT NULL          -- unix milliseconds of the latest one
) WITHOUT ROWID;
CREATE INDEX redeliveries_last_at ON redeliveries (last_at);

-- Counts per hour: accepted, duplicate, rejected:<code>, delivered, failed.
CREATE TABLE counts (
  hour INTEGER NOT NULL,            -- unix seconds of the hour's start
  name TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (hour, name)
) WITHOUT ROWID;
