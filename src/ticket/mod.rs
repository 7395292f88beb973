//! Decisions: what one understood letter does to the tickets, and the mail it causes.
//!
//! One letter in three steps, inside the store transaction of that letter (see
//! `daemon`): [`View::read`] and [`Loads::read`] read what the store knows of it;
//! [`decide`] — pure, no store — says what it does ([`Decision`]); [`apply`]
//! creates or merges the ticket, records the decision and queues every mail it
//! causes, all committed together or not at all. Nothing is sent from here; the
//! outbox sends what is queued.
//!
//! | verdict | what happens |
//! | --- | --- |
//! | ignore | recorded, filed, no mail |
//! | etiquette | polite refusal (rule 5) to the sender, report to the supervisor |
//! | ask | reply naming exactly what is missing; the ticket waits for the sender |
//! | forward | to the specialist on duty, or held for the next window, or the fallback |
//!
//! Follow-ups (a reply to one of our letters, `[Заявка #N]` from the same
//! sender, or an incomplete letter from a sender whose ticket waits for them)
//! merge into their ticket. At most `auto_replies_per_sender_per_day` automatic
//! replies go to one sender per local day; past that we stay silent but keep
//! (and still forward) the ticket.
//!
//! The admin acts on a ticket by hand through [`admin_actions`] (forward,
//! reassign, close, reopen: decided purely, carried out in one transaction with
//! an audit row) and reads tickets through [`listing`].

mod admin;
pub mod admin_actions;
mod apply;
mod decide;
mod folder;
pub mod listing;
mod mail;
pub mod reminders;
mod view;
mod words;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::request::Request;
use crate::store::{Queries, Tx};
use crate::templates::Templates;

pub use admin::{stall_alert, stall_recovered, timetable_reminder};
pub use apply::{apply, apply_release};
pub use decide::{Assignee, Decision, IgnoreReason, NotRelayed, decide, decide_release};
pub use folder::Folder;
pub use reminders::remind_due;
pub use view::{Loads, Thread, View};
pub use words::{date_ru, role_ru, short_name, when_ru};

/// What the daemon needs to decide: the config and the templates in force.
pub struct Desk<'a> {
    pub config: &'a Config,
    pub templates: &'a Templates,
}

/// A letter as it came from the mailbox.
pub struct Incoming<'a> {
    /// Unique within the mailbox: "imap:UIDVALIDITY:UID" or "maildir:NAME".
    pub key: &'a str,
    pub uid: Option<u32>,
    pub raw: &'a [u8],
}

/// What was done, for the log line and the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub folder: Folder,
    /// The decision's name ([`Decision::as_str`]).
    pub decision: &'static str,
    pub reason: String,
    pub ticket: Option<i64>,
    /// Who gets the forward (or will, when held).
    pub assignee: Option<String>,
    /// Mails queued.
    pub queued: usize,
}

/// Handles one letter inside the caller's transaction: reads, decides, applies.
pub fn handle(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let view = View::read(tx, desk.config, req, incoming, now)?;
    let loads = Loads::read(tx, desk.config)?;
    let decision = decide(req, &view, desk.config, &loads, now);
    apply(tx, desk, req, incoming, &view, decision, now)
}

/// Forwards held tickets whose duty window has opened. Returns what happened to each.
pub fn release_due(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for t in tx.due_tickets(now)? {
        let number = t.number;
        // Read again for each: the forward before changed them.
        let loads = Loads::read(tx, desk.config)?;
        let decision = decide_release(t, desk.config, &loads, now);
        let outcome = apply_release(tx, desk, decision, now)?;
        tx.audit(now, Some(number), None, "released", outcome.decision)?;
        out.push(outcome);
    }
    Ok(out)
}

/// Records a letter no decision could be taken on (what it holds breaks a step of
/// the decision) as unreadable, with the reason, keeping the letter.
pub fn undecidable(
    tx: &Tx<'_>,
    incoming: &Incoming<'_>,
    error: &anyhow::Error,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let o = Outcome {
        folder: Folder::Unreadable,
        decision: Decision::Ignore(IgnoreReason::Unreadable).as_str(),
        reason: format!("unreadable: cannot decide on it: {error:#}"),
        ticket: None,
        assignee: None,
        queued: 0,
    };
    tx.record_message(
        &crate::store::SeenMessage {
            source_key: incoming.key,
            uid: incoming.uid,
            message_id: None,
            sender: None,
            ticket: None,
            verdict: o.decision,
            reason: &o.reason,
            folder: o.folder.leaf(),
            raw: Some(incoming.raw),
        },
        now,
    )?;
    Ok(o)
}

#[cfg(test)]
mod tests;
