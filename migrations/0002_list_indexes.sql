-- The list is ordered by when events were received (an event the dead-letter consumer
-- writes late takes its place by that, not at the top), and its status and event filters
-- walk an index in that order instead of every retained event.
DROP INDEX events_status;
CREATE INDEX events_status ON events (status, received_at);
CREATE INDEX events_event ON events (event, received_at);
