//! The ways a provider endpoint fails, each answered as a provider would answer it: the
//! no-silent-loss tests try every one against every place the loader reads events.

use std::time::Duration;

use crate::Reply;

/// One way an endpoint fails.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// The path does not exist (a plan without the calendar, a moved endpoint).
    NotFound,
    /// A plan refusal with this status (FMP has answered both 402 and 403).
    Refused(u16),
    /// No answer within the client's timeout (the reply comes after 3 s), on every retry.
    TimedOut,
    /// HTTP 200 with this body, which is not the documented shape.
    Garbage(&'static str),
}

impl Fault {
    /// The reply this fault gives.
    #[must_use]
    pub fn reply(self) -> Reply {
        match self {
            Self::NotFound => Reply::status(404, r#"{"message":"Not Found"}"#),
            Self::Refused(status) => Reply::status(
                status,
                r#"{"Error Message": "Restricted Endpoint: This endpoint is not available under your current subscription"}"#,
            ),
            Self::TimedOut => Reply::json("[]").after(Duration::from_secs(3)),
            Self::Garbage(body) => Reply::json(body),
        }
    }
}
