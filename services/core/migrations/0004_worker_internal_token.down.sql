ALTER TABLE workers DROP COLUMN internal_token;
