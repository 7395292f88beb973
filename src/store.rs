//! The state store: SQLite, one file, one transaction per message.
//!
//! What it keeps: the mailbox cursor (UIDVALIDITY + last UID), every message
//! seen (by source key and Message-ID), tickets with their fields and history,
//! the outgoing queue, the Message-IDs we sent (to recognise replies), and an
//! audit trail of decisions. Schema changes are numbered migrations applied on
//! open (`PRAGMA user_version`), so a store written by an older duty-desk is
//! upgraded in place and a newer one is refused.
//!
//! A store file that exists but is not a duty-desk store (or is corrupt) is a
//! hard error: starting fresh would answer every letter again.

use std::path::Path;

use anyhow::{Context as _, bail};
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// Numbered migrations; index + 1 is the schema version they produce.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE cursor (
        source      TEXT PRIMARY KEY,
        uidvalidity INTEGER NOT NULL,
        last_uid    INTEGER NOT NULL
    );
    CREATE TABLE tickets (
        number        INTEGER PRIMARY KEY AUTOINCREMENT,
        requester     TEXT,
        requester_name TEXT,
        role          TEXT,
        full_name     TEXT,
        class         TEXT,
        description   TEXT,
        subject       TEXT NOT NULL DEFAULT '',
        state         TEXT NOT NULL,
        assignee      TEXT,
        assignee_name TEXT,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        due_at        TEXT,
        forwarded_at  TEXT,
        closed_at     TEXT,
        purged_at     TEXT
    );
    CREATE INDEX tickets_state ON tickets(state);
    CREATE INDEX tickets_requester ON tickets(requester);
    CREATE TABLE messages (
        id          INTEGER PRIMARY KEY,
        source_key  TEXT NOT NULL UNIQUE,
        uid         INTEGER,
        message_id  TEXT,
        sender      TEXT,
        received_at TEXT NOT NULL,
        ticket      INTEGER REFERENCES tickets(number),
        verdict     TEXT NOT NULL,
        reason      TEXT NOT NULL,
        folder      TEXT NOT NULL,
        moved       INTEGER NOT NULL DEFAULT 0,
        raw         BLOB
    );
    CREATE INDEX messages_message_id ON messages(message_id);
    CREATE INDEX messages_ticket ON messages(ticket);
    CREATE TABLE outgoing (
        id           INTEGER PRIMARY KEY,
        message_id   TEXT NOT NULL UNIQUE,
        ticket       INTEGER,
        kind         TEXT NOT NULL,
        auto_reply_to TEXT,
        envelope_from TEXT NOT NULL,
        recipients   TEXT NOT NULL,
        raw          BLOB NOT NULL,
        state        TEXT NOT NULL DEFAULT 'queued',
        attempts     INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT NOT NULL,
        last_error   TEXT,
        created_at   TEXT NOT NULL,
        sent_at      TEXT
    );
    CREATE INDEX outgoing_state ON outgoing(state, next_attempt);
    CREATE INDEX outgoing_auto ON outgoing(auto_reply_to, created_at);
    CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        ticket   INTEGER,
        message  TEXT,
        event    TEXT NOT NULL,
        detail   TEXT NOT NULL
    );
    CREATE TABLE kv (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    "#,
];

/// The `kv` key set when the daemon first took a mailbox on with this store (its
/// value: when, and whether `--fresh-state` was given).
pub const ADOPTED_KEY: &str = "adopted_mailbox";

/// What a ticket is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketState {
    /// We asked the sender for missing fields.
    WaitingSender,
    /// Complete, held until the next duty window opens.
    WaitingDuty,
    /// Forwarded to a specialist (or the fallback).
    Forwarded,
    /// Refused under rule 5.
    Refused,
    /// Closed (no activity for `close_after`); personal data may be purged later.
    Closed,
}

impl TicketState {
    pub fn as_str(self) -> &'static str {
        match self {
            TicketState::WaitingSender => "waiting_sender",
            TicketState::WaitingDuty => "waiting_duty",
            TicketState::Forwarded => "forwarded",
            TicketState::Refused => "refused",
            TicketState::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<TicketState> {
        Some(match s {
            "waiting_sender" => TicketState::WaitingSender,
            "waiting_duty" => TicketState::WaitingDuty,
            "forwarded" => TicketState::Forwarded,
            "refused" => TicketState::Refused,
            "closed" => TicketState::Closed,
            _ => return None,
        })
    }
}

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub number: i64,
    pub requester: Option<String>,
    pub requester_name: Option<String>,
    pub role: Option<String>,
    pub full_name: Option<String>,
    pub class: Option<String>,
    pub description: Option<String>,
    pub subject: String,
    pub state: TicketState,
    pub assignee: Option<String>,
    pub assignee_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub forwarded_at: Option<DateTime<Utc>>,
}

/// One queued outgoing mail.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: i64,
    pub message_id: String,
    pub ticket: Option<i64>,
    pub kind: String,
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
    pub attempts: i64,
}

/// A letter decided on but not yet moved out of the inbox.
#[derive(Debug, Clone)]
pub struct Unmoved {
    pub key: String,
    pub uid: Option<u32>,
    pub folder: String,
    pub message_id: Option<String>,
}

/// One line of the audit trail.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: String,
    pub ticket: Option<i64>,
    pub event: String,
    pub detail: String,
}

/// A message row to record.
#[derive(Debug, Clone)]
pub struct SeenMessage<'a> {
    pub source_key: &'a str,
    pub uid: Option<u32>,
    pub message_id: Option<&'a str>,
    pub sender: Option<&'a str>,
    pub ticket: Option<i64>,
    pub verdict: &'a str,
    pub reason: &'a str,
    pub folder: &'a str,
    /// Kept for forwarding as an attachment while the ticket lives.
    pub raw: Option<&'a [u8]>,
}

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct NewOutgoing<'a> {
    pub message_id: &'a str,
    pub ticket: Option<i64>,
    pub kind: &'a str,
    /// Set for automatic replies to a sender (counted against the daily limit).
    pub auto_reply_to: Option<&'a str>,
    pub envelope_from: &'a str,
    pub recipients: &'a [String],
    pub raw: &'a [u8],
}

pub struct Store {
    conn: Connection,
}

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_ts(s: &str) -> rusqlite::Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
}

fn opt_ts(s: Option<String>) -> rusqlite::Result<Option<DateTime<Utc>>> {
    s.as_deref().map(parse_ts).transpose()
}

impl Store {
    /// Opens (or creates, with `create`) the store and brings its schema up to date.
    ///
    /// A missing file with `create = false` is an error: the daemon asks for it
    /// only when the mailbox shows an earlier run (see `daemon`).
    pub fn open(path: &Path, create: bool) -> anyhow::Result<Store> {
        let exists = path.exists();
        if !exists && !create {
            bail!(
                "state store {} is missing; refusing to start fresh (that would answer every letter again)",
                path.display()
            );
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let conn = Connection::open(path)
            .with_context(|| format!("cannot open state store {}", path.display()))?;
        Self::init(conn, exists).with_context(|| format!("state store {}", path.display()))
    }

    /// An in-memory store, for `inspect`-like dry runs and tests.
    pub fn in_memory() -> anyhow::Result<Store> {
        Self::init(Connection::open_in_memory()?, false)
    }

    fn init(mut conn: Connection, existed: bool) -> anyhow::Result<Store> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // A corrupt or foreign file fails here, before anything is written.
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .context(
                "the file is not a readable SQLite database (corrupt?); refusing to start fresh",
            )?;
        if check != "ok" {
            bail!("integrity check failed: {check}; refusing to start fresh");
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > MIGRATIONS.len() {
            bail!(
                "schema version {version} is newer than this duty-desk knows ({})",
                MIGRATIONS.len()
            );
        }
        if existed && version == 0 {
            let tables: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if tables > 0 {
                bail!("the file is an SQLite database but not a duty-desk store");
            }
        }
        let tx = conn.transaction()?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)
                .with_context(|| format!("migration {}", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1)?;
        }
        tx.commit()?;
        Ok(Store { conn })
    }

    /// Runs `f` in one transaction: all of it is committed, or none.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = Tx(self.conn.transaction()?);
        let out = f(&tx)?;
        tx.0.commit()?;
        Ok(out)
    }

    /// Read-only queries outside a transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader(&self.conn)
    }
}

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

    /// Automatic replies queued to this sender since `since`.
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
        self.rows("SELECT at, ticket, event, detail FROM audit WHERE event LIKE ?1 ORDER BY id DESC LIMIT ?2", params![event_like, limit as i64], |r| {
            Ok(AuditEntry {
                at: r.get(0)?,
                ticket: r.get(1)?,
                event: r.get(2)?,
                detail: r.get(3)?,
            })
        })
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

/// A message row, for `demo` and `status`.
#[derive(Debug, Clone)]
pub struct MessageLog {
    pub id: i64,
    pub source_key: String,
    pub ticket: Option<i64>,
    pub verdict: String,
    pub reason: String,
    pub folder: String,
}

/// An outgoing row, for `demo` and `status`.
#[derive(Debug, Clone)]
pub struct OutgoingLog {
    pub id: i64,
    pub ticket: Option<i64>,
    pub kind: String,
    pub recipients: Vec<String>,
    pub state: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt: String,
    pub raw: Vec<u8>,
}

const TICKET_SELECT: &str =
    "SELECT number, requester, requester_name, role, full_name, class, description, subject,
    state, assignee, assignee_name, created_at, due_at, forwarded_at FROM tickets";

fn ticket_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Ticket> {
    let state: String = r.get(8)?;
    Ok(Ticket {
        number: r.get(0)?,
        requester: r.get(1)?,
        requester_name: r.get(2)?,
        role: r.get(3)?,
        full_name: r.get(4)?,
        class: r.get(5)?,
        description: r.get(6)?,
        subject: r.get(7)?,
        state: TicketState::parse(&state).unwrap_or(TicketState::Closed),
        assignee: r.get(9)?,
        assignee_name: r.get(10)?,
        created_at: parse_ts(&r.get::<_, String>(11)?)?,
        due_at: opt_ts(r.get(12)?)?,
        forwarded_at: opt_ts(r.get(13)?)?,
    })
}

pub struct Reader<'a>(&'a Connection);

impl Queries for Reader<'_> {
    fn conn(&self) -> &Connection {
        self.0
    }
}

/// A write transaction; dropped without commit, it rolls back.
pub struct Tx<'a>(Transaction<'a>);

impl Queries for Tx<'_> {
    fn conn(&self) -> &Connection {
        &self.0
    }
}

impl Tx<'_> {
    pub fn set_cursor(&self, source: &str, uidvalidity: u32, last_uid: u32) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO cursor (source, uidvalidity, last_uid) VALUES (?1, ?2, ?3)
             ON CONFLICT(source) DO UPDATE SET uidvalidity = ?2, last_uid = max(last_uid, ?3)
             WHERE uidvalidity = ?2
             ",
            params![source, uidvalidity, last_uid],
        )?;
        // A new UIDVALIDITY replaces the cursor outright.
        self.0.execute(
            "UPDATE cursor SET uidvalidity = ?2, last_uid = ?3 WHERE source = ?1 AND uidvalidity != ?2",
            params![source, uidvalidity, last_uid],
        )?;
        Ok(())
    }

    pub fn record_message(&self, m: &SeenMessage<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO messages (source_key, uid, message_id, sender, received_at, ticket, verdict, reason, folder, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![m.source_key, m.uid, m.message_id, m.sender, ts(now), m.ticket, m.verdict, m.reason, m.folder, m.raw],
        )?;
        Ok(())
    }

    /// Sets the final decision on a message recorded earlier in the same transaction.
    pub fn set_message_outcome(
        &self,
        source_key: &str,
        verdict: &str,
        reason: &str,
        folder: &str,
    ) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE messages SET verdict = ?2, reason = ?3, folder = ?4 WHERE source_key = ?1",
            params![source_key, verdict, reason, folder],
        )?;
        Ok(())
    }

    pub fn mark_moved(&self, source_key: &str) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE messages SET moved = 1 WHERE source_key = ?1",
            [source_key],
        )?;
        Ok(())
    }

    /// Creates a ticket and returns its number.
    pub fn create_ticket(&self, t: &Ticket, now: DateTime<Utc>) -> anyhow::Result<i64> {
        self.0.execute(
            "INSERT INTO tickets (requester, requester_name, role, full_name, class, description, subject, state,
                 assignee, assignee_name, created_at, updated_at, due_at, forwarded_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13)",
            params![
                t.requester,
                t.requester_name,
                t.role,
                t.full_name,
                t.class,
                t.description,
                t.subject,
                t.state.as_str(),
                t.assignee,
                t.assignee_name,
                ts(now),
                t.due_at.map(ts),
                t.forwarded_at.map(ts),
            ],
        )?;
        Ok(self.0.last_insert_rowid())
    }

    /// Writes back a ticket's mutable fields.
    pub fn update_ticket(&self, t: &Ticket, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET requester_name = ?2, role = ?3, full_name = ?4, class = ?5, description = ?6,
                 state = ?7, assignee = ?8, assignee_name = ?9, updated_at = ?10, due_at = ?11, forwarded_at = ?12
             WHERE number = ?1",
            params![
                t.number,
                t.requester_name,
                t.role,
                t.full_name,
                t.class,
                t.description,
                t.state.as_str(),
                t.assignee,
                t.assignee_name,
                ts(now),
                t.due_at.map(ts),
                t.forwarded_at.map(ts),
            ],
        )?;
        Ok(())
    }

    pub fn queue(&self, m: &NewOutgoing<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO outgoing (message_id, ticket, kind, auto_reply_to, envelope_from, recipients, raw, next_attempt, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                m.message_id,
                m.ticket,
                m.kind,
                m.auto_reply_to,
                m.envelope_from,
                serde_json::to_string(m.recipients)?,
                m.raw,
                ts(now),
            ],
        )?;
        Ok(())
    }

    pub fn mark_sent(&self, id: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE outgoing SET state = 'sent', sent_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
            params![id, ts(now)],
        )?;
        Ok(())
    }

    /// A transient failure: try again at `retry_at`.
    pub fn mark_retry(&self, id: i64, error: &str, retry_at: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE outgoing SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
            params![id, error, ts(retry_at)],
        )?;
        Ok(())
    }

    /// A permanent failure: recorded, not retried.
    pub fn mark_failed(&self, id: i64, error: &str) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE outgoing SET state = 'failed', attempts = attempts + 1, last_error = ?2 WHERE id = ?1",
            params![id, error],
        )?;
        Ok(())
    }

    pub fn audit(
        &self,
        now: DateTime<Utc>,
        ticket: Option<i64>,
        message: Option<&str>,
        event: &str,
        detail: &str,
    ) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO audit (at, ticket, message, event, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ts(now), ticket, message, event, detail],
        )?;
        Ok(())
    }

    pub fn kv_set(&self, key: &str, value: &str) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }

    pub fn kv_delete(&self, key: &str) -> anyhow::Result<()> {
        self.0.execute("DELETE FROM kv WHERE key = ?1", [key])?;
        Ok(())
    }

    /// Closes tickets idle since `before`; returns how many.
    pub fn close_idle(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> anyhow::Result<usize> {
        Ok(self.0.execute(
            "UPDATE tickets SET state = 'closed', closed_at = ?2
             WHERE state IN ('forwarded', 'waiting_sender', 'refused') AND updated_at < ?1",
            params![ts(before), ts(now)],
        )?)
    }

    /// Removes letters and personal fields of tickets closed before `before`;
    /// ticket numbers, states and dates stay for statistics. Returns how many.
    pub fn purge_closed(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let n = self.0.execute(
            "UPDATE tickets SET requester = NULL, requester_name = NULL, full_name = NULL, class = NULL,
                 description = NULL, subject = '', purged_at = ?2
             WHERE state = 'closed' AND closed_at < ?1 AND purged_at IS NULL",
            params![ts(before), ts(now)],
        )?;
        self.0.execute(
            "UPDATE messages SET raw = NULL, sender = NULL
             WHERE ticket IN (SELECT number FROM tickets WHERE purged_at IS NOT NULL)",
            [],
        )?;
        self.0.execute(
            "UPDATE outgoing SET raw = x'', recipients = '[]', auto_reply_to = NULL
             WHERE state != 'queued' AND ticket IN (SELECT number FROM tickets WHERE purged_at IS NOT NULL)",
            [],
        )?;
        // Ignored letters (no ticket) are kept as long as personal data of closed tickets.
        self.0.execute(
            "UPDATE messages SET raw = NULL, sender = NULL WHERE ticket IS NULL AND received_at < ?1",
            [ts(before)],
        )?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2021-09-09T05:30:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn ticket() -> Ticket {
        Ticket {
            number: 0,
            requester: Some("mama@mail.ru".into()),
            requester_name: None,
            role: Some("parent".into()),
            full_name: Some("Смирнова Ольга".into()),
            class: None,
            description: Some("не входит".into()),
            subject: "вход".into(),
            state: TicketState::WaitingSender,
            assignee: None,
            assignee_name: None,
            created_at: now(),
            due_at: None,
            forwarded_at: None,
        }
    }

    #[test]
    fn a_failed_transaction_leaves_nothing() {
        let mut s = Store::in_memory().unwrap();
        let r: anyhow::Result<()> = s.transaction(|tx| {
            tx.create_ticket(&ticket(), now())?;
            anyhow::bail!("crash in the middle")
        });
        assert!(r.is_err());
        assert!(s.read().ticket(1).unwrap().is_none());
        s.transaction(|tx| tx.create_ticket(&ticket(), now()).map(|_| ()))
            .unwrap();
        assert_eq!(
            s.read().ticket(1).unwrap().unwrap().full_name.as_deref(),
            Some("Смирнова Ольга")
        );
    }

    #[test]
    fn replies_find_their_ticket_by_our_message_id() {
        let mut s = Store::in_memory().unwrap();
        s.transaction(|tx| {
            let n = tx.create_ticket(&ticket(), now())?;
            tx.queue(
                &NewOutgoing {
                    message_id: "ask.1@school",
                    ticket: Some(n),
                    kind: "ask",
                    auto_reply_to: Some("mama@mail.ru"),
                    envelope_from: "support@school",
                    recipients: &["mama@mail.ru".to_string()],
                    raw: b"x",
                },
                now(),
            )
        })
        .unwrap();
        let r = s.read();
        assert_eq!(
            r.ticket_by_message_ids(&["other@x".into(), "ask.1@school".into()])
                .unwrap(),
            Some(1)
        );
        assert_eq!(r.ticket_by_message_ids(&["nope@x".into()]).unwrap(), None);
        assert_eq!(
            r.auto_replies_since("mama@mail.ru", now() - chrono::Duration::hours(1))
                .unwrap(),
            1
        );
        assert_eq!(r.ready_outgoing(now(), 10).unwrap().len(), 1);
    }

    #[test]
    fn cursor_moves_forward_and_resets_on_new_uidvalidity() {
        let mut s = Store::in_memory().unwrap();
        s.transaction(|tx| tx.set_cursor("imap", 7, 10)).unwrap();
        s.transaction(|tx| tx.set_cursor("imap", 7, 5)).unwrap();
        assert_eq!(s.read().cursor("imap").unwrap(), Some((7, 10)));
        s.transaction(|tx| tx.set_cursor("imap", 8, 2)).unwrap();
        assert_eq!(s.read().cursor("imap").unwrap(), Some((8, 2)));
    }

    #[test]
    fn corrupt_or_foreign_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.sqlite3");
        std::fs::write(
            &bad,
            b"this is not a database, just some bytes that are long enough to look like one...",
        )
        .unwrap();
        let e = Store::open(&bad, true).err().expect("refused");
        assert!(
            format!("{e:#}").contains("refusing to start fresh"),
            "{e:#}"
        );
        let foreign = dir.path().join("foreign.sqlite3");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE t(x)")
            .unwrap();
        let e = Store::open(&foreign, true).err().expect("refused");
        assert!(format!("{e:#}").contains("not a duty-desk store"), "{e:#}");
        let missing = dir.path().join("missing.sqlite3");
        assert!(Store::open(&missing, false).is_err());
        Store::open(&missing, true).unwrap();
        // Reopening an existing store keeps its schema.
        Store::open(&missing, false).unwrap();
    }

    #[test]
    fn purge_keeps_numbers_and_dates() {
        let mut s = Store::in_memory().unwrap();
        s.transaction(|tx| {
            let n = tx.create_ticket(&ticket(), now())?;
            tx.record_message(
                &SeenMessage {
                    source_key: "k1",
                    uid: Some(1),
                    message_id: Some("m1"),
                    sender: Some("mama@mail.ru"),
                    ticket: Some(n),
                    verdict: "ask",
                    reason: "",
                    folder: "Waiting",
                    raw: Some(b"letter"),
                },
                now(),
            )?;
            let later = now() + chrono::Duration::days(40);
            assert_eq!(tx.close_idle(now() + chrono::Duration::days(30), later)?, 1);
            assert_eq!(
                tx.purge_closed(later + chrono::Duration::days(1), later)?,
                1
            );
            Ok(())
        })
        .unwrap();
        let t = s.read().ticket(1).unwrap().unwrap();
        assert_eq!(t.state, TicketState::Closed);
        assert_eq!(t.full_name, None);
        assert_eq!(t.created_at, now());
        assert!(s.read().ticket_letters(1).unwrap().is_empty());
        assert!(s.read().oldest_personal_data().unwrap().is_none());
    }
}
