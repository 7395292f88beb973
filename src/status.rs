//! `duty-desk status`: what the state store says, for an admin at a terminal.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::schedule::Validity;
use crate::store::{Queries, Store};

/// The report: tickets by state, the due queue, the outgoing queue, mailbox
/// health, recent errors and the oldest personal data held.
pub fn report(store: &Store, config: &Config, now: DateTime<Utc>) -> anyhow::Result<String> {
    let r = store.read();
    let time = Local(config.schedule.tz());
    let mut out = String::new();
    tickets(&mut out, &r, &time)?;
    outgoing(&mut out, &r)?;
    open_mailbox(&mut out, &r, now)?;
    mailbox(&mut out, &r, &time)?;
    recent_errors(&mut out, &r, &time)?;
    personal_data(&mut out, &r, config, now, &time)?;
    schedule(&mut out, config, now, &time)?;
    Ok(out)
}

/// Instants in the school's time zone, as every line of the report shows them.
struct Local(chrono_tz::Tz);

impl Local {
    fn at(&self, t: DateTime<Utc>) -> String {
        t.with_timezone(&self.0)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// An instant stored as RFC 3339 (shown as stored when it is not one).
    fn stored(&self, s: String) -> String {
        match DateTime::parse_from_rfc3339(&s) {
            Ok(t) => self.at(t.with_timezone(&Utc)),
            Err(_) => s,
        }
    }
}

/// Tickets by state and those waiting for a duty window.
fn tickets(out: &mut String, r: &impl Queries, time: &Local) -> anyhow::Result<()> {
    writeln!(out, "Tickets by state:")?;
    let counts = r.ticket_counts()?;
    if counts.is_empty() {
        writeln!(out, "  (none yet)")?;
    }
    for (state, n) in counts {
        writeln!(out, "  {state:<15} {n}")?;
    }
    let a = r.answer_counts()?;
    writeln!(
        out,
        "  answered {}   reminded {}   passed on {}",
        a.answered, a.reminded, a.passed_on
    )?;
    writeln!(out, "\nWaiting for a duty window:")?;
    let held = r.held_tickets()?;
    if held.is_empty() {
        writeln!(out, "  (none)")?;
    }
    for t in held {
        writeln!(
            out,
            "  #{:<6} due {}  → {}",
            t.number,
            t.due_at.map(|d| time.at(d)).unwrap_or_else(|| "?".into()),
            t.assignee_name.as_deref().unwrap_or("?")
        )?;
    }
    Ok(())
}

/// The outgoing queue: counts, an unreachable server, retries and failures.
fn outgoing(out: &mut String, r: &impl Queries) -> anyhow::Result<()> {
    writeln!(out, "\nOutgoing mail:")?;
    for (state, n) in r.outgoing_counts()? {
        writeln!(out, "  {state:<15} {n}")?;
    }
    if let Some(outage) = r.kv_get(crate::store::OUTBOX_UNREACHABLE_KEY)? {
        let (since, error) = outage.split_once("; ").unwrap_or((&outage, ""));
        writeln!(out, "  SMTP server UNREACHABLE since {since}: {error}")?;
    }
    for o in r
        .outgoing_after(0, Some("queued"))?
        .into_iter()
        .filter(|o| o.attempts > 0)
        .take(10)
    {
        writeln!(
            out,
            "  retrying #{} {} (attempts {}, next {}): {}",
            o.ticket.unwrap_or(0),
            o.kind,
            o.attempts,
            o.next_attempt,
            o.last_error.as_deref().unwrap_or("")
        )?;
    }
    for o in r
        .outgoing_after(0, Some("failed"))?
        .into_iter()
        .rev()
        .take(10)
    {
        writeln!(
            out,
            "  FAILED #{} {}: {}",
            o.ticket.unwrap_or(0),
            o.kind,
            o.last_error.as_deref().unwrap_or("")
        )?;
    }
    Ok(())
}

/// What the open mailbox's rationing and trust held back.
fn open_mailbox(out: &mut String, r: &impl Queries, now: DateTime<Utc>) -> anyhow::Result<()> {
    writeln!(out, "\nOpen mailbox (rationing and trust):")?;
    let ever = DateTime::<Utc>::UNIX_EPOCH;
    writeln!(
        out,
        "  automatic replies waiting for the hourly limit: {}",
        r.waiting_auto_replies(now)?
    )?;
    for (event, what) in [
        ("report_suppressed", "rule-5 reports held back"),
        ("undeliverable", "addresses that cannot be written to"),
        (
            "exchange_limit",
            "relays/additions stopped by the daily limit",
        ),
        (
            "silent",
            "letters not answered (limits, failed authentication)",
        ),
    ] {
        writeln!(out, "  {what}: {}", r.audit_count(event, ever)?)?;
    }
    Ok(())
}

/// Mailbox health: last contact, a stall, a failing store, letters left
/// unexpunged, letters the server refused to give or to move.
fn mailbox(out: &mut String, r: &impl Queries, time: &Local) -> anyhow::Result<()> {
    writeln!(out, "\nMailbox:")?;
    match r.kv_get(crate::store::LAST_CONTACT_KEY)? {
        Some(t) => writeln!(out, "  last successful contact {}", time.stored(t))?,
        None => writeln!(out, "  never contacted yet")?,
    }
    if let Some(since) = r.kv_get(crate::store::STALL_SINCE_KEY)? {
        writeln!(out, "  UNREADABLE since {}", time.stored(since))?;
    }
    if let Some(failing) = r.kv_get(crate::store::STORE_ERROR_KEY)? {
        let (since, error) = failing.split_once("; ").unwrap_or((&failing, ""));
        writeln!(
            out,
            "  STATE STORE FAILING since {}: {error} (letters stay in the inbox and are tried again)",
            time.stored(since.to_string())
        )?;
    }
    if let Some(note) = r.kv_get(crate::store::UNEXPUNGED_KEY)? {
        let (since, why) = note.split_once("; ").unwrap_or((&note, ""));
        writeln!(
            out,
            "  NOT EXPUNGED since {}: {why}",
            time.stored(since.to_string())
        )?;
    }
    letter_troubles(out, r, time)
}

/// Letters the server refused to give or to move: retried, or given up.
fn letter_troubles(out: &mut String, r: &impl Queries, time: &Local) -> anyhow::Result<()> {
    for (prefix, given_up) in [
        (crate::store::RETRY_PREFIX, false),
        (crate::store::STUCK_PREFIX, true),
    ] {
        for (k, v) in r.kv_prefix(prefix)? {
            let key = &k[prefix.len()..];
            let Ok(t) = serde_json::from_str::<crate::store::LetterTrouble>(&v) else {
                continue;
            };
            let what = match (t.what.as_str(), t.folder.as_deref()) {
                ("move", Some(f)) => format!("moving it to {f}"),
                ("move", None) => "moving it".to_string(),
                _ => "giving it".to_string(),
            };
            if given_up {
                writeln!(
                    out,
                    "  LEFT IN THE INBOX, handled: {key}: the server refused {what} {} times since {}: {}",
                    t.attempts,
                    time.at(t.since),
                    t.error
                )?;
            } else {
                writeln!(
                    out,
                    "  retrying {key}: the server refused {what} ({} attempts, next {}): {}",
                    t.attempts,
                    time.at(t.next),
                    t.error
                )?;
            }
        }
    }
    Ok(())
}

/// Mailbox errors and mail the server refused for good, newest first.
fn recent_errors(out: &mut String, r: &impl Queries, time: &Local) -> anyhow::Result<()> {
    let mut errors = r.recent_audit("%error%", 5)?;
    errors.extend(r.recent_audit("%fail%", 5)?);
    errors.sort_by(|a, b| b.at.cmp(&a.at));
    errors.truncate(5);
    if !errors.is_empty() {
        writeln!(out, "\nRecent errors:")?;
        for e in errors {
            writeln!(out, "  {} {}: {}", time.stored(e.at), e.event, e.detail)?;
        }
    }
    Ok(())
}

/// The oldest personal data held, and when closed tickets are purged.
fn personal_data(
    out: &mut String,
    r: &impl Queries,
    config: &Config,
    now: DateTime<Utc>,
    time: &Local,
) -> anyhow::Result<()> {
    writeln!(out, "\nPersonal data:")?;
    match r.oldest_personal_data()? {
        Some(t) => writeln!(
            out,
            "  oldest held from {} ({} days); closed tickets are purged after {} days",
            time.at(t),
            (now - t).num_days(),
            config.purge_after_days
        )?,
        None => writeln!(out, "  none held")?,
    }
    Ok(())
}

/// Who is on duty, the next window, and how long the timetable holds.
fn schedule(
    out: &mut String,
    config: &Config,
    now: DateTime<Utc>,
    time: &Local,
) -> anyhow::Result<()> {
    let next = config.schedule.next_window(now);
    writeln!(out, "\nSchedule:")?;
    let on = config.schedule.on_duty(now);
    for s in &on {
        writeln!(
            out,
            "  on duty now: {}",
            config.schedule.specialists()[s.specialist].name
        )?;
    }
    match next {
        Some(n) => writeln!(
            out,
            "  next window {} {}",
            time.at(n.from.with_timezone(&Utc)),
            config.schedule.specialists()[n.specialist].name
        )?,
        None => writeln!(out, "  no window ahead")?,
    }
    let validity = config.schedule.validity(now, config.warn_before_end_days);
    match validity {
        Validity::Valid => writeln!(
            out,
            "  timetable valid until {}",
            config.schedule.valid_until()
        )?,
        _ => {
            if let Some(warning) = validity.warning() {
                writeln!(out, "  WARNING: {warning}")?;
            }
        }
    }
    Ok(())
}
