SELECT p.traded, p.valid_from, p.valid_to
  FROM weston_ticker_pieces(ARRAY[$1::text], $2::date, $3::timestamptz) p
 ORDER BY p.valid_from
