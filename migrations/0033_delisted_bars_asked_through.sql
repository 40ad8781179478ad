-- The last day through which a run asked the providers for a delisted ticker's bars. A
-- provider's delisting date often lies days after the last trade, so the "last" bar may
-- never come: once a run has asked through the ticker's last session it leaves the nightly
-- universe (it is asked again only when named with --symbols). NULL: never asked through.
ALTER TABLE securities ADD COLUMN bars_asked_through date;
COMMENT ON COLUMN securities.bars_asked_through IS
    'The last day a run asked the providers for this delisted ticker''s bars through; once it reaches the last session, the nightly universe leaves the ticker out.';
