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
    /// See [`super::Mailbox::connect`].
    pub async fn connect(s: &ImapSettings) -> Result<Self, MailboxError> {
        let host = s.host.as_str();
        if s.tls == TlsMode::None && !tls::is_loopback(host) {
            return Err(MailboxError::Config(format!(
                "tls = \"none\" is only allowed for loopback hosts, not {host}"
            )));
        }
        let tls_config = match s.tls {
            TlsMode::None => None,
            _ => Some(tls::client_config(host, s.ca_file.as_deref())?),
        };
        let t = s.timeout;
        let tcp = timed(host, t, "connect", async {
            TcpStream::connect((host, s.port))
                .await
                .map_err(|e| conn(host, e))
        })
        .await?;
        // Commands are small writes waiting for a reply: no Nagle delay.
        let _ = tcp.set_nodelay(true);

        let client = match (s.tls, tls_config) {
            (TlsMode::Implicit, Some(cfg)) => {
                let tls = timed(host, t, "TLS handshake", async {
                    Ok(tls::handshake(cfg, host, tcp).await?)
                })
                .await?;
                let mut client = Client::new(ImapStream::Tls(Box::new(tls)));
                read_greeting(&mut client, host, t).await?;
                client
            }
            (TlsMode::Starttls, Some(cfg)) => {
                let mut client = Client::new(ImapStream::Plain(tcp));
                read_greeting(&mut client, host, t).await?;
                timed(host, t, "STARTTLS", async {
                    client
                        .run_command_and_check_ok("STARTTLS", None)
                        .await
                        .map_err(|e| match e {
                            async_imap::error::Error::Io(e) => conn(host, e),
                            other => MailboxError::Tls {
                                host: host.to_string(),
                                reason: format!("server refused STARTTLS: {other}"),
                            },
                        })
                })
                .await?;
                let ImapStream::Plain(tcp) = client.into_inner() else {
                    // Invariant: the client above was built on the plain stream.
                    unreachable!("STARTTLS client wraps a plain stream")
                };
                let tls = timed(host, t, "TLS handshake", async {
                    Ok(tls::handshake(cfg, host, tcp).await?)
                })
                .await?;
                // No new greeting after STARTTLS (RFC 3501 6.2.1).
                Client::new(ImapStream::Tls(Box::new(tls)))
            }
            _ => {
                let mut client = Client::new(ImapStream::Plain(tcp));
                read_greeting(&mut client, host, t).await?;
                client
            }
        };

        let mut session = timed(host, t, "LOGIN", async {
            client
                .login(&s.username, &s.password)
                .await
                .map_err(|(e, _)| match e {
                    async_imap::error::Error::No(reason)
                    | async_imap::error::Error::Bad(reason) => MailboxError::Auth {
                        host: host.to_string(),
                        username: s.username.clone(),
                        reason,
                    },
                    other => imap_err(host, other),
                })
        })
        .await?;

        let caps = timed(host, t, "CAPABILITY", async {
            session.capabilities().await.map_err(|e| imap_err(host, e))
        })
        .await?;
        let caps = Caps {
            idle: caps.has_str("IDLE"),
            mv: caps.has_str("MOVE"),
            uidplus: caps.has_str("UIDPLUS"),
            namespace: caps.has_str("NAMESPACE"),
        };

        let layout = Layout::plan(None, "", s.folder_prefix.as_deref())
            .map_err(|e| MailboxError::Config(format!("mailbox.{e}")))?;
        let mut mailbox = ImapMailbox {
            settings: s.clone(),
            session: Some(session),
            uidvalidity: 0,
            caps,
            layout,
            pending_new: false,
            exists: 0,
            uid_range_broken: false,
            flagged: HashSet::new(),
            expunge_note: None,
        };
        mailbox.create_folders().await?;
        let selected = mailbox
            .cmd("SELECT", |sess, folder| {
                Box::pin(async move { sess.select(folder).await })
            })
            .await?;
        mailbox.uidvalidity = selected
            .uid_validity
            .ok_or_else(|| MailboxError::Protocol {
                host: host.to_string(),
                reason: format!("SELECT {} gave no UIDVALIDITY", s.folder),
            })?;
        mailbox.exists = selected.exists;
        mailbox.drain();
        Ok(mailbox)
    }

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

    /// One command sent as written, its untagged answers collected until its tagged
    /// one: a NO or BAD is a [`MailboxError::Refused`] (async-imap's own `list`
    /// neither quotes an empty pattern nor looks at the tagged status).
    async fn raw_list(
        &mut self,
        command: String,
    ) -> Result<Vec<(String, Option<String>)>, MailboxError> {
        let what = command.split(' ').next().unwrap_or("LIST").to_string();
        self.cmd(&what, move |sess, _| {
            Box::pin(async move {
                let tag = sess.run_command(&command).await?;
                let mut names = Vec::new();
                loop {
                    let Some(resp) = sess.read_response().await? else {
                        return Err(async_imap::error::Error::ConnectionLost);
                    };
                    match resp.parsed() {
                        Response::MailboxData(async_imap::imap_proto::MailboxDatum::List(l)) => {
                            names.push((
                                l.name.to_string(),
                                l.delimiter.as_ref().map(|d| d.to_string()),
                            ));
                        }
                        Response::Done {
                            tag: t,
                            status,
                            outcome,
                        } if *t == tag => {
                            let why = outcome.information.as_deref().unwrap_or("").to_string();
                            return match status {
                                Status::Ok => Ok(names),
                                Status::No => Err(async_imap::error::Error::No(why)),
                                _ => Err(async_imap::error::Error::Bad(why)),
                            };
                        }
                        _ => {}
                    }
                }
            })
        })
        .await
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

    /// The personal namespace (RFC 2342), by [`raw_command`](Self::raw_command):
    /// async-imap cannot parse a NAMESPACE answer (it would break the session).
    /// None when the server names no personal namespace or refuses the command.
    async fn namespace(&mut self) -> Result<Option<layout::Namespace>, MailboxError> {
        let answer = self.raw_command("DDNS", "NAMESPACE").await?;
        if !answer.ok {
            return Ok(None);
        }
        Ok(answer
            .untagged
            .iter()
            .find_map(|l| layout::parse_namespace(l)))
    }

    /// Learns the server's layout (the separator from `LIST "" ""`, the personal
    /// namespace from NAMESPACE) and creates the desk's folders that are missing
    /// (and subscribes them, so mail clients show them). A refused top-level
    /// parent is tried again under `INBOX<separator>`.
    async fn create_folders(&mut self) -> Result<(), MailboxError> {
        let host = self.settings.host.clone();
        let mut separator = match self.raw_list("LIST \"\" \"\"".to_string()).await {
            Ok(names) => names.into_iter().find_map(|(_, d)| d),
            Err(e) if e.is_refusal() => None,
            Err(e) => return Err(e),
        };
        let mut prefix = String::new();
        if self.caps.namespace
            && let Some(ns) = self.namespace().await?
        {
            prefix = ns.prefix;
            if separator.is_none() {
                separator = ns.separator;
            }
        }
        let mut layout = Layout::plan(
            separator.as_deref(),
            &prefix,
            self.settings.folder_prefix.as_deref(),
        )
        .map_err(|e| MailboxError::Config(format!("mailbox.{e}")))?;
        let existing = self.existing_folders(&layout).await?;
        layout.reuse_existing(&existing);
        match self.make_folders(&layout, &existing).await {
            Ok(()) => {}
            Err((name, e)) => {
                let Some(mut inbox) = layout
                    .under_inbox()
                    .filter(|_| e.is_refusal() && name == layout.parent())
                else {
                    return Err(create_failed(&host, &name, e));
                };
                let existing = self.existing_folders(&inbox).await?;
                inbox.reuse_existing(&existing);
                self.make_folders(&inbox, &existing)
                    .await
                    .map_err(|(name2, e2)| MailboxError::Protocol {
                        host: host.clone(),
                        reason: format!(
                            "cannot create folder {name} ({e}) nor {name2} ({e2}); set [mailbox] folder_prefix to a folder this account may create"
                        ),
                    })?;
                layout = inbox;
            }
        }
        self.layout = layout;
        Ok(())
    }

    /// The names (decoded) of folders that may be the desk's: under the planned
    /// parent and the old top-level `duty-desk` names.
    async fn existing_folders(&mut self, layout: &Layout) -> Result<HashSet<String>, MailboxError> {
        let mut existing = HashSet::new();
        let mut patterns = vec![
            format!("{}*", layout.parent()),
            format!("{}*", Folder::PARENT),
        ];
        patterns.dedup();
        for p in patterns {
            let cmd = format!("LIST \"\" {}", quoted(&utf7::encode(&p)));
            match self.raw_list(cmd).await {
                Ok(names) => existing.extend(
                    names
                        .into_iter()
                        .map(|(n, _)| utf7::decode(&n).unwrap_or(n)),
                ),
                Err(e) if e.is_refusal() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(existing)
    }

    /// CREATE (and SUBSCRIBE) every folder of `layout` not in `existing`; the
    /// first refusal stops, naming the folder. The parent goes out with the
    /// separator after it, the RFC 3501 (6.3.3) way of saying it will hold
    /// folders (GNU Mailutils makes a plain name an mbox file, which cannot), and
    /// once more without it if a server refuses that.
    async fn make_folders(
        &mut self,
        layout: &Layout,
        existing: &HashSet<String>,
    ) -> Result<(), (String, MailboxError)> {
        for name in layout.wanted() {
            if existing.contains(&name) {
                continue;
            }
            let wire = utf7::encode(&name);
            let made = if name == layout.parent() {
                let sep = utf7::encode(layout.separator());
                match self.create(format!("{wire}{sep}")).await {
                    Err(e) if e.is_refusal() => self.create(wire.clone()).await,
                    other => other,
                }
            } else {
                self.create(wire.clone()).await
            };
            made.map_err(|e| (name.clone(), e))?;
            // Best effort: a server without subscriptions still works.
            let _ = self
                .cmd("SUBSCRIBE", move |sess, _| {
                    Box::pin(async move { sess.subscribe(&wire).await })
                })
                .await;
            if self.session.is_none() {
                return Err((name, lost(&self.settings.host)));
            }
        }
        Ok(())
    }

    /// One CREATE; a folder that exists already is no refusal.
    async fn create(&mut self, wire: String) -> Result<(), MailboxError> {
        self.cmd("CREATE", move |sess, _| {
            Box::pin(async move {
                match sess.create(&wire).await {
                    // Created meanwhile, or a server that has the parent implicitly.
                    Err(async_imap::error::Error::No(r))
                        if r.contains("ALREADYEXISTS")
                            || r.to_ascii_lowercase().contains("exists") =>
                    {
                        Ok(())
                    }
                    other => other,
                }
            })
        })
        .await
    }

    /// See [`super::Mailbox::filed_count`]: `STATUS (MESSAGES)` of each `duty-desk` folder.
    pub async fn filed_count(&mut self) -> Result<u64, MailboxError> {
        let mut total = 0u64;
        for f in Folder::ALL {
            let name = self.folder_name(f);
            let n = self
                .cmd("STATUS", move |sess, _| {
                    Box::pin(async move { sess.status(&name, "(MESSAGES)").await })
                })
                .await?;
            total += u64::from(n.exists);
        }
        Ok(total)
    }

    /// See [`super::Mailbox::fetch_batch`]: `UID SEARCH UID n:*`, then the sizes
    /// (`UID FETCH … (UID RFC822.SIZE INTERNALDATE)`, no body), then the bodies of
    /// as many as the budget allows: `BODY.PEEK[]` for those within
    /// `max_message_size`, `BODY.PEEK[HEADER]` (at most [`HEADER_MAX`] bytes) for
    /// larger ones.
    pub async fn fetch_new(
        &mut self,
        after_uid: u32,
        budget: &Budget,
    ) -> Result<Vec<Fetched>, MailboxError> {
        self.pending_new = false;
        let Some(start) = after_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        if budget.letters == 0 {
            return Ok(Vec::new());
        }
        let mut uids = self.new_uids(start).await?;
        uids.sort_unstable();
        uids.truncate(budget.letters);
        let out = self.fetch_uids(&uids, budget, true).await?;
        self.drain();
        Ok(out)
    }

    /// The UIDs of at least `start`: `UID FETCH start:* (UID)`, which every server
    /// answers (`UID SEARCH UID n:*` returns nothing on some). `n:*` always matches
    /// the highest UID (RFC 3501 6.4.8), so an empty answer from a folder that holds
    /// messages is the server's fault: the folder is then listed by sequence number
    /// (`FETCH 1:* (UID)`) for the rest of the session, with one warning.
    async fn new_uids(&mut self, start: u32) -> Result<Vec<u32>, MailboxError> {
        if !self.uid_range_broken {
            let set = format!("{start}:*");
            let got = self.uids_of("UID FETCH", set, true).await?;
            self.drain();
            if !got.is_empty() || self.exists == 0 {
                return Ok(got.into_iter().filter(|u| *u >= start).collect());
            }
        }
        let all = self.uids_of("FETCH", "1:*".to_string(), false).await?;
        self.drain();
        if all.is_empty() {
            self.exists = 0;
            return Ok(all);
        }
        if !self.uid_range_broken {
            self.uid_range_broken = true;
            if !UID_RANGE_WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(
                    host = %self.settings.host,
                    messages = all.len(),
                    "mailbox: the server answered UID FETCH {start}:* with nothing while the folder holds messages; listing new mail by sequence numbers instead"
                );
            }
        }
        Ok(all.into_iter().filter(|u| *u >= start).collect())
    }

    /// The UIDs a `FETCH`/`UID FETCH` of `set` with `(UID)` names; a refusal reads
    /// as none (an empty folder answers `1:*` with NO or BAD on some servers).
    async fn uids_of(
        &mut self,
        what: &'static str,
        set: String,
        by_uid: bool,
    ) -> Result<Vec<u32>, MailboxError> {
        let r = self
            .cmd(what, move |sess, _| {
                Box::pin(async move {
                    let fetches: Vec<_> = if by_uid {
                        sess.uid_fetch(&set, "(UID)").await?.try_collect().await?
                    } else {
                        sess.fetch(&set, "(UID)").await?.try_collect().await?
                    };
                    Ok(fetches.iter().filter_map(|f| f.uid).collect::<Vec<u32>>())
                })
            })
            .await;
        match r {
            Ok(mut uids) => {
                uids.sort_unstable();
                uids.dedup();
                Ok(uids)
            }
            Err(e) if e.is_refusal() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// See [`super::Mailbox::fetch_keys`].
    pub async fn fetch_keys(
        &mut self,
        keys: &[String],
        budget: &Budget,
    ) -> Result<Vec<Fetched>, MailboxError> {
        let mut uids: Vec<u32> = keys
            .iter()
            .filter_map(|k| parse_key(k))
            .filter(|(v, _)| *v == self.uidvalidity)
            .map(|(_, uid)| uid)
            .collect();
        uids.sort_unstable();
        uids.dedup();
        let out = self.fetch_uids(&uids, budget, false).await?;
        self.drain();
        Ok(out)
    }

    /// Sizes first, then the bodies of these UIDs (in order) within `budget`; with
    /// `cut`, only as many as the budget's bytes allow, else all of them.
    async fn fetch_uids(
        &mut self,
        uids: &[u32],
        budget: &Budget,
        cut: bool,
    ) -> Result<Vec<Fetched>, MailboxError> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        // UID → (size, INTERNALDATE), or the server's refusal; a UID with no answer
        // was expunged meanwhile and is left out.
        let mut meta = self
            .fetch_each(uids, "(UID RFC822.SIZE INTERNALDATE)", |f| {
                let date = f.internal_date().map(|d| d.with_timezone(&Utc));
                Some((u64::from(f.size?), date))
            })
            .await?;
        let mut listed: Vec<(u32, Result<Meta, String>)> = uids
            .iter()
            .filter_map(|uid| meta.remove(uid).map(|m| (*uid, m)))
            .collect();
        if cut {
            let n = budget.take(listed.iter().map(|(_, m)| match m {
                Ok((size, _)) => *size,
                Err(_) => 0,
            }));
            listed.truncate(n);
        }
        let sized = |big: bool| -> Vec<u32> {
            listed
                .iter()
                .filter(
                    |(_, m)| matches!(m, Ok((size, _)) if (*size > budget.max_message_size) == big),
                )
                .map(|(uid, _)| *uid)
                .collect()
        };
        let (whole, heads) = (sized(false), sized(true));
        let body = |f: &async_imap::types::Fetch| f.body().map(<[u8]>::to_vec);
        let head = |f: &async_imap::types::Fetch| f.header().map(<[u8]>::to_vec);
        let mut bodies = self.fetch_each(&whole, "(UID BODY.PEEK[])", body).await?;
        bodies.extend(self.fetch_each(&heads, HEADER_QUERY, head).await?);
        let mut out = Vec::with_capacity(listed.len());
        for (uid, m) in listed {
            let key = format!("imap:{}:{uid}", self.uidvalidity);
            let (size, internal_date, got) = match m {
                Ok((size, date)) => (size, date, bodies.remove(&uid)),
                Err(why) => (0, None, Some(Err(why))),
            };
            let (raw, refused) = match got {
                Some(Ok(raw)) => (raw, None),
                Some(Err(why)) => (Vec::new(), Some(why)),
                None => continue, // expunged meanwhile
            };
            out.push(Fetched {
                key,
                uid: Some(uid),
                internal_date,
                size: size.max(raw.len() as u64),
                raw,
                refused,
            });
        }
        Ok(out)
    }

    /// `query` for each of these UIDs, in one command: UID → what `take` made of
    /// its answer, or why the server would not give it. A UID without an answer
    /// that the server still has (`UID SEARCH`) was refused: async-imap ends a
    /// FETCH's stream at its tagged answer whatever it says, so a NO shows as
    /// missing answers. It is not asked for again in this session (Dovecot hangs up
    /// on a client that asks twice for a message it cannot read); the caller
    /// retries later. UIDs gone meanwhile are left out.
    async fn fetch_each<T: Send + 'static>(
        &mut self,
        uids: &[u32],
        query: &'static str,
        take: impl Fn(&async_imap::types::Fetch) -> Option<T> + Send + 'static,
    ) -> Result<HashMap<u32, Result<T, String>>, MailboxError> {
        let mut out = HashMap::new();
        if uids.is_empty() {
            return Ok(out);
        }
        let (got, refused) = self.fetch_set(uids, query, take).await?;
        for (uid, t) in got {
            out.insert(uid, Ok(t));
        }
        let missing: Vec<u32> = uids
            .iter()
            .copied()
            .filter(|u| !out.contains_key(u))
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let q = format!("UID {}", uid_set(&missing));
        let still_there = self
            .cmd("UID SEARCH", move |sess, _| {
                Box::pin(async move { sess.uid_search(&q).await })
            })
            .await?;
        let why = refused.unwrap_or_else(|| {
            format!("the server answered UID FETCH {query} without this letter (see its log)")
        });
        for uid in missing.into_iter().filter(|u| still_there.contains(u)) {
            out.insert(uid, Err(why.clone()));
        }
        Ok(out)
    }

    /// One `UID FETCH` of `uids` with `query`, each answer turned into a `T` by
    /// `take` as it arrives (so a batch of large letters is never held twice). A NO
    /// or BAD ends the command but not the session: what came before it is returned
    /// with the server's reason.
    async fn fetch_set<T: Send + 'static>(
        &mut self,
        uids: &[u32],
        query: &'static str,
        take: impl Fn(&async_imap::types::Fetch) -> Option<T> + Send + 'static,
    ) -> Result<(Vec<(u32, T)>, Option<String>), MailboxError> {
        // A NO or BAD only reaches us from servers and async-imap versions that pass
        // it on; `fetch_each` also copes when it does not.
        let set = uid_set(uids);
        let wanted: HashSet<u32> = uids.iter().copied().collect();
        self.cmd("UID FETCH", move |sess, _| {
            Box::pin(async move {
                let stream = sess.uid_fetch(&set, query).await?;
                futures::pin_mut!(stream);
                let mut got = Vec::new();
                loop {
                    match stream.try_next().await {
                        Ok(Some(f)) => {
                            // An unsolicited FETCH (a flag change) of another message is skipped.
                            let Some(uid) = f.uid.filter(|u| wanted.contains(u)) else {
                                continue;
                            };
                            if let Some(t) = take(&f) {
                                got.push((uid, t));
                            }
                        }
                        Ok(None) => return Ok((got, None)),
                        Err(async_imap::error::Error::No(why))
                        | Err(async_imap::error::Error::Bad(why)) => {
                            return Ok((got, Some(why)));
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
        })
        .await
    }

    /// See [`super::Mailbox::last_uid_before`].
    pub async fn last_uid_before(
        &mut self,
        start_from: DateTime<Utc>,
    ) -> Result<u32, MailboxError> {
        // SEARCH dates are whole days in the server's zone: ask from a day earlier,
        // then compare exact INTERNALDATEs of those candidates only (no bodies).
        let day = (start_from - chrono::Duration::days(1))
            .format("%-d-%b-%Y")
            .to_string();
        let query = format!("SINCE {day}");
        let recent = self
            .cmd("UID SEARCH", move |sess, _| {
                Box::pin(async move { sess.uid_search(&query).await })
            })
            .await?;
        let all = self
            .cmd("UID SEARCH", |sess, _| {
                Box::pin(async move { sess.uid_search("ALL").await })
            })
            .await?;
        let highest = all.iter().copied().max().unwrap_or(0);
        let mut recent: Vec<u32> = recent.into_iter().collect();
        recent.sort_unstable();
        let mut first_new: Option<u32> = None;
        for chunk in recent.chunks(500) {
            let set = uid_set(chunk);
            let fetches = self
                .cmd("UID FETCH", move |sess, _| {
                    Box::pin(async move {
                        sess.uid_fetch(&set, "(UID INTERNALDATE)")
                            .await?
                            .try_collect::<Vec<_>>()
                            .await
                    })
                })
                .await?;
            let newer = fetches.iter().filter_map(|f| {
                let date = f.internal_date()?.with_timezone(&Utc);
                (date >= start_from).then_some(f.uid?)
            });
            if let Some(min) = newer.min() {
                first_new = Some(first_new.map_or(min, |m| m.min(min)));
                break; // chunks are in UID order: later ones only hold higher UIDs
            }
        }
        self.drain();
        Ok(match first_new {
            Some(uid) => uid.saturating_sub(1),
            None => highest,
        })
    }

    /// See [`super::Mailbox::move_to`].
    pub async fn move_to(&mut self, fetched: &Fetched, folder: Folder) -> Result<(), MailboxError> {
        self.move_one(fetched, folder).await?;
        self.expunge_ours().await?;
        self.drain();
        Ok(())
    }

    /// `UID MOVE`, or `UID COPY` and `\Deleted` (the EXPUNGE is left to the caller).
    async fn move_one(&mut self, fetched: &Fetched, folder: Folder) -> Result<(), MailboxError> {
        let uid_n = self.current_uid(fetched)?;
        let uid = uid_n.to_string();
        let target = self.folder_name(folder);
        if self.caps.mv {
            self.cmd("UID MOVE", move |sess, _| {
                Box::pin(async move { sess.uid_mv(&uid, &target).await })
            })
            .await?;
        } else {
            let (u, t) = (uid.clone(), target.clone());
            self.cmd("UID COPY", move |sess, _| {
                Box::pin(async move { sess.uid_copy(&u, &t).await })
            })
            .await?;
            self.delete_uid(uid_n).await?;
        }
        Ok(())
    }

    /// See [`super::Mailbox::filed_copy`]: EXAMINE the folder, search it by
    /// Message-ID, SELECT the request folder again.
    pub async fn filed_copy(
        &mut self,
        folder: Folder,
        message_id: &str,
    ) -> Result<bool, MailboxError> {
        let target = self.folder_name(folder);
        // IMAP quoted string: backslash and double quote escaped.
        let id = message_id.replace('\\', "\\\\").replace('"', "\\\"");
        let found = self
            .cmd("UID SEARCH", move |sess, _| {
                Box::pin(async move {
                    sess.examine(&target).await?;
                    let found = sess.uid_search(format!("HEADER Message-ID \"{id}\"")).await;
                    found.map(|uids| !uids.is_empty())
                })
            })
            .await;
        // Back to the request folder whatever the search said.
        let reselect = self
            .cmd("SELECT", move |sess, inbox| {
                let inbox = inbox.to_string();
                Box::pin(async move { sess.select(&inbox).await.map(|_| ()) })
            })
            .await;
        self.drain();
        let found = found?;
        reselect?;
        Ok(found)
    }

    /// See [`super::Mailbox::discard_copy`]: `\Deleted` and UID EXPUNGE of one UID
    /// (without UIDPLUS: see [`expunge_ours`](Self::expunge_ours)).
    pub async fn discard_copy(&mut self, fetched: &Fetched) -> Result<(), MailboxError> {
        let uid = self.current_uid(fetched)?;
        self.delete_uid(uid).await?;
        self.expunge_ours().await?;
        self.drain();
        Ok(())
    }

    /// The UID of a message read in this session's UIDVALIDITY, else `Stale`.
    fn current_uid(&self, fetched: &Fetched) -> Result<u32, MailboxError> {
        let stale = |reason: String| MailboxError::Stale {
            key: fetched.key.clone(),
            reason,
        };
        let (validity, uid) =
            parse_key(&fetched.key).ok_or_else(|| stale("not an IMAP message key".into()))?;
        if validity != self.uidvalidity {
            return Err(stale(format!(
                "UIDVALIDITY is now {}, the message was read under {validity}",
                self.uidvalidity
            )));
        }
        Ok(uid)
    }

    /// Marks one UID `\Deleted` and, with UIDPLUS, expunges just that UID. Without
    /// UIDPLUS the UID is noted as ours: [`expunge_ours`](Self::expunge_ours) expunges
    /// when nothing else is flagged.
    async fn delete_uid(&mut self, uid: u32) -> Result<(), MailboxError> {
        let u = uid.to_string();
        self.cmd("UID STORE", move |sess, _| {
            Box::pin(async move {
                sess.uid_store(&u, "+FLAGS.SILENT (\\Deleted)")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
                    .map(|_| ())
            })
        })
        .await?;
        if self.caps.uidplus {
            let u = uid.to_string();
            self.cmd("UID EXPUNGE", move |sess, _| {
                Box::pin(async move {
                    sess.uid_expunge(&u)
                        .await?
                        .try_collect::<Vec<_>>()
                        .await
                        .map(|_| ())
                })
            })
            .await?;
        } else {
            self.flagged.insert(uid);
        }
        Ok(())
    }

    /// Without UIDPLUS: a plain EXPUNGE removes every message flagged `\Deleted`,
    /// also those another client flagged and may still mean to unflag. So it is sent
    /// only when `UID SEARCH DELETED` names no message but the ones this session
    /// flagged; otherwise ours stay flagged (still in the inbox, handled, never read
    /// again: their UIDs are below the cursor) and [`expunge_note`](Self::expunge_note)
    /// says so. (A message flagged by someone else between the SEARCH and the
    /// EXPUNGE would still go: without UIDPLUS no command can exclude it.)
    async fn expunge_ours(&mut self) -> Result<(), MailboxError> {
        if self.caps.uidplus || self.flagged.is_empty() {
            return Ok(());
        }
        let deleted = match self
            .cmd("UID SEARCH", |sess, _| {
                Box::pin(async move { sess.uid_search("DELETED").await })
            })
            .await
        {
            Ok(d) => d,
            Err(MailboxError::Refused { reason, .. }) => {
                self.expunge_note = Some(format!(
                    "{} handled letter(s) left in {} flagged \\Deleted, not expunged: the server has no UIDPLUS and refused UID SEARCH DELETED ({reason})",
                    self.flagged.len(),
                    self.settings.folder
                ));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // Ours that are gone already (expunged by someone else) are forgotten.
        self.flagged.retain(|u| deleted.contains(u));
        if self.flagged.is_empty() {
            self.expunge_note = None;
            return Ok(());
        }
        let others = deleted.iter().filter(|u| !self.flagged.contains(u)).count();
        if others > 0 {
            self.expunge_note = Some(format!(
                "{} handled letter(s) left in {} flagged \\Deleted, not expunged: the server has no UIDPLUS and {others} other message(s) there are flagged \\Deleted by someone else (a plain EXPUNGE would remove them too)",
                self.flagged.len(),
                self.settings.folder
            ));
            return Ok(());
        }
        // By hand: GNU Mailutils answers `* n EXPUNGED`, which async-imap cannot
        // parse (it would end the session).
        let answer = self.raw_command("DDEX", "EXPUNGE").await?;
        self.exists = self.exists.saturating_sub(answer.expunged());
        if let Some(n) = answer.exists() {
            self.exists = n;
        }
        if !answer.ok {
            self.expunge_note = Some(format!(
                "{} handled letter(s) left in {} flagged \\Deleted: the server refused EXPUNGE ({})",
                self.flagged.len(),
                self.settings.folder,
                answer.text
            ));
            return Ok(());
        }
        self.flagged.clear();
        self.expunge_note = None;
        Ok(())
    }

    /// See [`super::Mailbox::move_many`]: one `UID MOVE` per folder with a UID set
    /// (the COPY fallback goes message by message); a refused set is moved again
    /// letter by letter, so that only the letters refused by themselves are returned.
    pub async fn move_many(
        &mut self,
        items: &[(&Fetched, Folder)],
    ) -> Result<Vec<(String, String)>, MailboxError> {
        let mut refused = Vec::new();
        if !self.caps.mv {
            for (f, folder) in items {
                match self.move_one(f, *folder).await {
                    Ok(()) | Err(MailboxError::Stale { .. }) => {}
                    Err(MailboxError::Refused { reason, .. }) => {
                        refused.push((f.key.clone(), reason))
                    }
                    Err(e) => return Err(e),
                }
            }
            self.expunge_ours().await?;
            self.drain();
            return Ok(refused);
        }
        for folder in Folder::ALL {
            let mine: Vec<(&Fetched, u32)> = items
                .iter()
                .filter(|(_, to)| *to == folder)
                .filter_map(|(f, _)| parse_key(&f.key).map(|k| (*f, k)))
                .filter(|(_, (validity, _))| *validity == self.uidvalidity)
                .map(|(f, (_, uid))| (f, uid))
                .collect();
            if mine.is_empty() {
                continue;
            }
            let mut uids: Vec<u32> = mine.iter().map(|(_, uid)| *uid).collect();
            uids.sort_unstable();
            let set = uid_set(&uids);
            let target = self.folder_name(folder);
            let t = target.clone();
            match self
                .cmd("UID MOVE", move |sess, _| {
                    Box::pin(async move { sess.uid_mv(&set, &t).await })
                })
                .await
            {
                Ok(()) => {}
                Err(MailboxError::Refused { reason, .. }) if mine.len() == 1 => {
                    refused.push((mine[0].0.key.clone(), reason));
                }
                Err(MailboxError::Refused { .. }) => {
                    for (f, uid) in mine {
                        let (one, t) = (uid.to_string(), target.clone());
                        match self
                            .cmd("UID MOVE", move |sess, _| {
                                Box::pin(async move { sess.uid_mv(&one, &t).await })
                            })
                            .await
                        {
                            Ok(()) => {}
                            Err(MailboxError::Refused { reason, .. }) => {
                                refused.push((f.key.clone(), reason))
                            }
                            Err(e) => return Err(e),
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        self.drain();
        Ok(refused)
    }

    /// See [`super::Mailbox::wait_for_new`].
    pub async fn wait_for_new(&mut self, max_wait: Duration) -> Result<(), MailboxError> {
        self.drain();
        if self.pending_new {
            return Ok(());
        }
        let host = self.settings.host.clone();
        let t = self.settings.timeout;
        if !self.uses_idle() {
            tokio::time::sleep(self.settings.poll_interval.min(max_wait)).await;
            self.cmd("NOOP", |sess, _| Box::pin(async move { sess.noop().await }))
                .await?;
            return Ok(());
        }
        let session = self.session.take().ok_or_else(|| lost(&host))?;
        let mut handle = session.idle();
        timed(&host, t, "IDLE", async {
            handle.init().await.map_err(|e| imap_err(&host, e))
        })
        .await?;
        // Renewed every poll_interval: a server whose IDLE never pushes is still
        // looked at that often.
        let renew = self.settings.poll_interval.max(Duration::from_secs(1));
        let (wait, stop) = handle.wait_with_timeout(max_wait.min(renew).min(IDLE_MAX));
        let woke = wait.await;
        drop(stop); // kept alive until here: dropping it interrupts the wait
        match woke {
            Ok(IdleResponse::NewData(data)) => {
                match data.parsed() {
                    Response::MailboxData(async_imap::imap_proto::MailboxDatum::Exists(n)) => {
                        self.exists = *n;
                    }
                    Response::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                    _ => {}
                }
                if let Response::Data {
                    status: Status::Bye,
                    outcome,
                    ..
                } = data.parsed()
                {
                    return Err(conn(
                        &host,
                        io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "server said BYE during IDLE: {}",
                                outcome.information.as_deref().unwrap_or("")
                            ),
                        ),
                    ));
                }
            }
            Ok(IdleResponse::Timeout) => {}
            Ok(IdleResponse::ManualInterrupt) => {
                // We never interrupt: the stream ended, the server closed the connection.
                return Err(conn(
                    &host,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection during IDLE",
                    ),
                ));
            }
            Err(e) => return Err(imap_err(&host, e)),
        }
        let session = timed(&host, t, "DONE", async {
            handle.done().await.map_err(|e| imap_err(&host, e))
        })
        .await?;
        self.session = Some(session);
        self.drain();
        Ok(())
    }

    /// Empties the unsolicited-response channel (it is bounded and would drop extras),
    /// noting whether new messages were announced.
    fn drain(&mut self) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        while let Ok(r) = session.unsolicited_responses.try_recv() {
            match r {
                UnsolicitedResponse::Exists(n) => {
                    self.exists = n;
                    self.pending_new = true;
                }
                UnsolicitedResponse::Recent(_) => self.pending_new = true,
                UnsolicitedResponse::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                _ => {}
            }
        }
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
