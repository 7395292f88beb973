//! A [`Decision`] carried out inside the letter's store transaction: the ticket
//! created or updated, the letter recorded with the decision, and every mail it
//! causes queued — all committed together or not at all.

use chrono::{DateTime, Utc};
use minijinja::context;

use super::decide::{Assignee, Decision, IgnoreReason, NotRelayed, ticket_from_request};
use super::view::View;
use super::words::{field_key, field_ru, when_ru};
use super::{Desk, Folder, Incoming, Outcome};
use crate::config::{Address, Answers, Config};
use crate::letter::{AutoSubmitted, Letter, new_message_id};
use crate::request::{Request, Verdict};
use crate::schedule::Shift;
use crate::store::{NewAnswer, SeenMessage, Ticket, TicketState, Tx};
use crate::trust;

/// What the decision's name is on a letter's row until the decision is written.
const PENDING: &str = "pending";

/// What carrying out one decision works with.
pub(super) struct Ctx<'a, 'b> {
    pub(super) tx: &'a Tx<'b>,
    pub(super) desk: &'a Desk<'a>,
    pub(super) req: &'a Request,
    pub(super) sender: Option<&'a str>,
    pub(super) now: DateTime<Utc>,
    /// Mails queued so far.
    pub(super) queued: usize,
    /// Whether this letter already got its one automatic reply.
    pub(super) replied: bool,
    /// What the receiving server said of the sender.
    pub(super) auth: trust::Verdict,
    /// What the decision's reason should add (a reply not sent, and why).
    pub(super) notes: Vec<String>,
}

/// The request a ticket's own action stands for, when no letter came in: a
/// forward of what the ticket holds (a duty window opening, an admin's command).
pub(super) fn forward_request() -> Request {
    Request {
        verdict: Verdict::Forward,
        ..Request::empty(0)
    }
}

impl<'a, 'b> Ctx<'a, 'b> {
    /// Works on ticket mail for `sender` (the requester) with no incoming letter.
    pub(super) fn for_ticket(
        tx: &'a Tx<'b>,
        desk: &'a Desk<'a>,
        req: &'a Request,
        sender: Option<&'a str>,
        now: DateTime<Utc>,
    ) -> Self {
        Ctx {
            tx,
            desk,
            req,
            sender,
            now,
            queued: 0,
            replied: false,
            auth: trust::Verdict::Unknown,
            notes: Vec::new(),
        }
    }
}

/// Carries out the decision on one letter: records it, creates or updates its
/// ticket, queues the mail. Returns what was done, for the log and the move.
pub fn apply(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    view: &View,
    decision: Decision,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let mut ctx = Ctx {
        tx,
        desk,
        req,
        sender: view.sender.as_deref(),
        auth: view.auth,
        now,
        queued: 0,
        replied: false,
        notes: Vec::new(),
    };
    let outcome = match &decision {
        Decision::Duplicate { folder, message_id } => {
            let o = Outcome {
                folder: *folder,
                decision: decision.as_str(),
                reason: format!("Message-ID <{message_id}> already handled"),
                ticket: None,
                assignee: None,
                queued: 0,
            };
            record(tx, req, incoming, &o, now, false)?;
            return Ok(o);
        }
        Decision::Ignore(why) => ctx.ignore(*why, view, incoming)?,
        _ => ctx.on_ticket(decision, incoming)?,
    };
    Ok(Outcome {
        queued: ctx.queued,
        ..outcome
    })
}

/// Carries out the decision on a held ticket whose window opened
/// ([`super::decide_release`]).
pub fn apply_release(
    tx: &Tx<'_>,
    desk: &Desk<'_>,
    decision: Decision,
    now: DateTime<Utc>,
) -> anyhow::Result<Outcome> {
    let Some(mut t) = decision.ticket().cloned() else {
        anyhow::bail!("a release concerns a ticket");
    };
    let req = forward_request();
    let requester = t.requester.clone();
    let mut ctx = Ctx::for_ticket(tx, desk, &req, requester.as_deref(), now);
    let outcome = ctx.step(&mut t, &decision, None)?;
    Ok(Outcome {
        queued: ctx.queued,
        ..outcome
    })
}

impl Ctx<'_, '_> {
    pub(super) fn cfg(&self) -> &Config {
        self.desk.config
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

    /// An ignored letter: recorded and filed; only the writer of a letter too
    /// large to read is told (a robot never is: the understanding says so first).
    fn ignore(
        &mut self,
        why: IgnoreReason,
        view: &View,
        incoming: &Incoming<'_>,
    ) -> anyhow::Result<Outcome> {
        let req = self.req;
        if why == IgnoreReason::TooLarge {
            let t = ticket_from_request(req, view, self.now);
            let mb = |n: usize| format!("{:.1} МБ", n as f64 / (1024.0 * 1024.0));
            let limit = self.cfg().max_message_size;
            let told = self.reply(
                "too_large",
                &t,
                context! { size => mb(req.size), limit => mb(limit) },
            )?;
            if !told {
                self.notes.push("the sender was not told".into());
            }
        }
        let reason = match why {
            IgnoreReason::Own => "our own address".to_string(),
            _ => req.reason.clone(),
        };
        let folder = why.folder();
        let outcome = self.noted(Outcome {
            folder,
            decision: Decision::Ignore(why).as_str(),
            reason,
            ticket: None,
            assignee: None,
            queued: self.queued,
        });
        let keep_raw = folder == Folder::Unreadable;
        record(self.tx, req, incoming, &outcome, self.now, keep_raw)?;
        Ok(outcome)
    }

    /// A decision on a ticket: a new one is created, the letter recorded under it
    /// (so a forward finds it to attach), the decision carried out and written
    /// onto the letter's row.
    fn on_ticket(
        &mut self,
        decision: Decision,
        incoming: &Incoming<'_>,
    ) -> anyhow::Result<Outcome> {
        let Some(mut t) = decision.ticket().cloned() else {
            anyhow::bail!("not a decision on a ticket");
        };
        let follow_up = t.number > 0;
        if !follow_up {
            t.number = self.tx.create_ticket(&t, self.now)?;
        }
        record_letter(self.tx, self.req, incoming, t.number, self.now)?;
        let outcome = self.step(&mut t, &decision, Some(incoming))?;
        let answer = matches!(decision, Decision::Relay { .. } | Decision::Answered { .. });
        let outcome = match outcome.decision {
            _ if answer => outcome,
            "addition" | "held" => self.noted(outcome),
            _ if follow_up => {
                let reason = format!("follow-up: {}", outcome.reason);
                self.noted(Outcome { reason, ..outcome })
            }
            _ => self.noted(outcome),
        };
        finish_record(self.tx, incoming, self.req, &outcome, self.now)?;
        Ok(outcome)
    }

    /// Does what the decision says to the ticket `t` (the working copy, written
    /// back as it changes) and queues its mail. `incoming` is the letter, if any.
    pub(super) fn step(
        &mut self,
        t: &mut Ticket,
        decision: &Decision,
        incoming: Option<&Incoming<'_>>,
    ) -> anyhow::Result<Outcome> {
        let number = t.number;
        let outcome = |reason: &str, assignee: Option<String>| Outcome {
            folder: decision.folder(),
            decision: decision.as_str(),
            reason: reason.to_string(),
            ticket: Some(number),
            assignee,
            queued: 0,
        };
        Ok(match decision {
            Decision::Duplicate { .. } | Decision::Ignore(_) => {
                anyhow::bail!("not a decision on a ticket")
            }
            Decision::Refuse { report, .. } => match incoming {
                Some(incoming) => self.etiquette(t, incoming, *report)?,
                None => anyhow::bail!("a refusal concerns a letter"),
            },
            Decision::Ask { missing, .. } => {
                let reason = self.ask(t, missing)?;
                outcome(&reason, None)
            }
            Decision::Forward {
                to, acknowledge, ..
            } => {
                let reason = self.forward_now(t, to, *acknowledge)?;
                outcome(reason, Some(to.name.clone()))
            }
            Decision::Release { to, .. } => {
                self.forward(t, &to.name, &to.email, false, None)?;
                outcome("duty window opened", Some(to.name.clone()))
            }
            Decision::Hold {
                to,
                shift,
                acknowledge,
                ..
            } => {
                let reason = self.hold(t, to, shift, *acknowledge)?;
                outcome(&reason, Some(to.name.clone()))
            }
            Decision::Fallback {
                to, acknowledge, ..
            } => {
                self.forward(t, &to.name, &to.email, false, None)?;
                if *acknowledge {
                    self.reply(
                        "ack_later",
                        t,
                        context! { assignee => context! { name => to.name, position => "", email => to.email }, when => "", fallback => true },
                    )?;
                }
                outcome(
                    "no duty window ahead (schedule expired); sent to the fallback",
                    Some(to.name.clone()),
                )
            }
            Decision::Complaint {
                about,
                to,
                acknowledge,
                ..
            } => {
                self.complaint(t, about, to, *acknowledge)?;
                outcome(
                    &format!("a complaint about {}: to their supervisor", about.name),
                    Some(to.name.clone()),
                )
            }
            Decision::Addition { to, .. } => {
                self.forward(t, &to.name, &to.email, true, incoming)?;
                outcome("follow-up to a forwarded ticket", Some(to.name.clone()))
            }
            Decision::AdditionWithheld { .. } => {
                self.tx.update_ticket(t, self.now)?;
                self.tx.audit(
                    self.now,
                    Some(t.number),
                    self.req.message_id.as_deref(),
                    "exchange_limit",
                    "addition not forwarded",
                )?;
                outcome(
                    "follow-up to a forwarded ticket; daily exchange limit reached, merged but not forwarded",
                    t.assignee_name.clone(),
                )
            }
            Decision::Merge { .. } => {
                self.tx.update_ticket(t, self.now)?;
                outcome(
                    "follow-up merged into a ticket held for duty",
                    t.assignee_name.clone(),
                )
            }
            Decision::Relay { specialist, .. } => {
                self.relay(t, specialist)?;
                self.answered(t, specialist, true)?;
                self.take_over(t, specialist)?;
                outcome(
                    "a specialist's answer sent to the support address, passed on to the requester",
                    Some(specialist.name.clone()),
                )
            }
            Decision::Answered {
                specialist, why, ..
            } => {
                let reason = self.not_relayed(t, *why)?;
                self.answered(t, specialist, false)?;
                outcome(reason, Some(specialist.name.clone()))
            }
        })
    }

    /// Sends a complaint about `about` to their supervisor `to` with the
    /// letters, and, if asked, tells the requester where it went.
    fn complaint(
        &mut self,
        t: &mut Ticket,
        about: &Assignee,
        to: &Assignee,
        acknowledge: bool,
    ) -> anyhow::Result<()> {
        let about_ctx =
            context! { name => about.name, position => about.position, email => about.email };
        self.forward_as(
            "complaint",
            "complaint",
            context! { about => about_ctx.clone() },
            t,
            &to.name,
            &to.email,
            false,
            None,
        )?;
        if acknowledge {
            self.reply(
                "complaint_ack",
                t,
                context! { about => about_ctx, supervisor => context! { name => to.name, email => to.email } },
            )?;
        }
        Ok(())
    }

    /// Forwards a complete ticket to the specialist on duty and, if asked,
    /// acknowledges it to the requester; returns the decision's reason.
    fn forward_now(
        &mut self,
        t: &mut Ticket,
        to: &Assignee,
        acknowledge: bool,
    ) -> anyhow::Result<&'static str> {
        self.forward(t, &to.name, &to.email, false, None)?;
        let replied = acknowledge
            && self.reply(
                "ack_now",
                t,
                context! { assignee => context! { name => to.name, position => to.position, email => to.email } },
            )?;
        Ok(if replied || !acknowledge {
            "complete, on duty now"
        } else {
            "complete, on duty now; not acknowledged"
        })
    }

    /// Holds a complete ticket for `to`'s next duty window and, if asked, tells
    /// the requester when; returns the decision's reason.
    fn hold(
        &mut self,
        t: &mut Ticket,
        to: &Assignee,
        shift: &Shift,
        acknowledge: bool,
    ) -> anyhow::Result<String> {
        t.state = TicketState::WaitingDuty;
        t.due_at = Some(shift.from.with_timezone(&Utc));
        t.assignee = Some(to.email.clone());
        t.assignee_name = Some(to.name.clone());
        self.tx.update_ticket(t, self.now)?;
        if acknowledge {
            self.reply(
                "ack_later",
                t,
                context! {
                    assignee => context! { name => to.name, position => to.position, email => to.email },
                    when => when_ru(&shift.from),
                    fallback => false,
                },
            )?;
        }
        let until = shift.from.format("%Y-%m-%d %H:%M");
        Ok(format!("off duty; held until {until}"))
    }

    /// Asks the sender for what is missing; returns the decision's reason.
    fn ask(&mut self, t: &mut Ticket, missing: &[crate::request::Field]) -> anyhow::Result<String> {
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
        Ok(if replied {
            reason
        } else {
            format!("{reason}; not asked")
        })
    }

    /// Why a specialist's answer was not passed on, audited where someone should
    /// see it; returns the decision's reason.
    fn not_relayed(&mut self, t: &Ticket, why: NotRelayed) -> anyhow::Result<&'static str> {
        let mid = self.req.message_id.as_deref();
        Ok(match why {
            NotRelayed::Received => "a specialist's answer; the requester received it directly",
            NotRelayed::Forged => {
                "a specialist's answer; not relayed: the requester's address failed authentication"
            }
            NotRelayed::Undeliverable => {
                self.tx.audit(
                    self.now,
                    Some(t.number),
                    mid,
                    "undeliverable",
                    "relay: the requester's address cannot be written to",
                )?;
                "a specialist's answer; not relayed: the requester's address cannot be written to"
            }
            NotRelayed::ExchangeLimit => {
                self.tx.audit(
                    self.now,
                    Some(t.number),
                    mid,
                    "exchange_limit",
                    "answer not relayed",
                )?;
                "a specialist's answer; daily exchange limit reached, not relayed"
            }
        })
    }

    /// A specialist of the timetable who answered a ticket someone else holds
    /// (it was passed on before they answered) holds it now: the requester's
    /// reply goes to the one who answered.
    fn take_over(&mut self, t: &mut Ticket, specialist: &Assignee) -> anyhow::Result<()> {
        let key = trust::address_key(&specialist.email);
        let listed = self
            .cfg()
            .schedule
            .specialists()
            .iter()
            .any(|s| trust::address_key(&s.email.email) == key);
        let holds = t.assignee.as_deref().map(trust::address_key) == Some(key);
        if listed && !holds {
            t.assignee = Some(specialist.email.clone());
            t.assignee_name = Some(specialist.name.clone());
            self.tx.update_ticket(t, self.now)?;
        }
        Ok(())
    }

    /// Records that `specialist` answered the ticket (the time to the first
    /// answer is counted from its last forward).
    fn answered(&mut self, t: &Ticket, specialist: &Assignee, relayed: bool) -> anyhow::Result<()> {
        self.tx.record_answer(
            &NewAnswer {
                ticket: t.number,
                specialist: &specialist.email,
                specialist_name: Some(&specialist.name),
                assigned_at: t.forwarded_at,
                relayed,
            },
            self.now,
        )
    }

    /// Passes a specialist's answer on to the requester from the support address,
    /// the specialist named in the display name and the text. The requester's
    /// reply comes back to the desk, which passes it to the same specialist
    /// (`answers = "via_desk"`), or goes to the specialist (`"direct"`).
    fn relay(&mut self, t: &Ticket, specialist: &Assignee) -> anyhow::Result<()> {
        let requester = t.requester.clone().unwrap_or_default();
        let key = trust::address_key(&requester);
        let via_desk = self.cfg().answers == Answers::ViaDesk;
        let rendered = self.desk.templates.render(
            "relay",
            self.common(
                t,
                true,
                context! {
                    specialist => context! { name => specialist.name, email => specialist.email },
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
        let desk = &self.cfg().from;
        let from = Address {
            name: Some(match &desk.name {
                Some(n) => format!("{} ({n})", specialist.name),
                None => specialist.name.clone(),
            }),
            email: desk.email.clone(),
        };
        let reply_to = if via_desk {
            None
        } else {
            Address::parse(&specialist.email).map(|a| Address {
                name: Some(specialist.name.clone()),
                email: a.email,
            })
        };
        self.queue_letter(
            "relay",
            t,
            Letter {
                from,
                to: vec![to],
                reply_to,
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
        )
    }

    fn etiquette(
        &mut self,
        t: &Ticket,
        incoming: &Incoming<'_>,
        report: bool,
    ) -> anyhow::Result<Outcome> {
        let mut reason = self.req.reason.clone();
        self.reply("etiquette", t, context! { reason => reason })?;
        // One report per sender per day: a flood of rude (or forged rude) letters
        // must not become a flood of reports naming someone. The rest are counted.
        if !report {
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
            decision: "etiquette",
            reason,
            ticket: Some(t.number),
            assignee: None,
            queued: 0,
        })
    }
}

pub(super) fn record(
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
        o.decision,
        &o.reason,
    )
}

/// The store row of a letter with its decision; the raw letter kept when `keep_raw`.
pub(super) fn seen<'a>(
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
        verdict: o.decision,
        reason: &o.reason,
        folder: o.folder.leaf(),
        raw: keep_raw.then_some(incoming.raw),
    }
}

/// Records the letter under its ticket before the decision, so a forward can attach it;
/// [`finish_record`] writes the decision onto the row.
pub(super) fn record_letter(
    tx: &Tx<'_>,
    req: &Request,
    incoming: &Incoming<'_>,
    ticket: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let pending = Outcome {
        folder: Folder::Processed,
        decision: PENDING,
        reason: String::new(),
        ticket: Some(ticket),
        assignee: None,
        queued: 0,
    };
    tx.record_message(&seen(req, incoming, &pending, true), now)
}

/// Writes the final decision onto the letter's row and the audit trail.
pub(super) fn finish_record(
    tx: &Tx<'_>,
    incoming: &Incoming<'_>,
    req: &Request,
    o: &Outcome,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    tx.set_message_outcome(incoming.key, o.decision, &o.reason, o.folder.leaf())?;
    let detail = match &o.assignee {
        Some(a) => format!("{}; assignee {a}", o.reason),
        None => o.reason.clone(),
    };
    tx.audit(
        now,
        o.ticket,
        req.message_id.as_deref(),
        o.decision,
        &detail,
    )
}
