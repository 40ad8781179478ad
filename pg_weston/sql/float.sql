-- The double nearest a numeric (since 0.13.0), for clients that read floats: the weston
-- package's float reads call it in place of ::float8 (pg_weston/src/float.rs).
CREATE FUNCTION weston_float8(value numeric) RETURNS float8
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'weston_float8';
COMMENT ON FUNCTION weston_float8(numeric) IS
'The double nearest value, ties to even: the same double as value::float8 (and as Python''s float(Decimal)), several times faster for long numbers such as adjusted prices, since it does not print value and parse the text back. NaN and infinities map to themselves; a non-zero value too large or too small for a double is an error, as with ::float8.';
