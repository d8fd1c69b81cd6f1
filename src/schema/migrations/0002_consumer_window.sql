-- The polling window being worked on. Progress is "every job visible in `snapshot` is done,
-- and so is every job visible in `window_snapshot` but not in `snapshot` up to
-- (position_xid, position_id)". Without the window's own snapshot, a consumer resuming
-- mid-window would page through a different window and skip jobs below its position.
ALTER TABLE {{schema}}.consumers ADD COLUMN window_snapshot pg_snapshot;
