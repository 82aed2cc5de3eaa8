-- Which collation the hot store's "soc_fold" copies (create_fold_collation.sql): Sigma rules
-- compare text case-insensitively by lower-casing both sides under it
-- (correlation.sigma.backend). Both candidates lower-case every alphabet the same way,
-- with Unicode's full case mapping (U+0130 to 'i' + U+0307, a word-final capital sigma to
-- the final small sigma), whatever the database's own locale:
-- - pg_unicode_fast: PostgreSQL 18's built-in provider, no ICU needed (the embedded
--   server, built without ICU, has only this one);
-- - und-x-icu: the ICU root collation of servers built with ICU (distribution packages and
--   the official images; PostgreSQL 15-17).
-- - soc_fold itself, when the operator created it before set-up (a server with neither,
--   e.g. PGlite without ICU: CREATE COLLATION soc_fold (provider = builtin, locale =
--   'C.UTF-8') accepts PostgreSQL 17's one-to-one mapping knowingly).
-- NULL: none (PostgreSQL 17's pg_c_utf8 maps one character to one: U+0130 to 'i', and
-- every capital sigma to the medial one). pg_unicode_fast serves UTF-8 databases only.
-- (ASCII only in this file: it is sent in the client's encoding.)
SELECT collname
FROM pg_collation
WHERE collname IN ('pg_unicode_fast', 'und-x-icu', 'soc_fold')
  AND collencoding IN (-1, (SELECT encoding FROM pg_database WHERE datname = current_database()))
ORDER BY collname = 'soc_fold' DESC, collname = 'pg_unicode_fast' DESC
LIMIT 1
