//! FMP's `/stable` API as documented, answering AAPL from the recorded fixtures. The
//! split-adjusted `full` endpoint answers too, so a client reading the wrong one would
//! store adjusted prices (124.81 instead of 499.23).

use crate::{fixture, Reply, Seen};

/// FMP for a client holding `key`; any other key is refused as FMP refuses it.
#[must_use]
pub fn fmp_api(key: &str, seen: &Seen) -> Reply {
    if seen.param("apikey") != Some(key) {
        return Reply::status(
            401,
            r#"{"Error Message": "Invalid API KEY. Feel free to create a Free API Key or visit https://site.financialmodelingprep.com/faqs?search=why-is-my-api-key-invalid for more information."}"#,
        );
    }
    let aapl = seen.param("symbol") == Some("AAPL");
    match seen.path.as_str() {
        "/stable/historical-price-eod/non-split-adjusted" if aapl => {
            Reply::json(fixture("fmp_eod_non_split_adjusted_AAPL.json"))
        }
        "/stable/historical-price-eod/full" if aapl => {
            Reply::json(fixture("fmp_eod_full_AAPL.json"))
        }
        "/stable/splits" if aapl => Reply::json(fixture("fmp_splits_AAPL.json")),
        "/stable/dividends" if aapl => Reply::json(fixture("fmp_dividends_AAPL.json")),
        "/stable/profile" if aapl => Reply::json(fixture("fmp_profile_AAPL.json")),
        _ => Reply::json("[]"),
    }
}
