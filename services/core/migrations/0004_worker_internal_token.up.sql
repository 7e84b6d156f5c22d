-- The bearer token a worker's internal data-plane routes (exec, files, PTY) accept. Each worker
-- process draws a fresh random one when it starts and registers it here; gateways read it with
-- the worker's address. It never leaves the database through the public API.
ALTER TABLE workers ADD COLUMN internal_token text;
