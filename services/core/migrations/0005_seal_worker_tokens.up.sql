-- Workers' internal tokens are now stored sealed (AES-256-GCM under a key derived from the
-- installation's encryption key, `sealed.v1.…`), so reading this table no longer yields a token
-- that drives a worker's data plane. Tokens stored in the clear before are dropped: each worker
-- registers a fresh, sealed one when it starts.
UPDATE workers SET internal_token = NULL
 WHERE internal_token IS NOT NULL AND internal_token NOT LIKE 'sealed.v1.%';
