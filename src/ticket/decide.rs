//! What a letter does, decided without the store: [`decide`] takes the letter, what
//! the store knows of it ([`View`], [`Loads`]), the config (timetable, fallback) and
//! the time, and returns a [`Decision`]; [`super::apply`] carries it out inside the
//! letter's transaction. Whether an automatic reply may go out (the rationing) is
//! the outgoing side's to say, when it is applied.

use chrono::{DateTime, Utc};

use super::Folder;
use super::view::{Loads, Thread, View, is_own};
use super::words::{
    MAX_NAME_CHARS, MAX_SUBJECT_CHARS, cap_chars, merge_text, own_description, role_from, role_str,
};
use crate::config::Config;
use crate::letter;
use crate::request::complaint::{self, Person};
use crate::request::{Field, Request, Verdict, missing_fields, topic};
use crate::schedule::Shift;
use crate::store::{Ticket, TicketState};
use crate::trust;

/// Why a letter is ignored: no ticket, and no mail but the note to the writer of
/// a letter too large to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoreReason {
    /// It comes from the desk's own address.
    Own,
    /// A robot wrote it (an auto-reply, a bounce, a list): never answered.
    Robot,
    /// Larger than `max_message_size`: its writer is told.
    TooLarge,
    /// Not a mail message, or nothing could read it.
    Unreadable,
    /// Anything else the understanding ignores (no address to answer).
    Other,
}

impl IgnoreReason {
    /// The reason of a letter the understanding ignored (verdict `Ignore`), from the
    /// kind its reason names first ("robot: …", "too large: …", "unreadable: …").
    pub fn of(req: &Request) -> IgnoreReason {
        let kind = req.reason.split(':').next().unwrap_or_default().trim();
        match kind {
            "robot" => IgnoreReason::Robot,
            "too large" => IgnoreReason::TooLarge,
            "unreadable" => IgnoreReason::Unreadable,
            _ => IgnoreReason::Other,
        }
    }

    /// Where such a letter is filed.
    pub fn folder(self) -> Folder {
        match self {
            IgnoreReason::TooLarge | IgnoreReason::Unreadable => Folder::Unreadable,
            IgnoreReason::Own | IgnoreReason::Robot | IgnoreReason::Other => Folder::Ignored,
        }
    }
}

/// A person a ticket goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignee {
    pub name: String,
    pub email: String,
    /// As the order writes it; empty for the fallback.
    pub position: String,
}

/// Why a specialist's answer is filed without passing it on to the requester.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRelayed {
    /// The requester got it directly (reply-all), or the ticket has no requester.
    Received,
    /// The requester's address failed authentication.
    Forged,
    /// The requester's address cannot be written to.
    Undeliverable,
    /// The ticket's exchanges for today are used up.
    ExchangeLimit,
}

/// What one letter (or one held ticket whose window opened) does. Every variant
/// that concerns a ticket carries it as it is to be written: a new one (number 0,
/// created when applied) or an existing one with the letter's fields merged in.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A copy of a letter already handled: filed where the first went, nothing else.
    Duplicate { folder: Folder, message_id: String },
    /// No ticket, no mail (but a too large letter's writer is told).
    Ignore(IgnoreReason),
    /// Rule 5: a new ticket, refused; the writer is told, and the supervisor gets
    /// the letter unless this writer was reported today already.
    Refuse { ticket: Ticket, report: bool },
    /// Something is missing: the writer is asked for exactly that.
    Ask { ticket: Ticket, missing: Vec<Field> },
    /// Complete, and a specialist is on duty: forwarded now.
    Forward {
        ticket: Ticket,
        to: Assignee,
        acknowledge: bool,
    },
    /// A held ticket's window opened: forwarded to who is on duty now.
    Release { ticket: Ticket, to: Assignee },
    /// Complete, nobody on duty: held for the next window's specialist.
    Hold {
        ticket: Ticket,
        to: Assignee,
        shift: Shift,
        acknowledge: bool,
    },
    /// Complete, and no window ahead (the timetable ended): to the fallback.
    Fallback {
        ticket: Ticket,
        to: Assignee,
        acknowledge: bool,
    },
    /// A complaint about a specialist's conduct: the ticket to that specialist's
    /// supervisor (never to them), and the writer told it went there.
    Complaint {
        ticket: Ticket,
        about: Assignee,
        to: Assignee,
        acknowledge: bool,
    },
    /// A follow-up to a forwarded ticket: the new letter to the same person.
    Addition { ticket: Ticket, to: Assignee },
    /// A follow-up to a forwarded ticket past today's exchanges: merged, not passed on.
    AdditionWithheld { ticket: Ticket },
    /// A follow-up to a ticket held for duty: merged, it waits on.
    Merge { ticket: Ticket },
    /// A specialist's answer sent to the support address: passed on to the requester.
    Relay {
        ticket: Ticket,
        specialist: Assignee,
    },
    /// A specialist's answer filed without passing it on.
    Answered {
        ticket: Ticket,
        specialist: Assignee,
        why: NotRelayed,
    },
}

impl Decision {
    /// The decision's name in the store, the audit trail and the log.
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Duplicate { .. } => "duplicate",
            Decision::Ignore(_) => "ignore",
            Decision::Refuse { .. } => "etiquette",
            Decision::Ask { .. } => "ask",
            Decision::Forward { .. } | Decision::Release { .. } | Decision::Fallback { .. } => {
                "forward"
            }
            Decision::Hold { .. } | Decision::Merge { .. } => "held",
            Decision::Addition { .. } | Decision::AdditionWithheld { .. } => "addition",
            Decision::Relay { .. } => "relayed",
            Decision::Complaint { .. } => "complaint",
            Decision::Answered { .. } => "answered",
        }
    }

    /// Where the letter is filed.
    pub fn folder(&self) -> Folder {
        match self {
            Decision::Duplicate { folder, .. } => *folder,
            Decision::Ignore(why) => why.folder(),
            Decision::Refuse { .. } => Folder::Etiquette,
            Decision::Ask { .. } => Folder::Waiting,
            _ => Folder::Processed,
        }
    }

    /// The ticket concerned, as it is to be written.
    pub fn ticket(&self) -> Option<&Ticket> {
        match self {
            Decision::Duplicate { .. } | Decision::Ignore(_) => None,
            Decision::Refuse { ticket, .. }
            | Decision::Ask { ticket, .. }
            | Decision::Forward { ticket, .. }
            | Decision::Release { ticket, .. }
            | Decision::Hold { ticket, .. }
            | Decision::Fallback { ticket, .. }
            | Decision::Complaint { ticket, .. }
            | Decision::Addition { ticket, .. }
            | Decision::AdditionWithheld { ticket }
            | Decision::Merge { ticket }
            | Decision::Relay { ticket, .. }
            | Decision::Answered { ticket, .. } => Some(ticket),
        }
    }
}

/// Decides what one understood letter does.
pub fn decide(
    req: &Request,
    view: &View,
    cfg: &Config,
    loads: &Loads,
    now: DateTime<Utc>,
) -> Decision {
    // The same Message-ID from the same sender delivered twice (CC copies, a rescan
    // after UIDVALIDITY changed) is one request. A Message-ID proves nothing by
    // itself: from someone else it is a letter of its own (the view says which).
    if let (Some(mid), Some(folder)) = (&req.message_id, &view.duplicate) {
        return Decision::Duplicate {
            folder: Folder::from_leaf(folder),
            message_id: mid.clone(),
        };
    }
    if is_own(cfg, view.sender.as_deref()) {
        return Decision::Ignore(IgnoreReason::Own);
    }
    if req.verdict == Verdict::Ignore {
        return Decision::Ignore(IgnoreReason::of(req));
    }
    match &view.thread {
        Thread::Answer(t) => answer(req, view, cfg, t.clone()),
        Thread::FollowUp(t) if req.verdict != Verdict::Etiquette => {
            follow_up(req, view, cfg, loads, t.clone(), now)
        }
        _ => {
            let mut t = ticket_from_request(req, view, now);
            if req.verdict == Verdict::Etiquette {
                t.state = TicketState::Refused;
                return Decision::Refuse {
                    ticket: t,
                    report: !view.reported_today,
                };
            }
            if let Some((about, to)) = complaint(req, cfg, &t) {
                return Decision::Complaint {
                    ticket: t,
                    about,
                    to,
                    acknowledge: true,
                };
            }
            progress(t, cfg, loads, now)
        }
    }
}

/// Decides what a held ticket whose window has opened does: it goes to the
/// specialist it was held for if they are on duty, else to who is; with nobody on
/// duty (the timetable changed since) it is planned again.
pub fn decide_release(t: Ticket, cfg: &Config, loads: &Loads, now: DateTime<Utc>) -> Decision {
    let on_duty = cfg.schedule.on_duty(now);
    let planned = on_duty
        .iter()
        .find(|s| Some(&assignee(cfg, s).email) == t.assignee.as_ref())
        .cloned();
    match planned.or_else(|| choose(cfg, &on_duty, loads, &t)) {
        Some(shift) => Decision::Release {
            to: assignee(cfg, &shift),
            ticket: t,
        },
        None => dispatch(t, cfg, loads, now, false),
    }
}

/// A new ticket from what the letter says (number 0 until it is created).
pub(super) fn ticket_from_request(req: &Request, view: &View, now: DateTime<Utc>) -> Ticket {
    Ticket {
        number: 0,
        requester: view.sender.clone(),
        requester_name: req.sender_name.clone(),
        role: req.role.map(|r| role_str(r).to_string()),
        full_name: req.full_name.clone(),
        class: req.class.clone(),
        description: req.description.clone(),
        subject: cap_chars(&req.subject, MAX_SUBJECT_CHARS),
        state: TicketState::WaitingSender,
        assignee: None,
        assignee_name: None,
        created_at: now,
        due_at: None,
        forwarded_at: None,
        sender_auth: Some(view.auth.as_str().to_string()),
    }
}

/// The requester's follow-up: its fields merged into the ticket, then passed on
/// (forwarded), kept (held) or taken further (asked, dispatched).
fn follow_up(
    req: &Request,
    view: &View,
    cfg: &Config,
    loads: &Loads,
    mut t: Ticket,
    now: DateTime<Utc>,
) -> Decision {
    if t.role.is_none() {
        t.role = req.role.map(|r| role_str(r).to_string());
    }
    if let Some(n) = &req.full_name {
        t.full_name = Some(n.clone());
    }
    if let Some(c) = &req.class {
        t.class = Some(c.clone());
    }
    t.description = merge_text(t.description.take(), own_description(req));
    if let Some((about, to)) = complaint(req, cfg, &t) {
        return Decision::Complaint {
            ticket: t,
            about,
            to,
            acknowledge: true,
        };
    }
    match t.state {
        // Two auto-responders answering each other: stop passing letters on.
        TicketState::Forwarded if view.exchanges_left == 0 => {
            Decision::AdditionWithheld { ticket: t }
        }
        TicketState::Forwarded => Decision::Addition {
            to: Assignee {
                name: t.assignee_name.clone().unwrap_or_default(),
                email: t.assignee.clone().unwrap_or_else(|| {
                    cfg.fallback
                        .first()
                        .map(|a| a.email.clone())
                        .unwrap_or_default()
                }),
                position: String::new(),
            },
            ticket: t,
        },
        TicketState::WaitingDuty => Decision::Merge { ticket: t },
        _ => progress(t, cfg, loads, now),
    }
}

/// The proven answer of the person a ticket was handed to: passed on to the
/// requester unless they have it already or may not get it. They are named as
/// the timetable names them, else by their display name, else their address.
fn answer(req: &Request, view: &View, cfg: &Config, t: Ticket) -> Decision {
    let sender = view.sender.clone().unwrap_or_default();
    let key = trust::address_key(&sender);
    let listed = cfg
        .schedule
        .specialists()
        .iter()
        .find(|s| trust::address_key(&s.email.email) == key);
    let specialist = Assignee {
        name: listed
            .map(|s| s.name.clone())
            .or_else(|| {
                req.sender_name
                    .clone()
                    .map(|n| cap_chars(&n, MAX_NAME_CHARS))
            })
            .unwrap_or_else(|| sender.clone()),
        email: sender,
        position: listed.map(|s| s.position.clone()).unwrap_or_default(),
    };
    let requester = t.requester.as_deref().unwrap_or_default();
    let why = if requester.is_empty() || view.requester_received {
        Some(NotRelayed::Received)
    } else if t.sender_auth.as_deref() == Some(trust::Verdict::Fail.as_str()) {
        Some(NotRelayed::Forged)
    } else if !letter::deliverable(requester) {
        Some(NotRelayed::Undeliverable)
    } else if view.exchanges_left == 0 {
        Some(NotRelayed::ExchangeLimit)
    } else {
        None
    };
    match why {
        Some(why) => Decision::Answered {
            ticket: t,
            specialist,
            why,
        },
        None => Decision::Relay {
            ticket: t,
            specialist,
        },
    }
}

/// Whether the letter complains about one of the timetable's specialists (see
/// [`crate::request::complaint`]): who, and their supervisor. A ticket already
/// with that supervisor stays as it is (a further letter is an addition to it).
fn complaint(req: &Request, cfg: &Config, t: &Ticket) -> Option<(Assignee, Assignee)> {
    let specialists = cfg.schedule.specialists();
    let people: Vec<Person<'_>> = specialists
        .iter()
        .map(|s| Person {
            name: &s.name,
            email: &s.email.email,
        })
        .collect();
    let text = format!("{}\n{}", req.subject, req.new_text);
    let s = &specialists[complaint::about(&text, &people)?];
    let sup = cfg.supervisor_of(&s.email.email);
    if t.assignee
        .as_deref()
        .is_some_and(|a| a.eq_ignore_ascii_case(&sup.email))
    {
        return None;
    }
    Some((
        Assignee {
            name: s.name.clone(),
            email: s.email.email.clone(),
            position: s.position.clone(),
        },
        Assignee {
            name: sup.name.clone().unwrap_or_else(|| sup.email.clone()),
            email: sup.email.clone(),
            position: String::new(),
        },
    ))
}

/// Ask for what is missing, or dispatch a complete ticket.
fn progress(t: Ticket, cfg: &Config, loads: &Loads, now: DateTime<Utc>) -> Decision {
    let missing = missing_fields(
        role_from(t.role.as_deref()),
        t.full_name.as_deref(),
        t.class.as_deref(),
        t.description.as_deref(),
    );
    if missing.is_empty() {
        dispatch(t, cfg, loads, now, true)
    } else {
        Decision::Ask { ticket: t, missing }
    }
}

/// Forward now, hold for the next window, or hand to the fallback.
fn dispatch(
    t: Ticket,
    cfg: &Config,
    loads: &Loads,
    now: DateTime<Utc>,
    acknowledge: bool,
) -> Decision {
    let schedule = &cfg.schedule;
    if let Some(shift) = choose(cfg, &schedule.on_duty(now), loads, &t) {
        return Decision::Forward {
            ticket: t,
            to: assignee(cfg, &shift),
            acknowledge,
        };
    }
    if let Some(next) = schedule.next_window(now) {
        let opening = schedule.opening_at(next.from.with_timezone(&Utc));
        let shift = choose(cfg, &opening, loads, &t).unwrap_or(next);
        return Decision::Hold {
            ticket: t,
            to: assignee(cfg, &shift),
            shift,
            acknowledge,
        };
    }
    // No window ahead: the timetable has expired.
    let to = match cfg.fallback.first() {
        Some(a) => Assignee {
            name: a.name.clone().unwrap_or_else(|| a.email.clone()),
            email: a.email.clone(),
            position: String::new(),
        },
        None => Assignee {
            name: cfg.supervisor.name.clone().unwrap_or_default(),
            email: cfg.supervisor.email.clone(),
            position: String::new(),
        },
    };
    Decision::Fallback {
        ticket: t,
        to,
        acknowledge,
    }
}

/// The specialist of a shift.
pub(super) fn assignee(cfg: &Config, s: &Shift) -> Assignee {
    let sp = &cfg.schedule.specialists()[s.specialist];
    Assignee {
        name: sp.name.clone(),
        email: sp.email.email.clone(),
        position: sp.position.clone(),
    }
}

/// Two on duty: those whose `topics` include the ticket's kind of problem (see
/// [`crate::request::topic`]) if any do, else all; of these, fewest open
/// tickets first, then round-robin after the last one chosen.
pub(super) fn choose(cfg: &Config, shifts: &[Shift], loads: &Loads, t: &Ticket) -> Option<Shift> {
    if shifts.len() <= 1 {
        return shifts.first().cloned();
    }
    let specialists = cfg.schedule.specialists();
    let topic = t.description.as_deref().and_then(topic::of);
    let fits: Vec<&Shift> = shifts
        .iter()
        .filter(|s| topic.is_some_and(|k| specialists[s.specialist].topics.contains(&k)))
        .collect();
    let candidates: Vec<&Shift> = if fits.is_empty() {
        shifts.iter().collect()
    } else {
        fits
    };
    let n = specialists.len();
    let last_idx = loads
        .last
        .as_deref()
        .and_then(|l| specialists.iter().position(|s| s.email.email == l));
    let mut best: Option<(i64, usize, &Shift)> = None;
    for s in candidates {
        let open = loads
            .open
            .get(&specialists[s.specialist].email.email)
            .copied()
            .unwrap_or(0);
        // Distance after the last chosen, in config order: the next one comes first.
        let rr = match last_idx {
            Some(l) => (s.specialist + n - l - 1) % n,
            None => s.specialist,
        };
        if best.is_none_or(|(bo, br, _)| (open, rr) < (bo, br)) {
            best = Some((open, rr, s));
        }
    }
    best.map(|(_, _, s)| s.clone())
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
