//! Letters to the admin about the desk itself, decided and queued in one
//! transaction: the mailbox stalled (and recovered), the timetable ends.

use chrono::{DateTime, NaiveDate, Utc};
use minijinja::{Value, context};

use super::Desk;
use super::words::date_ru;
use crate::config::MailboxSource;
use crate::letter::{AutoSubmitted, Letter, new_message_id};
use crate::schedule::Validity;
use crate::store::{
    NewOutgoing, Queries, STALL_ALERTED_KEY, STALL_SINCE_KEY, TIMETABLE_REMINDED_KEY,
    TIMETABLE_WARNED_KEY, Tx,
};

/// Days between two reminders that the timetable has ended.
pub const TIMETABLE_REMIND_EVERY_DAYS: i64 = 7;

/// Records a mailbox failure; once it has lasted `stall_alert_after`, one alert to
/// the admin per incident. Returns since when the mailbox fails if the alert was
/// decided now.
pub fn stall_alert(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let cfg = desk.config;
    tx.audit(now, None, None, "mailbox_error", error)?;
    let since = match tx.kv_get(STALL_SINCE_KEY)? {
        Some(s) => parse_time(&s).unwrap_or(now),
        None => {
            tx.kv_set(STALL_SINCE_KEY, &now.to_rfc3339())?;
            now
        }
    };
    let alerted = tx.kv_get(STALL_ALERTED_KEY)?.is_some();
    let threshold =
        chrono::Duration::from_std(cfg.stall_alert_after).unwrap_or(chrono::Duration::minutes(15));
    if alerted || now - since < threshold {
        return Ok(None);
    }
    queue_stall_letter(tx, desk, "stall_alert", since, error, now)?;
    tx.kv_set(STALL_ALERTED_KEY, &now.to_rfc3339())?;
    Ok(Some(since))
}

/// Clears a stall; if an alert went out for it, queues the recovery note to the
/// admin. Returns whether it did.
pub fn stall_recovered(tx: &Tx<'_>, desk: &Desk<'_>, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let Some(since) = tx.kv_get(STALL_SINCE_KEY)? else {
        return Ok(false);
    };
    let alerted = tx.kv_get(STALL_ALERTED_KEY)?.is_some();
    tx.kv_delete(STALL_SINCE_KEY)?;
    tx.kv_delete(STALL_ALERTED_KEY)?;
    if alerted {
        let since = parse_time(&since).unwrap_or(now);
        queue_stall_letter(tx, desk, "stall_recovered", since, "", now)?;
    }
    Ok(alerted)
}

/// `warn_before_end` days before the timetable's last day, one mail to the admin
/// (template `timetable_end`) saying when it ends and how to add the next one; once
/// it has ended, a reminder every [`TIMETABLE_REMIND_EVERY_DAYS`] days. `unit` names
/// the systemd unit to reload. Returns whether a mail was queued.
pub fn timetable_reminder(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    unit: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let cfg = desk.config;
    let s = &cfg.schedule;
    let today = now.with_timezone(&s.tz()).date_naive();
    let last = s.valid_until().to_string();
    let (expired, days_left) = match s.validity(now, cfg.warn_before_end_days) {
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
                .and_then(|(_, date)| date.parse::<NaiveDate>().ok());
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
    if cfg.admin.is_none() {
        return Ok(false);
    }
    let ctx = context! {
        school => cfg.school_name,
        mailbox => cfg.from.email,
        last_day => date_ru(s.valid_until()),
        days_left => days_left,
        expired => expired,
        config => cfg.file.display().to_string(),
        unit => unit,
    };
    queue_to_admin(tx, desk, "timetable_end", ctx, now)
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stall alert or recovery note: which mailbox, since when, the last error.
fn queue_stall_letter(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    template: &str,
    since: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let cfg = desk.config;
    let mailbox = match &cfg.mailbox {
        MailboxSource::Imap { server, .. } => format!(
            "{} ({})",
            server.login.as_ref().map_or("", |l| l.username.as_str()),
            server.host
        ),
        MailboxSource::Maildir { path, .. } => path.display().to_string(),
    };
    let ctx = context! {
        mailbox => mailbox,
        since => since.with_timezone(&cfg.schedule.tz()).format("%Y-%m-%d %H:%M").to_string(),
        error => error,
    };
    queue_to_admin(tx, desk, template, ctx, now)
}

/// Renders `template` with `ctx` and queues it to the admin; false without an admin.
pub(super) fn queue_to_admin(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    template: &str,
    ctx: Value,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let cfg = desk.config;
    let Some(admin) = &cfg.admin else {
        return Ok(false);
    };
    let rendered = desk.templates.render(template, ctx)?;
    let letter = Letter {
        from: cfg.from.clone(),
        to: vec![admin.clone()],
        reply_to: None,
        subject: rendered.subject,
        body: rendered.body,
        message_id: new_message_id(template, None, &cfg.from),
        in_reply_to: None,
        references: vec![],
        auto_submitted: AutoSubmitted::Generated,
        ticket: None,
        date: now,
        attachments: vec![],
    };
    let raw = letter.build()?;
    tx.queue(
        &NewOutgoing {
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
    )?;
    Ok(true)
}
