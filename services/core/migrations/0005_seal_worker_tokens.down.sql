-- Sealed tokens cannot be turned back into clear ones here; code from before this migration
-- cannot open them, so they are dropped and each worker registers a fresh one when it starts.
UPDATE workers SET internal_token = NULL WHERE internal_token LIKE 'sealed.v1.%';
