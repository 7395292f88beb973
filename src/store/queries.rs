//! [`Queries`]: the reads (and the few writes outside a ticket's transaction)
//! that work the same on a [`Reader`] and inside a [`Tx`].

use super::*;

/// Queries usable both inside and outside a transaction.
pub trait Queries {
    fn conn(&self) -> &Connection;

    /// Every row of a query, mapped by `f`.
    fn rows<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> anyhow::Result<Vec<T>> {
        let mut st = self.conn().prepare(sql)?;
        let rows = st.query_map(params, f)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn cursor(&self, source: &str) -> anyhow::Result<Option<(u32, u32)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT uidvalidity, last_uid FROM cursor WHERE source = ?1",
                [source],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// Whether the store has never been used with a mailbox: no cursor, no message
    /// seen, no mail queued, and not adopted (see [`ADOPTED_KEY`]). A blank store next
    /// to a mailbox that shows an earlier run means the real store was lost.
    fn is_blank(&self) -> anyhow::Result<bool> {
        let used: i64 = self.conn().query_row(
            "SELECT (SELECT count(*) FROM cursor) + (SELECT count(*) FROM messages)
                  + (SELECT count(*) FROM outgoing)
                  + (SELECT count(*) FROM kv WHERE key = ?1)",
            [ADOPTED_KEY],
            |r| r.get(0),
        )?;
        Ok(used == 0)
    }

    /// The folder a message with this source key was filed into, if seen.
    fn seen_key(&self, source_key: &str) -> anyhow::Result<Option<(String, bool)>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT folder, moved FROM messages WHERE source_key = ?1",
                [source_key],
                |r| Ok((r.get(0)?, r.get::<_, i64>(1)? != 0)),
            )
            .optional()?)
    }

    /// The folder a message with this Message-ID was filed into, if seen.
    /// The folders and senders of the letters already handled with this Message-ID.
    fn seen_message_id_senders(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Vec<(String, Option<String>)>> {
        self.rows(
            "SELECT folder, sender FROM messages WHERE message_id = ?1 ORDER BY id",
            [message_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn seen_message_id(&self, message_id: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT folder FROM messages WHERE message_id = ?1 ORDER BY id LIMIT 1",
                [message_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Messages recorded but not yet moved out of the inbox (a crash came between).
    fn unmoved(&self) -> anyhow::Result<Vec<Unmoved>> {
        self.rows(
            "SELECT source_key, uid, folder, message_id FROM messages WHERE moved = 0 ORDER BY id",
            [],
            |r| {
                Ok(Unmoved {
                    key: r.get(0)?,
                    uid: r.get(1)?,
                    folder: r.get(2)?,
                    message_id: r.get(3)?,
                })
            },
        )
    }

    fn ticket(&self, number: i64) -> anyhow::Result<Option<Ticket>> {
        Ok(self
            .conn()
            .query_row(
                &format!("{TICKET_SELECT} WHERE number = ?1"),
                [number],
                ticket_row,
            )
            .optional()?)
    }

    /// The ticket whose mail carried one of these Message-IDs (ours or the sender's).
    fn ticket_by_message_ids(&self, ids: &[String]) -> anyhow::Result<Option<i64>> {
        for id in ids.iter().rev() {
            let t: Option<Option<i64>> = self
                .conn()
                .query_row(
                    "SELECT ticket FROM outgoing WHERE message_id = ?1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(Some(t)) = t {
                return Ok(Some(t));
            }
            let t: Option<Option<i64>> = self
                .conn()
                .query_row(
                    "SELECT ticket FROM messages WHERE message_id = ?1 AND ticket IS NOT NULL LIMIT 1",
                    [id],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(Some(t)) = t {
                return Ok(Some(t));
            }
        }
        Ok(None)
    }

    /// The sender's most recent ticket waiting for their answer, created after `since`.
    fn waiting_ticket_of(&self, sender: &str, since: DateTime<Utc>) -> anyhow::Result<Option<i64>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT number FROM tickets WHERE requester = ?1 AND state = 'waiting_sender'
                 AND updated_at >= ?2 ORDER BY number DESC LIMIT 1",
                params![sender, ts(since)],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// What the store knows of each of these Message-IDs, in the order given
    /// (unknown ones left out).
    fn cited(&self, ids: &[String]) -> anyhow::Result<Vec<Cited>> {
        let mut out = Vec::new();
        for id in ids {
            let ours: Option<(Option<i64>, String, String)> = self
                .conn()
                .query_row(
                    "SELECT ticket, kind, recipients FROM outgoing WHERE message_id = ?1",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            if let Some((Some(ticket), kind, recipients)) = ours {
                out.push(Cited::Ours {
                    ticket,
                    kind,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                });
                continue;
            }
            let theirs: Vec<(i64, Option<String>)> = self.rows(
                "SELECT ticket, sender FROM messages WHERE message_id = ?1 AND ticket IS NOT NULL",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            out.extend(
                theirs
                    .into_iter()
                    .map(|(ticket, sender)| Cited::Theirs { ticket, sender }),
            );
        }
        Ok(out)
    }

    /// The latest scheduled send times of automatic replies of these kinds, newest
    /// first, at most `n`.
    fn latest_auto_replies(&self, kinds: &[&str], n: usize) -> anyhow::Result<Vec<DateTime<Utc>>> {
        let list = serde_json::to_string(kinds)?;
        let times: Vec<String> = self.rows(
            "SELECT next_attempt FROM outgoing WHERE kind IN (SELECT value FROM json_each(?1))
             ORDER BY next_attempt DESC LIMIT ?2",
            params![list, n as i64],
            |r| r.get(0),
        )?;
        times
            .iter()
            .map(|t| parse_ts(t).map_err(Into::into))
            .collect()
    }

    /// Mails of these kinds queued for a ticket since `since`.
    fn ticket_mail_since(
        &self,
        ticket: i64,
        kinds: &[&str],
        since: DateTime<Utc>,
    ) -> anyhow::Result<u32> {
        let list = serde_json::to_string(kinds)?;
        Ok(self.conn().query_row(
            "SELECT count(*) FROM outgoing WHERE ticket = ?1 AND created_at >= ?2
             AND kind IN (SELECT value FROM json_each(?3))",
            params![ticket, ts(since), list],
            |r| r.get(0),
        )?)
    }

    /// The requesters of the tickets that caused a rule-5 report since `since`.
    fn reported_since(&self, since: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
        self.rows(
            "SELECT t.requester FROM outgoing o JOIN tickets t ON t.number = o.ticket
             WHERE o.kind = 'report' AND o.created_at >= ?1 AND t.requester IS NOT NULL",
            [ts(since)],
            |r| r.get(0),
        )
    }

    /// Queued mail not due before a later time than `now` that no attempt was made
    /// for yet: automatic replies waiting for the hourly limit.
    fn waiting_auto_replies(&self, now: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM outgoing WHERE state = 'queued' AND attempts = 0 AND next_attempt > ?1",
            [ts(now)],
            |r| r.get(0),
        )?)
    }

    /// How many audit rows of this event there are since `since`.
    fn audit_count(&self, event: &str, since: DateTime<Utc>) -> anyhow::Result<i64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM audit WHERE event = ?1 AND at >= ?2",
            params![event, ts(since)],
            |r| r.get(0),
        )?)
    }

    /// The letters of a ticket kept for forwarding, oldest first, with their sizes.
    fn ticket_letter_sizes(&self, ticket: i64) -> anyhow::Result<Vec<LetterSize>> {
        self.rows(
            "SELECT id, length(raw), message_id FROM messages WHERE ticket = ?1 AND raw IS NOT NULL ORDER BY id",
            [ticket],
            |r| {
                Ok(LetterSize {
                    id: r.get(0)?,
                    size: r.get::<_, i64>(1)?.max(0) as usize,
                    message_id: r.get(2)?,
                })
            },
        )
    }

    /// One kept letter by its row id.
    fn letter_raw(&self, id: i64) -> anyhow::Result<Option<Vec<u8>>> {
        Ok(self
            .conn()
            .query_row("SELECT raw FROM messages WHERE id = ?1", [id], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Mails queued to this sender (its address key) since `since`.
    fn auto_replies_since(&self, sender: &str, since: DateTime<Utc>) -> anyhow::Result<u32> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM outgoing WHERE auto_reply_to = ?1 AND created_at >= ?2",
            params![sender, ts(since)],
            |r| r.get(0),
        )?)
    }

    /// Open (forwarded, not closed) tickets per assignee address.
    fn open_count(&self, assignee: &str) -> anyhow::Result<i64> {
        Ok(self.conn().query_row(
            "SELECT count(*) FROM tickets WHERE assignee = ?1 AND state IN ('forwarded', 'waiting_duty')",
            [assignee],
            |r| r.get(0),
        )?)
    }

    /// Tickets held for duty whose time has come.
    fn due_tickets(&self, now: DateTime<Utc>) -> anyhow::Result<Vec<Ticket>> {
        self.rows(
            &format!(
                "{TICKET_SELECT} WHERE state = 'waiting_duty' AND due_at <= ?1 ORDER BY number"
            ),
            [ts(now)],
            ticket_row,
        )
    }

    /// Forwarded tickets handed through the desk (so an answer would be seen)
    /// with no answer since they were last handed on (a forward or an addition),
    /// oldest first; not complaints (their supervisor is not on the timetable's
    /// rota). See [`Unanswered`].
    fn unanswered_forwarded(&self) -> anyhow::Result<Vec<Unanswered>> {
        let rows = self.rows(
            "SELECT number, reminded_at, since,
                    (SELECT count(*) FROM audit WHERE audit.ticket = number
                       AND event IN ('passed_on', 'pass_on_failed'))
             FROM (SELECT t.number, t.reminded_at,
                          max(t.forwarded_at,
                              coalesce((SELECT max(o.created_at) FROM outgoing o
                                        WHERE o.ticket = t.number AND o.kind = 'addition'),
                                       t.forwarded_at)) AS since
                   FROM tickets t
                   WHERE t.state = 'forwarded' AND t.via_desk = 1 AND t.assignee IS NOT NULL
                     AND t.forwarded_at IS NOT NULL
                     AND NOT EXISTS (SELECT 1 FROM outgoing c WHERE c.ticket = t.number AND c.kind = 'complaint'))
             WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.ticket = number AND a.at >= since)
             ORDER BY number",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, Option<String>>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(number, reminded, since, passed)| {
                Ok(Unanswered {
                    number,
                    reminded: opt_ts(reminded)?,
                    since: parse_ts(&since)?,
                    passed_on: passed > 0,
                })
            })
            .collect()
    }

    /// The earliest due time of a held ticket.
    fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let s: Option<String> = self.conn().query_row(
            "SELECT min(due_at) FROM tickets WHERE state = 'waiting_duty'",
            [],
            |r| r.get(0),
        )?;
        Ok(opt_ts(s)?)
    }

    /// The letters of a ticket, oldest first (for attaching to a forward).
    fn ticket_letters(&self, ticket: i64) -> anyhow::Result<Vec<Vec<u8>>> {
        self.rows(
            "SELECT raw FROM messages WHERE ticket = ?1 AND raw IS NOT NULL ORDER BY id",
            [ticket],
            |r| r.get(0),
        )
    }

    /// Queued mail ready to send at `now`.
    fn ready_outgoing(&self, now: DateTime<Utc>, limit: usize) -> anyhow::Result<Vec<Outgoing>> {
        self.rows("SELECT id, message_id, ticket, kind, envelope_from, recipients, raw, attempts FROM outgoing
             WHERE state = 'queued' AND next_attempt <= ?1 ORDER BY id LIMIT ?2", params![ts(now), limit as i64], |r| {
            let recipients: String = r.get(5)?;
            Ok(Outgoing {
                id: r.get(0)?,
                message_id: r.get(1)?,
                ticket: r.get(2)?,
                kind: r.get(3)?,
                envelope_from: r.get(4)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                raw: r.get(6)?,
                attempts: r.get(7)?,
            })
        })
    }

    /// The earliest next attempt of queued mail.
    fn next_outgoing(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let s: Option<String> = self.conn().query_row(
            "SELECT min(next_attempt) FROM outgoing WHERE state = 'queued'",
            [],
            |r| r.get(0),
        )?;
        Ok(opt_ts(s)?)
    }

    fn kv_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM kv WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Every `kv` entry whose key starts with `prefix`, by key.
    fn kv_prefix(&self, prefix: &str) -> anyhow::Result<Vec<(String, String)>> {
        // `substr` rather than LIKE: a key may hold `%` or `_`.
        self.rows(
            "SELECT key, value FROM kv WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key",
            [prefix],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Counts for `status`: (state, count).
    fn ticket_counts(&self) -> anyhow::Result<Vec<(String, i64)>> {
        self.rows(
            "SELECT state, count(*) FROM tickets GROUP BY state ORDER BY state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn outgoing_counts(&self) -> anyhow::Result<Vec<(String, i64)>> {
        self.rows(
            "SELECT state, count(*) FROM outgoing GROUP BY state ORDER BY state",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    fn held_tickets(&self) -> anyhow::Result<Vec<Ticket>> {
        self.rows(
            &format!("{TICKET_SELECT} WHERE state = 'waiting_duty' ORDER BY due_at, number"),
            [],
            ticket_row,
        )
    }

    fn recent_audit(&self, event_like: &str, limit: usize) -> anyhow::Result<Vec<AuditEntry>> {
        self.rows("SELECT at, ticket, event, detail, who FROM audit WHERE event LIKE ?1 ORDER BY id DESC LIMIT ?2", params![event_like, limit as i64], audit_row)
    }

    /// Tickets by number, those in `state` only when given, created at or after
    /// `since` when given.
    fn ticket_list(
        &self,
        state: Option<TicketState>,
        since: Option<DateTime<Utc>>,
    ) -> anyhow::Result<Vec<Ticket>> {
        self.rows(
            &format!(
                "{TICKET_SELECT} WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR created_at >= ?2)
                 ORDER BY number"
            ),
            params![state.map(TicketState::as_str), since.map(ts)],
            ticket_row,
        )
    }

    /// When a ticket was closed, what it was before, and whether its personal
    /// data (its letters with it) was purged; none for a ticket that does not exist.
    fn ticket_closure(&self, number: i64) -> anyhow::Result<Option<Closure>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT closed_at, closed_from, purged_at IS NOT NULL FROM tickets WHERE number = ?1",
                [number],
                |r| {
                    let from: Option<String> = r.get(1)?;
                    Ok(Closure {
                        closed_at: opt_ts(r.get(0)?)?,
                        closed_from: from.as_deref().and_then(TicketState::parse),
                        purged: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// The letters of a ticket as received, with the decision on each, oldest first.
    fn ticket_messages(&self, ticket: i64) -> anyhow::Result<Vec<TicketLetter>> {
        self.rows(
            "SELECT received_at, sender, message_id, verdict, reason, folder FROM messages
             WHERE ticket = ?1 ORDER BY received_at, id",
            [ticket],
            |r| {
                Ok(TicketLetter {
                    at: parse_ts(&r.get::<_, String>(0)?)?,
                    sender: r.get(1)?,
                    message_id: r.get(2)?,
                    verdict: r.get(3)?,
                    reason: r.get(4)?,
                    folder: r.get(5)?,
                })
            },
        )
    }

    /// The audit rows of a ticket, oldest first.
    fn ticket_audit(&self, ticket: i64) -> anyhow::Result<Vec<AuditEntry>> {
        self.rows(
            "SELECT at, ticket, event, detail, who FROM audit WHERE ticket = ?1 ORDER BY at, id",
            [ticket],
            audit_row,
        )
    }

    /// The recorded answers to a ticket, oldest first.
    fn ticket_answers(&self, ticket: i64) -> anyhow::Result<Vec<TicketAnswer>> {
        let rows = self.rows(
            "SELECT at, specialist, specialist_name, assigned_at, relayed FROM answers
             WHERE ticket = ?1 ORDER BY id",
            [ticket],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<String>>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(at, specialist, specialist_name, assigned_at, relayed)| {
                Ok(TicketAnswer {
                    at: parse_ts(&at)?,
                    specialist,
                    specialist_name,
                    assigned_at: opt_ts(assigned_at)?,
                    relayed,
                })
            })
            .collect()
    }

    /// The numbers of the tickets with a recorded answer.
    fn answered_tickets(&self) -> anyhow::Result<std::collections::HashSet<i64>> {
        Ok(self
            .rows("SELECT DISTINCT ticket FROM answers", [], |r| r.get(0))?
            .into_iter()
            .collect())
    }

    /// Tickets answered, reminders sent and tickets passed on, ever.
    fn answer_counts(&self) -> anyhow::Result<AnswerCounts> {
        let ever = DateTime::<Utc>::UNIX_EPOCH;
        Ok(AnswerCounts {
            answered: self.conn().query_row(
                "SELECT count(DISTINCT ticket) FROM answers",
                [],
                |r| r.get(0),
            )?,
            reminded: self.audit_count("reminded", ever)?,
            passed_on: self.audit_count("passed_on", ever)?,
        })
    }

    /// The mail queued for a ticket (any state), oldest first.
    fn ticket_mail(&self, ticket: i64) -> anyhow::Result<Vec<TicketMail>> {
        self.rows(
            "SELECT created_at, kind, recipients, state, sent_at, last_error FROM outgoing
             WHERE ticket = ?1 ORDER BY created_at, id",
            [ticket],
            |r| {
                let recipients: String = r.get(2)?;
                Ok(TicketMail {
                    at: parse_ts(&r.get::<_, String>(0)?)?,
                    kind: r.get(1)?,
                    recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                    state: r.get(3)?,
                    sent_at: opt_ts(r.get(4)?)?,
                    last_error: r.get(5)?,
                })
            },
        )
    }

    /// Messages recorded after row `after_id`, in order.
    fn messages_after(&self, after_id: i64) -> anyhow::Result<Vec<MessageLog>> {
        self.rows("SELECT id, source_key, ticket, verdict, reason, folder FROM messages WHERE id > ?1 ORDER BY id", [after_id], |r| {
            Ok(MessageLog {
                id: r.get(0)?,
                source_key: r.get(1)?,
                ticket: r.get(2)?,
                verdict: r.get(3)?,
                reason: r.get(4)?,
                folder: r.get(5)?,
            })
        })
    }

    /// Outgoing mail after row `after_id` (any state), in order; `state` filters when given.
    fn outgoing_after(
        &self,
        after_id: i64,
        state: Option<&str>,
    ) -> anyhow::Result<Vec<OutgoingLog>> {
        self.rows("SELECT id, ticket, kind, recipients, state, attempts, last_error, next_attempt, raw FROM outgoing
             WHERE id > ?1 AND (?2 IS NULL OR state = ?2) ORDER BY id", params![after_id, state], |r| {
            let recipients: String = r.get(3)?;
            Ok(OutgoingLog {
                id: r.get(0)?,
                ticket: r.get(1)?,
                kind: r.get(2)?,
                recipients: serde_json::from_str(&recipients).unwrap_or_default(),
                state: r.get(4)?,
                attempts: r.get(5)?,
                last_error: r.get(6)?,
                next_attempt: r.get(7)?,
                raw: r.get(8)?,
            })
        })
    }

    /// The oldest personal data held: the earliest creation of an unpurged ticket,
    /// or the earliest letter still kept whole (an ignored letter has no ticket).
    fn oldest_personal_data(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let s: Option<String> = self.conn().query_row(
            "SELECT min(t) FROM (
                 SELECT min(created_at) AS t FROM tickets WHERE purged_at IS NULL
                 UNION ALL
                 SELECT min(received_at) FROM messages WHERE raw IS NOT NULL OR sender IS NOT NULL
             )",
            [],
            |r| r.get(0),
        )?;
        Ok(opt_ts(s)?)
    }
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        at: r.get(0)?,
        ticket: r.get(1)?,
        event: r.get(2)?,
        detail: r.get(3)?,
        who: r.get(4)?,
    })
}

/// How a ticket stands towards closing ([`Queries::ticket_closure`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Closure {
    pub closed_at: Option<DateTime<Utc>>,
    /// The state it was closed from (none for tickets closed before this was kept).
    pub closed_from: Option<TicketState>,
    /// Its personal data and letters were erased (`purge_closed`).
    pub purged: bool,
}

/// A letter of a ticket and the decision on it, for `duty-desk ticket N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLetter {
    pub at: DateTime<Utc>,
    pub sender: Option<String>,
    pub message_id: Option<String>,
    pub verdict: String,
    pub reason: String,
    pub folder: String,
}

/// A specialist's answer to a ticket, as recorded ([`Queries::ticket_answers`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketAnswer {
    pub at: DateTime<Utc>,
    pub specialist: String,
    pub specialist_name: Option<String>,
    /// When the ticket was forwarded to them (the time to the answer is counted from it).
    pub assigned_at: Option<DateTime<Utc>>,
    /// Passed on to the requester.
    pub relayed: bool,
}

/// A forwarded ticket waiting for its specialist's answer
/// ([`Queries::unanswered_forwarded`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unanswered {
    pub number: i64,
    /// When its specialist was reminded of it (`None`: not yet).
    pub reminded: Option<DateTime<Utc>>,
    /// Since when it waits: it was last handed on (forwarded, reopened, or an
    /// addition sent).
    pub since: DateTime<Utc>,
    /// It was passed on once already (it is not passed on again).
    pub passed_on: bool,
}

/// How many tickets were answered, reminded and passed on, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AnswerCounts {
    /// Tickets with at least one recorded answer.
    pub answered: i64,
    /// Reminders sent to a specialist about an unanswered ticket.
    pub reminded: i64,
    /// Unanswered tickets passed on to the next specialist on duty.
    pub passed_on: i64,
}

/// A mail of a ticket, for `duty-desk ticket N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketMail {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub recipients: Vec<String>,
    /// `queued`, `sent` or `failed`.
    pub state: String,
    pub sent_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}
