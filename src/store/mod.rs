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

mod queries;
#[cfg(test)]
mod tests;
mod tx;

pub use queries::{
    AnswerCounts, Closure, Queries, TicketAnswer, TicketLetter, TicketMail, Unanswered,
};

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
    // 4: specialists' answers (who answered which ticket when, and since when it
    // was theirs); when a forwarded ticket's specialist was reminded of it, and
    // whether it was handed on with Reply-To the desk (tickets forwarded before
    // are not: their answers went straight to the requester).
    r#"
    CREATE TABLE answers (
        id            INTEGER PRIMARY KEY,
        ticket        INTEGER NOT NULL REFERENCES tickets(number),
        at            TEXT NOT NULL,
        specialist    TEXT NOT NULL,
        specialist_name TEXT,
        assigned_at   TEXT,
        relayed       INTEGER NOT NULL
    );
    CREATE INDEX answers_ticket ON answers(ticket);
    ALTER TABLE tickets ADD COLUMN reminded_at TEXT;
    ALTER TABLE tickets ADD COLUMN via_desk INTEGER NOT NULL DEFAULT 0;
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

/// The `kv` key set once the store has been rewritten (VACUUM) with
/// `secure_delete` on, so no free page holds data purged without it.
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

/// A specialist's answer, to record ([`Tx::record_answer`]).
#[derive(Debug, Clone)]
pub struct NewAnswer<'a> {
    pub ticket: i64,
    pub specialist: &'a str,
    pub specialist_name: Option<&'a str>,
    /// When the ticket was last forwarded (to them).
    pub assigned_at: Option<DateTime<Utc>>,
    /// Passed on to the requester.
    pub relayed: bool,
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
