-- A synthetic universe for the benchmarks (weston_tests::bench_universe): {symbols} symbols
-- named {prefix}00001.. over the weekdays {from}..{to}, a deterministic wobbly price per
-- symbol; a split for every third symbol (forward, reverse and 3-for-2), a second one for
-- every seventh; quarterly dividends for two symbols in three. Generated set-based, in seconds.
SELECT weston_ensure_partitions('{from}', '{to}');
INSERT INTO etl_run (job_name, window_start, window_end) VALUES ('bench-adjusted', '{from}', '{to}');
INSERT INTO securities (symbol)
SELECT '{prefix}' || lpad(i::text, 5, '0') FROM generate_series(1, {symbols}) i;
INSERT INTO prices_daily (symbol, date, open, high, low, close, volume, provider, run_id)
SELECT '{prefix}' || lpad(i::text, 5, '0'), d::date,
       round(c * 0.995, 2), round(c * 1.01, 2), round(c * 0.99, 2), round(c, 2),
       100000 + (i * 7919 + n * 104729) % 900000, 'mock', 1
  FROM generate_series(1, {symbols}) i
 CROSS JOIN LATERAL (
       SELECT d, row_number() OVER (ORDER BY d) AS n
         FROM generate_series(date '{from}', date '{to}', interval '1 day') d
        WHERE extract(isodow FROM d) < 6) days
 CROSS JOIN LATERAL (
       SELECT (40 + i % 300 + 15 * sin(n / 23.0 + i) + 5 * cos(n / 7.0 * (1 + i % 3)))::numeric AS c) price;
INSERT INTO splits (symbol, date, numerator, denominator, provider, run_id)
SELECT '{prefix}' || lpad(i::text, 5, '0'), date '{from}' + 60 + (i * 37) % (date '{to}' - date '{from}' - 60),
       (ARRAY[2, 3, 4, 1, 7, 10])[1 + i % 6], (ARRAY[1, 2, 1, 8, 1, 1])[1 + i % 6], 'mock', 1
  FROM generate_series(1, {symbols}) i WHERE i % 3 = 0
UNION ALL
SELECT '{prefix}' || lpad(i::text, 5, '0'), date '{from}' + 30 + (i * 53) % (date '{to}' - date '{from}' - 30), 3, 2, 'mock', 1
  FROM generate_series(1, {symbols}) i
 WHERE i % 7 = 0
   AND date '{from}' + 30 + (i * 53) % (date '{to}' - date '{from}' - 30)
       <> date '{from}' + 60 + (i * 37) % (date '{to}' - date '{from}' - 60)
ON CONFLICT DO NOTHING;
INSERT INTO dividends (symbol, ex_date, amount, provider, run_id)
SELECT '{prefix}' || lpad(i::text, 5, '0'), q::date + i % 20, round(0.10 + (i % 50) / 100.0, 2), 'mock', 1
  FROM generate_series(1, {symbols}) i
 CROSS JOIN generate_series(date '{from}' + 33, date '{to}' - 20, interval '3 months') q
 WHERE i % 3 <> 1;
ANALYZE;
