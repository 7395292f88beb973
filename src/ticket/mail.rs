//! The mail a decision causes: automatic replies (rationed per sender per day and
//! for everyone per hour), forwards with the letters attached, alerts to the admin.
//! Everything is queued in the letter's transaction; the outbox sends it.

use chrono::{DateTime, Duration, Utc};
use minijinja::{Value, context};

use super::Incoming;
use super::admin::queue_to_admin;
use super::apply::Ctx;
use super::words::{
    MAX_NAME_CHARS, MAX_QUOTED_CHARS, MAX_SUBJECT_CHARS, cap_chars, midnight, role_ru, short_name,
    stamp_ru, waited_ru,
};
use crate::config::{Address, Answers};
use crate::letter::{self, AutoSubmitted, Letter, new_message_id};
use crate::store::{
    HOURLY_ALERT_KEY, NewOutgoing, Queries, ROUND_ROBIN_KEY, Ticket, TicketState,
    UNDELIVERABLE_ALERT_KEY,
};
use crate::trust;

impl Ctx<'_, '_> {
    /// The variables every template gets, merged with `extra`. For a mail to the
    /// requester (`to_requester`) the letter's own words are quoted short: a reply
    /// must not carry a stranger's text back out from the school's address.
    pub(super) fn common(&self, t: &Ticket, to_requester: bool, extra: Value) -> Value {
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
            via_desk => self.cfg().answers == Answers::ViaDesk,
        };
        context! { ..extra, ..base }
    }

    /// An automatic reply to the sender, unless it may not have one: the sender
    /// failed authentication, its address cannot be written to, the daily limit
    /// for that person is reached, or the hourly limit for everyone leaves no room
    /// within a day (within it, the reply waits its turn). One reply per letter.
    /// Returns whether it was queued; why not goes to `notes` and the audit.
    pub(super) fn reply(
        &mut self,
        template: &str,
        t: &Ticket,
        extra: Value,
    ) -> anyhow::Result<bool> {
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
        if self
            .tx
            .auto_replies_since(&key, midnight(self.cfg(), self.now))?
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
        if queue_to_admin(self.tx, self.desk, template, ctx, self.now)? {
            self.tx
                .audit(self.now, None, None, template, "alert queued for the admin")?;
            self.queued += 1;
        }
        Ok(())
    }

    /// Keeps letters, in order, while their total stays within `max_forward_size`;
    /// `load` reads one. Returns the kept letters and what was left out.
    pub(super) fn fit_letters<K>(
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
    pub(super) fn forward(
        &mut self,
        t: &mut Ticket,
        name: &str,
        email: &str,
        addition: bool,
        only: Option<&Incoming<'_>>,
    ) -> anyhow::Result<()> {
        let kind = if addition { "addition" } else { "forward" };
        self.forward_as("forward", kind, context! {}, t, name, email, addition, only)
    }

    /// Queues a ticket with its letters to one person as `template` renders it
    /// (`extra` added to its variables), as mail of `kind`; the ticket is theirs.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn forward_as(
        &mut self,
        template: &str,
        kind: &str,
        extra: Value,
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
            template,
            self.common(
                t,
                false,
                context! {
                    assignee => context! { name => name, email => email },
                    addition => addition,
                    waited => waited,
                    letters => letters.len(),
                    left_out => left_out.iter().map(mb).collect::<Vec<_>>(),
                    ..extra
                },
            ),
        )?;
        // Via the desk, the answer comes back here (proved by citing this forward's
        // Message-ID) and is passed on. Directly, the specialist answers the
        // requester: only an address that can be written to and that the receiving
        // server did not call forged.
        let via_desk = self.cfg().answers == Answers::ViaDesk;
        let reply_to = if via_desk {
            Some(self.cfg().from.clone())
        } else {
            t.requester
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
                })
        };
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
            kind,
            t,
            Letter {
                from: self.cfg().from.clone(),
                to: vec![to],
                reply_to,
                subject: rendered.subject,
                body: rendered.body,
                message_id: new_message_id(
                    if kind == "addition" { "forward" } else { kind },
                    Some(t.number),
                    &self.cfg().from,
                ),
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
        // An addition leaves the ticket theirs since its forward (the time to the
        // first answer, the reminder); a forward makes it theirs from now.
        if !addition || t.forwarded_at.is_none() {
            t.forwarded_at = Some(self.now);
        }
        t.due_at = None;
        self.tx.update_ticket(t, self.now)?;
        self.tx.set_handed(t.number, via_desk)?;
        self.tx.kv_set(ROUND_ROBIN_KEY, email)?;
        Ok(())
    }

    /// Queues one letter; `to_requester` is the address key of the requester it
    /// goes to (counted against their daily limit).
    pub(super) fn queue_letter(
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

/// Automatic replies, rationed per hour for all senders together.
const AUTO_REPLY_KINDS: &[&str] = &[
    "ask",
    "ack_now",
    "ack_later",
    "etiquette",
    "too_large",
    "passed_on",
];

/// An automatic reply that would wait longer than this for the hourly limit is dropped.
const MAX_REPLY_WAIT_HOURS: i64 = 24;
