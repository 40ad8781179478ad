  -- The close kept with each dividend (migration 0047), taken when it is certainly the
  -- answer: dated within the dividend's ticker piece (else it may be another security's,
  -- or an earlier ticker may hold a later bar), and after any month retention may have
  -- retired since it was kept (a week's margin for the day rotation calls today). None
  -- kept answers only for a first piece with nothing retired.
  CROSS JOIN (SELECT max((current_date + 7 - pg_catalog.make_interval(months => r.retain_months))::date) AS retired_through
                FROM weston_partition_config r
               WHERE r.parent = 'prices_daily'::regclass) f
  LEFT JOIN LATERAL (
       SELECT k.close_date, k.close,
              CASE WHEN k.close_date IS NULL THEN q.valid_from = '-infinity' AND f.retired_through IS NULL
                   ELSE k.close_date >= q.valid_from
                        AND (f.retired_through IS NULL OR k.close_date > f.retired_through)
              END AS answered
         FROM dividend_closes k
        WHERE k.symbol = d.symbol AND k.ex_date = d.ex_date) c ON true
