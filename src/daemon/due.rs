//! The due loop: held tickets released when their window opens, unanswered
//! ones reminded and passed on, housekeeping
//! (idle tickets closed, old personal data purged), the timetable's end and
//! the weekly report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::health::refresh_status;
use super::letter::log_outcome;
use super::{DUE, MAX_BEAT, Shared, redact, stopping};
use crate::store::Queries;
use crate::ticket;

/// Forwards held tickets whose window has opened; reminds the specialists of
/// unanswered ones and passes on those still unanswered (`ticket::reminders`).
pub(super) fn release_due(shared: &Shared) -> anyhow::Result<usize> {
    let loaded = shared.loaded();
    let desk = loaded.desk();
    let now = shared.clock.now();
    let mut outcomes = shared
        .store()
        .transaction(|tx| ticket::release_due(tx, &desk, now))?;
    // Releases are logged and sent even when reminding fails.
    match shared
        .store()
        .transaction(|tx| ticket::remind_due(tx, &desk, now))
    {
        Ok(more) => outcomes.extend(more),
        Err(e) => error!(error = %redact(&format!("{e:#}")), "reminders"),
    }
    for o in &outcomes {
        log_outcome(o);
    }
    if !outcomes.is_empty() {
        shared.outbox_wake.notify_one();
        refresh_status(shared);
    }
    Ok(outcomes.len())
}

/// Closes idle tickets and purges personal data of long-closed ones (see `[service]`).
pub fn housekeeping(shared: &Shared) -> anyhow::Result<(usize, usize)> {
    let loaded = shared.loaded();
    let cfg = &loaded.config;
    let now = shared.clock.now();
    let close_before =
        now - chrono::Duration::from_std(cfg.close_after).unwrap_or(chrono::Duration::days(30));
    let purge_before = now - chrono::Duration::days(i64::from(cfg.purge_after_days));
    let (closed, purged) = shared.store().transaction(|tx| {
        let closed = tx.close_idle(close_before, now)?;
        let purged = tx.purge_closed(purge_before, now)?;
        if closed + purged > 0 {
            tx.audit(
                now,
                None,
                None,
                "housekeeping",
                &format!("closed {closed}, purged {purged}"),
            )?;
        }
        Ok((closed, purged))
    })?;
    // The WAL still holds the pages as they were before the purge (and before any
    // other change since the last truncation): copy it into the file, where
    // `secure_delete` zeroed what was purged, and truncate it.
    if !shared.store().checkpoint()? {
        debug!("housekeeping: a reader kept the WAL from being truncated; next time");
    }
    if closed + purged > 0 {
        info!(
            closed,
            purged, "housekeeping: idle tickets closed, personal data purged"
        );
    }
    Ok((closed, purged))
}

pub(super) async fn due_loop(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        shared.beat(DUE);
        if let Err(e) = release_due(&shared) {
            error!(error = %redact(&format!("{e:#}")), "due queue");
        }
        if last_housekeeping.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            if let Err(e) = housekeeping(&shared) {
                error!(error = %redact(&format!("{e:#}")), "housekeeping");
            }
            last_housekeeping = Some(Instant::now());
        }
        if let Err(e) = timetable_check(&shared) {
            error!(error = %redact(&format!("{e:#}")), "timetable check");
        }
        if let Err(e) = weekly_report(&shared) {
            error!(error = %redact(&format!("{e:#}")), "weekly report");
        }
        let next = shared.store().read().next_due()?;
        let wait = next
            .map(|t| (t - shared.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_BEAT)
            .min(shared.beat_every())
            .max(Duration::from_millis(20));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.due_wake.notified() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if stopping(&shutdown) {
            return Ok(());
        }
    }
}

/// Tells the admin, in time and again once it has, that the timetable ends
/// (see [`ticket::timetable_reminder`]). Returns whether a mail was queued.
pub fn timetable_check(shared: &Shared) -> anyhow::Result<bool> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let queued = shared
        .store()
        .transaction(|tx| ticket::timetable_reminder(tx, &loaded.desk(), &shared.unit, now))?;
    if queued {
        let last = loaded.config.schedule.valid_until();
        warn!(valid_until = %last, "the timetable ends or has ended: mail queued for the admin");
        shared.outbox_wake.notify_one();
        refresh_status(shared);
    }
    Ok(queued)
}

/// Queues the weekly report when its day and hour have come (`report::send`).
pub fn weekly_report(shared: &Shared) -> anyhow::Result<bool> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let queued = crate::report::send::send_weekly(&mut shared.store(), &loaded.config, now)?;
    if queued {
        info!("weekly report queued");
        shared.outbox_wake.notify_one();
    }
    Ok(queued)
}
