-- An on-demand audit's default range: the stored bars' first and last dates.
SELECT min(date), max(date) FROM prices_daily
