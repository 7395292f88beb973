//! Health: heartbeats for the watchdog, the status line, the mailbox's last
//! contact, and the stall alert when the mailbox stays unreadable.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use tracing::{info, warn};

use super::{MAX_BEAT, Shared};
use crate::schedule::Validity;
use crate::store::{LAST_CONTACT_KEY, Queries};
use crate::ticket;

/// How often a healthy connection refreshes `last_mailbox_contact` in the store.
pub(super) const CONTACT_EVERY: Duration = Duration::from_secs(60);

impl Shared {
    pub(super) fn beat(&self, which: usize) {
        self.beats[which].store(Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// Makes every loop show life at least three times per watchdog `period`, so a
    /// short `WatchdogSec=` never sees a healthy loop that merely waits (in IDLE, in
    /// a reconnect back-off) as dead.
    pub fn set_watchdog(&self, period: Duration) {
        let every = (period / 3).clamp(Duration::from_millis(100), MAX_BEAT);
        self.beat_every_ms
            .store(every.as_millis() as u64, Ordering::Relaxed);
    }

    /// The longest a loop waits between heartbeats.
    pub(super) fn beat_every(&self) -> Duration {
        Duration::from_millis(self.beat_every_ms.load(Ordering::Relaxed))
    }

    /// Whether every loop has shown life within `within`.
    pub fn alive(&self, within: Duration) -> bool {
        let now = Utc::now().timestamp();
        self.beats
            .iter()
            .all(|b| now - b.load(Ordering::Relaxed) <= within.as_secs() as i64)
    }
}

/// Tells systemd we are ready (no-op outside systemd).
pub(super) fn notify_ready(shared: &Shared) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    update_status(shared, "ready");
}

/// Records a successful exchange with the mailbox (for `status`), at most every
/// [`CONTACT_EVERY`].
pub(super) fn touch_contact(shared: &Shared) -> anyhow::Result<()> {
    let mut written = shared
        .contact_written
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if written.is_some_and(|t| t.elapsed() < CONTACT_EVERY) {
        return Ok(());
    }
    let now = shared.clock.now();
    shared
        .store()
        .transaction(|tx| tx.kv_set(LAST_CONTACT_KEY, &now.to_rfc3339()))?;
    *written = Some(Instant::now());
    Ok(())
}

/// Rebuilds the status line with the inbox's current mode (after the due queue moved).
pub(super) fn refresh_status(shared: &Shared) {
    let mode = *shared.mode.lock().unwrap_or_else(|e| e.into_inner());
    update_status(shared, mode);
}

/// A one-line state for systemd's STATUS= and `status`, e.g.
/// "IDLE; 3 waiting for duty; next window Thu 08:00 Бамбуркин С.П.".
pub(super) fn update_status(shared: &Shared, mode: &'static str) {
    *shared.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let held = shared
        .store()
        .read()
        .held_tickets()
        .map(|h| h.len())
        .unwrap_or(0);
    let s = &loaded.config.schedule;
    let next = match s.next_window(now) {
        Some(x) => format!(
            "next window {} {}",
            x.from.format("%a %H:%M"),
            s.specialists()[x.specialist].name
        ),
        None => "no window ahead".into(),
    };
    let mut line = format!("{mode}; {held} waiting for duty; {next}");
    match s.validity(now, loaded.config.warn_before_end_days) {
        Validity::Valid => {}
        Validity::EndsSoon {
            last_day,
            days_left,
        } => line.push_str(&format!(
            "; timetable ends {last_day} ({days_left} days left)"
        )),
        Validity::Ended { last_day } => line.push_str(&format!(
            "; TIMETABLE ENDED {last_day}: every ticket goes to the fallback"
        )),
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(&line)]);
    *shared.status.lock().unwrap_or_else(|e| e.into_inner()) = line;
}

/// Records a mailbox failure; after `stall_alert_after`, one alert mail per incident.
pub(super) fn stall_check(shared: &Shared, error: &str) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let alerted = shared
        .store()
        .transaction(|tx| ticket::stall_alert(tx, &loaded.desk(), error, now))?;
    if let Some(since) = alerted {
        warn!("mailbox unreadable since {since}: alert queued for the admin");
    }
    shared.outbox_wake.notify_one();
    Ok(())
}

/// Clears a stall; if an alert went out, queues the recovery note.
pub(super) fn stall_recovered(shared: &Shared) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let recovered = shared.store().transaction(|tx| {
        tx.kv_set(LAST_CONTACT_KEY, &now.to_rfc3339())?;
        ticket::stall_recovered(tx, &loaded.desk(), now)
    })?;
    if recovered {
        info!("mailbox readable again: recovery note queued for the admin");
        shared.outbox_wake.notify_one();
    }
    Ok(())
}

/// The status line last set (for tests and `status`).
pub fn status_line(shared: &Shared) -> String {
    shared
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}
