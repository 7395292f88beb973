//! What the admin does to one ticket by hand: `duty-desk ticket N forward [--to
//! NAME]`, `reassign --to NAME`, `close`, `reopen`.
//!
//! As with letters, in two steps: [`decide`] — pure, no store — says what an
//! action does to the ticket as it stands ([`Plan`]) or why it makes no sense
//! ([`Refusal`], a sentence for the admin); [`carry_out`] reads the ticket,
//! decides and writes the plan inside the caller's one transaction: the ticket
//! changed, the forward queued (the daemon's outbox sends it) and an audit row
//! saying who did what. A refusal writes nothing.

use std::fmt;

use chrono::{DateTime, Utc};

use super::Desk;
use super::apply::{Ctx, forward_request};
use super::decide::{Assignee, assignee, choose};
use super::view::Loads;
use super::words::when_ru;
use crate::config::Config;
use crate::store::{Closure, Queries, Ticket, TicketState, Tx};

/// What the admin asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send the ticket with its letters now: to `to`, or to who is on duty.
    Forward {
        to: Option<String>,
    },
    /// Give a forwarded or held ticket to someone else (forwarded to them now).
    Reassign {
        to: String,
    },
    Close,
    Reopen,
}

impl Action {
    /// The audit row's event.
    pub fn event(&self) -> &'static str {
        match self {
            Action::Forward { .. } => "admin_forward",
            Action::Reassign { .. } => "admin_reassign",
            Action::Close => "admin_close",
            Action::Reopen => "admin_reopen",
        }
    }
}

/// What an action does to the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// The ticket and its letters go to `to` now; it is theirs from then on.
    Forward { to: Assignee },
    /// Closed now (the state it had is kept for a reopen).
    Close,
    /// Open again, in the state it was closed from.
    Reopen { state: TicketState },
}

/// Why an action makes no sense; shown to the admin as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoSuchTicket(i64),
    AlreadyClosed(i64),
    NotClosed(i64, TicketState),
    /// Closed: a forward or reassign needs a reopen first.
    Closed(i64),
    /// Closed long ago: its letters and the requester's data are erased.
    Purged(i64),
    /// Refused under rule 5: the desk does not pass it on.
    Refused(i64),
    /// Waiting for the requester's missing fields: nobody has it yet.
    NotAssigned(i64),
    AlreadyAssigned {
        ticket: i64,
        name: String,
    },
    UnknownSpecialist {
        name: String,
        known: Vec<String>,
    },
    AmbiguousSpecialist {
        name: String,
        matches: Vec<String>,
    },
    /// `forward` without `--to` while nobody is on duty: the next window, if any.
    NobodyOnDuty {
        ticket: i64,
        next: Option<String>,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NoSuchTicket(n) => write!(f, "there is no ticket {n}"),
            Refusal::AlreadyClosed(n) => write!(f, "ticket {n} is closed already"),
            Refusal::NotClosed(n, s) => write!(
                f,
                "ticket {n} is not closed (it is {}); only a closed ticket can be reopened",
                s.as_str()
            ),
            Refusal::Closed(n) => write!(
                f,
                "ticket {n} is closed; reopen it first (duty-desk ticket {n} reopen)"
            ),
            Refusal::Purged(n) => write!(
                f,
                "ticket {n} was closed long ago and its letters and the requester's data are erased; it cannot be opened again"
            ),
            Refusal::Refused(n) => write!(
                f,
                "ticket {n} was refused under rule 5 (etiquette); the desk does not pass it on"
            ),
            Refusal::NotAssigned(n) => write!(
                f,
                "ticket {n} waits for the requester's missing details and nobody has it yet; send it as it is with: duty-desk ticket {n} forward --to NAME"
            ),
            Refusal::AlreadyAssigned { ticket, name } => write!(
                f,
                "ticket {ticket} is {name}'s already; to send it to them again: duty-desk ticket {ticket} forward"
            ),
            Refusal::UnknownSpecialist { name, known } => write!(
                f,
                "no specialist {name:?} in the timetable; the specialists are: {}",
                known.join(", ")
            ),
            Refusal::AmbiguousSpecialist { name, matches } => write!(
                f,
                "{name:?} fits more than one specialist ({}); give the full name or the address",
                matches.join(", ")
            ),
            Refusal::NobodyOnDuty { ticket, next } => {
                write!(f, "nobody is on duty now")?;
                if let Some(next) = next {
                    write!(f, " (next: {next})")?;
                }
                write!(
                    f,
                    "; name who gets it: duty-desk ticket {ticket} forward --to NAME"
                )
            }
        }
    }
}

impl std::error::Error for Refusal {}

/// The comparable form of a name: lower case, no dots or spaces ("Бухер В.В."
/// and "бухер вв" are the same).
fn fold(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The specialist of the timetable `name` means: their address, their name as
/// the config writes it in any case and spacing, or their surname alone.
pub fn find_specialist(cfg: &Config, name: &str) -> Result<Assignee, Refusal> {
    let wanted = fold(name);
    let mut matches: Vec<Assignee> = Vec::new();
    for s in cfg.schedule.specialists() {
        let surname = s.name.split_whitespace().next().unwrap_or("");
        let fits = !wanted.is_empty()
            && (s.email.email.eq_ignore_ascii_case(name.trim())
                || fold(&s.name) == wanted
                || fold(surname) == wanted);
        if fits && !matches.iter().any(|m| m.email == s.email.email) {
            matches.push(Assignee {
                name: s.name.clone(),
                email: s.email.email.clone(),
                position: s.position.clone(),
            });
        }
    }
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(Refusal::UnknownSpecialist {
            name: name.to_string(),
            known: cfg
                .schedule
                .specialists()
                .iter()
                .map(|s| s.name.clone())
                .collect(),
        }),
        _ => Err(Refusal::AmbiguousSpecialist {
            name: name.to_string(),
            matches: matches
                .iter()
                .map(|m| format!("{} <{}>", m.name, m.email))
                .collect(),
        }),
    }
}

/// What `action` does to ticket `number` (`ticket` as stored, none if there is
/// no such ticket), or why it makes no sense. Pure.
pub fn decide(
    number: i64,
    action: &Action,
    ticket: Option<&Ticket>,
    closure: Closure,
    cfg: &Config,
    loads: &Loads,
    now: DateTime<Utc>,
) -> Result<Plan, Refusal> {
    let Some(t) = ticket else {
        return Err(Refusal::NoSuchTicket(number));
    };
    match action {
        Action::Close => {
            if t.state == TicketState::Closed {
                return Err(Refusal::AlreadyClosed(number));
            }
            Ok(Plan::Close)
        }
        Action::Reopen => {
            if t.state != TicketState::Closed {
                return Err(Refusal::NotClosed(number, t.state));
            }
            if closure.purged {
                return Err(Refusal::Purged(number));
            }
            let state = match closure.closed_from {
                Some(s) if s != TicketState::Closed => s,
                // Closed before the store kept the state: forwarded if it ever was.
                _ if t.assignee.is_some() && t.forwarded_at.is_some() => TicketState::Forwarded,
                _ => TicketState::WaitingSender,
            };
            Ok(Plan::Reopen { state })
        }
        Action::Forward { to } => {
            passable(number, t)?;
            let to = match to {
                Some(name) => find_specialist(cfg, name)?,
                None => match choose(cfg, &cfg.schedule.on_duty(now), loads, t) {
                    Some(shift) => assignee(cfg, &shift),
                    None => {
                        let next = cfg.schedule.next_window(now).map(|s| {
                            let sp = &cfg.schedule.specialists()[s.specialist];
                            format!("{} {}", sp.name, when_ru(&s.from))
                        });
                        return Err(Refusal::NobodyOnDuty {
                            ticket: number,
                            next,
                        });
                    }
                },
            };
            Ok(Plan::Forward { to })
        }
        Action::Reassign { to } => {
            passable(number, t)?;
            if t.state == TicketState::WaitingSender {
                return Err(Refusal::NotAssigned(number));
            }
            let to = find_specialist(cfg, to)?;
            if t.assignee
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(&to.email))
            {
                return Err(Refusal::AlreadyAssigned {
                    ticket: number,
                    name: to.name,
                });
            }
            Ok(Plan::Forward { to })
        }
    }
}

/// Whether a ticket may be passed on at all.
fn passable(number: i64, t: &Ticket) -> Result<(), Refusal> {
    match t.state {
        TicketState::Closed => Err(Refusal::Closed(number)),
        TicketState::Refused => Err(Refusal::Refused(number)),
        _ => Ok(()),
    }
}

/// What was done, for the admin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub ticket: i64,
    /// One line: what changed (also the audit row's detail).
    pub summary: String,
    /// Mails queued for the outbox.
    pub queued: usize,
}

/// Carries out `action` on ticket `number` inside the caller's transaction: reads
/// the ticket, decides, writes the plan and the audit row (`who` did it). A
/// refusal is returned as such, with nothing written.
pub fn carry_out(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    number: i64,
    action: &Action,
    who: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Result<Done, Refusal>> {
    let ticket = tx.ticket(number)?;
    let closure = tx.ticket_closure(number)?.unwrap_or_default();
    let loads = Loads::read(tx, desk.config)?;
    let plan = match decide(
        number,
        action,
        ticket.as_ref(),
        closure,
        desk.config,
        &loads,
        now,
    ) {
        Ok(p) => p,
        Err(r) => return Ok(Err(r)),
    };
    let Some(mut t) = ticket else {
        return Ok(Err(Refusal::NoSuchTicket(number)));
    };
    let was = t.state;
    let mut queued = 0;
    let summary = match plan {
        Plan::Forward { to } => {
            let before = t.assignee_name.clone();
            let req = forward_request();
            let requester = t.requester.clone();
            let mut ctx = Ctx::for_ticket(tx, desk, &req, requester.as_deref(), now);
            ctx.forward(&mut t, &to.name, &to.email, false, None)?;
            queued = ctx.queued;
            match (action, before) {
                (Action::Reassign { .. }, Some(b)) => format!(
                    "reassigned from {b} to {} <{}> (was {}); forward queued",
                    to.name,
                    to.email,
                    was.as_str()
                ),
                _ => format!(
                    "forwarded to {} <{}> (was {}); forward queued",
                    to.name,
                    to.email,
                    was.as_str()
                ),
            }
        }
        Plan::Close => {
            tx.close_ticket(number, now)?;
            format!("closed (was {})", was.as_str())
        }
        Plan::Reopen { state } => {
            tx.reopen_ticket(number, state, now)?;
            format!("reopened as {}", state.as_str())
        }
    };
    tx.audit_by(now, Some(number), action.event(), &summary, who)?;
    Ok(Ok(Done {
        ticket: number,
        summary,
        queued,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::example(&[])
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Two on duty (Бамбуркин, Макаренко).
    const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";
    /// Nobody on duty; Бухер's window opens at 14:00.
    const OFF_DUTY: &str = "2021-09-09T11:00:00+03:00";

    fn ticket(state: TicketState, assignee: Option<&str>) -> Ticket {
        Ticket {
            number: 7,
            requester: Some("mama@mail.ru".into()),
            requester_name: None,
            role: Some("parent".into()),
            full_name: Some("Смирнова Ольга Викторовна".into()),
            class: Some("5А".into()),
            description: Some("Не могу войти".into()),
            subject: "Дневник".into(),
            state,
            assignee: assignee.map(str::to_string),
            assignee_name: assignee.map(|_| "Бухер В.В.".to_string()),
            created_at: at(ON_DUTY),
            due_at: None,
            forwarded_at: assignee.map(|_| at(ON_DUTY)),
            sender_auth: None,
        }
    }

    fn decided(
        action: Action,
        t: Option<&Ticket>,
        closure: Closure,
        now: &str,
    ) -> Result<Plan, Refusal> {
        decide(
            7,
            &action,
            t,
            closure,
            &config(),
            &Loads::default(),
            at(now),
        )
    }

    const BUKHER: &str = "bukher@example.org";

    #[test]
    fn a_specialist_is_found_by_name_in_any_form_or_by_address() {
        let cfg = config();
        for name in [
            "Бухер В.В.",
            "бухер в.в.",
            "БУХЕР ВВ",
            "Бухер",
            " bukher@example.org ",
            "BUKHER@example.org",
        ] {
            assert_eq!(find_specialist(&cfg, name).unwrap().email, BUKHER, "{name}");
        }
        let unknown = find_specialist(&cfg, "Иванов").unwrap_err();
        assert!(matches!(&unknown, Refusal::UnknownSpecialist { known, .. } if known.len() == 6));
        assert!(unknown.to_string().contains("Бухер В.В."), "{unknown}");
        assert!(matches!(
            find_specialist(&cfg, ""),
            Err(Refusal::UnknownSpecialist { .. })
        ));
    }

    #[test]
    fn a_surname_two_specialists_share_is_ambiguous() {
        let cfg = crate::config::example(&[("name = \"Ткаченко Е.В.\"", "name = \"Бухер А.А.\"")]);
        let r = find_specialist(&cfg, "бухер").unwrap_err();
        assert!(
            matches!(&r, Refusal::AmbiguousSpecialist { matches, .. } if matches.len() == 2),
            "{r}"
        );
        assert_eq!(
            find_specialist(&cfg, "Бухер А.А.").unwrap().email,
            "tkachenko@example.org"
        );
    }

    #[test]
    fn close_and_reopen_refuse_what_makes_no_sense() {
        let none = Closure::default();
        assert_eq!(
            decided(Action::Close, None, none, ON_DUTY),
            Err(Refusal::NoSuchTicket(7))
        );
        let open = ticket(TicketState::Forwarded, Some(BUKHER));
        assert_eq!(
            decided(Action::Close, Some(&open), none, ON_DUTY),
            Ok(Plan::Close)
        );
        assert_eq!(
            decided(Action::Reopen, Some(&open), none, ON_DUTY),
            Err(Refusal::NotClosed(7, TicketState::Forwarded))
        );
        let closed = ticket(TicketState::Closed, Some(BUKHER));
        assert_eq!(
            decided(Action::Close, Some(&closed), none, ON_DUTY),
            Err(Refusal::AlreadyClosed(7))
        );
        let purged = Closure {
            purged: true,
            ..none
        };
        assert_eq!(
            decided(Action::Reopen, Some(&closed), purged, ON_DUTY),
            Err(Refusal::Purged(7))
        );
    }

    #[test]
    fn a_reopened_ticket_gets_back_the_state_it_was_closed_from() {
        let closed = ticket(TicketState::Closed, Some(BUKHER));
        for from in [
            TicketState::WaitingDuty,
            TicketState::WaitingSender,
            TicketState::Refused,
            TicketState::Forwarded,
        ] {
            let c = Closure {
                closed_from: Some(from),
                ..Closure::default()
            };
            assert_eq!(
                decided(Action::Reopen, Some(&closed), c, ON_DUTY),
                Ok(Plan::Reopen { state: from })
            );
        }
        // Closed before the state was kept: forwarded if it was ever forwarded.
        assert_eq!(
            decided(Action::Reopen, Some(&closed), Closure::default(), ON_DUTY),
            Ok(Plan::Reopen {
                state: TicketState::Forwarded
            })
        );
        let never = ticket(TicketState::Closed, None);
        assert_eq!(
            decided(Action::Reopen, Some(&never), Closure::default(), ON_DUTY),
            Ok(Plan::Reopen {
                state: TicketState::WaitingSender
            })
        );
    }

    #[test]
    fn forward_goes_to_the_named_specialist_or_to_who_is_on_duty() {
        let none = Closure::default();
        let held = ticket(TicketState::WaitingDuty, Some(BUKHER));
        let Ok(Plan::Forward { to }) = decided(
            Action::Forward {
                to: Some("Войтенко".into()),
            },
            Some(&held),
            none,
            OFF_DUTY,
        ) else {
            panic!("a named forward")
        };
        assert_eq!(to.email, "voitenko@example.org");
        let Ok(Plan::Forward { to }) =
            decided(Action::Forward { to: None }, Some(&held), none, ON_DUTY)
        else {
            panic!("a forward to who is on duty")
        };
        assert!(
            ["bamburkin@example.org", "makarenko@example.org"].contains(&to.email.as_str()),
            "{to:?}"
        );
        // Again to the same specialist: a forward may repeat (a mail lost on their side).
        let forwarded = ticket(TicketState::Forwarded, Some(BUKHER));
        assert!(
            decided(
                Action::Forward {
                    to: Some("Бухер".into())
                },
                Some(&forwarded),
                none,
                ON_DUTY
            )
            .is_ok()
        );
        let waiting = ticket(TicketState::WaitingSender, None);
        assert!(
            decided(
                Action::Forward {
                    to: Some("Бухер".into())
                },
                Some(&waiting),
                none,
                ON_DUTY
            )
            .is_ok()
        );
    }

    #[test]
    fn forward_refuses_off_duty_without_a_name_closed_refused_and_unknown() {
        let none = Closure::default();
        let held = ticket(TicketState::WaitingDuty, Some(BUKHER));
        let r = decided(Action::Forward { to: None }, Some(&held), none, OFF_DUTY).unwrap_err();
        assert!(
            matches!(&r, Refusal::NobodyOnDuty { next: Some(n), .. } if n.contains("Бухер В.В.") && n.contains("14:00")),
            "{r}"
        );
        let closed = ticket(TicketState::Closed, Some(BUKHER));
        assert_eq!(
            decided(Action::Forward { to: None }, Some(&closed), none, ON_DUTY),
            Err(Refusal::Closed(7))
        );
        let refused = ticket(TicketState::Refused, None);
        assert_eq!(
            decided(
                Action::Forward {
                    to: Some("Бухер".into())
                },
                Some(&refused),
                none,
                ON_DUTY
            ),
            Err(Refusal::Refused(7))
        );
        assert!(matches!(
            decided(
                Action::Forward {
                    to: Some("Петров".into())
                },
                Some(&held),
                none,
                ON_DUTY
            ),
            Err(Refusal::UnknownSpecialist { .. })
        ));
    }

    #[test]
    fn reassign_needs_someone_else_and_a_ticket_someone_has() {
        let none = Closure::default();
        let forwarded = ticket(TicketState::Forwarded, Some(BUKHER));
        let Ok(Plan::Forward { to }) = decided(
            Action::Reassign {
                to: "Ткаченко Е.В.".into(),
            },
            Some(&forwarded),
            none,
            OFF_DUTY,
        ) else {
            panic!("a reassign")
        };
        assert_eq!(to.email, "tkachenko@example.org");
        let held = ticket(TicketState::WaitingDuty, Some(BUKHER));
        assert!(
            decided(
                Action::Reassign {
                    to: "Ткаченко".into()
                },
                Some(&held),
                none,
                OFF_DUTY
            )
            .is_ok()
        );
        assert_eq!(
            decided(
                Action::Reassign {
                    to: "бухер".into()
                },
                Some(&forwarded),
                none,
                ON_DUTY
            ),
            Err(Refusal::AlreadyAssigned {
                ticket: 7,
                name: "Бухер В.В.".into()
            })
        );
        let waiting = ticket(TicketState::WaitingSender, None);
        assert_eq!(
            decided(
                Action::Reassign {
                    to: "Бухер".into()
                },
                Some(&waiting),
                none,
                ON_DUTY
            ),
            Err(Refusal::NotAssigned(7))
        );
        let closed = ticket(TicketState::Closed, Some(BUKHER));
        assert_eq!(
            decided(
                Action::Reassign {
                    to: "Бухер".into()
                },
                Some(&closed),
                none,
                ON_DUTY
            ),
            Err(Refusal::Closed(7))
        );
        assert_eq!(
            decided(
                Action::Reassign {
                    to: "Бухер".into()
                },
                None,
                none,
                ON_DUTY
            ),
            Err(Refusal::NoSuchTicket(7))
        );
    }
}
