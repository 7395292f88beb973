//! The rows of the store a week's report is made of, read in one go.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::store::Queries;

/// A letter that came in: when the desk handled it and what it decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterRow {
    pub at: DateTime<Utc>,
    pub decision: String,
    pub ticket: Option<i64>,
}

/// A ticket: when it was opened, its state now, who has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRow {
    pub number: i64,
    pub created_at: DateTime<Utc>,
    pub state: String,
    pub assignee_name: Option<String>,
}

/// A mail the desk queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRow {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub ticket: Option<i64>,
}

/// An audit event of a ticket (`held`, `released`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub at: DateTime<Utc>,
    pub ticket: Option<i64>,
    pub event: String,
}

/// A specialist's answer to a ticket, as the desk recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerRow {
    pub ticket: i64,
    pub at: DateTime<Utc>,
    /// Who answered, as the timetable names them.
    pub specialist_name: Option<String>,
    /// When the ticket had been forwarded to them.
    pub assigned_at: Option<DateTime<Utc>>,
}

/// Everything a week's figures are computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rows {
    pub letters: Vec<LetterRow>,
    pub tickets: Vec<TicketRow>,
    pub mail: Vec<MailRow>,
    pub events: Vec<EventRow>,
    /// `None` when the desk does not learn of answers (`answers = "direct"`: a
    /// specialist answers the requester directly): answered, unanswered and time
    /// to first answer are then "not recorded yet".
    pub answers: Option<Vec<AnswerRow>>,
    /// The first letter the store holds.
    pub records_from: Option<DateTime<Utc>>,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

/// The rows of `[from, until)`; releases, mail and answers of the week's tickets
/// up to `as_of` (a ticket held on Sunday is released on Monday). Answers are
/// read when `answers_recorded` (specialists answer through the desk); else the
/// desk does not learn of them and they are `None`.
pub fn load(
    q: &impl Queries,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    as_of: DateTime<Utc>,
    answers_recorded: bool,
) -> anyhow::Result<Rows> {
    let (a, b, c) = (ts(from), ts(until), ts(as_of.max(until)));
    let letters = q.rows(
        "SELECT received_at, verdict, ticket FROM messages
         WHERE received_at >= ?1 AND received_at < ?2 ORDER BY id",
        [&a, &b],
        |r| {
            Ok(LetterRow {
                at: parse(&r.get::<_, String>(0)?)?,
                decision: r.get(1)?,
                ticket: r.get(2)?,
            })
        },
    )?;
    // Tickets opened this week, and those that had mail this week.
    let tickets = q.rows(
        "SELECT number, created_at, state, assignee_name FROM tickets
         WHERE (created_at >= ?1 AND created_at < ?2)
            OR number IN (SELECT ticket FROM outgoing WHERE created_at >= ?1 AND created_at < ?2)
         ORDER BY number",
        [&a, &b],
        |r| {
            Ok(TicketRow {
                number: r.get(0)?,
                created_at: parse(&r.get::<_, String>(1)?)?,
                state: r.get(2)?,
                assignee_name: r.get(3)?,
            })
        },
    )?;
    let mail = q.rows(
        "SELECT created_at, kind, ticket FROM outgoing
         WHERE created_at >= ?1 AND created_at < ?2 ORDER BY id",
        [&a, &b],
        |r| {
            Ok(MailRow {
                at: parse(&r.get::<_, String>(0)?)?,
                kind: r.get(1)?,
                ticket: r.get(2)?,
            })
        },
    )?;
    let events = q.rows(
        "SELECT at, ticket, event FROM audit
         WHERE event IN ('held', 'released') AND at >= ?1 AND at < ?2 ORDER BY id",
        [&a, &c],
        |r| {
            Ok(EventRow {
                at: parse(&r.get::<_, String>(0)?)?,
                ticket: r.get(1)?,
                event: r.get(2)?,
            })
        },
    )?;
    let answers = if answers_recorded {
        Some(q.rows(
            "SELECT ticket, at, specialist_name, assigned_at FROM answers
             WHERE at >= ?1 AND at < ?2 ORDER BY id",
            [&a, &c],
            |r| {
                Ok(AnswerRow {
                    ticket: r.get(0)?,
                    at: parse(&r.get::<_, String>(1)?)?,
                    specialist_name: r.get(2)?,
                    assigned_at: r
                        .get::<_, Option<String>>(3)?
                        .as_deref()
                        .map(parse)
                        .transpose()?,
                })
            },
        )?)
    } else {
        None
    };
    let first: Option<String> =
        q.conn()
            .query_row("SELECT min(received_at) FROM messages", [], |r| r.get(0))?;
    Ok(Rows {
        letters,
        tickets,
        mail,
        events,
        answers,
        records_from: first.as_deref().map(parse).transpose()?,
    })
}
