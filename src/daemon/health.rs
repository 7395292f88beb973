//! Health: heartbeats for the watchdog, the status line, the mailbox's last
//! contact, and the stall alert when the mailbox stays unreadable.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tracing::{info, warn};

use super::{Loaded, MAX_BEAT, Shared};
use crate::config::MailboxSource;
use crate::schedule::Validity;
use crate::store::{LAST_CONTACT_KEY, Queries, STALL_ALERTED_KEY, STALL_SINCE_KEY};

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
    let cfg = &loaded.config;
    let mut store = shared.store();
    store.transaction(|tx| {
        tx.audit(now, None, None, "mailbox_error", error)?;
        let since = match tx.kv_get(STALL_SINCE_KEY)? {
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now),
            None => {
                tx.kv_set(STALL_SINCE_KEY, &now.to_rfc3339())?;
                now
            }
        };
        let alerted = tx.kv_get(STALL_ALERTED_KEY)?.is_some();
        let threshold = chrono::Duration::from_std(cfg.stall_alert_after)
            .unwrap_or(chrono::Duration::minutes(15));
        if !alerted && now - since >= threshold {
            if let Some(admin) = &cfg.admin {
                queue_admin_mail(tx, &loaded, admin, "stall_alert", since, error, now)?;
            }
            tx.kv_set(STALL_ALERTED_KEY, &now.to_rfc3339())?;
            warn!("mailbox unreadable since {since}: alert queued for the admin");
        }
        Ok(())
    })?;
    drop(store);
    shared.outbox_wake.notify_one();
    Ok(())
}

/// Clears a stall; if an alert went out, queues the recovery note.
pub(super) fn stall_recovered(shared: &Shared) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let mut store = shared.store();
    let recovered = store.transaction(|tx| {
        tx.kv_set(LAST_CONTACT_KEY, &now.to_rfc3339())?;
        let Some(since) = tx.kv_get(STALL_SINCE_KEY)? else {
            return Ok(false);
        };
        let alerted = tx.kv_get(STALL_ALERTED_KEY)?.is_some();
        tx.kv_delete(STALL_SINCE_KEY)?;
        tx.kv_delete(STALL_ALERTED_KEY)?;
        if alerted && let Some(admin) = &loaded.config.admin {
            let since = DateTime::parse_from_rfc3339(&since)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            queue_admin_mail(tx, &loaded, admin, "stall_recovered", since, "", now)?;
        }
        Ok(alerted)
    })?;
    drop(store);
    if recovered {
        info!("mailbox readable again: recovery note queued for the admin");
        shared.outbox_wake.notify_one();
    }
    Ok(())
}

pub(super) fn queue_admin_mail(
    tx: &crate::store::Tx<'_>,
    loaded: &Loaded,
    admin: &crate::config::Address,
    template: &str,
    since: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let tz = cfg.schedule.tz();
    let mailbox = match &cfg.mailbox {
        MailboxSource::Imap { server, .. } => format!(
            "{} ({})",
            server.login.as_ref().map_or("", |l| l.username.as_str()),
            server.host
        ),
        MailboxSource::Maildir { path, .. } => path.display().to_string(),
    };
    let ctx = minijinja::context! {
        mailbox => mailbox,
        since => since.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        error => error,
    };
    queue_admin_letter(tx, loaded, admin, template, ctx, now)
}

/// Renders `template` with `ctx` and queues it to the admin.
pub(super) fn queue_admin_letter(
    tx: &crate::store::Tx<'_>,
    loaded: &Loaded,
    admin: &crate::config::Address,
    template: &str,
    ctx: minijinja::Value,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let rendered = loaded.templates.render(template, ctx)?;
    let letter = crate::letter::Letter {
        from: cfg.from.clone(),
        to: vec![admin.clone()],
        reply_to: None,
        subject: rendered.subject,
        body: rendered.body,
        message_id: crate::letter::new_message_id(template, None, &cfg.from),
        in_reply_to: None,
        references: vec![],
        auto_submitted: crate::letter::AutoSubmitted::Generated,
        ticket: None,
        date: now,
        attachments: vec![],
    };
    let raw = letter.build()?;
    tx.queue(
        &crate::store::NewOutgoing {
            message_id: &letter.message_id,
            ticket: None,
            kind: template,
            auto_reply_to: None,
            envelope_from: &cfg.from.email,
            recipients: std::slice::from_ref(&admin.email),
            raw: &raw,
            not_before: None,
        },
        now,
    )
}

/// The status line last set (for tests and `status`).
pub fn status_line(shared: &Shared) -> String {
    shared
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}
