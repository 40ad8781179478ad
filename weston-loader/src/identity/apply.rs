//! Writing what detection learned, each event in its own transaction through the
//! extension's writers (`weston_ticker_listed`, `_changed`, `_delisted`): an event the
//! database refuses is rolled back alone, reported (the run is `partial`) and kept to be
//! tried again by later runs; a change onto another live security's ticker is a
//! `ticker_conflict` finding for a DBA instead.

use chrono::NaiveDate;
use sqlx::{Connection, PgConnection};

use super::conflict;

use crate::model::{IdentityStats, PendingEvent, ProviderName, TickerIdentity};

/// Where events are written, and what the run learned so far.
pub(super) struct Writer<'a> {
    pub(super) conn: &'a mut PgConnection,
    pub(super) run_id: i64,
    /// The run's window start: a ticker's history starts no later (its bars belong to it).
    pub(super) window_start: NaiveDate,
    pub(super) stats: &'a mut IdentityStats,
    /// Tickers that joined the run (new tickers of renamed securities, relisted tickers).
    pub(super) added: Vec<String>,
    /// The refused events, to try again in later runs.
    pub(super) pending: Vec<PendingEvent>,
}

/// What is stored of the security that holds (or last held) a ticker.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct Holder {
    pub(super) listed: Option<NaiveDate>,
    pub(super) last_day: Option<NaiveDate>,
    pub(super) composite_figi: Option<String>,
    pub(super) cik: Option<String>,
    pub(super) continued_from: Option<NaiveDate>,
    pub(super) last_bar: Option<NaiveDate>,
    /// Whether its ticker is in ticker_history (else: its securities row only).
    pub(super) tracked: bool,
}

pub(super) async fn holder(conn: &mut PgConnection, symbol: &str) -> sqlx::Result<Option<Holder>> {
    sqlx::query_as(include_str!("../../sql/identity_holder.sql"))
        .bind(symbol)
        .fetch_optional(conn)
        .await
}

/// What became of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Recorded {
    /// Learned in this run: the stored history changed.
    New,
    /// Stored before (a run over the same window again): nothing changed, nothing learned.
    Known,
    /// Refused by the database, rolled back, reported as a conflict.
    Refused,
}

/// The stored holdings of `tickers`, compared before and after an event.
async fn holdings(conn: &mut PgConnection, tickers: &[&str]) -> sqlx::Result<String> {
    sqlx::query_scalar(include_str!("../../sql/identity_state.sql"))
        .bind(tickers)
        .fetch_one(conn)
        .await
}

impl Writer<'_> {
    /// Starts `symbol`'s dated history (if not yet) with a holder known from `first_day`
    /// at the latest `held_by`.
    async fn track(
        tx: &mut PgConnection,
        symbol: &str,
        first_day: Option<NaiveDate>,
        held_by: Option<NaiveDate>,
        window_start: NaiveDate,
        provider: ProviderName,
        run_id: i64,
    ) -> sqlx::Result<()> {
        sqlx::query(include_str!("../../sql/identity_track.sql"))
            .bind(symbol)
            .bind(first_day)
            .bind(held_by)
            .bind(window_start)
            .bind(provider.as_str())
            .bind(run_id)
            .execute(tx)
            .await
            .map(|_| ())
    }

    /// Runs `what` in a transaction; a refusal is rolled back, reported, and `retry` kept
    /// for later runs. Whether it changed the holdings of `tickers` tells a new event from
    /// one stored before.
    async fn event<F>(
        &mut self,
        label: String,
        tickers: &[&str],
        retry: PendingEvent,
        what: F,
    ) -> Recorded
    where
        F: for<'c> AsyncFnOnce(&'c mut PgConnection, i64, NaiveDate) -> sqlx::Result<()>,
    {
        match self.attempt(tickers, what).await {
            Ok(true) => Recorded::New,
            Ok(false) => Recorded::Known,
            Err(e) => {
                self.refuse(label, &e, retry);
                Recorded::Refused
            }
        }
    }

    pub(super) fn refuse(&mut self, label: String, e: &sqlx::Error, retry: PendingEvent) {
        tracing::error!(event = %label, "the database refused a life event (tried again by the next run): {e}");
        self.stats.refused.push(format!("{label}: {e}"));
        if !self.pending.contains(&retry) {
            self.pending.push(retry);
        }
    }

    /// `what` in a transaction: whether it changed the holdings of `tickers`.
    async fn attempt<F>(&mut self, tickers: &[&str], what: F) -> sqlx::Result<bool>
    where
        F: for<'c> AsyncFnOnce(&'c mut PgConnection, i64, NaiveDate) -> sqlx::Result<()>,
    {
        let (run_id, window_start) = (self.run_id, self.window_start);
        async {
            let mut tx = self.conn.begin().await?;
            let before = holdings(&mut tx, tickers).await?;
            what(&mut *tx, run_id, window_start).await?;
            let after = holdings(&mut tx, tickers).await?;
            tx.commit().await?;
            Ok::<_, sqlx::Error>(before != after)
        }
        .await
    }

    /// Starts the dated history of `symbol` (a ticker of the run not stored yet) with its
    /// current holder from `first_day` (else the window start), so an event can close it.
    pub(super) async fn start_history(
        &mut self,
        provider: ProviderName,
        symbol: &str,
        first_day: Option<NaiveDate>,
    ) {
        let label = format!("{symbol}: its history could not be started ({provider})");
        let retry = PendingEvent::Investigate {
            symbol: symbol.to_owned(),
            hint: None,
        };
        self.event(label, &[symbol], retry, async |tx, run_id, window_start| {
            Self::track(tx, symbol, first_day, None, window_start, provider, run_id).await
        })
        .await;
    }

    /// The security holding `old` trades as `new` from `effective`.
    pub(super) async fn renamed(
        &mut self,
        provider: ProviderName,
        old: &str,
        new: &str,
        effective: NaiveDate,
        first_day: Option<NaiveDate>,
    ) {
        let label = format!("{old}→{new} from {effective} ({provider})");
        match super::settle::before_first_bar(self.conn, old, new, effective).await {
            Ok(None) => {}
            Ok(Some(why)) => {
                tracing::warn!("{provider} {why}");
                return self.stats.rejected.push(format!("{provider} {why}"));
            }
            Err(e) => return self.stats.conflicts.push(format!("{label}: {e}")),
        }
        if conflict::rejected(self.conn, old, new, effective).await {
            return; // a DBA decided this change was wrong
        }
        let attempted = self
            .attempt(&[old, new], async |tx, run_id, window_start| {
                let before = effective.pred_opt();
                Self::track(tx, old, first_day, before, window_start, provider, run_id).await?;
                // A delisting inferred earlier (a listing names a renamed ticker inactive)
                // was this change: the history is reopened for it.
                sqlx::query(include_str!("../../sql/identity_reopen.sql"))
                    .bind(old)
                    .bind(effective)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("SELECT weston_ticker_changed($1, $2, $3, $4, $5)")
                    .bind(old)
                    .bind(new)
                    .bind(effective)
                    .bind(provider.as_str())
                    .bind(run_id)
                    .execute(tx)
                    .await
                    .map(|_| ())
            })
            .await;
        let recorded = match attempted {
            Ok(true) => Recorded::New,
            Ok(false) => Recorded::Known,
            Err(e) if conflict::is_conflict(&e) => {
                let change = conflict::Change {
                    provider,
                    old,
                    new,
                    effective,
                };
                conflict::record(self, &change, &label, &e).await;
                return;
            }
            Err(e) => {
                let retry = PendingEvent::Renamed {
                    provider,
                    old: old.to_owned(),
                    new: new.to_owned(),
                    effective,
                    first_day,
                };
                self.refuse(label.clone(), &e, retry);
                Recorded::Refused
            }
        };
        if recorded == Recorded::New {
            tracing::info!(%old, %new, %effective, %provider, "ticker change recorded");
            self.stats.renamed.push(label);
        }
        if recorded != Recorded::Refused {
            self.added.push(new.to_owned());
        }
    }

    /// The security holding `symbol` was delisted after `last_day`.
    pub(super) async fn delisted(
        &mut self,
        provider: ProviderName,
        symbol: &str,
        last_day: NaiveDate,
        first_day: Option<NaiveDate>,
    ) {
        let label = format!("{symbol} after {last_day} ({provider})");
        let retry = PendingEvent::Delisted {
            provider,
            symbol: symbol.to_owned(),
            last_day,
            first_day,
        };
        let recorded = self
            .event(
                label.clone(),
                &[symbol],
                retry,
                async |tx, run_id, window_start| {
                    Self::delist(
                        tx,
                        symbol,
                        last_day,
                        first_day,
                        provider,
                        run_id,
                        window_start,
                    )
                    .await
                },
            )
            .await;
        if recorded == Recorded::New {
            tracing::info!(%symbol, %last_day, %provider, "delisting recorded");
            self.stats.delisted.push(label);
        }
    }

    async fn delist(
        tx: &mut PgConnection,
        symbol: &str,
        last_day: NaiveDate,
        first_day: Option<NaiveDate>,
        provider: ProviderName,
        run_id: i64,
        window_start: NaiveDate,
    ) -> sqlx::Result<()> {
        Self::track(
            tx,
            symbol,
            first_day,
            Some(last_day),
            window_start,
            provider,
            run_id,
        )
        .await?;
        sqlx::query("SELECT weston_ticker_delisted($1, $2, $3, $4)")
            .bind(symbol)
            .bind(last_day)
            .bind(provider.as_str())
            .bind(run_id)
            .execute(tx)
            .await
            .map(|_| ())
    }

    /// A new security holds `symbol` from `new.listed`: the stored holder's history ends
    /// (if still open) at its last stored bar and is never extended. A ticker taken on the
    /// day its holder moved to another ticker of the same issuer is a share-class move;
    /// anything else is a reused ticker, also recorded as a `ticker_reused` finding.
    pub(super) async fn relisted(
        &mut self,
        provider: ProviderName,
        new: &TickerIdentity,
        old: &Holder,
        old_end: Option<NaiveDate>,
        listed: NaiveDate,
    ) {
        let symbol = new.symbol.as_str();
        let moved = old.continued_from == Some(listed)
            && (old.cik.is_none() || new.cik.is_none() || old.cik == new.cik);
        let label = format!(
            "{symbol}: a new security from {listed} ({provider}, FIGI {}, CIK {}); the old one's history kept",
            new.composite_figi.as_deref().unwrap_or("unknown"),
            new.cik.as_deref().unwrap_or("unknown")
        );
        let old_last = old_end
            .or_else(|| old.last_bar.filter(|d| *d < listed))
            .unwrap_or_else(|| listed.pred_opt().expect("a date before the listing"));
        let open = old.last_day.is_none();
        let retry = PendingEvent::Investigate {
            symbol: symbol.to_owned(),
            hint: old_end.map(|d| (provider, d)),
        };
        let recorded = self
            .event(
                label.clone(),
                &[symbol],
                retry,
                async |tx, run_id, window_start| {
                    if open {
                        Self::delist(
                            tx,
                            symbol,
                            old_last,
                            old.listed,
                            provider,
                            run_id,
                            window_start,
                        )
                        .await?;
                    }
                    sqlx::query("SELECT weston_ticker_listed($1, $2, $3, $4, $5, $6, $7)")
                        .bind(symbol)
                        .bind(listed)
                        .bind(provider.as_str())
                        .bind(run_id)
                        .bind(&new.composite_figi)
                        .bind(&new.share_class_figi)
                        .bind(&new.cik)
                        .execute(&mut *tx)
                        .await?;
                    if !moved {
                        let details = serde_json::json!({
                            "provider": provider.as_str(),
                            "new": {"listed": listed, "composite_figi": new.composite_figi,
                                    "share_class_figi": new.share_class_figi, "cik": new.cik},
                            "old": {"last_day": old_last, "composite_figi": old.composite_figi,
                                    "cik": old.cik},
                        });
                        let finding = crate::quality::Finding {
                            rule: crate::quality::rule::TICKER_REUSED,
                            symbol: symbol.to_owned(),
                            date: listed,
                            subject: new.composite_figi.clone().unwrap_or_default(),
                            details,
                        };
                        crate::findings::record(&mut *tx, run_id, &[finding]).await?;
                    }
                    Ok(())
                },
            )
            .await;
        if recorded == Recorded::New {
            tracing::warn!(%symbol, %listed, %provider, share_class_move = moved,
                "a stored ticker now names another security: recorded as a new security");
            if moved {
                self.stats.share_class_moves.push(label);
            } else {
                self.stats.reused.push(label);
            }
        }
        if recorded != Recorded::Refused {
            self.added.push(symbol.to_owned());
        }
    }
}
