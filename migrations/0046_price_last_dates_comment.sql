-- price_last_dates' catalog comment said which ticket made the table; it says what the table
-- is. (0028 wrote the first; a landed migration's statements never change.)
COMMENT ON TABLE weston_data.price_last_dates IS
    'Each symbol''s newest bar in prices_daily, maintained by its statement triggers; read by status and the freshness exporter query.';
