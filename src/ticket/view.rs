//! What the store knows that bears on a letter: the [`View`] (an earlier copy,
//! the ticket it continues, today's exchanges) and the [`Loads`] of the
//! specialists. Read inside the letter's transaction, before [`super::decide`].

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::Incoming;
use super::words::midnight;
use crate::config::Config;
use crate::request::{Request, Verdict};
use crate::store::{Cited, Queries, ROUND_ROBIN_KEY, Ticket, TicketState, Tx};
use crate::trust;

/// What a letter continues.
#[derive(Debug, Clone, PartialEq)]
pub enum Thread {
    /// The answer of a person the ticket was handed to.
    Answer(Ticket),
    /// The requester's own follow-up.
    FollowUp(Ticket),
    /// Nothing: a new request.
    New,
}

impl Thread {
    /// The ticket continued, if any.
    pub fn ticket(&self) -> Option<&Ticket> {
        match self {
            Thread::Answer(t) | Thread::FollowUp(t) => Some(t),
            Thread::New => None,
        }
    }
}

/// What the store says about one letter, as far as the decision needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The sender's address, lower-cased.
    pub sender: Option<String>,
    /// What the receiving server said of the sender.
    pub auth: trust::Verdict,
    /// The folder of an earlier letter with the same Message-ID from the same sender.
    pub duplicate: Option<String>,
    /// The ticket the letter continues, and as whose letter.
    pub thread: Thread,
    /// Relays and additions the continued ticket may still exchange today.
    pub exchanges_left: u32,
    /// The letter went to the continued ticket's requester too (a reply-all).
    pub requester_received: bool,
    /// The sender was already reported to the supervisor today (rule 5).
    pub reported_today: bool,
}

impl View {
    /// A view with nothing in the store: no copy, no ticket, nothing sent today.
    pub fn new(sender: Option<&str>, auth: trust::Verdict) -> View {
        View {
            sender: sender.map(str::to_lowercase),
            auth,
            duplicate: None,
            thread: Thread::New,
            exchanges_left: 0,
            requester_received: false,
            reported_today: false,
        }
    }

    /// Reads what the store knows of this letter. A copy, an ignored letter or
    /// our own reads nothing more: they continue no ticket.
    pub fn read(
        tx: &Tx<'_>,
        cfg: &Config,
        req: &Request,
        incoming: &Incoming<'_>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<View> {
        let sender = req.sender.as_deref().map(str::to_lowercase);
        let auth = trust::verdict(incoming.raw, cfg.authserv_id.as_deref(), sender.as_deref());
        let mut view = View::new(sender.as_deref(), auth);
        if let Some(mid) = req.message_id.as_deref() {
            view.duplicate = seen_before(tx, mid, sender.as_deref())?;
        }
        if view.duplicate.is_some()
            || req.verdict == Verdict::Ignore
            || is_own(cfg, sender.as_deref())
        {
            return Ok(view);
        }
        view.thread = thread_of(tx, cfg, req, sender.as_deref(), auth, now)?;
        if let Some(t) = view.thread.ticket() {
            view.exchanges_left = exchanges_left(tx, cfg, t, now)?;
        }
        if let Thread::Answer(t) = &view.thread {
            let key = t.requester.as_deref().map(trust::address_key);
            view.requester_received = recipients_of(incoming.raw)
                .iter()
                .any(|r| Some(trust::address_key(r)) == key);
        }
        if req.verdict == Verdict::Etiquette {
            let key = sender.as_deref().map(trust::address_key);
            view.reported_today = tx
                .reported_since(midnight(cfg, now))?
                .iter()
                .any(|r| Some(trust::address_key(r)) == key);
        }
        Ok(view)
    }
}

/// Whether `sender` is the desk's own address.
pub(super) fn is_own(cfg: &Config, sender: Option<&str>) -> bool {
    sender.is_some_and(|s| trust::address_key(s) == trust::address_key(&cfg.from.email))
}

/// How many open tickets each specialist holds, and who was chosen last: what
/// sharing the tickets between two on duty goes by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loads {
    /// Open tickets (forwarded or held) by the specialist's address.
    pub open: HashMap<String, i64>,
    /// The address of the specialist chosen last.
    pub last: Option<String>,
}

impl Loads {
    /// Reads the loads of every specialist of the timetable.
    pub fn read(tx: &Tx<'_>, cfg: &Config) -> anyhow::Result<Loads> {
        let mut open = HashMap::new();
        for s in cfg.schedule.specialists() {
            let email = &s.email.email;
            if !open.contains_key(email) {
                open.insert(email.clone(), tx.open_count(email)?);
            }
        }
        Ok(Loads {
            open,
            last: tx.kv_get(ROUND_ROBIN_KEY)?,
        })
    }
}

/// Relays and additions this ticket may still exchange today.
pub(super) fn exchanges_left(
    tx: &Tx<'_>,
    cfg: &Config,
    t: &Ticket,
    now: DateTime<Utc>,
) -> anyhow::Result<u32> {
    let used = tx.ticket_mail_since(t.number, EXCHANGE_KINDS, midnight(cfg, now))?;
    Ok(cfg.exchanges_per_ticket_per_day.saturating_sub(used))
}

/// How long a ticket waiting for its sender accepts an incomplete new letter as its answer.
pub(super) const WAITING_MERGE_WINDOW_DAYS: i64 = 14;

/// The folder of an earlier letter with this Message-ID from the same sender.
pub(super) fn seen_before(
    tx: &Tx<'_>,
    message_id: &str,
    sender: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let me = sender.map(trust::address_key);
    Ok(tx
        .seen_message_id_senders(message_id)?
        .into_iter()
        .find(|(_, s)| s.as_deref().map(trust::address_key) == me)
        .map(|(folder, _)| folder))
}

/// Whether an address belongs to the people who handle tickets (specialists,
/// supervisor, fallback, admin).
pub(super) fn is_desk_member(cfg: &Config, address: &str) -> bool {
    let a = trust::address_key(address);
    let same = |b: &str| trust::address_key(b) == a;
    cfg.schedule
        .specialists()
        .iter()
        .any(|s| same(&s.email.email))
        || same(&cfg.supervisor.email)
        || cfg.fallback.iter().any(|f| same(&f.email))
        || cfg.admin.as_ref().is_some_and(|f| same(&f.email))
}

/// The To and Cc addresses of a raw letter, lower-cased.
pub(super) fn recipients_of(raw: &[u8]) -> Vec<String> {
    let Some(m) = mail_parser::MessageParser::default().parse_headers(raw) else {
        return Vec::new();
    };
    [m.to(), m.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_lowercase)
        .collect()
}

/// Kinds of mail that hand a ticket to a person who handles it: an answer to one
/// of them, from its recipient, is that person's answer.
pub(super) const HANDING_KINDS: &[&str] = &["forward", "addition", "complaint", "remind"];

/// Kinds of mail that go to a requester: an answer to one of them, from its
/// recipient, continues that requester's ticket.
pub(super) const REQUESTER_KINDS: &[&str] = &[
    "ask",
    "ack_now",
    "ack_later",
    "etiquette",
    "relay",
    "too_large",
    "complaint_ack",
    "passed_on",
];

/// Mail a ticket exchanges with its specialist and its requester, rationed per
/// ticket per day (two auto-responders must not talk to each other for ever).
pub(super) const EXCHANGE_KINDS: &[&str] = &["relay", "addition"];

/// Which existing ticket a letter continues, and as whose letter. Nothing in a
/// letter proves anything by itself: a Message-ID joins a ticket only when its
/// writer is the ticket's requester or the person the cited mail went to.
pub(super) fn thread_of(
    tx: &Tx<'_>,
    cfg: &Config,
    req: &Request,
    sender: Option<&str>,
    auth: trust::Verdict,
    now: DateTime<Utc>,
) -> anyhow::Result<Thread> {
    let Some(sender) = sender else {
        return Ok(Thread::New);
    };
    // A letter the receiving server calls forged joins nothing.
    if auth == trust::Verdict::Fail {
        return Ok(Thread::New);
    }
    let me = trust::address_key(sender);
    let is_me = |a: &str| trust::address_key(a) == me;
    let open = |n: i64| -> anyhow::Result<Option<Ticket>> {
        Ok(tx
            .ticket(n)?
            .filter(|t| !matches!(t.state, TicketState::Refused | TicketState::Closed)))
    };
    let requested_by_me = |t: &Ticket| t.requester.as_deref().is_some_and(is_me);
    // The letter answered first, then the thread from its newest end.
    let mut ids: Vec<String> = req.in_reply_to.clone();
    ids.extend(req.references.iter().rev().cloned());
    let cited = tx.cited(&ids)?;

    // An answer to a forward the desk sent to this very address; or, when the
    // receiving server vouches for the address, any letter of a person who
    // handles tickets about one of its tickets.
    for c in &cited {
        if let Cited::Ours {
            ticket,
            kind,
            recipients,
        } = c
            && HANDING_KINDS.contains(&kind.as_str())
            && recipients.iter().any(|r| is_me(r))
            && let Some(t) = open(*ticket)?
            && !requested_by_me(&t)
        {
            return Ok(Thread::Answer(t));
        }
    }
    if auth == trust::Verdict::Pass && is_desk_member(cfg, sender) {
        for c in &cited {
            if let Some(t) = open(c.ticket())?
                && !requested_by_me(&t)
            {
                return Ok(Thread::Answer(t));
            }
        }
    }
    // The requester's follow-up: a letter of the ticket's requester, or an answer
    // to a letter the desk sent to this address about the ticket.
    for c in &cited {
        let sent_to_me = matches!(c, Cited::Ours { kind, recipients, .. }
            if REQUESTER_KINDS.contains(&kind.as_str()) && recipients.iter().any(|r| is_me(r)));
        if let Some(t) = open(c.ticket())?
            && (sent_to_me || requested_by_me(&t))
        {
            return Ok(Thread::FollowUp(t));
        }
    }
    if let Some(tag) = req.ticket_tag
        && let Ok(tag) = i64::try_from(tag)
        && let Some(t) = open(tag)?
        && requested_by_me(&t)
    {
        return Ok(Thread::FollowUp(t));
    }
    if req.verdict == Verdict::Ask
        && let Some(n) =
            tx.waiting_ticket_of(sender, now - Duration::days(WAITING_MERGE_WINDOW_DAYS))?
        && let Some(t) = open(n)?
    {
        return Ok(Thread::FollowUp(t));
    }
    Ok(Thread::New)
}
