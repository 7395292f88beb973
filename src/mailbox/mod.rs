//! The inbox: where requests arrive. IMAP (async-imap over tokio-rustls, IDLE or
//! polling) or a local Maildir (the embedded default, for `demo` and flow tests).
//!
//! The mailbox persists nothing. The daemon keeps, in its state store, the folder's
//! UIDVALIDITY and the last UID it handled, and passes the UID to
//! [`Mailbox::fetch_new`]. After every [`Mailbox::connect`] it must compare
//! [`Mailbox::uidvalidity`] with the stored value: a change means the UIDs were
//! renumbered, so it rescans from UID 0 and recognises handled messages by Message-ID.
//!
//! Nothing is ever deleted: a handled message is moved into one of the
//! `duty-desk/…` folders ([`Folder`]), created at connect time.
//!
//! Errors are typed ([`MailboxError`]) so the caller can branch: TLS and
//! authentication failures need a person; connection and protocol failures call for
//! a reconnect with [`Backoff`]. After any error other than `Stale` or `Refused`,
//! drop the `Mailbox` and connect again (its session may be half-way through a
//! command). A `Refused` (the server's NO or BAD) ended its command cleanly: the
//! session goes on. For one letter's FETCH or MOVE the refusal is reported per
//! letter ([`Fetched::refused`], the list [`Mailbox::move_many`] returns), so one
//! letter the server will not give or move never holds up the others.
//!
//! Memory: [`Mailbox::fetch_batch`] asks for sizes before bodies, bounds a batch
//! by bytes (a [`Budget`]) and reads a letter over the size limit to the end of
//! its header block only.
//!
//! A typical loop (the daemon's, sketched):
//! ```text
//! let mut backoff = Backoff::default();
//! loop {
//!     let mut mb = match Mailbox::connect(&settings).await {
//!         Ok(mb) => mb, Err(e) => { sleep(backoff.next_delay()).await; continue }
//!     };
//!     if mb.uidvalidity() != stored_validity { rescan from 0 }
//!     loop {
//!         let batch = mb.fetch_batch(last_uid, &budget).await?;   // on error: break, reconnect
//!         backoff.reset();
//!         for m in batch {
//!             if m.refused.is_some() { record, retry later; continue }
//!             decide + commit; last_uid = m.uid
//!         }
//!         for (key, why) in mb.move_many(&decided).await? { record, retry the move later }
//!         if batch.is_empty() { mb.wait_for_new(Duration::from_secs(300)).await?; }
//!     }
//! }
//! ```

mod imap;
pub mod layout;
mod maildir;
mod raw;
pub mod tls;
pub mod utf7;

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use crate::ticket::Folder;
pub use imap::ImapMailbox;
pub use maildir::MaildirMailbox;

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// TLS from the first byte (IMAP 993, SMTP 465).
    #[default]
    Implicit,
    /// Plain connection upgraded with STARTTLS before login (IMAP 143, SMTP 587);
    /// a server that refuses STARTTLS is an error, never a plain-text session.
    Starttls,
    /// No TLS at all: allowed for loopback hosts only (`localhost`, 127.0.0.0/8, ::1).
    None,
}

/// One message as read from the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Stable identity for the state store: `imap:{uidvalidity}:{uid}` or
    /// `maildir:{unique part of the file name}`.
    pub key: String,
    /// The IMAP UID (None for Maildir).
    pub uid: Option<u32>,
    /// When the server received it (IMAP INTERNALDATE; the file's mtime for Maildir).
    /// Lets the daemon leave messages older than `start_from` alone.
    pub internal_date: Option<DateTime<Utc>>,
    /// The complete message as stored (RFC 5322 bytes); for a letter over the
    /// budget's `max_message_size` only its header block (see [`Fetched::is_whole`]),
    /// and empty when the server refused to give it ([`Fetched::refused`]).
    pub raw: Vec<u8>,
    /// The letter's full size in bytes (IMAP RFC822.SIZE; the file's size for
    /// Maildir), also when only its header was read.
    pub size: u64,
    /// The server answered NO (or BAD) to fetching this letter: its reason. The rest
    /// of the batch is unaffected; the caller retries this one later.
    pub refused: Option<String>,
}

impl Fetched {
    /// Whether `raw` is the whole letter (not just its header, not refused).
    pub fn is_whole(&self) -> bool {
        self.refused.is_none() && self.raw.len() as u64 >= self.size
    }
}

/// How much one [`Mailbox::fetch_batch`] may bring into memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// At most this many letters.
    pub letters: usize,
    /// At most this many bytes of letters in all, counting a too-large letter by its
    /// header only; a batch always holds at least one letter, however large.
    pub bytes: u64,
    /// A letter larger than this is never read whole: only its header block
    /// (at most [`HEADER_MAX`] bytes) is.
    pub max_message_size: u64,
}

impl Budget {
    /// Up to `letters` letters, of any size, read whole.
    pub fn letters(letters: usize) -> Budget {
        Budget {
            letters,
            bytes: u64::MAX,
            max_message_size: u64::MAX,
        }
    }

    /// What a letter of `size` bytes costs the budget.
    pub fn cost(&self, size: u64) -> u64 {
        if size > self.max_message_size {
            size.min(HEADER_MAX as u64)
        } else {
            size
        }
    }

    /// How many of letters of these sizes (in order) one batch takes: at most
    /// `letters`, at most `bytes` in all, and always at least one when there is one.
    pub fn take(&self, sizes: impl IntoIterator<Item = u64>) -> usize {
        let mut total = 0u64;
        let mut n = 0;
        for size in sizes {
            if n >= self.letters {
                break;
            }
            let cost = self.cost(size);
            if n > 0 && total.saturating_add(cost) > self.bytes {
                break;
            }
            total = total.saturating_add(cost);
            n += 1;
        }
        n
    }
}

/// The most of a too-large letter's header block that is read (256 KiB): what
/// `request::understand_sized` judges such a letter by.
pub const HEADER_MAX: usize = 256 * 1024;

/// IMAP connection settings (plain data; the config module fills it).
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Extra trust root(s), PEM, on top of the system's.
    pub ca_file: Option<PathBuf>,
    pub username: String,
    pub password: String,
    /// The folder requests arrive in (usually `INBOX`).
    pub folder: String,
    /// Use IDLE when the server offers it; otherwise poll.
    pub idle: bool,
    /// How often to look when not idling, and how often IDLE is renewed (at most
    /// every 29 minutes): the safety net for servers whose IDLE does not push.
    pub poll_interval: Duration,
    /// The parent of the desk's folders, levels written with "/" whatever the
    /// server's separator (`INBOX/Заявки`); None: `duty-desk` in the server's
    /// personal namespace.
    pub folder_prefix: Option<String>,
    /// Limit for connecting and for each command (not for IDLE's wait).
    pub timeout: Duration,
}

impl Default for ImapSettings {
    fn default() -> Self {
        ImapSettings {
            host: String::new(),
            port: 993,
            tls: TlsMode::Implicit,
            ca_file: None,
            username: String::new(),
            password: String::new(),
            folder: "INBOX".into(),
            idle: true,
            poll_interval: Duration::from_secs(60),
            folder_prefix: None,
            timeout: Duration::from_secs(60),
        }
    }
}

/// A Maildir inbox (`new/` and `cur/` of `path`).
#[derive(Debug, Clone)]
pub struct MaildirSettings {
    pub path: PathBuf,
    /// How often [`Mailbox::wait_for_new`] looks again.
    pub poll_interval: Duration,
}

/// Where requests arrive.
#[derive(Debug, Clone)]
pub enum MailboxSettings {
    Imap(ImapSettings),
    Maildir(MaildirSettings),
}

/// What went wrong, typed so callers can branch.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    /// The settings cannot work (e.g. `tls = none` for a remote host). Needs a person.
    #[error("mailbox settings: {0}")]
    Config(String),
    /// TLS failed: wrong or untrusted certificate, no STARTTLS, handshake error.
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    /// The server refused the login.
    #[error("login as {username} at {host} refused: {reason}")]
    Auth {
        host: String,
        username: String,
        reason: String,
    },
    /// Network trouble: refused, reset, closed, timed out. Reconnect with backoff.
    #[error("connection to {host} failed: {source}")]
    Connection {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// The server answered something unexpected. Reconnect with backoff.
    #[error("IMAP server {host}: {reason}")]
    Protocol { host: String, reason: String },
    /// The server answered NO or BAD to one command (a quota refusal, a message it
    /// cannot read, a folder it will not write): the command is over and the session
    /// is still good. For a command about one letter (its FETCH, its MOVE) that
    /// letter's trouble, not the connection's: record it and go on with the others.
    #[error("IMAP server {host} refused {command}: {reason}")]
    Refused {
        host: String,
        command: String,
        reason: String,
    },
    /// `move_to` got a message from another UIDVALIDITY or another mailbox kind.
    #[error("message {key} does not belong to this mailbox session: {reason}")]
    Stale { key: String, reason: String },
    /// Local file trouble (Maildir).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl MailboxError {
    /// Whether trying again later (reconnect with [`Backoff`]) may help by itself.
    /// TLS, login and settings problems need a person (the daemon may still retry,
    /// slowly, and should log them loudly).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailboxError::Connection { .. }
                | MailboxError::Protocol { .. }
                | MailboxError::Refused { .. }
                | MailboxError::Io { .. }
        )
    }

    /// Whether the server refused one command on a session that is still good
    /// ([`MailboxError::Refused`]), as opposed to a lost or broken connection.
    pub fn is_refusal(&self) -> bool {
        matches!(self, MailboxError::Refused { .. })
    }
}

impl From<tls::TlsError> for MailboxError {
    fn from(e: tls::TlsError) -> Self {
        MailboxError::Tls {
            host: e.host,
            reason: e.reason,
        }
    }
}

/// An open inbox.
#[derive(Debug)]
pub enum Mailbox {
    Imap(Box<ImapMailbox>),
    Maildir(MaildirMailbox),
}

impl Mailbox {
    /// Connects (IMAP: TCP, TLS, greeting, login, capabilities, folder creation,
    /// SELECT) or opens the Maildir (creating it and the `duty-desk` folders).
    pub async fn connect(settings: &MailboxSettings) -> Result<Self, MailboxError> {
        match settings {
            MailboxSettings::Imap(s) => Ok(Mailbox::Imap(Box::new(ImapMailbox::connect(s).await?))),
            MailboxSettings::Maildir(s) => Ok(Mailbox::Maildir(MaildirMailbox::open(s)?)),
        }
    }

    /// The selected folder's UIDVALIDITY (Maildir: always 1).
    pub fn uidvalidity(&self) -> u32 {
        match self {
            Mailbox::Imap(m) => m.uidvalidity(),
            Mailbox::Maildir(_) => MaildirMailbox::UIDVALIDITY,
        }
    }

    /// Up to `limit` messages with UID > `after_uid`, in UID order (IMAP), or up to
    /// `limit` messages still in `new/`+`cur/`, oldest first (Maildir; `after_uid` is
    /// ignored: handled messages have been moved out). Does not set `\Seen`.
    /// Every letter is read whole: see [`fetch_batch`](Self::fetch_batch).
    pub async fn fetch_new(
        &mut self,
        after_uid: u32,
        limit: usize,
    ) -> Result<Vec<Fetched>, MailboxError> {
        self.fetch_batch(after_uid, &Budget::letters(limit)).await
    }

    /// Like [`fetch_new`](Self::fetch_new), within a [`Budget`]: the sizes are asked
    /// first (IMAP RFC822.SIZE, the file size for Maildir), the batch holds as many
    /// letters as the budget's bytes allow (at least one), and a letter over
    /// `max_message_size` comes with its header block only. A letter the server
    /// refuses to give comes with [`Fetched::refused`] set; the others still come.
    pub async fn fetch_batch(
        &mut self,
        after_uid: u32,
        budget: &Budget,
    ) -> Result<Vec<Fetched>, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.fetch_new(after_uid, budget).await,
            Mailbox::Maildir(m) => m.fetch_new(budget),
        }
    }

    /// The letters with these keys, again (a retry of letters refused earlier), within
    /// `budget`'s `max_message_size`; keys of letters no longer in the inbox are
    /// left out. Maildir: read from `new/` or `cur/` wherever the file is now.
    pub async fn fetch_keys(
        &mut self,
        keys: &[String],
        budget: &Budget,
    ) -> Result<Vec<Fetched>, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.fetch_keys(keys, budget).await,
            Mailbox::Maildir(m) => m.fetch_keys(keys, budget),
        }
    }

    /// For a first start with `start_from`: the highest UID such that every message
    /// up to it arrived (INTERNALDATE) before `start_from`, found without downloading
    /// any message body. Pass it as `after_uid` to skip a years-old backlog; messages
    /// after it still carry `internal_date` for the caller's own check. 0 when none
    /// is older. Maildir: always 0 (the caller checks `internal_date`, the file's
    /// mtime, and leaves old files where they are).
    pub async fn last_uid_before(
        &mut self,
        start_from: DateTime<Utc>,
    ) -> Result<u32, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.last_uid_before(start_from).await,
            Mailbox::Maildir(_) => Ok(0),
        }
    }

    /// How many messages the `duty-desk/…` folders hold: a sign of an earlier run
    /// (the daemon refuses to start on an empty state store when it is not 0).
    pub async fn filed_count(&mut self) -> Result<u64, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.filed_count().await,
            Mailbox::Maildir(m) => m.filed_count(),
        }
    }

    /// Whether `folder` already holds a letter with this Message-ID. A server stopped
    /// in the middle of a MOVE (copy done, expunge not) leaves a letter in both
    /// places; the daemon asks this before moving a letter again after a crash.
    /// Maildir moves are renames, so the answer there is always false.
    pub async fn filed_copy(
        &mut self,
        folder: Folder,
        message_id: &str,
    ) -> Result<bool, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.filed_copy(folder, message_id).await,
            Mailbox::Maildir(_) => Ok(false),
        }
    }

    /// Removes the inbox copy of a letter that is already filed (see
    /// [`filed_copy`](Self::filed_copy)): the one deletion duty-desk makes, of an
    /// exact duplicate the server left behind.
    pub async fn discard_copy(&mut self, fetched: &Fetched) -> Result<(), MailboxError> {
        match self {
            Mailbox::Imap(m) => m.discard_copy(fetched).await,
            Mailbox::Maildir(_) => Ok(()),
        }
    }

    /// Moves a handled message into `folder`. Never deletes.
    pub async fn move_to(&mut self, fetched: &Fetched, folder: Folder) -> Result<(), MailboxError> {
        match self {
            Mailbox::Imap(m) => m.move_to(fetched, folder).await,
            Mailbox::Maildir(m) => m.move_to(fetched, folder),
        }
    }

    /// Moves several handled messages, each into its folder: on IMAP with MOVE one
    /// command per folder. Messages already gone from the inbox are skipped.
    ///
    /// Returns the letters the server refused to move (key and reason): when one UID
    /// MOVE of several letters is refused, each of its letters is moved alone, so
    /// only the ones the server refuses by themselves are returned. Any other error
    /// (a lost connection) is an `Err`.
    pub async fn move_many(
        &mut self,
        items: &[(&Fetched, Folder)],
    ) -> Result<Vec<(String, String)>, MailboxError> {
        match self {
            Mailbox::Imap(m) => m.move_many(items).await,
            Mailbox::Maildir(m) => {
                let mut refused = Vec::new();
                for (f, folder) in items {
                    match m.move_to(f, *folder) {
                        Ok(()) | Err(MailboxError::Stale { .. }) => {}
                        // A rename refused for this one file (permissions, say).
                        Err(e @ MailboxError::Io { .. }) => {
                            refused.push((f.key.clone(), e.to_string()))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(refused)
            }
        }
    }

    /// Returns when new mail may have arrived, or after at most `max_wait`.
    /// IMAP: IDLE (when enabled and offered; re-issued every `poll_interval`, at
    /// most 29 minutes), otherwise sleeps `poll_interval` and sends NOOP. Maildir:
    /// sleeps.
    pub async fn wait_for_new(&mut self, max_wait: Duration) -> Result<(), MailboxError> {
        match self {
            Mailbox::Imap(m) => m.wait_for_new(max_wait).await,
            Mailbox::Maildir(m) => {
                m.wait_for_new(max_wait).await;
                Ok(())
            }
        }
    }

    /// Some while letters moved in this session are left flagged `\Deleted` in the
    /// inbox, unexpunged (IMAP without UIDPLUS, others' deletions pending): why.
    pub fn expunge_note(&self) -> Option<&str> {
        match self {
            Mailbox::Imap(m) => m.expunge_note(),
            Mailbox::Maildir(_) => None,
        }
    }

    /// Whether waiting uses IMAP IDLE (false: polling).
    pub fn uses_idle(&self) -> bool {
        match self {
            Mailbox::Imap(m) => m.uses_idle(),
            Mailbox::Maildir(_) => false,
        }
    }

    /// Logs out politely (IMAP). Dropping the mailbox without it is also fine.
    pub async fn close(self) {
        if let Mailbox::Imap(m) = self {
            m.logout().await;
        }
    }
}

/// Exponential backoff with jitter for reconnects and retries: each delay is drawn
/// from [d/2, d], d doubling from `initial` up to `max`; `reset` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            current: initial,
        }
    }

    /// The next delay to sleep before trying again.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.current;
        self.current = (self.current * 2).min(self.max);
        let half = d / 2;
        half + half.mul_f64(fastrand::f64())
    }

    /// Back to `initial` (call after a success).
    pub fn reset(&mut self) {
        self.current = self.initial;
    }
}

impl Default for Backoff {
    /// 1 s doubling to 5 minutes.
    fn default() -> Self {
        Backoff::new(Duration::from_secs(1), Duration::from_secs(300))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let d: Vec<Duration> = (0..8).map(|_| b.next_delay()).collect();
        let bounds = [100, 200, 400, 800, 1000, 1000, 1000, 1000];
        for (got, max) in d.iter().zip(bounds) {
            let max = Duration::from_millis(max);
            assert!(
                *got >= max / 2 && *got <= max,
                "{got:?} not in [{:?}, {max:?}]",
                max / 2
            );
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn only_network_and_protocol_errors_are_transient() {
        let conn = MailboxError::Connection {
            host: "h".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        };
        assert!(conn.is_transient());
        let tls = MailboxError::Tls {
            host: "h".into(),
            reason: "r".into(),
        };
        assert!(!tls.is_transient());
    }
}
