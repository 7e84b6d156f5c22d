-- API keys and the audit trail (the original had no authentication at all).

CREATE TABLE api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant       text NOT NULL DEFAULT 'default',
  name         text NOT NULL,
  -- Only a hash of the secret is stored; the secret itself is shown once, at creation.
  key_hash     text NOT NULL,
  -- The first characters of the secret, so people can tell keys apart.
  prefix       text NOT NULL,
  scopes       jsonb NOT NULL DEFAULT '[]',
  created_at   timestamptz(3) NOT NULL DEFAULT now(),
  last_used_at timestamptz(3),
  revoked_at   timestamptz(3),
  CONSTRAINT api_keys_key_hash_key UNIQUE (key_hash)
);
CREATE INDEX api_keys_created_at_idx ON api_keys (created_at DESC, id DESC);

CREATE TABLE audit_log (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant        text NOT NULL DEFAULT 'default',
  at            timestamptz(3) NOT NULL DEFAULT now(),
  -- SET NULL: the trail must survive the deletion of the key that acted.
  actor_key_id  uuid REFERENCES api_keys (id) ON DELETE SET NULL,
  action        text NOT NULL,
  resource_type text,
  resource_id   text,
  request_id    text,
  status_code   integer,
  details       jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, id DESC);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id);
CREATE INDEX audit_log_actor_key_id_idx ON audit_log (actor_key_id);
