//! The due loop: held tickets released when their window opens, housekeeping
//! (idle tickets closed, old personal data purged) and the timetable's end.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::health::{queue_admin_letter, refresh_status};
use super::inbox::log_outcome;
use super::{DUE, MAX_BEAT, Shared, redact, stopping};
use crate::schedule::Validity;
use crate::store::{Queries, TIMETABLE_REMINDED_KEY, TIMETABLE_WARNED_KEY};
use crate::ticket::{self, Desk};

/// Forwards held tickets whose window has opened.
pub(super) fn release_due(shared: &Shared) -> anyhow::Result<usize> {
    let loaded = shared.loaded();
    let desk = Desk {
        config: &loaded.config,
        templates: &loaded.templates,
    };
    let now = shared.clock.now();
    let outcomes = shared
        .store()
        .transaction(|tx| ticket::release_due(tx, &desk, now))?;
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

/// Days between two reminders that the timetable has ended.
pub(super) const TIMETABLE_REMIND_EVERY_DAYS: i64 = 7;

/// `warn_before_end` days before the timetable's last day, one mail to the admin
/// (template `timetable_end`) saying when it ends and how to add the next one; once
/// it has ended, a reminder every [`TIMETABLE_REMIND_EVERY_DAYS`] days. Returns
/// whether a mail was queued.
pub fn timetable_check(shared: &Shared) -> anyhow::Result<bool> {
    let loaded = shared.loaded();
    let cfg = &loaded.config;
    let s = &cfg.schedule;
    let now = shared.clock.now();
    let today = now.with_timezone(&s.tz()).date_naive();
    let last = s.valid_until().to_string();
    let validity = s.validity(now, cfg.warn_before_end_days);
    let queued = shared.store().transaction(|tx| {
        let (expired, days_left) = match validity {
            Validity::Valid => return Ok(false),
            Validity::EndsSoon { days_left, .. } => {
                if tx.kv_get(TIMETABLE_WARNED_KEY)?.as_deref() == Some(last.as_str()) {
                    return Ok(false);
                }
                tx.kv_set(TIMETABLE_WARNED_KEY, &last)?;
                (false, days_left)
            }
            Validity::Ended { .. } => {
                let previous = tx.kv_get(TIMETABLE_REMINDED_KEY)?;
                let reminded = previous
                    .as_deref()
                    .and_then(|v| v.split_once(';'))
                    .filter(|(until, _)| *until == last)
                    .and_then(|(_, date)| date.parse::<chrono::NaiveDate>().ok());
                if reminded.is_some_and(|d| (today - d).num_days() < TIMETABLE_REMIND_EVERY_DAYS) {
                    return Ok(false);
                }
                tx.kv_set(TIMETABLE_REMINDED_KEY, &format!("{last};{today}"))?;
                (true, -1)
            }
        };
        let detail = if expired {
            format!("the timetable ended on {last}")
        } else {
            format!("the timetable ends on {last} ({days_left} days left)")
        };
        tx.audit(now, None, None, "timetable_end", &detail)?;
        let Some(admin) = &cfg.admin else {
            return Ok(false);
        };
        let ctx = minijinja::context! {
            school => cfg.school_name,
            mailbox => cfg.from.email,
            last_day => crate::ticket::date_ru(s.valid_until()),
            days_left => days_left,
            expired => expired,
            config => cfg.file.display().to_string(),
            unit => shared.unit,
        };
        queue_admin_letter(tx, &loaded, admin, "timetable_end", ctx, now)?;
        Ok(true)
    })?;
    if queued {
        warn!(valid_until = %last, "the timetable ends or has ended: mail queued for the admin");
        shared.outbox_wake.notify_one();
        refresh_status(shared);
    }
    Ok(queued)
}
