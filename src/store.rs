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
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

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
    // 2: what the receiving server said of a ticket's requester (`trust::Verdict`).
    r#"
    ALTER TABLE tickets ADD COLUMN sender_auth TEXT;
    "#,
    // 3: what a closed ticket was before it was closed (so `reopen` puts it back),
    // and who did what the audit row records (an admin's command: the OS user).
    r#"
    ALTER TABLE tickets ADD COLUMN closed_from TEXT;
    ALTER TABLE audit ADD COLUMN who TEXT;
    "#,
];

/// The `kv` key set when the daemon first took a mailbox on with this store (its
/// value: when, and whether `--fresh-state` was given).
pub const ADOPTED_KEY: &str = "adopted_mailbox";

// The `kv` keys every part of the daemon reads and writes, in one place.

/// The `kv` key holding when the mailbox last answered (RFC 3339), for `status`.
pub const LAST_CONTACT_KEY: &str = "last_mailbox_contact";
/// The `kv` key holding when the mailbox became unreadable (RFC 3339), while it is.
pub const STALL_SINCE_KEY: &str = "stall_since";
/// The `kv` key set once the admin was alerted of the current stall.
pub const STALL_ALERTED_KEY: &str = "stall_alerted";
/// The `kv` key holding the address of the specialist chosen last (round-robin).
pub const ROUND_ROBIN_KEY: &str = "round_robin_last";

/// `kv` keys `letter_retry:{source key}`: a letter the server refused, to try again.
pub const RETRY_PREFIX: &str = "letter_retry:";
/// `kv` keys `letter_stuck:{source key}`: a decided letter the server keeps
/// refusing to move; it stays in the inbox, handled, and `status` shows it.
pub const STUCK_PREFIX: &str = "letter_stuck:";
/// `kv` key holding "since; error" while the state store fails.
pub const STORE_ERROR_KEY: &str = "store_error";

/// What is kept of a letter the server refused (`kv` value, JSON).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct LetterTrouble {
    /// `fetch` or `move`.
    pub what: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When to try again (unused once stuck).
    pub next: DateTime<Utc>,
    /// Where it was to be moved (`move`).
    pub folder: Option<String>,
    /// The server's last answer.
    pub error: String,
    /// The first refusal.
    pub since: DateTime<Utc>,
}

impl LetterTrouble {
    /// A `kv` value written under [`RETRY_PREFIX`] or [`STUCK_PREFIX`]; None if unreadable.
    pub fn read(value: &str) -> Option<LetterTrouble> {
        serde_json::from_str(value).ok()
    }
}

/// The `kv` key holding "since; why" while handled letters are left flagged
/// `\Deleted` in the inbox (a server without UIDPLUS, others' deletions pending).
pub const UNEXPUNGED_KEY: &str = "mailbox_unexpunged";

/// The `kv` key holding "since; error" while the SMTP server cannot be reached.
pub const OUTBOX_UNREACHABLE_KEY: &str = "outbox_unreachable";

/// The `kv` key holding the `valid_until` whose "the timetable ends soon" mail went
/// to the admin: one mail per timetable (a new `valid_until` arms it again).
pub const TIMETABLE_WARNED_KEY: &str = "timetable_end_warned";
/// The `kv` key holding "valid_until;local date" of the last "the timetable has
/// ended" reminder to the admin.
pub const TIMETABLE_REMINDED_KEY: &str = "timetable_ended_reminded";
/// The `kv` key holding the local date of the last hourly-limit alert.
pub const HOURLY_ALERT_KEY: &str = "hourly_limit_alerted";
/// The `kv` key holding the local date of the last undeliverable-address alert.
pub const UNDELIVERABLE_ALERT_KEY: &str = "undeliverable_alerted";
/// The `kv` key holding the Monday of the last week whose report was queued.
pub const REPORT_SENT_KEY: &str = "weekly_report_sent";
/// The `kv` key holding when the daemon first looked whether a weekly report was
/// due: a week that ended before it is not reported (the desk did not watch it).
pub const REPORT_SINCE_KEY: &str = "weekly_report_since";

/// The `kv` key set once the store was rewritten (VACUUM) after `secure_delete` came
/// in, so no free page holds what an older duty-desk purged.
const SCRUBBED_KEY: &str = "scrubbed";

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
    /// The receiving server's verdict on the requester's address when the ticket
    /// was opened (`trust::Verdict::as_str`); "fail" means no mail goes to it.
    pub sender_auth: Option<String>,
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
    /// Who did it, for an admin's command (the OS user); none for the daemon.
    pub who: Option<String>,
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
    /// The address key (`trust::address_key`) of the requester a mail goes to:
    /// every such mail counts against that sender's daily limit.
    pub auto_reply_to: Option<&'a str>,
    pub envelope_from: &'a str,
    pub recipients: &'a [String],
    pub raw: &'a [u8],
    /// Not sent before this instant (an automatic reply waiting for the hourly limit).
    pub not_before: Option<DateTime<Utc>>,
}

/// A Message-ID a letter cites, as the store knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cited {
    /// A mail the desk sent: its ticket, kind and recipients.
    Ours {
        ticket: i64,
        kind: String,
        recipients: Vec<String>,
    },
    /// A letter the desk received for a ticket, and who sent it.
    Theirs { ticket: i64, sender: Option<String> },
}

impl Cited {
    pub fn ticket(&self) -> i64 {
        match self {
            Cited::Ours { ticket, .. } | Cited::Theirs { ticket, .. } => *ticket,
        }
    }
}

/// A letter of a ticket, as a forward may attach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterSize {
    pub id: i64,
    pub size: usize,
    pub message_id: Option<String>,
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
            create_private_dir(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        }
        if !exists {
            create_private_file(path)
                .with_context(|| format!("cannot create state store {}", path.display()))?;
        }
        make_private(path)?;
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
        // What is deleted or overwritten (a purged requester's name, a letter's pages)
        // is overwritten with zeros in the file, not left in free pages and cells; see
        // `purge_closed` and `checkpoint`.
        conn.pragma_update(None, "secure_delete", "ON")?;
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
        let store = Store { conn };
        store.scrub_once(existed)?;
        Ok(store)
    }

    /// A store written before `secure_delete` may hold purged letters and names in
    /// its free pages: VACUUM rewrites it once (and the WAL is emptied), then the
    /// `kv` key marks it done. A store that cannot be vacuumed now (another process
    /// reads it) is vacuumed at a later open.
    fn scrub_once(&self, existed: bool) -> anyhow::Result<()> {
        if self.read().kv_get(SCRUBBED_KEY)?.is_some() {
            return Ok(());
        }
        if existed {
            if let Err(e) = self.conn.execute_batch("VACUUM") {
                tracing::warn!(error = %e, "state store: cannot VACUUM it now (old free pages may hold purged data); trying again at the next start");
                return Ok(());
            }
            self.checkpoint()?;
        }
        self.conn.execute(
            "INSERT INTO kv (key, value) VALUES (?1, 'secure_delete') ON CONFLICT(key) DO NOTHING",
            [SCRUBBED_KEY],
        )?;
        Ok(())
    }

    /// Copies the WAL into the database file and truncates it (`wal_checkpoint(TRUNCATE)`):
    /// the WAL keeps old page images (a purged ticket's pages as they were) until its
    /// frames are overwritten, which may be never. Returns false when a reader in
    /// another process kept it from finishing (it is tried again at the next
    /// housekeeping).
    pub fn checkpoint(&self) -> anyhow::Result<bool> {
        let busy: i64 = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        Ok(busy == 0)
    }

    /// Runs `f` in one transaction: all of it is committed, or none.
    ///
    /// The transaction takes the write lock when it begins (`BEGIN IMMEDIATE`):
    /// the daemon and an admin's `duty-desk ticket …` share the file, and a
    /// transaction that read first and then found the other one's write in the
    /// way would fail at once; taking the lock first, each waits its turn (the
    /// busy timeout) and reads what the other committed.
    pub fn transaction<T>(
        &mut self,
        f: impl FnOnce(&Tx<'_>) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let tx = Tx(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?);
        let out = f(&tx)?;
        tx.0.commit()?;
        Ok(out)
    }

    /// Read-only queries outside a transaction.
    pub fn read(&self) -> Reader<'_> {
        Reader(&self.conn)
    }
}

/// The store holds requesters' names, addresses and letters: only the daemon's user
/// may read it, whatever the umask (run by hand, 022 would make it 0644). A folder
/// the store needs is created 0700 (every missing level of it); an existing folder
/// is left as it is (under systemd it is `StateDirectory=`, 0700 by the unit).
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Creates the (empty) store file 0600 before SQLite opens it: SQLite would create it
/// 0644 less the umask, and it creates the `-wal` and `-shm` files with the mode of
/// the database file, so they are 0600 too.
#[cfg(unix)]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map(drop)
}

/// Takes group and other bits off the store and its `-wal`/`-shm` files (a store
/// written by an older duty-desk, or copied in, may be 0644).
#[cfg(unix)]
fn make_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut files = vec![path.to_path_buf()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        files.push(name.into());
    }
    for file in files {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o7700))
                .with_context(|| {
                    format!(
                        "{} has mode {:04o} (others can read the state store); cannot chmod it 600",
                        file.display(),
                        mode & 0o7777
                    )
                })?;
            tracing::warn!(
                file = %file.display(),
                was = format!("{:04o}", mode & 0o7777),
                "state store was readable by others: now 0600"
            );
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
}

#[cfg(not(unix))]
fn make_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
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
    state, assignee, assignee_name, created_at, due_at, forwarded_at, sender_auth FROM tickets";

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
        sender_auth: r.get(14)?,
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
                 assignee, assignee_name, created_at, updated_at, due_at, forwarded_at, sender_auth)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)",
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
                t.sender_auth,
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                m.message_id,
                m.ticket,
                m.kind,
                m.auto_reply_to,
                m.envelope_from,
                serde_json::to_string(m.recipients)?,
                m.raw,
                ts(m.not_before.map_or(now, |t| t.max(now))),
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

    /// An audit row of something a person did (an admin's command), with who.
    pub fn audit_by(
        &self,
        now: DateTime<Utc>,
        ticket: Option<i64>,
        event: &str,
        detail: &str,
        who: &str,
    ) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO audit (at, ticket, event, detail, who) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![ts(now), ticket, event, detail, who],
        )?;
        Ok(())
    }

    /// Closes one ticket now, remembering the state it had.
    pub fn close_ticket(&self, number: i64, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET closed_from = state, state = 'closed', closed_at = ?2, updated_at = ?2
             WHERE number = ?1 AND state != 'closed'",
            params![number, ts(now)],
        )?;
        Ok(())
    }

    /// Opens a closed ticket again in `state`.
    pub fn reopen_ticket(
        &self,
        number: i64,
        state: TicketState,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET state = ?2, closed_at = NULL, closed_from = NULL, updated_at = ?3
             WHERE number = ?1 AND state = 'closed'",
            params![number, state.as_str(), ts(now)],
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
            "UPDATE tickets SET closed_from = state, state = 'closed', closed_at = ?2
             WHERE state IN ('forwarded', 'waiting_sender', 'refused') AND updated_at < ?1",
            params![ts(before), ts(now)],
        )?)
    }

    /// Erases the personal data of tickets closed before `before`, and of ignored
    /// letters (no ticket) received before it; ticket numbers, states, roles,
    /// assignees and dates stay for statistics, as do the decisions (verdicts,
    /// folders, audit events). Returns how many tickets were purged.
    ///
    /// Erased: the ticket's requester, names, class, description and subject; its
    /// letters' bytes, senders, Message-IDs and reasons (a reason can quote an
    /// address or a Message-ID); its mail's bytes, recipients and errors (an SMTP
    /// refusal names the recipient); the message and detail of its audit rows. With
    /// `secure_delete` the old bytes are zeroed in the file; `checkpoint` afterwards
    /// clears them from the WAL.
    ///
    /// Message-IDs are how a copy of a letter delivered again is recognised as one
    /// already handled (`seen_message_id`), and how a reply finds its ticket. Once
    /// purged, a copy of such a letter arriving later is handled as a new letter, and
    /// a reply to its mail opens a new ticket; by then the ticket was closed (a closed
    /// ticket takes no follow-ups anyway) and `purge_after_days` have passed, far
    /// beyond any re-delivery or rescan. Our own Message-IDs (`outgoing.message_id`:
    /// kind, ticket number, random) hold nothing personal and stay.
    ///
    /// Mail of a purged ticket still queued (it has failed for all that time) is
    /// given up: it is marked failed and erased like the rest.
    pub fn purge_closed(&self, before: DateTime<Utc>, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let n = self.0.execute(
            "UPDATE tickets SET requester = NULL, requester_name = NULL, full_name = NULL, class = NULL,
                 description = NULL, subject = '', purged_at = ?2
             WHERE state = 'closed' AND closed_at < ?1 AND purged_at IS NULL",
            params![ts(before), ts(now)],
        )?;
        // Each statement touches only rows still holding something, so the hourly
        // housekeeping does not rewrite every purged row again.
        self.0.execute(
            "UPDATE messages SET raw = NULL, sender = NULL, message_id = NULL, reason = ''
             WHERE ticket IN (SELECT number FROM tickets WHERE purged_at IS NOT NULL)
               AND (raw IS NOT NULL OR sender IS NOT NULL OR message_id IS NOT NULL OR reason != '')",
            [],
        )?;
        self.0.execute(
            "UPDATE outgoing SET raw = x'', recipients = '[]', auto_reply_to = NULL, last_error = NULL,
                 state = CASE state WHEN 'queued' THEN 'failed' ELSE state END
             WHERE ticket IN (SELECT number FROM tickets WHERE purged_at IS NOT NULL)
               AND (length(raw) > 0 OR recipients != '[]' OR auto_reply_to IS NOT NULL
                    OR last_error IS NOT NULL OR state = 'queued')",
            [],
        )?;
        self.0.execute(
            "UPDATE audit SET message = NULL, detail = ''
             WHERE ticket IN (SELECT number FROM tickets WHERE purged_at IS NOT NULL)
               AND (message IS NOT NULL OR detail != '')",
            [],
        )?;
        // Ignored letters (no ticket) are kept as long as personal data of closed
        // tickets, and so are their audit rows (a letter's row names its Message-ID)
        // and mail without a ticket (the admin's alerts).
        self.0.execute(
            "UPDATE messages SET raw = NULL, sender = NULL, message_id = NULL, reason = ''
             WHERE ticket IS NULL AND received_at < ?1
               AND (raw IS NOT NULL OR sender IS NOT NULL OR message_id IS NOT NULL OR reason != '')",
            [ts(before)],
        )?;
        self.0.execute(
            "UPDATE audit SET message = NULL, detail = ''
             WHERE ticket IS NULL AND message IS NOT NULL AND at < ?1",
            [ts(before)],
        )?;
        self.0.execute(
            "UPDATE outgoing SET raw = x'', recipients = '[]', auto_reply_to = NULL, last_error = NULL
             WHERE ticket IS NULL AND state != 'queued' AND created_at < ?1
               AND (length(raw) > 0 OR recipients != '[]' OR auto_reply_to IS NOT NULL
                    OR last_error IS NOT NULL)",
            [ts(before)],
        )?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

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
            sender_auth: None,
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
                    not_before: None,
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

    /// Whether any of `needles` occurs in the store's files (database, WAL, SHM).
    fn found_in_files(path: &Path, needles: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            let Ok(bytes) = std::fs::read(&file) else {
                continue;
            };
            for n in needles {
                if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                    found.push(format!("{n:?} in {}", file.display()));
                }
            }
        }
        found
    }

    #[test]
    fn purge_erases_personal_data_from_the_file() {
        const ADDRESS: &str = "zhirafova.beg@mail.ru";
        const LOCAL: &str = "zhirafova.beg";
        const NAME: &str = "Жирафова Бегемотина Носороговна";
        const PHONE: &str = "+7 912 345-67-89";
        const TEXT: &str = "дневник показывает фиолетовых жирафов";
        const MID: &str = "zhirafova-7731@mail.ru";
        const MID_IGNORED: &str = "otpusk-zhirafovoi-5512@mail.ru";
        let needles = [
            ADDRESS,
            LOCAL,
            NAME,
            "Бегемотина",
            PHONE,
            "345-67-89",
            TEXT,
            "фиолетовых",
            MID,
            "zhirafova-7731",
            MID_IGNORED,
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("duty-desk.sqlite3");
        let mut s = Store::open(&path, true).unwrap();
        // Letters long enough to need overflow pages, and short ones in the cells.
        let letter = |n: usize| {
            let mut l = format!(
                "From: {NAME} <{ADDRESS}>\r\nMessage-ID: <{MID}>\r\n\r\nФИО: {NAME}\r\n\
                 Телефон: {PHONE}\r\nПроблема: {TEXT}\r\n"
            );
            for i in 0..n {
                l.push_str(&format!("> {i}: {NAME}, {PHONE}, {TEXT}\r\n"));
            }
            l.into_bytes()
        };
        let later = now() + chrono::Duration::days(40);
        s.transaction(|tx| {
            let n = tx.create_ticket(
                &Ticket {
                    requester: Some(ADDRESS.into()),
                    requester_name: Some(NAME.into()),
                    full_name: Some(NAME.into()),
                    class: Some("5А".into()),
                    description: Some(format!("{TEXT}; телефон {PHONE}")),
                    subject: format!("{TEXT} {PHONE}"),
                    state: TicketState::Forwarded,
                    assignee: Some("bamburkin@example.org".into()),
                    assignee_name: Some("Бамбуркин С.П.".into()),
                    ..ticket()
                },
                now(),
            )?;
            for (key, mid, size) in [("maildir:1", MID, 200), ("maildir:2", "x@y", 2)] {
                tx.record_message(
                    &SeenMessage {
                        source_key: key,
                        uid: None,
                        message_id: Some(mid),
                        sender: Some(ADDRESS),
                        ticket: Some(n),
                        verdict: "forward",
                        reason: &format!("complete; Message-ID <{MID}> from {ADDRESS}"),
                        folder: "Processed",
                        raw: Some(&letter(size)),
                    },
                    now(),
                )?;
            }
            tx.audit(
                now(),
                Some(n),
                Some(MID),
                "forward",
                &format!("{NAME} {PHONE}"),
            )?;
            for (id, kind, to) in [
                ("duty-desk.1.ack_now.1@school", "ack_now", ADDRESS),
                (
                    "duty-desk.1.forward.2@school",
                    "forward",
                    "bamburkin@example.org",
                ),
                ("duty-desk.1.relay.3@school", "relay", ADDRESS),
            ] {
                tx.queue(
                    &NewOutgoing {
                        message_id: id,
                        ticket: Some(n),
                        kind,
                        auto_reply_to: Some(ADDRESS),
                        envelope_from: "support@school",
                        recipients: &[to.to_string()],
                        raw: &letter(100),
                        not_before: None,
                    },
                    now(),
                )?;
            }
            tx.mark_sent(1, now())?;
            tx.mark_sent(2, now())?;
            let refusal = format!("550 5.1.1 <{ADDRESS}>: Recipient address rejected");
            tx.mark_failed(3, &refusal)?;
            tx.audit(
                now(),
                Some(n),
                Some("duty-desk.1.relay.3@school"),
                "send_failed",
                &refusal,
            )?;
            // An ignored letter (an auto-reply) of the same person: no ticket.
            tx.record_message(
                &SeenMessage {
                    source_key: "maildir:3",
                    uid: None,
                    message_id: Some(MID_IGNORED),
                    sender: Some(ADDRESS),
                    ticket: None,
                    verdict: "ignore",
                    reason: &format!("auto-reply from {ADDRESS}"),
                    folder: "Ignored",
                    raw: Some(&letter(50)),
                },
                now(),
            )?;
            tx.audit(
                now(),
                None,
                Some(MID_IGNORED),
                "ignore",
                &format!("auto-reply from {ADDRESS}"),
            )?;
            Ok(())
        })
        .unwrap();
        s.checkpoint().unwrap();
        assert!(
            !found_in_files(&path, &needles).is_empty(),
            "the test's data is in the file"
        );

        s.transaction(|tx| {
            assert_eq!(tx.close_idle(now() + chrono::Duration::days(30), later)?, 1);
            let year_on = later + chrono::Duration::days(366);
            assert_eq!(
                tx.purge_closed(year_on - chrono::Duration::days(365), year_on)?,
                1
            );
            Ok(())
        })
        .unwrap();
        assert!(s.checkpoint().unwrap(), "nothing else reads the store");
        let found = found_in_files(&path, &needles);
        assert!(
            found.is_empty(),
            "still in the store after the purge: {found:#?}"
        );
        // Numbers, states, dates and decisions stay.
        let t = s.read().ticket(1).unwrap().unwrap();
        assert_eq!(t.state, TicketState::Closed);
        assert_eq!(t.created_at, now());
        assert_eq!(t.assignee_name.as_deref(), Some("Бамбуркин С.П."));
        let decisions = s
            .read()
            .rows("SELECT verdict FROM messages ORDER BY id", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap();
        assert_eq!(decisions, ["forward", "forward", "ignore"]);
        assert_eq!(s.read().recent_audit("%", 10).unwrap().len(), 3);
        // And after closing the store.
        drop(s);
        let found = found_in_files(&path, &needles);
        assert!(found.is_empty(), "in the store once closed: {found:#?}");
    }

    #[test]
    fn a_store_purged_by_an_older_duty_desk_is_scrubbed_once() {
        const NAME: &str = "Жирафова Бегемотина Носороговна";
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("duty-desk.sqlite3");
        let mut s = Store::open(&path, true).unwrap();
        // As an older duty-desk left it: no secure_delete, a letter purged by
        // nulling its column (its pages freed, not zeroed), no scrub mark.
        s.conn.pragma_update(None, "secure_delete", "OFF").unwrap();
        let raw = NAME.repeat(300);
        s.transaction(|tx| {
            tx.record_message(
                &SeenMessage {
                    source_key: "k",
                    uid: None,
                    message_id: None,
                    sender: None,
                    ticket: None,
                    verdict: "ignore",
                    reason: "",
                    folder: "Ignored",
                    raw: Some(raw.as_bytes()),
                },
                now(),
            )?;
            tx.kv_delete(SCRUBBED_KEY)
        })
        .unwrap();
        s.conn
            .execute("UPDATE messages SET raw = NULL", [])
            .unwrap();
        s.checkpoint().unwrap();
        assert!(!found_in_files(&path, &[NAME]).is_empty());
        drop(s);
        let s = Store::open(&path, false).unwrap();
        assert!(found_in_files(&path, &[NAME]).is_empty());
        assert!(s.read().kv_get(SCRUBBED_KEY).unwrap().is_some());
    }

    #[cfg(unix)]
    #[test]
    fn the_store_its_wal_and_its_folders_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/duty-desk.sqlite3");
        let mut s = Store::open(&path, true).unwrap();
        s.transaction(|tx| tx.create_ticket(&ticket(), now()).map(drop))
            .unwrap();
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        assert_eq!(mode(&path), 0o600);
        // Open, in WAL mode: both side files exist, with the database file's mode.
        for side in ["duty-desk.sqlite3-wal", "duty-desk.sqlite3-shm"] {
            assert_eq!(mode(&dir.path().join("a/b").join(side)), 0o600, "{side}");
        }
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
