//! Decisions: what one understood letter does to the tickets, and the mail it causes.
//!
//! Everything here runs inside the store transaction of one message (see
//! `daemon`): the ticket is created or merged, the decision recorded, and every
//! mail it causes queued — all committed together or not at all. Nothing is
//! sent from here; the outbox sends what is queued.
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

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use minijinja::{Value, context};

use crate::config::{Address, Config};
use crate::letter::{self, AutoSubmitted, Letter, new_message_id};
use crate::mailbox::Folder;
use crate::request::{Field, Request, Role, Verdict, missing_fields};
use crate::schedule::Shift;
use crate::store::{
    Cited, HOURLY_ALERT_KEY, NewOutgoing, Queries, ROUND_ROBIN_KEY, SeenMessage, Ticket,
    TicketState, Tx, UNDELIVERABLE_ALERT_KEY,
};
use crate::templates::Templates;
use crate::trust;

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

/// What was decided, for the log line and the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub folder: Folder,
    /// forward | ask | ignore | etiquette | duplicate | held | addition
    pub decision: String,
    pub reason: String,
    pub ticket: Option<i64>,
    /// Who gets the forward (or will, when held).
    pub assignee: Option<String>,
    /// Mails queued.
    pub queued: usize,
}

/// How long a ticket waiting for its sender accepts an incomplete new letter as its answer.
const WAITING_MERGE_WINDOW_DAYS: i64 = 14;

/// Handles one letter inside the caller's transaction.
pub fn handle(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let cfg = desk.config;
    let sender = req.sender.as_deref().map(str::to_lowercase);
    let auth = trust::verdict(incoming.raw, cfg.authserv_id.as_deref(), sender.as_deref());

    // The same Message-ID from the same sender delivered twice (CC copies, a rescan
    // after UIDVALIDITY changed) is one request: file the copy where the first went,
    // nothing else. A Message-ID proves nothing by itself: from someone else it is
    // a letter of its own.
    if let Some(mid) = req.message_id.as_deref()
        && let Some(folder) = seen_before(tx, mid, sender.as_deref())?
    {
        let outcome = Outcome {
            folder: Folder::from_leaf(&folder),
            decision: "duplicate".into(),
            reason: format!("Message-ID <{mid}> already handled"),
            ticket: None,
            assignee: None,
            queued: 0,
        };
        record(tx, req, incoming, &outcome, now, false)?;
        return Ok(outcome);
    }

    let mut ctx = Ctx {
        tx,
        desk,
        req,
        sender: sender.as_deref(),
        auth,
        now,
        queued: 0,
        replied: false,
        notes: Vec::new(),
    };
    let own = sender
        .as_deref()
        .is_some_and(|s| trust::address_key(s) == trust::address_key(&cfg.from.email));
    if req.verdict == Verdict::Ignore || own {
        let mut reason = if own {
            "our own address".to_string()
        } else {
            req.reason.clone()
        };
        let unreadable = reason.contains("unreadable")
            || reason.contains("too large")
            || reason.contains("not a mail");
        if !own && req.reason.starts_with("too large") {
            // Not a robot (the understanding says so first): tell the sender.
            let t = ctx.ticket_from_request();
            let mb = |n: usize| format!("{:.1} МБ", n as f64 / (1024.0 * 1024.0));
            let told = ctx.reply(
                "too_large",
                &t,
                context! { size => mb(req.size), limit => mb(cfg.max_message_size) },
            )?;
            if !told {
                ctx.notes.push("the sender was not told".into());
            }
        }
        for n in &ctx.notes {
            reason.push_str("; ");
            reason.push_str(n);
        }
        let outcome = Outcome {
            folder: if unreadable {
                Folder::Unreadable
            } else {
                Folder::Ignored
            },
            decision: "ignore".into(),
            reason,
            ticket: None,
            assignee: None,
            queued: ctx.queued,
        };
        record(tx, req, incoming, &outcome, now, unreadable)?;
        return Ok(outcome);
    }

    let outcome = match thread_of(tx, cfg, req, sender.as_deref(), auth, now)? {
        Thread::Answer(t) => ctx.specialist_answer(t, incoming)?,
        Thread::FollowUp(t) if req.verdict != Verdict::Etiquette => ctx.follow_up(t, incoming)?,
        _ => ctx.new_ticket(incoming)?,
    };
    Ok(Outcome {
        queued: ctx.queued,
        ..outcome
    })
}

/// The folder of an earlier letter with this Message-ID from the same sender.
fn seen_before(
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
/// Forwards held tickets whose duty window has opened. Returns what happened to each.
pub fn release_due(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    for mut t in tx.due_tickets(now)? {
        let on_duty = desk.config.schedule.on_duty(now);
        let planned = t.assignee.clone();
        let pick = match on_duty
            .iter()
            .find(|s| Some(&email_of(desk, s)) == planned.as_ref())
        {
            Some(s) => Some(s.clone()),
            None => choose(tx, desk, &on_duty)?,
        };
        let dummy = dummy_request();
        let requester = t.requester.clone();
        let mut ctx = Ctx {
            tx,
            desk,
            req: &dummy,
            sender: requester.as_deref(),
            now,
            queued: 0,
            replied: false,
            auth: trust::Verdict::Unknown,
            notes: Vec::new(),
        };
        let outcome = match pick {
            Some(shift) => {
                let (name, email) = specialist(desk, &shift);
                ctx.forward(&mut t, &name, &email, false, None)?;
                Outcome {
                    folder: Folder::Processed,
                    decision: "forward".into(),
                    reason: "duty window opened".into(),
                    ticket: Some(t.number),
                    assignee: Some(name),
                    queued: 0,
                }
            }
            None => {
                // The schedule changed since the ticket was held (a reload): plan again.
                ctx.dispatch(&mut t, false)?
            }
        };
        tx.audit(now, Some(t.number), None, "released", &outcome.decision)?;
        out.push(Outcome {
            queued: ctx.queued,
            ..outcome
        });
    }
    Ok(out)
}

/// Whether an address belongs to the people who handle tickets (specialists,
/// supervisor, fallback, admin).
fn is_desk_member(cfg: &Config, address: &str) -> bool {
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
fn recipients_of(raw: &[u8]) -> Vec<String> {
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
const HANDING_KINDS: &[&str] = &["forward", "addition"];

/// Kinds of mail that go to a requester: an answer to one of them, from its
/// recipient, continues that requester's ticket.
const REQUESTER_KINDS: &[&str] = &[
    "ask",
    "ack_now",
    "ack_later",
    "etiquette",
    "relay",
    "too_large",
];

/// Automatic replies, rationed per hour for all senders together.
const AUTO_REPLY_KINDS: &[&str] = &["ask", "ack_now", "ack_later", "etiquette", "too_large"];

/// Mail a ticket exchanges with its specialist and its requester, rationed per
/// ticket per day (two auto-responders must not talk to each other for ever).
const EXCHANGE_KINDS: &[&str] = &["relay", "addition"];

/// What a letter continues.
enum Thread {
    /// The answer of a person the ticket was handed to.
    Answer(Ticket),
    /// The requester's own follow-up.
    FollowUp(Ticket),
    New,
}

/// Which existing ticket a letter continues, and as whose letter. Nothing in a
/// letter proves anything by itself: a Message-ID joins a ticket only when its
/// writer is the ticket's requester or the person the cited mail went to.
fn thread_of(
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

fn record(
    tx: &Tx<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    o: &Outcome,
    now: DateTime<Utc>,
    keep_raw: bool,
) -> anyhow::Result<()> {
    let keep = keep_raw || o.ticket.is_some();
    tx.record_message(&seen(req, incoming, o, keep), now)?;
    tx.audit(
        now,
        o.ticket,
        req.message_id.as_deref(),
        &o.decision,
        &o.reason,
    )
}

struct Ctx<'a, 'b> {
    tx: &'a Tx<'b>,
    desk: &'a Desk<'a>,
    req: &'a Request,
    sender: Option<&'a str>,
    now: DateTime<Utc>,
    queued: usize,
    /// Whether this letter already got its one automatic reply.
    replied: bool,
    /// What the receiving server said of the sender.
    auth: trust::Verdict,
    /// What the decision's reason should add (a reply not sent, and why).
    notes: Vec<String>,
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Staff => "staff",
        Role::Parent => "parent",
        Role::Student => "student",
    }
}

fn role_from(s: Option<&str>) -> Option<Role> {
    match s? {
        "staff" => Some(Role::Staff),
        "parent" => Some(Role::Parent),
        "student" => Some(Role::Student),
        _ => None,
    }
}

pub fn role_ru(r: Option<&str>) -> Option<&'static str> {
    Some(match r? {
        "staff" => "сотрудник школы",
        "parent" => "родитель (законный представитель)",
        "student" => "учащийся",
        _ => return None,
    })
}

fn field_ru(f: Field) -> &'static str {
    match f {
        Field::FullName => "фамилию, имя и отчество (ФИО) — Ваши, а не ребёнка",
        Field::Class => "класс (например, 5А)",
        Field::Description => {
            "описание проблемы: что именно не получается и что при этом видно на экране"
        }
    }
}

fn field_key(f: Field) -> &'static str {
    match f {
        Field::FullName => "full_name",
        Field::Class => "class",
        Field::Description => "description",
    }
}

/// "Смирнова Ольга Викторовна" → "Смирнова О.В."; initials stay as written.
pub fn short_name(full: &str) -> String {
    let mut parts = full.split_whitespace();
    let Some(surname) = parts.next() else {
        return String::new();
    };
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty() {
        return surname.to_string();
    }
    let initials: String = rest
        .iter()
        .flat_map(|p| p.split('.').filter(|s| !s.is_empty()))
        .filter_map(|p| p.chars().next())
        .map(|c| format!("{c}."))
        .collect();
    format!("{surname} {initials}")
}

fn email_of(desk: &Desk<'_>, s: &Shift) -> String {
    desk.config.schedule.specialists()[s.specialist]
        .email
        .email
        .clone()
}

fn specialist(desk: &Desk<'_>, s: &Shift) -> (String, String) {
    let sp = &desk.config.schedule.specialists()[s.specialist];
    (sp.name.clone(), sp.email.email.clone())
}

/// Two on duty: fewest open tickets first, then round-robin after the last one chosen.
fn choose(tx: &Tx<'_>, desk: &Desk<'_>, shifts: &[Shift]) -> anyhow::Result<Option<Shift>> {
    if shifts.len() <= 1 {
        return Ok(shifts.first().cloned());
    }
    let last = tx.kv_get(ROUND_ROBIN_KEY)?;
    let n = desk.config.schedule.specialists().len();
    let last_idx = last.as_deref().and_then(|l| {
        desk.config
            .schedule
            .specialists()
            .iter()
            .position(|s| s.email.email == l)
    });
    let mut best: Option<(i64, usize, &Shift)> = None;
    for s in shifts {
        let open = tx.open_count(&email_of(desk, s))?;
        // Distance after the last chosen, in config order: the next one comes first.
        let rr = match last_idx {
            Some(l) => (s.specialist + n - l - 1) % n,
            None => s.specialist,
        };
        if best.is_none_or(|(bo, br, _)| (open, rr) < (bo, br)) {
            best = Some((open, rr, s));
        }
    }
    Ok(best.map(|(_, _, s)| s.clone()))
}

const MONTHS_GENITIVE: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];

/// "в четверг, 9 сентября, в 14:00".
pub fn when_ru<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let day = match t.weekday() {
        chrono::Weekday::Mon => "в понедельник",
        chrono::Weekday::Tue => "во вторник",
        chrono::Weekday::Wed => "в среду",
        chrono::Weekday::Thu => "в четверг",
        chrono::Weekday::Fri => "в пятницу",
        chrono::Weekday::Sat => "в субботу",
        chrono::Weekday::Sun => "в воскресенье",
    };
    let month = MONTHS_GENITIVE[t.month0() as usize];
    format!("{day}, {} {month}, в {}", t.day(), t.format("%H:%M"))
}

/// "31 мая 2022".
pub fn date_ru(d: chrono::NaiveDate) -> String {
    format!(
        "{} {} {}",
        d.day(),
        MONTHS_GENITIVE[d.month0() as usize],
        d.year()
    )
}

/// "9 сентября 2021, 08:30".
fn stamp_ru<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "{} {} {}, {}",
        t.day(),
        MONTHS_GENITIVE[t.month0() as usize],
        t.year(),
        t.format("%H:%M")
    )
}

fn waited_ru(d: Duration) -> Option<String> {
    let mins = d.num_minutes();
    if mins < 1 {
        return None;
    }
    let (days, hours, m) = (mins / 1440, (mins % 1440) / 60, mins % 60);
    Some(match (days, hours) {
        (0, 0) => format!("{m} мин"),
        (0, h) => format!("{h} ч {m} мин"),
        (d, h) => format!("{d} дн {h} ч"),
    })
}

/// The description a follow-up brings, if the writer wrote it now (in the new
/// text or the subject). The understanding falls back to quoted text for replies,
/// but in a follow-up that quote is our own letter (the ask, the acknowledgement
/// with its attribution line), not the requester's problem: the ticket already
/// holds what they wrote before.
fn own_description(req: &Request) -> Option<&str> {
    let d = req.description.as_deref()?;
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let d_squashed = squash(d.trim_end_matches('…'));
    let head: String = d_squashed.chars().take(40).collect();
    let own = squash(&req.new_text).contains(&head) || squash(&req.subject).contains(&head);
    own.then_some(d)
}

/// Appends new text to a description unless it says nothing new.
fn merge_text(old: Option<String>, new: Option<&str>) -> Option<String> {
    match (old, new.map(str::trim).filter(|s| !s.is_empty())) {
        (Some(o), Some(n)) if o.contains(n) => Some(o),
        (Some(o), Some(n)) if n.contains(o.trim()) => Some(n.to_string()),
        (Some(o), Some(n)) => Some(format!("{o}\n\n{n}")),
        (o, n) => o.or(n.map(str::to_string)),
    }
}

/// A stand-in request for decisions taken without a letter (a held
/// ticket released, tests).
fn dummy_request() -> Request {
    Request {
        verdict: Verdict::Forward,
        ..Request::empty(0)
    }
}

impl Ctx<'_, '_> {
    fn cfg(&self) -> &Config {
        self.desk.config
    }

    fn ticket_from_request(&self) -> Ticket {
        let req = self.req;
        Ticket {
            number: 0,
            requester: self.sender.map(str::to_string),
            requester_name: req.sender_name.clone(),
            role: req.role.map(|r| role_str(r).to_string()),
            full_name: req.full_name.clone(),
            class: req.class.clone(),
            description: req.description.clone(),
            subject: cap_chars(&req.subject, MAX_SUBJECT_CHARS),
            state: TicketState::WaitingSender,
            assignee: None,
            assignee_name: None,
            created_at: self.now,
            due_at: None,
            forwarded_at: None,
            sender_auth: Some(self.auth.as_str().to_string()),
        }
    }

    /// The outcome with the notes of this letter (replies not sent, and why) added to its reason.
    fn noted(&self, o: Outcome) -> Outcome {
        let mut reason = o.reason;
        for n in &self.notes {
            reason.push_str("; ");
            reason.push_str(n);
        }
        Outcome { reason, ..o }
    }

    fn new_ticket(&mut self, incoming: &Incoming<'_>) -> anyhow::Result<Outcome> {
        let mut t = self.ticket_from_request();
        if self.req.verdict == Verdict::Etiquette {
            t.state = TicketState::Refused;
        }
        t.number = self.tx.create_ticket(&t, self.now)?;
        // The letter is recorded first so that a forward finds it to attach.
        record_letter(self.tx, self.req, incoming, t.number, self.now)?;
        let outcome = if self.req.verdict == Verdict::Etiquette {
            self.etiquette(&t, incoming)?
        } else {
            self.progress(&mut t)?
        };
        let outcome = self.noted(outcome);
        finish_record(self.tx, incoming, self.req, &outcome, self.now)?;
        Ok(outcome)
    }

    fn follow_up(&mut self, mut t: Ticket, incoming: &Incoming<'_>) -> anyhow::Result<Outcome> {
        let req = self.req;
        if t.role.is_none() {
            t.role = req.role.map(|r| role_str(r).to_string());
        }
        if let Some(n) = &req.full_name {
            t.full_name = Some(n.clone());
        }
        if let Some(c) = &req.class {
            t.class = Some(c.clone());
        }
        let was_forwarded = t.state == TicketState::Forwarded;
        t.description = merge_text(t.description.take(), own_description(req));
        record_letter(self.tx, req, incoming, t.number, self.now)?;
        let outcome = match t.state {
            TicketState::Forwarded if was_forwarded && self.exchanges_left(&t)? == 0 => {
                // Two auto-responders answering each other: stop passing letters on.
                self.tx.update_ticket(&t, self.now)?;
                self.tx.audit(
                    self.now,
                    Some(t.number),
                    req.message_id.as_deref(),
                    "exchange_limit",
                    "addition not forwarded",
                )?;
                Outcome {
                    folder: Folder::Processed,
                    decision: "addition".into(),
                    reason: "follow-up to a forwarded ticket; daily exchange limit reached, merged but not forwarded".into(),
                    ticket: Some(t.number),
                    assignee: t.assignee_name.clone(),
                    queued: 0,
                }
            }
            TicketState::Forwarded if was_forwarded => {
                // An addition goes to the same specialist, with only the new letter.
                let name = t.assignee_name.clone().unwrap_or_default();
                let email = t.assignee.clone().unwrap_or_else(|| {
                    self.cfg()
                        .fallback
                        .first()
                        .map(|a| a.email.clone())
                        .unwrap_or_default()
                });
                self.forward(&mut t, &name, &email, true, Some(incoming))?;
                Outcome {
                    folder: Folder::Processed,
                    decision: "addition".into(),
                    reason: "follow-up to a forwarded ticket".into(),
                    ticket: Some(t.number),
                    assignee: Some(name),
                    queued: 0,
                }
            }
            TicketState::WaitingDuty => {
                self.tx.update_ticket(&t, self.now)?;
                Outcome {
                    folder: Folder::Processed,
                    decision: "held".into(),
                    reason: "follow-up merged into a ticket held for duty".into(),
                    ticket: Some(t.number),
                    assignee: t.assignee_name.clone(),
                    queued: 0,
                }
            }
            _ => self.progress(&mut t)?,
        };
        let outcome = Outcome {
            reason: if outcome.decision == "addition" || outcome.decision == "held" {
                outcome.reason.clone()
            } else {
                format!("follow-up: {}", outcome.reason)
            },
            ..outcome
        };
        let outcome = self.noted(outcome);
        finish_record(self.tx, incoming, req, &outcome, self.now)?;
        Ok(outcome)
    }

    /// The proven answer of the person a ticket was handed to (see [`thread_of`]):
    /// if the requester already got it (reply-all), just file it; else pass it on.
    fn specialist_answer(&mut self, t: Ticket, incoming: &Incoming<'_>) -> anyhow::Result<Outcome> {
        record_letter(self.tx, self.req, incoming, t.number, self.now)?;
        let requester = t.requester.clone().unwrap_or_default();
        let name = self
            .req
            .sender_name
            .clone()
            .map(|n| cap_chars(&n, MAX_NAME_CHARS))
            .unwrap_or_else(|| self.sender.unwrap_or_default().to_string());
        let answered = |reason: &str| Outcome {
            folder: Folder::Processed,
            decision: "answered".into(),
            reason: reason.to_string(),
            ticket: Some(t.number),
            assignee: Some(name.clone()),
            queued: 0,
        };
        let key = trust::address_key(&requester);
        let outcome = if requester.is_empty()
            || recipients_of(incoming.raw)
                .iter()
                .any(|r| trust::address_key(r) == key)
        {
            answered("a specialist's answer; the requester received it directly")
        } else if t.sender_auth.as_deref() == Some(trust::Verdict::Fail.as_str()) {
            answered(
                "a specialist's answer; not relayed: the requester's address failed authentication",
            )
        } else if !letter::deliverable(&requester) {
            self.tx.audit(
                self.now,
                Some(t.number),
                self.req.message_id.as_deref(),
                "undeliverable",
                "relay: the requester's address cannot be written to",
            )?;
            answered(
                "a specialist's answer; not relayed: the requester's address cannot be written to",
            )
        } else if self.exchanges_left(&t)? == 0 {
            self.tx.audit(
                self.now,
                Some(t.number),
                self.req.message_id.as_deref(),
                "exchange_limit",
                "answer not relayed",
            )?;
            answered("a specialist's answer; daily exchange limit reached, not relayed")
        } else {
            let specialist = self.sender.unwrap_or_default().to_string();
            let rendered = self.desk.templates.render(
                "relay",
                self.common(
                    &t,
                    true,
                    context! {
                        specialist => context! { name => name, email => specialist },
                        answer => self.req.new_text.trim(),
                    },
                ),
            )?;
            let to = Address::parse(&requester).map(|a| Address {
                name: t.full_name.clone(),
                email: a.email,
            });
            let Some(to) = to else {
                anyhow::bail!("ticket {}: requester address is not valid", t.number)
            };
            self.queue_letter(
                "relay",
                &t,
                Letter {
                    from: self.cfg().from.clone(),
                    to: vec![to],
                    reply_to: Address::parse(&specialist).map(|a| Address {
                        name: Some(name.clone()),
                        email: a.email,
                    }),
                    subject: rendered.subject,
                    body: rendered.body,
                    message_id: new_message_id("relay", Some(t.number), &self.cfg().from),
                    in_reply_to: self.req.message_id.clone(),
                    references: vec![],
                    auto_submitted: AutoSubmitted::Generated,
                    ticket: Some(t.number),
                    date: self.now,
                    attachments: vec![],
                },
                Some(&key),
                None,
            )?;
            Outcome {
                decision: "relayed".into(),
                ..answered(
                    "a specialist's answer sent to the support address, passed on to the requester",
                )
            }
        };
        finish_record(self.tx, incoming, self.req, &outcome, self.now)?;
        Ok(outcome)
    }

    /// The start of the local day of `now`, in the school's time zone.
    fn midnight(&self) -> DateTime<Utc> {
        let tz = self.cfg().schedule.tz();
        let local = self.now.with_timezone(&tz);
        tz.with_ymd_and_hms(local.year(), local.month(), local.day(), 0, 0, 0)
            .earliest()
            .map(|m| m.with_timezone(&Utc))
            .unwrap_or(self.now - Duration::hours(24))
    }

    /// Relays and additions this ticket may still exchange today.
    fn exchanges_left(&self, t: &Ticket) -> anyhow::Result<u32> {
        let used = self
            .tx
            .ticket_mail_since(t.number, EXCHANGE_KINDS, self.midnight())?;
        Ok(self.cfg().exchanges_per_ticket_per_day.saturating_sub(used))
    }

    /// Ask for what is missing, or dispatch a complete ticket.
    fn progress(&mut self, t: &mut Ticket) -> anyhow::Result<Outcome> {
        let missing = missing_fields(
            role_from(t.role.as_deref()),
            t.full_name.as_deref(),
            t.class.as_deref(),
            t.description.as_deref(),
        );
        if missing.is_empty() {
            return self.dispatch(t, true);
        }
        t.state = TicketState::WaitingSender;
        self.tx.update_ticket(t, self.now)?;
        let names: Vec<&str> = missing.iter().map(|f| field_key(*f)).collect();
        let reason = format!("missing {}", names.join(", "));
        let understood_desc = t.description.as_deref().map(|d| {
            let mut s: String = d.chars().take(300).collect();
            if d.chars().count() > 300 {
                s.push('…');
            }
            s
        });
        let ctx = context! {
            missing => names,
            missing_ru => missing.iter().map(|f| field_ru(*f)).collect::<Vec<_>>(),
            understood => context! { full_name => t.full_name, class => t.class, description => understood_desc },
            role_unknown => t.role.is_none(),
        };
        let replied = self.reply("ask", t, ctx)?;
        Ok(Outcome {
            folder: Folder::Waiting,
            decision: "ask".into(),
            reason: if replied {
                reason
            } else {
                format!("{reason}; not asked")
            },
            ticket: Some(t.number),
            assignee: None,
            queued: 0,
        })
    }

    /// Forward now, hold for the next window, or hand to the fallback.
    fn dispatch(&mut self, t: &mut Ticket, acknowledge: bool) -> anyhow::Result<Outcome> {
        let desk = self.desk;
        let schedule = &desk.config.schedule;
        let on_duty = schedule.on_duty(self.now);
        if let Some(shift) = choose(self.tx, self.desk, &on_duty)? {
            let (name, email) = specialist(self.desk, &shift);
            self.forward(t, &name, &email, false, None)?;
            let sp = &schedule.specialists()[shift.specialist];
            let replied = acknowledge
                && self.reply(
                    "ack_now",
                    t,
                    context! { assignee => context! { name => sp.name, position => sp.position, email => sp.email.email } },
                )?;
            return Ok(Outcome {
                folder: Folder::Processed,
                decision: "forward".into(),
                reason: if replied || !acknowledge {
                    "complete, on duty now".into()
                } else {
                    "complete, on duty now; not acknowledged".into()
                },
                ticket: Some(t.number),
                assignee: Some(name),
                queued: 0,
            });
        }
        if let Some(next) = schedule.next_window(self.now) {
            let opening = schedule.opening_at(next.from.with_timezone(&Utc));
            let shift = choose(self.tx, self.desk, &opening)?.unwrap_or(next);
            let sp = &schedule.specialists()[shift.specialist];
            t.state = TicketState::WaitingDuty;
            t.due_at = Some(shift.from.with_timezone(&Utc));
            t.assignee = Some(sp.email.email.clone());
            t.assignee_name = Some(sp.name.clone());
            self.tx.update_ticket(t, self.now)?;
            let when = when_ru(&shift.from);
            if acknowledge {
                self.reply(
                    "ack_later",
                    t,
                    context! {
                        assignee => context! { name => sp.name, position => sp.position, email => sp.email.email },
                        when => when,
                        fallback => false,
                    },
                )?;
            }
            return Ok(Outcome {
                folder: Folder::Processed,
                decision: "held".into(),
                reason: format!(
                    "off duty; held until {}",
                    shift.from.format("%Y-%m-%d %H:%M")
                ),
                ticket: Some(t.number),
                assignee: Some(sp.name.clone()),
                queued: 0,
            });
        }
        // No window ahead: the timetable has expired.
        let fallback = self.cfg().fallback.clone();
        let (name, email) = match fallback.first() {
            Some(a) => (
                a.name.clone().unwrap_or_else(|| a.email.clone()),
                a.email.clone(),
            ),
            None => (
                self.cfg().supervisor.name.clone().unwrap_or_default(),
                self.cfg().supervisor.email.clone(),
            ),
        };
        self.forward(t, &name, &email, false, None)?;
        if acknowledge {
            self.reply(
                "ack_later",
                t,
                context! { assignee => context! { name => name, position => "", email => email }, when => "", fallback => true },
            )?;
        }
        Ok(Outcome {
            folder: Folder::Processed,
            decision: "forward".into(),
            reason: "no duty window ahead (schedule expired); sent to the fallback".into(),
            ticket: Some(t.number),
            assignee: Some(name),
            queued: 0,
        })
    }

    fn etiquette(&mut self, t: &Ticket, incoming: &Incoming<'_>) -> anyhow::Result<Outcome> {
        let mut reason = self.req.reason.clone();
        self.reply("etiquette", t, context! { reason => reason })?;
        // One report per sender per day: a flood of rude (or forged rude) letters
        // must not become a flood of reports naming someone. The rest are counted.
        let key = self.sender.map(trust::address_key);
        let reported = self
            .tx
            .reported_since(self.midnight())?
            .iter()
            .any(|r| Some(trust::address_key(r)) == key);
        if reported {
            self.tx.audit(
                self.now,
                Some(t.number),
                self.req.message_id.as_deref(),
                "report_suppressed",
                "rule 5: this sender was already reported today",
            )?;
            reason.push_str("; already reported today, not reported again");
        } else {
            let sup = self.cfg().supervisor.clone();
            let rendered = self.desk.templates.render(
                "supervisor_report",
                self.common(
                    t,
                    false,
                    context! {
                        supervisor => context! { name => sup.name, email => sup.email },
                        reason => reason,
                        verified => self.auth == trust::Verdict::Pass,
                    },
                ),
            )?;
            let (attachments, _) = self.fit_letters(vec![(incoming.raw.len(), ())], |_| {
                Ok(Some(incoming.raw.to_vec()))
            })?;
            self.queue_letter(
                "report",
                t,
                Letter {
                    from: self.cfg().from.clone(),
                    to: vec![sup],
                    reply_to: None,
                    subject: rendered.subject,
                    body: rendered.body,
                    message_id: new_message_id("report", Some(t.number), &self.cfg().from),
                    in_reply_to: None,
                    references: vec![],
                    auto_submitted: AutoSubmitted::Generated,
                    ticket: Some(t.number),
                    date: self.now,
                    attachments,
                },
                None,
                None,
            )?;
        }
        Ok(Outcome {
            folder: Folder::Etiquette,
            decision: "etiquette".into(),
            reason,
            ticket: Some(t.number),
            assignee: None,
            queued: 0,
        })
    }

    /// The variables every template gets, merged with `extra`. For a mail to the
    /// requester (`to_requester`) the letter's own words are quoted short: a reply
    /// must not carry a stranger's text back out from the school's address.
    fn common(&self, t: &Ticket, to_requester: bool, extra: Value) -> Value {
        let tz = self.cfg().schedule.tz();
        let name = t
            .full_name
            .clone()
            .or_else(|| t.requester_name.clone())
            .map(|n| cap_chars(&n, MAX_NAME_CHARS));
        let description = if to_requester {
            t.description
                .as_deref()
                .map(|d| cap_chars(d, MAX_QUOTED_CHARS))
        } else {
            t.description.clone()
        };
        let base = context! {
            school => self.cfg().school_name,
            ticket => t.number,
            subject => cap_chars(&t.subject, MAX_SUBJECT_CHARS),
            received => stamp_ru(&t.created_at.with_timezone(&tz)),
            requester => context! {
                email => t.requester,
                name => name,
                short_name => t.full_name.as_deref().map(short_name),
                role => t.role,
                role_ru => role_ru(t.role.as_deref()),
                class => t.class,
            },
            description => description,
            mailbox => self.cfg().from.email,
            unverified => t.sender_auth.as_deref() == Some(trust::Verdict::Fail.as_str()),
        };
        context! { ..extra, ..base }
    }

    /// An automatic reply to the sender, unless it may not have one: the sender
    /// failed authentication, its address cannot be written to, the daily limit
    /// for that person is reached, or the hourly limit for everyone leaves no room
    /// within a day (within it, the reply waits its turn). One reply per letter.
    /// Returns whether it was queued; why not goes to `notes` and the audit.
    fn reply(&mut self, template: &str, t: &Ticket, extra: Value) -> anyhow::Result<bool> {
        let Some(sender) = self.sender else {
            return Ok(false);
        };
        if self.replied {
            return Ok(false);
        }
        let ticket = (t.number > 0).then_some(t.number);
        let silent = |ctx: &mut Self, event: &str, why: &str| -> anyhow::Result<bool> {
            ctx.tx
                .audit(ctx.now, ticket, ctx.req.message_id.as_deref(), event, why)?;
            ctx.notes.push(why.to_string());
            Ok(false)
        };
        if self.auth == trust::Verdict::Fail {
            return silent(
                self,
                "silent",
                "not answered: the sender failed authentication",
            );
        }
        let Some(to) = Address::parse(sender).filter(|a| letter::deliverable(&a.email)) else {
            self.alert_undeliverable(sender, ticket)?;
            return silent(
                self,
                "undeliverable",
                "not answered: the sender's address cannot be written to",
            );
        };
        let key = trust::address_key(sender);
        if self.tx.auto_replies_since(&key, self.midnight())?
            >= self.cfg().auto_replies_per_sender_per_day
        {
            return silent(self, "silent", "auto-reply limit reached");
        }
        let not_before = match self.hourly_slot()? {
            Slot::Now => None,
            Slot::At(t) => Some(t),
            Slot::None => {
                return silent(
                    self,
                    "silent",
                    "hourly auto-reply limit: no room within a day",
                );
            }
        };
        let rendered = self
            .desk
            .templates
            .render(template, self.common(t, true, extra))?;
        let mut references = self.req.references.clone();
        if let Some(m) = &self.req.message_id {
            references.push(m.clone());
        }
        let to = Address {
            name: self
                .req
                .sender_name
                .clone()
                .or(to.name)
                .map(|n| cap_chars(&n, MAX_NAME_CHARS)),
            email: to.email,
        };
        self.queue_letter(
            template,
            t,
            Letter {
                from: self.cfg().from.clone(),
                to: vec![to],
                reply_to: None,
                subject: rendered.subject,
                body: rendered.body,
                message_id: new_message_id(template, ticket, &self.cfg().from),
                in_reply_to: self.req.message_id.clone(),
                references,
                auto_submitted: AutoSubmitted::Replied,
                ticket,
                date: self.now,
                attachments: vec![],
            },
            Some(&key),
            not_before,
        )?;
        if let Some(at) = not_before {
            self.notes.push(format!(
                "hourly auto-reply limit: the reply waits until {}",
                at.with_timezone(&self.cfg().schedule.tz())
                    .format("%Y-%m-%d %H:%M")
            ));
        }
        self.replied = true;
        Ok(true)
    }

    /// When the next automatic reply may go out under `auto_replies_per_hour`: at
    /// most that many in any hour. The first time a day a reply has to wait, the
    /// admin is told once.
    fn hourly_slot(&mut self) -> anyhow::Result<Slot> {
        let cap = self.cfg().auto_replies_per_hour as usize;
        if cap == 0 {
            return Ok(Slot::None);
        }
        let latest = self.tx.latest_auto_replies(AUTO_REPLY_KINDS, cap)?;
        let Some(&oldest) = latest.get(cap - 1) else {
            return Ok(Slot::Now);
        };
        let at = oldest + Duration::hours(1);
        if at <= self.now {
            return Ok(Slot::Now);
        }
        if at - self.now > Duration::hours(MAX_REPLY_WAIT_HOURS) {
            return Ok(Slot::None);
        }
        self.alert_hourly_limit()?;
        Ok(Slot::At(at))
    }

    /// One letter a day to the admin when automatic replies start to wait.
    fn alert_hourly_limit(&mut self) -> anyhow::Result<()> {
        let ctx = context! {
            limit => self.cfg().auto_replies_per_hour,
            mailbox => self.cfg().from.email,
        };
        self.alert_admin(HOURLY_ALERT_KEY, "limit_alert", ctx)
    }

    /// One letter a day to the admin naming an address mail cannot be written to
    /// (the first of the day; `status` counts them all).
    fn alert_undeliverable(&mut self, address: &str, ticket: Option<i64>) -> anyhow::Result<()> {
        let ctx = context! {
            address => address,
            ticket => ticket,
            mailbox => self.cfg().from.email,
        };
        self.alert_admin(UNDELIVERABLE_ALERT_KEY, "address_alert", ctx)
    }

    /// Queues `template` to the admin unless the `kv` key says one went today.
    fn alert_admin(&mut self, key: &str, template: &str, ctx: Value) -> anyhow::Result<()> {
        let tz = self.cfg().schedule.tz();
        let today = self.now.with_timezone(&tz).format("%Y-%m-%d").to_string();
        if self.tx.kv_get(key)?.as_deref() == Some(today.as_str()) {
            return Ok(());
        }
        self.tx.kv_set(key, &today)?;
        let Some(admin) = self.cfg().admin.clone() else {
            return Ok(());
        };
        let rendered = self.desk.templates.render(template, ctx)?;
        let letter = Letter {
            from: self.cfg().from.clone(),
            to: vec![admin.clone()],
            reply_to: None,
            subject: rendered.subject,
            body: rendered.body,
            message_id: new_message_id(template, None, &self.cfg().from),
            in_reply_to: None,
            references: vec![],
            auto_submitted: AutoSubmitted::Generated,
            ticket: None,
            date: self.now,
            attachments: vec![],
        };
        let raw = letter.build()?;
        self.tx.queue(
            &NewOutgoing {
                message_id: &letter.message_id,
                ticket: None,
                kind: template,
                auto_reply_to: None,
                envelope_from: &self.cfg().from.email,
                recipients: std::slice::from_ref(&admin.email),
                raw: &raw,
                not_before: None,
            },
            self.now,
        )?;
        self.tx
            .audit(self.now, None, None, template, "alert queued for the admin")?;
        self.queued += 1;
        Ok(())
    }

    /// Keeps letters, in order, while their total stays within `max_forward_size`;
    /// `load` reads one. Returns the kept letters and what was left out.
    fn fit_letters<K>(
        &self,
        sizes: Vec<(usize, K)>,
        mut load: impl FnMut(&K) -> anyhow::Result<Option<Vec<u8>>>,
    ) -> anyhow::Result<(Vec<Vec<u8>>, Vec<usize>)> {
        let max = self.cfg().max_forward_size;
        let mut total = 0usize;
        let mut kept = Vec::new();
        let mut left_out = Vec::new();
        for (size, k) in sizes {
            if total.saturating_add(size) > max {
                left_out.push(size);
                continue;
            }
            if let Some(raw) = load(&k)? {
                total += raw.len();
                kept.push(raw);
            }
        }
        Ok((kept, left_out))
    }

    /// Queues the forward of a ticket (or an addition to it, with only `only`) to one person.
    fn forward(
        &mut self,
        t: &mut Ticket,
        name: &str,
        email: &str,
        addition: bool,
        only: Option<&Incoming<'_>>,
    ) -> anyhow::Result<()> {
        let (letters, left_out) = match only {
            Some(incoming) => self.fit_letters(vec![(incoming.raw.len(), ())], |_| {
                Ok(Some(incoming.raw.to_vec()))
            })?,
            None => {
                let sizes = self.tx.ticket_letter_sizes(t.number)?;
                let sizes = sizes.into_iter().map(|l| (l.size, l.id)).collect();
                self.fit_letters(sizes, |id| self.tx.letter_raw(*id))?
            }
        };
        let mb = |n: &usize| format!("{:.1} МБ", *n as f64 / (1024.0 * 1024.0));
        let waited = waited_ru(self.now - t.created_at)
            .filter(|_| !addition && t.state == TicketState::WaitingDuty);
        let rendered = self.desk.templates.render(
            "forward",
            self.common(
                t,
                false,
                context! {
                    assignee => context! { name => name, email => email },
                    addition => addition,
                    waited => waited,
                    letters => letters.len(),
                    left_out => left_out.iter().map(mb).collect::<Vec<_>>(),
                },
            ),
        )?;
        // The specialist answers the requester directly: only to an address that
        // can be written to and that the receiving server did not call forged.
        let reply_to = t
            .requester
            .as_deref()
            .filter(|_| t.sender_auth.as_deref() != Some(trust::Verdict::Fail.as_str()))
            .and_then(Address::parse)
            .filter(|a| letter::deliverable(&a.email))
            .map(|a| Address {
                name: t
                    .full_name
                    .clone()
                    .or_else(|| t.requester_name.clone())
                    .map(|n| cap_chars(&n, MAX_NAME_CHARS)),
                email: a.email,
            });
        let to = Address::parse(email).map(|a| Address {
            name: Some(name.to_string()).filter(|n| !n.is_empty()),
            email: a.email,
        });
        let Some(to) = to else {
            anyhow::bail!(
                "ticket {}: assignee address {email:?} is not valid",
                t.number
            );
        };
        self.queue_letter(
            if addition { "addition" } else { "forward" },
            t,
            Letter {
                from: self.cfg().from.clone(),
                to: vec![to],
                reply_to,
                subject: rendered.subject,
                body: rendered.body,
                message_id: new_message_id("forward", Some(t.number), &self.cfg().from),
                in_reply_to: None,
                references: vec![],
                auto_submitted: AutoSubmitted::Generated,
                ticket: Some(t.number),
                date: self.now,
                attachments: letters,
            },
            None,
            None,
        )?;
        t.state = TicketState::Forwarded;
        t.assignee = Some(email.to_string());
        t.assignee_name = Some(name.to_string());
        t.forwarded_at = Some(self.now);
        t.due_at = None;
        self.tx.update_ticket(t, self.now)?;
        self.tx.kv_set(ROUND_ROBIN_KEY, email)?;
        Ok(())
    }

    /// Queues one letter; `to_requester` is the address key of the requester it
    /// goes to (counted against their daily limit).
    fn queue_letter(
        &mut self,
        kind: &str,
        t: &Ticket,
        letter: Letter,
        to_requester: Option<&str>,
        not_before: Option<DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        let raw = letter.build()?;
        let recipients: Vec<String> = letter.to.iter().map(|a| a.email.clone()).collect();
        self.tx.queue(
            &NewOutgoing {
                message_id: &letter.message_id,
                ticket: (t.number > 0).then_some(t.number),
                kind,
                auto_reply_to: to_requester,
                envelope_from: &self.cfg().from.email,
                recipients: &recipients,
                raw: &raw,
                not_before,
            },
            self.now,
        )?;
        self.queued += 1;
        Ok(())
    }
}

/// When an automatic reply may go out.
enum Slot {
    Now,
    At(DateTime<Utc>),
    /// Not within [`MAX_REPLY_WAIT_HOURS`]: the reply is not sent at all.
    None,
}

/// Characters of a letter's subject any mail quotes.
const MAX_SUBJECT_CHARS: usize = 200;
/// Characters of a letter's own text a reply to its sender quotes.
const MAX_QUOTED_CHARS: usize = 300;
/// Characters of a display name any mail quotes.
const MAX_NAME_CHARS: usize = 100;
/// An automatic reply that would wait longer than this for the hourly limit is dropped.
const MAX_REPLY_WAIT_HOURS: i64 = 24;
/// At most `max` characters of `s`, with «…» when cut.
fn cap_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The store row of a letter with its decision; the raw letter kept when `keep_raw`.
fn seen<'a>(
    req: &'a Request,
    incoming: &'a Incoming<'_>,
    o: &'a Outcome,
    keep_raw: bool,
) -> SeenMessage<'a> {
    SeenMessage {
        source_key: incoming.key,
        uid: incoming.uid,
        message_id: req.message_id.as_deref(),
        sender: req.sender.as_deref(),
        ticket: o.ticket,
        verdict: &o.decision,
        reason: &o.reason,
        folder: o.folder.leaf(),
        raw: keep_raw.then_some(incoming.raw),
    }
}

/// Records the letter under its ticket before the decision, so a forward can attach it;
/// [`finish_record`] writes the decision onto the row.
fn record_letter(
    tx: &Tx<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    ticket: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pending = Outcome {
        folder: Folder::Processed,
        decision: "pending".into(),
        reason: String::new(),
        ticket: Some(ticket),
        assignee: None,
        queued: 0,
    };
    tx.record_message(&seen(req, incoming, &pending, true), now)
}

/// Writes the final decision onto the letter's row and the audit trail.
fn finish_record(
    tx: &Tx<'_>,
    incoming: &Incoming<'_>,
    req: &Request,
    o: &Outcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    tx.set_message_outcome(incoming.key, &o.decision, &o.reason, o.folder.leaf())?;
    let detail = match &o.assignee {
        Some(a) => format!("{}; assignee {a}", o.reason),
        None => o.reason.clone(),
    };
    tx.audit(
        now,
        o.ticket,
        req.message_id.as_deref(),
        &o.decision,
        &detail,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::Store;

    fn config() -> Config {
        let text = include_str!("../config/duty-desk.example.toml");
        Config::from_toml_str(
            text,
            std::path::Path::new("example.toml"),
            std::path::Path::new("/tmp"),
        )
        .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn req(sender: &str, mid: &str) -> Request {
        Request {
            sender: Some(sender.into()),
            sender_name: None,
            message_id: Some(mid.into()),
            subject: "Не входит в журнал".into(),
            role: Some(Role::Parent),
            full_name: Some("Смирнова Ольга Викторовна".into()),
            class: Some("5А".into()),
            description: Some("Не могу войти в электронный журнал".into()),
            ..dummy_request()
        }
    }

    struct World {
        store: Store,
        config: Config,
        templates: Templates,
    }

    impl World {
        fn new() -> World {
            World {
                store: Store::in_memory().unwrap(),
                config: config(),
                templates: Templates::defaults(),
            }
        }
        fn handle(&mut self, r: &Request, key: &str, now: &str) -> Outcome {
            let desk = Desk {
                config: &self.config,
                templates: &self.templates,
            };
            let incoming = Incoming {
                key,
                uid: None,
                raw: b"From: x@y.ru\r\nSubject: s\r\n\r\nbody\r\n",
            };
            self.store
                .transaction(|tx| handle(tx, &desk, r, &incoming, at(now)))
                .unwrap()
        }
        fn release(&mut self, now: &str) -> Vec<Outcome> {
            let desk = Desk {
                config: &self.config,
                templates: &self.templates,
            };
            self.store
                .transaction(|tx| release_due(tx, &desk, at(now)))
                .unwrap()
        }
        fn queued(&self, now: &str) -> Vec<(String, Vec<String>, String)> {
            self.store
                .read()
                .ready_outgoing(at(now), 1000)
                .unwrap()
                .into_iter()
                .map(|o| {
                    let subject = mail_parser::MessageParser::default()
                        .parse(&o.raw)
                        .and_then(|m| m.subject().map(str::to_string))
                        .unwrap_or_default();
                    (o.kind, o.recipients, subject)
                })
                .collect()
        }
    }

    const THU_0830: &str = "2021-09-09T08:30:00+03:00";

    #[test]
    fn complete_on_duty_is_forwarded_and_acknowledged() {
        let mut w = World::new();
        let o = w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
        assert_eq!(
            (o.decision.as_str(), o.folder),
            ("forward", Folder::Processed)
        );
        let q = w.queued(THU_0830);
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!(q[0].0, "forward");
        assert_eq!(q[0].2, "[Заявка #1] Смирнова О.В., 5А: Не входит в журнал");
        assert!(["bamburkin@example.org", "makarenko@example.org"].contains(&q[0].1[0].as_str()));
        assert_eq!(q[1].0, "ack_now");
        assert_eq!(q[1].1, ["mama@mail.ru"]);
    }

    #[test]
    fn two_on_duty_share_the_tickets() {
        let mut w = World::new();
        for i in 0..4 {
            w.handle(
                &req(&format!("p{i}@mail.ru"), &format!("m{i}@mail.ru")),
                &format!("k{i}"),
                THU_0830,
            );
        }
        let forwards: Vec<String> = w
            .queued(THU_0830)
            .into_iter()
            .filter(|q| q.0 == "forward")
            .map(|q| q.1[0].clone())
            .collect();
        let bam = forwards
            .iter()
            .filter(|f| f.starts_with("bamburkin"))
            .count();
        let mak = forwards
            .iter()
            .filter(|f| f.starts_with("makarenko"))
            .count();
        assert_eq!((bam, mak), (2, 2), "{forwards:?}");
    }

    #[test]
    fn incomplete_asks_then_follow_up_completes() {
        let mut w = World::new();
        let mut r = req("mama@mail.ru", "m1@mail.ru");
        r.class = None;
        r.verdict = Verdict::Ask;
        let o = w.handle(&r, "k1", THU_0830);
        assert_eq!((o.decision.as_str(), o.folder), ("ask", Folder::Waiting));
        assert_eq!(o.reason, "missing class");
        let q = w.queued(THU_0830);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].2, "Re: Не входит в журнал [Заявка #1]");
        let ask_id = w.store.read().ready_outgoing(at(THU_0830), 10).unwrap()[0]
            .message_id
            .clone();
        // The answer: only the class, In-Reply-To our ask.
        let answer = Request {
            sender: Some("mama@mail.ru".into()),
            message_id: Some("m2@mail.ru".into()),
            in_reply_to: vec![ask_id],
            class: Some("5А".into()),
            verdict: Verdict::Ask,
            ..dummy_request()
        };
        let o = w.handle(&answer, "k2", "2021-09-09T08:40:00+03:00");
        assert_eq!(o.decision, "forward");
        assert_eq!(o.ticket, Some(1));
        let t = w.store.read().ticket(1).unwrap().unwrap();
        assert_eq!(t.class.as_deref(), Some("5А"));
        assert_eq!(t.state, TicketState::Forwarded);
        // The forward carries both letters.
        assert_eq!(w.store.read().ticket_letters(1).unwrap().len(), 2);
    }

    #[test]
    fn off_duty_is_held_then_released_when_the_window_opens() {
        let mut w = World::new();
        let o = w.handle(
            &req("mama@mail.ru", "m1@mail.ru"),
            "k1",
            "2021-09-09T11:00:00+03:00",
        );
        assert_eq!(o.decision, "held");
        assert_eq!(o.assignee.as_deref(), Some("Бухер В.В."));
        let q = w.queued("2021-09-09T11:00:00+03:00");
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].0, "ack_later");
        assert!(w.release("2021-09-09T13:59:00+03:00").is_empty());
        let released = w.release("2021-09-09T14:00:00+03:00");
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].assignee.as_deref(), Some("Бухер В.В."));
        let q = w.queued("2021-09-09T14:00:00+03:00");
        assert_eq!(q.iter().filter(|x| x.0 == "forward").count(), 1);
        assert_eq!(
            q.iter().find(|x| x.0 == "forward").unwrap().1,
            ["bukher@example.org"]
        );
    }

    #[test]
    fn expired_schedule_goes_to_the_fallback() {
        let mut w = World::new();
        let o = w.handle(
            &req("mama@mail.ru", "m1@mail.ru"),
            "k1",
            "2022-06-15T09:00:00+03:00",
        );
        assert_eq!(o.decision, "forward");
        let q = w.queued("2022-06-15T09:00:00+03:00");
        assert_eq!(
            q.iter().find(|x| x.0 == "forward").unwrap().1,
            ["admin@example.org"]
        );
    }

    #[test]
    fn rude_letter_is_refused_and_reported() {
        let mut w = World::new();
        let mut r = req("angry@mail.ru", "m1@mail.ru");
        r.verdict = Verdict::Etiquette;
        r.reason = "insults".into();
        let o = w.handle(&r, "k1", THU_0830);
        assert_eq!(
            (o.decision.as_str(), o.folder),
            ("etiquette", Folder::Etiquette)
        );
        let q = w.queued(THU_0830);
        let kinds: Vec<&str> = q.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(kinds, ["etiquette", "report"]);
        assert_eq!(q[1].1, ["director@example.org"]);
        assert!(!kinds.contains(&"forward"));
    }

    #[test]
    fn robots_own_mail_and_duplicates_cause_nothing() {
        let mut w = World::new();
        let mut robot = req("mailer-daemon@mail.ru", "b1@mail.ru");
        robot.verdict = Verdict::Ignore;
        robot.reason = "bounce".into();
        assert_eq!(w.handle(&robot, "k1", THU_0830).folder, Folder::Ignored);
        let own = req("uvk-mtl@mail.ru", "o1@mail.ru");
        assert_eq!(w.handle(&own, "k2", THU_0830).decision, "ignore");
        assert!(w.queued(THU_0830).is_empty());
        w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k3", THU_0830);
        let n = w.queued(THU_0830).len();
        let dup = w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k4", THU_0830);
        assert_eq!(dup.decision, "duplicate");
        assert_eq!(w.queued(THU_0830).len(), n);
    }

    #[test]
    fn auto_replies_are_limited_per_sender_per_day() {
        let mut w = World::new();
        for i in 0..7 {
            let mut r = req("mama@mail.ru", &format!("m{i}@mail.ru"));
            r.full_name = None;
            r.verdict = Verdict::Ask;
            r.ticket_tag = None;
            w.handle(&r, &format!("k{i}"), THU_0830);
        }
        let replies = w
            .queued(THU_0830)
            .iter()
            .filter(|q| q.1 == ["mama@mail.ru"])
            .count();
        assert_eq!(replies, 5);
        // The next local day the limit starts again.
        let mut r = req("mama@mail.ru", "next@mail.ru");
        r.full_name = None;
        r.verdict = Verdict::Ask;
        w.handle(&r, "k-next", "2021-09-10T08:30:00+03:00");
        let replies = w
            .queued("2021-09-10T08:30:00+03:00")
            .iter()
            .filter(|q| q.1 == ["mama@mail.ru"])
            .count();
        assert_eq!(replies, 6);
    }

    #[test]
    fn addition_to_a_forwarded_ticket_goes_to_the_same_specialist() {
        let mut w = World::new();
        w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
        let assignee = w.store.read().ticket(1).unwrap().unwrap().assignee.unwrap();
        let more = Request {
            sender: Some("mama@mail.ru".into()),
            message_id: Some("m2@mail.ru".into()),
            subject: "Re: [Заявка #1] принята".into(),
            ticket_tag: Some(1),
            description: Some("Забыла сказать: телефон Android".into()),
            verdict: Verdict::Ask,
            ..dummy_request()
        };
        // Later that day: someone else may be on duty, the addition still goes to the assignee.
        let o = w.handle(&more, "k2", "2021-09-09T14:30:00+03:00");
        assert_eq!(o.decision, "addition");
        let q = w.queued("2021-09-09T14:30:00+03:00");
        assert_eq!(
            q.iter()
                .filter(|x| x.0 == "addition")
                .map(|x| x.1[0].clone())
                .collect::<Vec<_>>(),
            [assignee]
        );
    }

    #[test]
    fn a_specialists_answer_to_the_support_address_reaches_the_requester() {
        let mut w = World::new();
        w.handle(&req("mama@mail.ru", "m1@mail.ru"), "k1", THU_0830);
        let fwd = w.store.read().ready_outgoing(at(THU_0830), 10).unwrap();
        let fwd = fwd.iter().find(|o| o.kind == "forward").unwrap();
        let specialist = fwd.recipients[0].clone();
        let answer = Request {
            sender: Some(specialist.clone()),
            sender_name: Some("Бамбуркин С.П.".into()),
            message_id: Some("s1@example.org".into()),
            in_reply_to: vec![fwd.message_id.clone()],
            subject: "Re: [Заявка #1] Смирнова О.В., 5А: Не входит в журнал".into(),
            new_text: "Пароль сброшен, попробуйте войти снова.".into(),
            verdict: Verdict::Ask,
            ..dummy_request()
        };
        let o = w.handle(&answer, "k2", "2021-09-09T09:00:00+03:00");
        assert_eq!(o.decision, "relayed");
        let q = w.queued("2021-09-09T09:00:00+03:00");
        let relay = q
            .iter()
            .find(|x| x.0 == "relay")
            .expect("relayed to the requester");
        assert_eq!(relay.1, ["mama@mail.ru"]);
        assert_eq!(q.iter().filter(|x| x.0 == "addition").count(), 0);
        // Reply-all (the requester among the recipients): filed, nothing sent.
        let raw = format!(
            "From: {specialist}\r\nTo: mama@mail.ru\r\nCc: uvk-mtl@mail.ru\r\nSubject: Re\r\n\r\nok\r\n"
        );
        let desk = Desk {
            config: &w.config,
            templates: &w.templates,
        };
        let again = Request {
            message_id: Some("s2@example.org".into()),
            ..answer
        };
        let incoming = Incoming {
            key: "k3",
            uid: None,
            raw: raw.as_bytes(),
        };
        let n = w.queued("2021-09-09T09:00:00+03:00").len();
        let o = w
            .store
            .transaction(|tx| {
                handle(
                    tx,
                    &desk,
                    &again,
                    &incoming,
                    at("2021-09-09T09:05:00+03:00"),
                )
            })
            .unwrap();
        assert_eq!(o.decision, "answered");
        assert_eq!(w.queued("2021-09-09T09:05:00+03:00").len(), n);
    }

    #[test]
    fn short_names() {
        assert_eq!(short_name("Смирнова Ольга Викторовна"), "Смирнова О.В.");
        assert_eq!(short_name("Смирнова О.В."), "Смирнова О.В.");
        assert_eq!(short_name("Смирнова О. В."), "Смирнова О.В.");
        assert_eq!(short_name("Никитина Алла"), "Никитина А.");
    }

    #[test]
    fn when_in_russian() {
        let t = chrono_tz::Europe::Moscow
            .with_ymd_and_hms(2021, 9, 9, 14, 0, 0)
            .unwrap();
        assert_eq!(when_ru(&t), "в четверг, 9 сентября, в 14:00");
    }

    #[test]
    fn merging_descriptions() {
        assert_eq!(
            merge_text(None, Some("нет входа")),
            Some("нет входа".into())
        );
        assert_eq!(
            merge_text(Some("нет входа".into()), Some("нет входа")),
            Some("нет входа".into())
        );
        assert_eq!(
            merge_text(Some("нет входа".into()), Some("и пароль не подходит")),
            Some("нет входа\n\nи пароль не подходит".into())
        );
        assert_eq!(merge_text(Some("a".into()), None), Some("a".into()));
    }

    #[test]
    fn a_follow_up_brings_only_the_description_its_writer_wrote_now() {
        let quoted = Request {
            new_text: "Класс 7Б.".into(),
            subject: "Re: Оценки [Заявка #1]".into(),
            description: Some(
                "в 08:31, Поддержка ЭлЖур <support@school.test>: Проблема: Не видны оценки".into(),
            ),
            ..dummy_request()
        };
        assert_eq!(own_description(&quoted), None);
        let written = Request {
            new_text: "Класс 7Б.\nИ ещё:   пропало\nрасписание на завтра.".into(),
            description: Some("И ещё: пропало расписание на завтра.".into()),
            ..dummy_request()
        };
        assert_eq!(
            own_description(&written),
            Some("И ещё: пропало расписание на завтра.")
        );
        let in_subject = Request {
            subject: "Не открывается дневник".into(),
            description: Some("Не открывается дневник".into()),
            ..dummy_request()
        };
        assert_eq!(own_description(&in_subject), Some("Не открывается дневник"));
    }

    #[test]
    fn waited() {
        assert_eq!(waited_ru(Duration::seconds(30)), None);
        assert_eq!(
            waited_ru(Duration::minutes(90)).as_deref(),
            Some("1 ч 30 мин")
        );
        assert_eq!(waited_ru(Duration::hours(50)).as_deref(), Some("2 дн 2 ч"));
    }
}
