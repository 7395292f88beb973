//! Nothing forgotten: a forwarded ticket its specialist has not answered gets
//! one reminder to them, and if it is still unanswered when someone else is on
//! duty before them, it passes to that person and the requester is told who has
//! it now.
//!
//! Only with `[school] answers = "via_desk"` (otherwise the desk cannot know of
//! an answer) and only for tickets held by a specialist of the timetable (not
//! the fallback address, not a supervisor holding a complaint). The reminder
//! goes at the end of the specialist's window, or once `[service] remind_after`
//! of that window has passed, whichever is first; a ticket forwarded outside
//! their window (by the admin) counts from their next window. What happens is
//! decided purely ([`nudge`]); [`remind_due`] carries it out. A ticket is
//! passed on once at most (then it stays where it is), so a week nobody answers
//! does not walk it round every specialist.

use chrono::{DateTime, Duration, Utc};
use minijinja::context;

use super::apply::{Ctx, forward_request};
use super::decide::{Assignee, assignee, choose};
use super::view::Loads;
use super::words::when_ru;
use super::{Desk, Folder, Outcome};
use crate::config::{Answers, Config};
use crate::letter::{self, AutoSubmitted, Letter, new_message_id};
use crate::store::{Queries, Ticket, Tx, Unanswered};
use crate::trust;

/// What an unanswered forwarded ticket needs now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nudge {
    /// One reminder to the specialist who has it.
    Remind,
    /// To whoever is on duty now: its specialist is not, and was reminded.
    PassOn { to: Assignee },
}

/// The place in the timetable of the specialist with this address.
fn specialist_of(cfg: &Config, email: &str) -> Option<usize> {
    let key = trust::address_key(email);
    cfg.schedule
        .specialists()
        .iter()
        .position(|s| trust::address_key(&s.email.email) == key)
}

/// When the specialist `who` is reminded of a ticket forwarded to them at
/// `since`: in their first window that ends after `since`, `remind_after` into
/// it, or at its end if that comes first. `None` with no such window ahead.
pub fn remind_at(cfg: &Config, who: usize, since: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let schedule = &cfg.schedule;
    let budget = Duration::from_std(cfg.remind_after).unwrap_or(Duration::hours(2));
    let mut date = since
        .with_timezone(&schedule.tz())
        .date_naive()
        .pred_opt()?;
    // A week and a day covers every weekday; holidays may push it further.
    for _ in 0..60 {
        if date > schedule.valid_until() {
            return None;
        }
        let first = schedule
            .shifts_on(date)
            .into_iter()
            .filter(|s| s.specialist == who)
            .find(|s| s.until.with_timezone(&Utc) > since);
        if let Some(s) = first {
            let start = s.from.with_timezone(&Utc).max(since);
            return Some((start + budget).min(s.until.with_timezone(&Utc)));
        }
        date = date.succ_opt()?;
    }
    None
}

/// What a forwarded, unanswered ticket `t` needs at `now` (`u`: how it waits).
/// Nothing for a requester the desk may not write to (forged, undeliverable):
/// the answer would not be passed on anyway. Passed on once at most.
pub fn nudge(
    t: &Ticket,
    u: &Unanswered,
    cfg: &Config,
    loads: &Loads,
    now: DateTime<Utc>,
) -> Option<Nudge> {
    if cfg.answers != Answers::ViaDesk
        || t.sender_auth.as_deref() == Some(trust::Verdict::Fail.as_str())
        || !t.requester.as_deref().is_some_and(letter::deliverable)
    {
        return None;
    }
    let who = specialist_of(cfg, t.assignee.as_deref()?)?;
    match u.reminded {
        None => (now >= remind_at(cfg, who, u.since)?).then_some(Nudge::Remind),
        // Reminded before this turn: passed on while someone else is on duty and
        // they are not (so someone's window opens before theirs).
        Some(r) if r < now && !u.passed_on => {
            let on_duty = cfg.schedule.on_duty(now);
            if on_duty.iter().any(|s| s.specialist == who) {
                return None;
            }
            let others: Vec<_> = on_duty
                .into_iter()
                .filter(|s| s.specialist != who)
                .collect();
            let shift = choose(cfg, &others, loads, t)?;
            Some(Nudge::PassOn {
                to: assignee(cfg, &shift),
            })
        }
        Some(_) => None,
    }
}

/// Reminds and passes on what is due at `now`. Each ticket in a savepoint of
/// its own: one that fails (a template, an address) is audited and marked as
/// done with (not tried again every turn), and the others go on. Returns what
/// happened to each.
pub fn remind_due(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut out = Vec::new();
    if desk.config.answers != Answers::ViaDesk {
        return Ok(out);
    }
    for u in tx.unanswered_forwarded()? {
        let Some(t) = tx.ticket(u.number)? else {
            continue;
        };
        // Read again for each: a pass-on before changed them.
        let loads = Loads::read(tx, desk.config)?;
        let Some(n) = nudge(&t, &u, desk.config, &loads, now) else {
            continue;
        };
        match tx.savepoint(|| carry_out(tx, desk, t, &n, now)) {
            Ok(o) => out.push(o),
            Err(e) => {
                let (event, done) = match n {
                    Nudge::Remind => ("remind_failed", tx.set_reminded(u.number, now)),
                    // Counted as a pass-on: not tried again.
                    Nudge::PassOn { .. } => ("pass_on_failed", Ok(())),
                };
                done?;
                tx.audit(now, Some(u.number), None, event, &format!("{e:#}"))?;
            }
        }
    }
    Ok(out)
}

/// Reminds, or passes on, one ticket.
fn carry_out(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    mut t: Ticket,
    n: &Nudge,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let number = t.number;
    let req = forward_request();
    let requester = t.requester.clone();
    let mut ctx = Ctx::for_ticket(tx, desk, &req, requester.as_deref(), now);
    let (decision, reason, to) = match n {
        Nudge::Remind => {
            ctx.remind(&t)?;
            tx.set_reminded(number, now)?;
            let tz = desk.config.schedule.tz();
            let since = when_ru(&t.forwarded_at.unwrap_or(now).with_timezone(&tz));
            tx.audit(
                now,
                Some(number),
                None,
                "reminded",
                &format!("forwarded {since}"),
            )?;
            (
                "reminded",
                "unanswered: its specialist reminded",
                t.assignee_name.clone(),
            )
        }
        Nudge::PassOn { to } => {
            let from = t.assignee_name.clone().unwrap_or_default();
            ctx.pass_on(&mut t, &from, to)?;
            tx.audit(
                now,
                Some(number),
                None,
                "passed_on",
                &format!("{from} → {}", to.name),
            )?;
            (
                "passed_on",
                "unanswered after a reminder: passed to who is on duty",
                Some(to.name.clone()),
            )
        }
    };
    Ok(Outcome {
        folder: Folder::Processed,
        decision,
        reason: reason.to_string(),
        ticket: Some(number),
        assignee: to,
        queued: ctx.queued,
    })
}

impl Ctx<'_, '_> {
    /// Queues the reminder to the specialist who has `t`; an answer to it
    /// counts as their answer to the ticket.
    fn remind(&mut self, t: &Ticket) -> anyhow::Result<()> {
        let email = t.assignee.clone().unwrap_or_default();
        let name = t.assignee_name.clone().unwrap_or_default();
        let tz = self.cfg().schedule.tz();
        let forwarded = t.forwarded_at.map(|f| when_ru(&f.with_timezone(&tz)));
        let rendered = self.desk.templates.render(
            "remind",
            self.common(
                t,
                false,
                context! {
                    assignee => context! { name => name, email => email },
                    forwarded => forwarded,
                },
            ),
        )?;
        let Some(to) = crate::config::Address::parse(&email) else {
            anyhow::bail!(
                "ticket {}: assignee address {email:?} is not valid",
                t.number
            );
        };
        self.queue_letter(
            "remind",
            t,
            Letter {
                from: self.cfg().from.clone(),
                to: vec![crate::config::Address {
                    name: Some(name).filter(|n| !n.is_empty()),
                    email: to.email,
                }],
                reply_to: Some(self.cfg().from.clone()),
                subject: rendered.subject,
                body: rendered.body,
                message_id: new_message_id("remind", Some(t.number), &self.cfg().from),
                in_reply_to: None,
                references: vec![],
                auto_submitted: AutoSubmitted::Generated,
                ticket: Some(t.number),
                date: self.now,
                attachments: vec![],
            },
            None,
            None,
        )
    }

    /// Forwards `t` (with its letters) to `to` in place of `from`, and tells
    /// the requester who has it now.
    fn pass_on(&mut self, t: &mut Ticket, from: &str, to: &Assignee) -> anyhow::Result<()> {
        self.forward_as(
            "forward",
            "forward",
            context! { passed_from => from },
            t,
            &to.name,
            &to.email,
            false,
            None,
        )?;
        if t.sender_auth.as_deref() == Some(trust::Verdict::Fail.as_str()) {
            return Ok(());
        }
        self.reply(
            "passed_on",
            t,
            context! {
                assignee => context! { name => to.name, position => to.position, email => to.email },
                previous => from,
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TicketState;

    /// The example config, `remind_after` set to `remind_after` if given.
    fn config(remind_after: &str) -> Config {
        let set = format!("remind_after = \"{remind_after}\"");
        match remind_after {
            "" => crate::config::example(&[]),
            _ => crate::config::example(&[("remind_after = \"2h\"", &set)]),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn forwarded(to: &str, name: &str, when: &str) -> Ticket {
        Ticket {
            number: 1,
            requester: Some("mama@mail.ru".into()),
            requester_name: None,
            role: Some("parent".into()),
            full_name: Some("Смирнова Ольга Викторовна".into()),
            class: Some("5А".into()),
            description: Some("Не могу войти в электронный журнал".into()),
            subject: "Журнал".into(),
            state: TicketState::Forwarded,
            assignee: Some(to.into()),
            assignee_name: Some(name.into()),
            created_at: at(when),
            due_at: None,
            forwarded_at: Some(at(when)),
            sender_auth: None,
        }
    }

    const BAMBURKIN: &str = "bamburkin@example.org";

    fn waiting(t: &Ticket, reminded: Option<DateTime<Utc>>, passed_on: bool) -> Unanswered {
        Unanswered {
            number: t.number,
            reminded,
            since: t.forwarded_at.unwrap(),
            passed_on,
        }
    }

    #[test]
    fn the_reminder_comes_at_the_end_of_the_window_or_after_remind_after_of_it() {
        let cfg = config("");
        let who = specialist_of(&cfg, BAMBURKIN).unwrap();
        // Thursday 08:00–10:00: forwarded at 08:30, the window ends before 2 h pass.
        assert_eq!(
            remind_at(&cfg, who, at("2021-09-09T08:30:00+03:00")),
            Some(at("2021-09-09T10:00:00+03:00"))
        );
        // remind_after = 30m: half an hour into the window.
        let cfg = config("30m");
        assert_eq!(
            remind_at(&cfg, who, at("2021-09-09T08:30:00+03:00")),
            Some(at("2021-09-09T09:00:00+03:00"))
        );
        // Forwarded outside the window (Thursday noon): counted from the next one,
        // Tuesday 14:30–16:00.
        assert_eq!(
            remind_at(&cfg, who, at("2021-09-09T12:00:00+03:00")),
            Some(at("2021-09-14T15:00:00+03:00"))
        );
    }

    #[test]
    fn reminded_once_then_passed_to_who_is_on_duty_before_them() {
        let cfg = config("");
        let loads = Loads::default();
        let t = forwarded(BAMBURKIN, "Бамбуркин С.П.", "2021-09-09T09:55:00+03:00");
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, None, false),
                &cfg,
                &loads,
                at("2021-09-09T09:59:00+03:00")
            ),
            None
        );
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, None, false),
                &cfg,
                &loads,
                at("2021-09-09T10:00:00+03:00")
            ),
            Some(Nudge::Remind)
        );
        let reminded = Some(at("2021-09-09T10:00:00+03:00"));
        // Nobody on duty at noon: it waits.
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, reminded, false),
                &cfg,
                &loads,
                at("2021-09-09T12:00:00+03:00")
            ),
            None
        );
        // Бухер's window opens at 14:00, long before Бамбуркин's next (Tuesday).
        match nudge(
            &t,
            &waiting(&t, reminded, false),
            &cfg,
            &loads,
            at("2021-09-09T14:05:00+03:00"),
        ) {
            Some(Nudge::PassOn { to }) => assert_eq!(to.name, "Бухер В.В."),
            other => panic!("{other:?}"),
        }
        // Passed on once already: it stays with whoever has it now.
        let now = at("2021-09-09T14:05:00+03:00");
        assert_eq!(
            nudge(&t, &waiting(&t, reminded, true), &cfg, &loads, now),
            None
        );
    }

    #[test]
    fn a_requester_the_desk_may_not_write_to_causes_no_reminder() {
        let cfg = config("");
        let loads = Loads::default();
        let now = at("2021-09-09T10:00:00+03:00");
        let mut forged = forwarded(BAMBURKIN, "Бамбуркин С.П.", "2021-09-09T09:55:00+03:00");
        forged.sender_auth = Some("fail".into());
        assert_eq!(
            nudge(&forged, &waiting(&forged, None, false), &cfg, &loads, now),
            None
        );
        let mut undeliverable = forwarded(BAMBURKIN, "Бамбуркин С.П.", "2021-09-09T09:55:00+03:00");
        undeliverable.requester = Some("ivanova..m@mail.ru".into());
        let u = waiting(&undeliverable, None, false);
        assert_eq!(nudge(&undeliverable, &u, &cfg, &loads, now), None);
    }

    #[test]
    fn no_pass_on_while_the_specialist_is_on_duty_again_and_none_for_the_fallback_or_direct() {
        let cfg = config("");
        let loads = Loads::default();
        // Reminded on Tuesday at 16:00; on Thursday at 08:30 Бамбуркин is on duty again.
        let t = forwarded(BAMBURKIN, "Бамбуркин С.П.", "2021-09-07T15:00:00+03:00");
        let reminded = Some(at("2021-09-07T16:00:00+03:00"));
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, reminded, false),
                &cfg,
                &loads,
                at("2021-09-09T08:30:00+03:00")
            ),
            None
        );
        // The fallback address is not in the timetable: never nudged.
        let t = forwarded("admin@example.org", "admin", "2021-09-09T08:30:00+03:00");
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, None, false),
                &cfg,
                &loads,
                at("2021-09-20T08:30:00+03:00")
            ),
            None
        );
        // Answers that go directly: the desk cannot know, so it does not nag.
        let direct = crate::config::example(&[("answers = \"via_desk\"", "answers = \"direct\"")]);
        let t = forwarded(BAMBURKIN, "Бамбуркин С.П.", "2021-09-09T08:30:00+03:00");
        assert_eq!(
            nudge(
                &t,
                &waiting(&t, None, false),
                &direct,
                &loads,
                at("2021-09-09T10:00:00+03:00")
            ),
            None
        );
    }
}
