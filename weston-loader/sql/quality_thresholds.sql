-- The audit's thresholds (migration 0025), read once per audit.
SELECT rule, params FROM quality_thresholds ORDER BY rule
