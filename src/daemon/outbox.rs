//! The outbox loop: sends what is queued, one mail at a time, and tells a mail's
//! own failure (recorded, never retried) from the server's (retried later).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{error, info, warn};

use super::settings::outbox_settings;
use super::{MAX_BEAT, OUTBOX, Shared, redact, sleep_or_stop, stopped, stopping};
use crate::mailbox::Backoff;
use crate::outbox::{Blame, Outbox};
use crate::store::{OUTBOX_UNREACHABLE_KEY, Queries};

/// How long an SMTP transaction in flight may still take after shutdown is asked
/// for. One that takes longer (a hung server) is abandoned: its mail stays queued
/// and is sent again, with the same Message-ID, on the next start.
pub(super) const SMTP_GRACE: Duration = Duration::from_secs(5);

/// How an outbox pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PassEnd {
    /// Nothing ready is left (or shutdown).
    Done,
    /// The server cannot be reached: wait (connection backoff) and try again.
    Unreachable,
}

/// Sends what is queued over `outbox` (connecting it when needed). With
/// `until_empty` (for `--once`) returns when nothing is ready; a transient failure
/// then leaves the mail queued for the next run.
///
/// A server that cannot be reached is the connection's fault, not a mail's: the
/// mails keep their attempts and schedule (so they all go out as soon as the server
/// is back), the outage is recorded once for `status`, and the caller backs off.
pub(super) async fn outbox_pass(
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
    until_empty: bool,
    outbox: &mut Option<Outbox>,
) -> anyhow::Result<PassEnd> {
    loop {
        let now = shared.clock.now();
        // One mail at a time: a forward carries its originals (tens of MB), and a
        // queue of them must never be held in memory at once.
        let ready = shared.store().read().ready_outgoing(now, 1)?;
        if ready.is_empty() {
            return Ok(PassEnd::Done);
        }
        for mail in ready {
            if stopping(shutdown) {
                return Ok(PassEnd::Done);
            }
            shared.beat(OUTBOX);
            if outbox.is_none() {
                let settings = outbox_settings(&shared.loaded().config)?;
                let connected = tokio::select! {
                    r = Outbox::connect(&settings) => r,
                    _ = stopped(shutdown.clone()) => return Ok(PassEnd::Done),
                };
                match connected {
                    Ok(o) => {
                        *outbox = Some(o);
                        server_reachable(shared)?;
                    }
                    Err(e) => {
                        warn!(error = %redact(&e.to_string()), "outbox: cannot connect");
                        server_unreachable(shared, &e.to_string())?;
                        if until_empty {
                            return Err(anyhow::anyhow!("outbox: {}", redact(&e.to_string())));
                        }
                        return Ok(PassEnd::Unreachable);
                    }
                }
            }
            let Some(conn) = outbox.as_mut() else {
                continue;
            };
            // A transaction in flight is let finish, within SMTP_GRACE of a stop.
            let grace = async {
                stopped(shutdown.clone()).await;
                tokio::time::sleep(SMTP_GRACE).await;
            };
            let result = tokio::select! {
                r = conn.send(&mail.envelope_from, &mail.recipients, &mail.raw) => r,
                _ = grace => {
                    warn!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), "stopping: the SMTP server did not finish in time; the mail stays queued");
                    return Ok(PassEnd::Done);
                }
            };
            let now = shared.clock.now();
            match result {
                Ok(()) => {
                    shared
                        .store()
                        .transaction(|tx| tx.mark_sent(mail.id, now))?;
                    info!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), "sent");
                }
                Err(e) if e.blame() != Blame::Mail => {
                    let retry = now + chrono::Duration::seconds(backoff_secs(mail.attempts));
                    warn!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), error = %redact(&e.to_string()), "send failed; will retry");
                    shared
                        .store()
                        .transaction(|tx| tx.mark_retry(mail.id, &e.to_string(), retry))?;
                    *outbox = None;
                    if until_empty {
                        return Ok(PassEnd::Done);
                    }
                }
                Err(e) => {
                    error!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), error = %redact(&e.to_string()), "send refused permanently; recorded, not retried");
                    shared.store().transaction(|tx| {
                        tx.mark_failed(mail.id, &e.to_string())?;
                        tx.audit(
                            now,
                            mail.ticket,
                            Some(&mail.message_id),
                            "send_failed",
                            &e.to_string(),
                        )
                    })?;
                }
            }
        }
    }
}

/// Records the start of an outage (once; `status` shows it) and audits it.
pub(super) fn server_unreachable(shared: &Shared, error: &str) -> anyhow::Result<()> {
    let now = shared.clock.now();
    shared.store().transaction(|tx| {
        if tx.kv_get(OUTBOX_UNREACHABLE_KEY)?.is_none() {
            tx.kv_set(
                OUTBOX_UNREACHABLE_KEY,
                &format!("{}; {error}", now.to_rfc3339()),
            )?;
            tx.audit(now, None, None, "outbox_error", error)?;
        }
        Ok(())
    })
}

/// Clears a recorded outage.
pub(super) fn server_reachable(shared: &Shared) -> anyhow::Result<()> {
    let mut store = shared.store();
    if store.read().kv_get(OUTBOX_UNREACHABLE_KEY)?.is_some() {
        store.transaction(|tx| tx.kv_delete(OUTBOX_UNREACHABLE_KEY))?;
        info!("outbox: server reachable again");
    }
    Ok(())
}

/// Retry delays: 5 s, 10 s, 20 s … capped at 10 minutes.
pub(super) fn backoff_secs(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 7)).min(600)
}

pub(super) async fn outbox_loop(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // Between attempts to reach a server that is down: 0.5 s doubling to 15 s, so a
    // queue of any length costs one connection attempt per step, and mail flows again
    // within seconds of the server's return.
    let mut reconnect = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));
    // The SMTP session is kept between passes (a forward right after a letter pays no
    // TCP + TLS + AUTH), checked with NOOP when it has rested, and closed after a
    // minute without mail.
    let mut conn: Option<Outbox> = None;
    let mut last_mail = Instant::now();
    loop {
        shared.beat(OUTBOX);
        let had_ready = shared
            .store()
            .read()
            .ready_outgoing(shared.clock.now(), 1)
            .map(|r| !r.is_empty())
            .unwrap_or(true);
        if had_ready {
            last_mail = Instant::now();
        } else if last_mail.elapsed() > Duration::from_secs(60)
            && let Some(c) = conn.take()
        {
            c.close().await;
        }
        match outbox_pass(&shared, &shutdown, false, &mut conn).await {
            Ok(PassEnd::Done) => reconnect.reset(),
            Ok(PassEnd::Unreachable) => {
                conn = None;
                if sleep_or_stop(&shared, OUTBOX, reconnect.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => {
                conn = None;
                error!(error = %redact(&format!("{e:#}")), "outbox");
            }
        }
        if stopping(&shutdown) {
            return Ok(());
        }
        let next = shared.store().read().next_outgoing()?;
        let wait = next
            .map(|t| (t - shared.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_BEAT)
            .clamp(Duration::from_millis(20), shared.beat_every());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.outbox_wake.notified() => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}
