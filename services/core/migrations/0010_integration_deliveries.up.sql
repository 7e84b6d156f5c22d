-- Every request GitHub, Slack or Discord sent, verified or not, and what came of it.
CREATE TABLE integration_deliveries (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant       text NOT NULL DEFAULT 'default',
  integration  text NOT NULL CHECK (integration IN ('github', 'slack', 'discord')),
  -- The provider's event: `issue_comment`, `slash_command`, `interaction`…
  event        text NOT NULL,
  -- The provider's id for this delivery (X-GitHub-Delivery, Slack's trigger or event id,
  -- Discord's interaction id), when the request carried one.
  delivery_id  text,
  verified     boolean NOT NULL,
  -- A verified request whose delivery id was seen before: refused, and kept for the record.
  replay       boolean NOT NULL DEFAULT false,
  -- What it asked for: `run`, `prompt`, `ls`, `check`, `ping`; null when nothing.
  action       text,
  -- The sandbox or workspace the action names, as the request named it.
  target       text,
  task_id      uuid,
  prompt_id    text,
  -- `refused`, `ignored`, `answered`, `running`, `succeeded`, `failed`.
  outcome      text NOT NULL,
  -- Why, in a sentence (never a secret: the table is readable with `read`).
  detail       text,
  received_at  timestamptz(3) NOT NULL DEFAULT now(),
  finished_at  timestamptz(3)
);
-- Idempotency: one verified first delivery per provider id. Unverified requests do not claim an
-- id, so a forged request cannot block the real one.
CREATE UNIQUE INDEX integration_deliveries_delivery_key
  ON integration_deliveries (integration, delivery_id)
  WHERE verified AND NOT replay AND delivery_id IS NOT NULL;
CREATE INDEX integration_deliveries_received_at_idx
  ON integration_deliveries (received_at DESC, id DESC);
