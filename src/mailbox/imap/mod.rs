//! IMAP inbox over async-imap and tokio-rustls.
//!
//! Connect: TCP (TCP_NODELAY) → TLS (implicit) or greeting + STARTTLS + TLS, or plain
//! on loopback only → greeting → LOGIN → CAPABILITY → the server's layout (`LIST ""
//! ""`, NAMESPACE: see [`super::layout`]) and folder creation (the parent as
//! `duty-desk<sep>`, so that an mbox server makes a folder that can hold folders)
//! → SELECT.
//! Fetch: `UID FETCH n:* (UID)` to list new UIDs (every server answers it; a server
//! that answers nothing while the folder holds messages is read by sequence numbers
//! instead, with a warning), `UID FETCH … (UID RFC822.SIZE
//! INTERNALDATE)` for their sizes, then `UID FETCH` of as many as the batch's byte
//! budget allows with `(UID BODY.PEEK[])`, or `BODY.PEEK[HEADER]` for a letter over
//! the size limit (PEEK: `\Seen` stays as it was). A NO or BAD to one command is a
//! [`MailboxError::Refused`] and keeps the session; for a FETCH or MOVE of several
//! letters each is then tried alone, so one letter's refusal stays that letter's.
//! Wait: IDLE (RFC 2177) renewed every `poll_interval` (at most 29 minutes), for
//! servers whose IDLE does not push; else sleep `poll_interval` and NOOP. Move: `UID
//! MOVE` (RFC 6851), else `UID COPY`, `\Deleted`, `UID EXPUNGE` (RFC 4315). Without
//! UIDPLUS a plain EXPUNGE would also remove what other clients flagged `\Deleted`:
//! it is sent only when `UID SEARCH DELETED` shows no message flagged but ours
//! (and read by [`super::raw`]: GNU Mailutils answers `* n EXPUNGED`);
//! otherwise ours stay flagged in the inbox and [`ImapMailbox::expunge_note`] says so.
//!
//! By job: `connect`, `folders` (layout and creation), `fetch`, `filing` (move
//! and expunge), `wait` (IDLE or poll); here the session's shared parts (one
//! command with its timeout, one command beside async-imap, the errors).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::extensions::idle::IdleResponse;
use async_imap::imap_proto::{Response, Status};
use async_imap::types::UnsolicitedResponse;
use async_imap::{Client, Session};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::layout::{self, Layout};
use super::raw::{self, quoted};
use super::{Budget, Fetched, Folder, HEADER_MAX, ImapSettings, MailboxError, TlsMode};
use super::{tls, utf7};

mod connect;
mod fetch;
mod filing;
mod folders;
mod wait;

/// The header block of a too-large letter, at most [`HEADER_MAX`] bytes of it.
const HEADER_QUERY: &str = "(UID BODY.PEEK[HEADER]<0.262144>)";
const _: () = assert!(HEADER_MAX == 262_144);

/// What is asked of a letter before its body: its size and INTERNALDATE.
type Meta = (u64, Option<DateTime<Utc>>);

/// RFC 2177: clients should re-issue IDLE at least every 29 minutes.
const IDLE_MAX: Duration = Duration::from_secs(29 * 60);

/// The byte stream under async-imap: plain TCP (loopback or before STARTTLS) or TLS.
#[derive(Debug)]
pub enum ImapStream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ImapStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ImapStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ImapStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ImapStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Server abilities that change what we send.
#[derive(Debug, Clone, Copy, Default)]
struct Caps {
    idle: bool,
    mv: bool,
    uidplus: bool,
    namespace: bool,
}

/// Set once a server has answered `UID FETCH n:*` with nothing while it held new
/// messages: the warning is logged once per process, not at every reconnect.
static UID_RANGE_WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// An open, logged-in IMAP inbox with the request folder selected.
pub struct ImapMailbox {
    settings: ImapSettings,
    /// None after a failure in the middle of IDLE (the session was consumed).
    session: Option<Session<ImapStream>>,
    uidvalidity: u32,
    caps: Caps,
    layout: Layout,
    /// An EXISTS/RECENT arrived outside IDLE since the last fetch.
    pending_new: bool,
    /// Messages in the request folder, as SELECT, EXISTS and EXPUNGE said.
    exists: u32,
    /// This server answered `UID FETCH n:*` with nothing while holding messages:
    /// new mail is listed by sequence numbers in this session.
    uid_range_broken: bool,
    /// UIDs this session flagged `\Deleted` and has not yet expunged (no UIDPLUS).
    flagged: HashSet<u32>,
    /// Why some of ours are left flagged in the inbox (no UIDPLUS, and other
    /// messages flagged `\Deleted` by someone else).
    expunge_note: Option<String>,
}

impl fmt::Debug for ImapMailbox {
    // By hand: the settings hold the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapMailbox")
            .field("host", &self.settings.host)
            .field("port", &self.settings.port)
            .field("username", &self.settings.username)
            .field("folder", &self.settings.folder)
            .field("uidvalidity", &self.uidvalidity)
            .field("caps", &self.caps)
            .finish_non_exhaustive()
    }
}

impl ImapMailbox {
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    pub fn uses_idle(&self) -> bool {
        self.settings.idle && self.caps.idle
    }

    /// The full server-side name of `folder`, as it goes out (modified UTF-7).
    pub fn folder_name(&self, folder: Folder) -> String {
        utf7::encode(self.layout.name(folder))
    }

    /// The desk's folder names on this server (Unicode).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Some while letters this session moved are left flagged `\Deleted` in the
    /// inbox (a server without UIDPLUS, where someone else's messages are flagged
    /// too, so no EXPUNGE was sent): the reason, for the log and `status`.
    pub fn expunge_note(&self) -> Option<&str> {
        self.expunge_note.as_deref()
    }

    /// Runs one command with the settings' timeout; `f` gets the session and the
    /// request folder's name.
    async fn cmd<T>(
        &mut self,
        what: &str,
        f: impl for<'a> FnOnce(
            &'a mut Session<ImapStream>,
            &'a str,
        ) -> Pin<
            Box<dyn Future<Output = async_imap::error::Result<T>> + Send + 'a>,
        >,
    ) -> Result<T, MailboxError> {
        let host = self.settings.host.clone();
        let folder = self.settings.folder.clone();
        let Some(session) = self.session.as_mut() else {
            return Err(lost(&host));
        };
        let r = timed(&host, self.settings.timeout, what, async {
            f(session, &folder).await.map_err(|e| match e {
                // A tagged NO or BAD ends the command: the session is still good.
                async_imap::error::Error::No(reason) | async_imap::error::Error::Bad(reason) => {
                    MailboxError::Refused {
                        host: host.clone(),
                        command: what.to_string(),
                        reason,
                    }
                }
                other => imap_err(&host, other),
            })
        })
        .await;
        if matches!(&r, Err(e) if !e.is_refusal()) {
            // The session may be in the middle of a response: never reuse it.
            self.session = None;
        }
        r
    }

    /// `LIST ARGS` by [`raw_command`](Self::raw_command): (name, separator) of
    /// every folder listed; a NO or BAD is a [`MailboxError::Refused`].
    async fn list(&mut self, args: &str) -> Result<Vec<(String, Option<String>)>, MailboxError> {
        let answer = self.raw_command("DDLS", &format!("LIST {args}")).await?;
        if !answer.ok {
            return Err(MailboxError::Refused {
                host: self.settings.host.clone(),
                command: "LIST".to_string(),
                reason: answer.text,
            });
        }
        Ok(answer.listed())
    }

    /// One command written to the stream and its answer read here, line by line,
    /// between two commands of async-imap's (nothing of theirs is in flight then):
    /// for answers async-imap cannot parse. A broken connection ends the session.
    async fn raw_command(&mut self, tag: &str, command: &str) -> Result<raw::Answer, MailboxError> {
        let host = self.settings.host.clone();
        let Some(session) = self.session.as_mut() else {
            return Err(lost(&host));
        };
        let r = timed(&host, self.settings.timeout, command, async {
            raw::exchange(session.get_mut(), tag, command)
                .await
                .map_err(|e| conn(&host, e))
        })
        .await;
        if r.is_err() {
            self.session = None;
        }
        r
    }

    /// LOGOUT, best effort.
    pub async fn logout(mut self) {
        if let Some(mut s) = self.session.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), s.logout()).await;
        }
    }
}

async fn read_greeting(
    client: &mut Client<ImapStream>,
    host: &str,
    t: Duration,
) -> Result<(), MailboxError> {
    let greeting = timed(host, t, "greeting", async {
        client.read_response().await.map_err(|e| conn(host, e))
    })
    .await?;
    let Some(greeting) = greeting else {
        return Err(conn(
            host,
            io::Error::new(io::ErrorKind::UnexpectedEof, "closed before the greeting"),
        ));
    };
    match greeting.parsed() {
        Response::Data {
            status: Status::Ok | Status::PreAuth,
            ..
        } => Ok(()),
        other => Err(MailboxError::Protocol {
            host: host.to_string(),
            reason: format!("unexpected greeting: {other:?}"),
        }),
    }
}

/// Runs `fut` with a time limit; a timeout is a connection error.
async fn timed<T>(
    host: &str,
    t: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, MailboxError>>,
) -> Result<T, MailboxError> {
    match tokio::time::timeout(t, fut).await {
        Ok(r) => r,
        Err(_) => Err(conn(
            host,
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{what} timed out after {t:?}"),
            ),
        )),
    }
}

fn conn(host: &str, source: io::Error) -> MailboxError {
    MailboxError::Connection {
        host: host.to_string(),
        source,
    }
}

fn lost(host: &str) -> MailboxError {
    conn(
        host,
        io::Error::new(
            io::ErrorKind::NotConnected,
            "the IMAP session was lost; reconnect",
        ),
    )
}

fn imap_err(host: &str, e: async_imap::error::Error) -> MailboxError {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) => conn(host, io),
        E::ConnectionLost => conn(
            host,
            io::Error::new(io::ErrorKind::UnexpectedEof, "connection lost"),
        ),
        other => MailboxError::Protocol {
            host: host.to_string(),
            reason: other.to_string(),
        },
    }
}

fn create_failed(host: &str, name: &str, e: MailboxError) -> MailboxError {
    if e.is_refusal() {
        MailboxError::Protocol {
            host: host.to_string(),
            reason: format!(
                "cannot create folder {name}: {e}; set [mailbox] folder_prefix to a folder this account may create"
            ),
        }
    } else {
        e
    }
}

/// `imap:{uidvalidity}:{uid}` → (uidvalidity, uid).
fn parse_key(key: &str) -> Option<(u32, u32)> {
    let rest = key.strip_prefix("imap:")?;
    let (v, u) = rest.split_once(':')?;
    Some((v.parse().ok()?, u.parse().ok()?))
}

/// Sorted UIDs → an IMAP sequence set with ranges (`1:3,7,9:10`).
fn uid_set(sorted: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_sets_compress_runs() {
        assert_eq!(uid_set(&[1, 2, 3, 7, 9, 10]), "1:3,7,9:10");
        assert_eq!(uid_set(&[5]), "5");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn keys_parse() {
        assert_eq!(parse_key("imap:42:7"), Some((42, 7)));
        assert_eq!(parse_key("maildir:abc"), None);
        assert_eq!(parse_key("imap:x:7"), None);
    }
}
