//! The daemon: the inbox loop, the outbox loop and the due-queue loop.
//!
//! One way through, for every letter: fetch → understand → decide and queue
//! every mail it causes in ONE store transaction (which also advances the
//! mailbox cursor) → move the letter into its folder → mark it moved. A kill
//! at any point loses nothing: a letter not yet committed is fetched again; one
//! committed but not moved is moved on restart; queued mail is sent by the
//! outbox loop, which marks a mail sent only after the server took it (so the
//! one duplicate possible is a mail taken just before a kill, re-sent with the
//! same Message-ID).
//!
//! Shutdown is a value passed in (`watch::Receiver<bool>`), checked between
//! letters and raced against every wait: an SMTP transaction in flight
//! finishes, a letter half-decided is never committed half. SIGHUP swaps the
//! config and templates atomically; a broken new config is refused with a log
//! line and the old one keeps running.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tracing::{debug, error, info, warn};

use crate::config::{Config, MailboxSource, OutboxSink, Server, Tls};
use crate::mailbox::{
    Backoff, Budget, Fetched, Folder, ImapSettings, Mailbox, MailboxError, MailboxSettings,
    MaildirSettings, TlsMode,
};
use crate::outbox::{MaildirOutboxSettings, Outbox, OutboxSettings, SendError, SmtpSettings};
use crate::request::{self, Context as RequestContext};
use crate::schedule::Validity;
use crate::store::{Queries, Store};
use crate::templates::Templates;
use crate::ticket::{self, Desk, Incoming, Outcome};

/// How `run` runs.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Handle what is waiting (inbox, due queue, outgoing queue) and return.
    pub once: bool,
    /// Start the clock at this instant; it then runs on.
    pub now: Option<DateTime<Utc>>,
    /// Accept a blank state store even though the mailbox shows an earlier run
    /// (`run --fresh-state`): letters still in the inbox are answered as new.
    pub fresh_state: bool,
    /// The desk's name (`--instance`, the template unit's instance): names the unit
    /// in the admin's mail (`systemctl reload duty-desk@NAME`).
    pub instance: Option<String>,
}

/// The daemon's clock: real time, or real time shifted to start at `--now`.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: DateTime<Utc>,
    started: Instant,
}

impl Clock {
    pub fn new(now: Option<DateTime<Utc>>) -> Clock {
        Clock {
            start: now.unwrap_or_else(Utc::now),
            started: Instant::now(),
        }
    }
    pub fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }
}

/// Config and templates in force; swapped whole on reload.
pub struct Loaded {
    pub config: Config,
    pub templates: Templates,
}

impl Loaded {
    /// Reads and checks config and templates (the same checks as `check-config`).
    /// The passwords must be readable too (a credential missing under systemd is a
    /// config error, not a mailbox outage); they are read again at every connect, so
    /// a changed password is picked up without a restart.
    pub fn load(path: &Path) -> anyhow::Result<Loaded> {
        let config = Config::load(path)?;
        let templates = Templates::load(&config.templates_dir)?;
        templates.check()?;
        mailbox_settings(&config).context("[mailbox]")?;
        outbox_settings(&config).context("[outbox]")?;
        Ok(Loaded { config, templates })
    }

    pub fn request_context(&self) -> RequestContext {
        let c = &self.config;
        RequestContext {
            own_addresses: vec![c.from.email.to_lowercase()],
            staff_domains: c.staff_domains.clone(),
            staff_addresses: c.staff_addresses.clone(),
            max_message_size: c.max_message_size,
        }
    }
}

fn tls_mode(t: Tls) -> TlsMode {
    match t {
        Tls::Implicit => TlsMode::Implicit,
        Tls::StartTls => TlsMode::Starttls,
        Tls::None => TlsMode::None,
    }
}

/// The mailbox settings of a config, with the password read now.
pub fn mailbox_settings(c: &Config) -> anyhow::Result<MailboxSettings> {
    Ok(match &c.mailbox {
        MailboxSource::Imap {
            server,
            folder,
            folder_prefix,
            idle,
            poll_interval,
        } => {
            let login = server
                .login
                .as_ref()
                .context("mailbox.username is missing")?;
            MailboxSettings::Imap(ImapSettings {
                host: server.host.clone(),
                port: server.port,
                tls: tls_mode(server.tls),
                ca_file: server.ca_file.clone(),
                username: login.username.clone(),
                password: login.password.read()?,
                folder: folder.clone(),
                folder_prefix: folder_prefix.clone(),
                idle: *idle,
                poll_interval: *poll_interval,
                ..ImapSettings::default()
            })
        }
        MailboxSource::Maildir {
            path,
            poll_interval,
        } => MailboxSettings::Maildir(MaildirSettings {
            path: path.clone(),
            poll_interval: *poll_interval,
        }),
    })
}

/// The outbox settings of a config, with the password read now.
pub fn outbox_settings(c: &Config) -> anyhow::Result<OutboxSettings> {
    Ok(match &c.outbox {
        OutboxSink::Smtp(Server {
            host,
            port,
            tls,
            ca_file,
            login,
        }) => OutboxSettings::Smtp(SmtpSettings {
            host: host.clone(),
            port: *port,
            tls: tls_mode(*tls),
            ca_file: ca_file.clone(),
            username: login.as_ref().map(|l| l.username.clone()),
            password: login.as_ref().map(|l| l.password.read()).transpose()?,
            ..SmtpSettings::default()
        }),
        OutboxSink::Maildir(path) => {
            OutboxSettings::Maildir(MaildirOutboxSettings { path: path.clone() })
        }
    })
}

/// The cursor's name for a mailbox source.
fn source_name(c: &Config) -> String {
    match &c.mailbox {
        MailboxSource::Imap { server, folder, .. } => format!(
            "imap:{}@{}:{}/{folder}",
            server.login.as_ref().map_or("", |l| l.username.as_str()),
            server.host,
            server.port
        ),
        MailboxSource::Maildir { path, .. } => format!("maildir:{}", path.display()),
    }
}

/// What the loops share.
pub struct Shared {
    pub loaded: RwLock<Arc<Loaded>>,
    /// A `std` mutex, not tokio's: every use is a short synchronous SQLite call
    /// that never awaits while holding it.
    pub store: Mutex<Store>,
    pub clock: Clock,
    config_path: PathBuf,
    /// Wakes the outbox loop when mail is queued.
    outbox_wake: Notify,
    /// Wakes the due loop when a ticket is held.
    due_wake: Notify,
    /// Tells the inbox loop a reload happened (it reconnects if `[mailbox]` changed).
    reloaded: Notify,
    /// Heartbeats (unix seconds) of the loops, for the watchdog.
    beats: [AtomicI64; 3],
    /// The longest a loop may wait without a heartbeat, in milliseconds (see
    /// [`Shared::set_watchdog`]).
    beat_every_ms: AtomicU64,
    status: Mutex<String>,
    /// What the inbox is doing, the first part of the status line.
    mode: Mutex<&'static str>,
    /// When `last_mailbox_contact` was last written (it is refreshed at most every
    /// [`CONTACT_EVERY`], not at every IDLE wake).
    contact_written: Mutex<Option<Instant>>,
    /// A store failure (since, error) that could not be noted in the store itself
    /// (it was locked, say): audited once the store works again.
    store_failing: Mutex<Option<(DateTime<Utc>, String)>>,
    /// The systemd unit this desk runs as: `duty-desk` or `duty-desk@NAME`.
    unit: String,
}

/// How often a healthy connection refreshes `last_mailbox_contact` in the store.
const CONTACT_EVERY: Duration = Duration::from_secs(60);

/// Loops wake at least this often without a watchdog (IDLE is re-issued, queues re-read).
const MAX_BEAT: Duration = Duration::from_secs(30);

const INBOX: usize = 0;
const OUTBOX: usize = 1;
const DUE: usize = 2;

impl Shared {
    fn loaded(&self) -> Arc<Loaded> {
        // A poisoned lock means a panic elsewhere while swapping an Arc: the value is still whole.
        self.loaded
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        // Poisoning can only follow a panic inside a store call; SQLite rolled the
        // transaction back, so the connection is still consistent.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn beat(&self, which: usize) {
        self.beats[which].store(Utc::now().timestamp(), Ordering::Relaxed);
    }

    /// Makes every loop show life at least three times per watchdog `period`, so a
    /// short `WatchdogSec=` never sees a healthy loop that merely waits (in IDLE, in
    /// a reconnect back-off) as dead.
    pub fn set_watchdog(&self, period: Duration) {
        let every = (period / 3).clamp(Duration::from_millis(100), MAX_BEAT);
        self.beat_every_ms
            .store(every.as_millis() as u64, Ordering::Relaxed);
    }

    /// The longest a loop waits between heartbeats.
    fn beat_every(&self) -> Duration {
        Duration::from_millis(self.beat_every_ms.load(Ordering::Relaxed))
    }

    /// Whether every loop has shown life within `within`.
    pub fn alive(&self, within: Duration) -> bool {
        let now = Utc::now().timestamp();
        self.beats
            .iter()
            .all(|b| now - b.load(Ordering::Relaxed) <= within.as_secs() as i64)
    }

    /// Swaps in a new config and templates; on error keeps the old ones.
    ///
    /// The new `[mailbox]` takes effect at once (the inbox reconnects if it changed),
    /// `[outbox]` with the next mail; the store stays open where it is.
    pub fn reload(&self) -> anyhow::Result<()> {
        let new = Loaded::load(&self.config_path)?;
        let old = self.loaded();
        if new.config.state_path != old.config.state_path {
            warn!(
                "reload: [state] path changed; the store stays at {} until a restart",
                old.config.state_path.display()
            );
        }
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(new);
        self.reloaded.notify_one();
        Ok(())
    }
}

/// Opens the store and loads config and templates: what `run` needs before the loops.
pub fn prepare(config_path: &Path, opts: &RunOptions) -> anyhow::Result<Arc<Shared>> {
    let loaded = Loaded::load(config_path)?;
    let store = Store::open(&loaded.config.state_path, true)?;
    let now = Utc::now().timestamp();
    Ok(Arc::new(Shared {
        loaded: RwLock::new(Arc::new(loaded)),
        store: Mutex::new(store),
        clock: Clock::new(opts.now),
        config_path: config_path.to_path_buf(),
        outbox_wake: Notify::new(),
        due_wake: Notify::new(),
        reloaded: Notify::new(),
        beats: [
            AtomicI64::new(now),
            AtomicI64::new(now),
            AtomicI64::new(now),
        ],
        beat_every_ms: AtomicU64::new(MAX_BEAT.as_millis() as u64),
        status: Mutex::new("starting".into()),
        mode: Mutex::new("starting"),
        contact_written: Mutex::new(None),
        store_failing: Mutex::new(None),
        unit: match &opts.instance {
            Some(name) => format!("duty-desk@{name}"),
            None => "duty-desk".to_string(),
        },
    }))
}

/// Runs the daemon until `shutdown` turns true (or, with `once`, until what waits is done).
pub async fn run(
    shared: Arc<Shared>,
    opts: RunOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let result = run_loops(shared, opts, shutdown).await;
    // For the memory tests and for an admin at -v: the most this process held.
    debug!(
        peak_rss_kib = peak_rss_kib().unwrap_or(0),
        ok = result.is_ok(),
        "daemon: done"
    );
    result
}

/// This process's peak resident set (VmHWM of /proc/self/status), in KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run_loops(
    shared: Arc<Shared>,
    opts: RunOptions,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut sd = shutdown.clone();
    if !guard_lost_store(&shared, &opts, &mut sd).await? {
        return Ok(());
    }
    if opts.once {
        inbox_pass(&shared, &shutdown).await?;
        release_due(&shared)?;
        housekeeping(&shared)?;
        timetable_check(&shared)?;
        weekly_report(&shared)?;
        let mut conn = None;
        let end = outbox_pass(&shared, &shutdown, true, &mut conn).await;
        if let Some(c) = conn {
            c.close().await;
        }
        end?;
        return Ok(());
    }
    // The loops stop on the caller's shutdown, or when one of them fails: a daemon
    // with a dead loop must exit (non-zero, so systemd restarts it), not limp on.
    let (stop_tx, stop_rx) = watch::channel(false);
    let stop_tx = Arc::new(stop_tx);
    let forward = {
        let stop_tx = stop_tx.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            while !*shutdown.borrow_and_update() {
                if shutdown.changed().await.is_err() {
                    break;
                }
            }
            let _ = stop_tx.send(true);
        })
    };
    let guarded = |name: &'static str, task: tokio::task::JoinHandle<anyhow::Result<()>>| {
        let stop_tx = stop_tx.clone();
        async move {
            let result = match task.await {
                Ok(r) => r.with_context(|| format!("{name} loop")),
                Err(e) => Err(anyhow::anyhow!("{name} loop panicked: {e}")),
            };
            if let Err(e) = &result {
                error!(error = %redact(&format!("{e:#}")), "a loop failed; stopping the daemon");
                let _ = stop_tx.send(true);
            }
            result
        }
    };
    let inbox = guarded(
        "inbox",
        tokio::spawn(inbox_loop(shared.clone(), stop_rx.clone())),
    );
    let outbox = guarded(
        "outbox",
        tokio::spawn(outbox_loop(shared.clone(), stop_rx.clone())),
    );
    let due = guarded("due", tokio::spawn(due_loop(shared.clone(), stop_rx)));
    let (a, b, c) = tokio::join!(inbox, outbox, due);
    forward.abort();
    a.and(b).and(c)
}

/// On a blank state store, refuses to start when the mailbox shows an earlier run
/// (letters filed in its `duty-desk/…` folders): the store was lost or removed, and
/// starting fresh would answer every letter still waiting again and forget every
/// open ticket. `--fresh-state` overrides. Either way the store is then marked as
/// adopted, so the check runs once per store. Returns false on shutdown.
async fn guard_lost_store(
    shared: &Arc<Shared>,
    opts: &RunOptions,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<bool> {
    if !shared.store().read().is_blank()? {
        return Ok(true);
    }
    let filed = if opts.fresh_state {
        None
    } else {
        let Some((mut mailbox, _)) = connect_mailbox(shared, shutdown, opts.once).await? else {
            return Ok(false);
        };
        let filed = mailbox
            .filed_count()
            .await
            .context("mailbox: counting the duty-desk folders")?;
        mailbox.close().await;
        Some(filed)
    };
    let loaded = shared.loaded();
    if let Some(filed) = filed.filter(|n| *n > 0) {
        let store = loaded.config.state_path.display();
        anyhow::bail!(
            "the state store {store} is new or empty, but the mailbox's duty-desk folders already \
             hold {filed} letter(s) filed by an earlier run: the store was lost or removed. \
             Starting fresh would answer the letters still waiting again and forget every open \
             ticket, so duty-desk refuses to start. Stop it, restore {store} (with its -wal file, \
             if any) from a backup and start again; or, to start over deliberately, run once with \
             `duty-desk run --fresh-state`."
        );
    }
    let now = shared.clock.now();
    let note = if opts.fresh_state {
        warn!("--fresh-state: starting with a blank state store");
        format!("{} (--fresh-state)", now.to_rfc3339())
    } else {
        now.to_rfc3339()
    };
    shared.store().transaction(|tx| {
        tx.kv_set(crate::store::ADOPTED_KEY, &note)?;
        tx.audit(now, None, None, "store_adopted", &note)
    })?;
    Ok(true)
}

/// Waits for `d`, or less if shutdown comes, showing life for loop `which` meanwhile;
/// returns true on shutdown.
async fn sleep_or_stop(
    shared: &Shared,
    which: usize,
    d: Duration,
    shutdown: &mut watch::Receiver<bool>,
) -> bool {
    let until = Instant::now() + d;
    loop {
        if *shutdown.borrow() {
            return true;
        }
        shared.beat(which);
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(left.min(shared.beat_every())) => {}
            _ = shutdown.changed() => return true,
        }
    }
}

fn stopping(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow()
}

/// Resolves once shutdown is asked for (at once if it already was).
async fn stopped(mut shutdown: watch::Receiver<bool>) {
    // An error means the sender is gone: nobody can ask any more, so stop too.
    let _ = shutdown.wait_for(|s| *s).await;
}

/// How long an SMTP transaction in flight may still take after shutdown is asked
/// for. One that takes longer (a hung server) is abandoned: its mail stays queued
/// and is sent again, with the same Message-ID, on the next start.
const SMTP_GRACE: Duration = Duration::from_secs(5);

/// Connects to the mailbox, logging and backing off until it works or shutdown.
/// Returns the mailbox with the settings it was opened with.
async fn connect_mailbox(
    shared: &Shared,
    shutdown: &mut watch::Receiver<bool>,
    once: bool,
) -> anyhow::Result<Option<(Mailbox, MailboxSource)>> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));
    loop {
        shared.beat(INBOX);
        let loaded = shared.loaded();
        let attempt = match mailbox_settings(&loaded.config) {
            // Nothing is done yet while connecting: a stop may cut it short.
            Ok(settings) => tokio::select! {
                r = Mailbox::connect(&settings) => r.map_err(anyhow::Error::from),
                _ = stopped(shutdown.clone()) => return Ok(None),
            },
            Err(e) => Err(e),
        };
        match attempt {
            Ok(m) => {
                stall_recovered(shared)?;
                return Ok(Some((m, loaded.config.mailbox.clone())));
            }
            Err(e) => {
                warn!(error = %redact(&format!("{e:#}")), "mailbox: cannot connect");
                stall_check(shared, &format!("{e:#}"))?;
                update_status(shared, "mailbox unreachable");
                if once {
                    return Err(e.context("mailbox"));
                }
                if sleep_or_stop(shared, INBOX, backoff.next_delay(), shutdown).await {
                    return Ok(None);
                }
            }
        }
    }
}

/// `--once`: connect, handle everything waiting, return.
async fn inbox_pass(shared: &Arc<Shared>, shutdown: &watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut sd = shutdown.clone();
    let Some((mut mailbox, _)) = connect_mailbox(shared, &mut sd, true).await? else {
        return Ok(());
    };
    notify_ready(shared);
    drain(shared, &mut mailbox, shutdown).await?;
    mailbox.close().await;
    Ok(())
}

/// The inbox loop: connect, drain, wait (IDLE or poll), reconnect on trouble.
async fn inbox_loop(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(60));
    // Between passes while the state store fails (locked, full): 1 s doubling to 1 min.
    let mut store_backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let mut ready = false;
    'connect: loop {
        let Some((mut mailbox, source)) = connect_mailbox(&shared, &mut shutdown, false).await?
        else {
            break;
        };
        if !ready {
            notify_ready(&shared);
            ready = true;
        }
        info!(idle = mailbox.uses_idle(), "mailbox: connected");
        loop {
            shared.beat(INBOX);
            if let Err(e) = drain(&shared, &mut mailbox, &shutdown).await {
                if e.downcast_ref::<StoreTrouble>().is_some() {
                    // Logged and noted by `drain`; the mailbox is fine: try again on
                    // the same connection after a pause.
                    if sleep_or_stop(&shared, INBOX, store_backoff.next_delay(), &mut shutdown)
                        .await
                    {
                        break 'connect;
                    }
                    continue;
                }
                warn!(error = %redact(&format!("{e:#}")), "mailbox: lost while reading; reconnecting");
                if sleep_or_stop(&shared, INBOX, backoff.next_delay(), &mut shutdown).await {
                    break 'connect;
                }
                continue 'connect;
            }
            backoff.reset();
            store_backoff.reset();
            touch_contact(&shared)?;
            update_status(
                &shared,
                if mailbox.uses_idle() {
                    "IDLE"
                } else {
                    "polling"
                },
            );
            if stopping(&shutdown) {
                break 'connect;
            }
            if shared.loaded().config.mailbox != source {
                info!("mailbox: settings changed by a reload; reconnecting");
                mailbox.close().await;
                continue 'connect;
            }
            // The wait is bounded (IDLE is renewed, polls time out); meanwhile the loop
            // keeps showing life for the watchdog.
            // IDLE is renewed (and a poll made) every poll_interval, at most every
            // 29 minutes (RFC 2177): the mailbox bounds the wait by both.
            let wait = mailbox.wait_for_new(Duration::from_secs(29 * 60));
            tokio::pin!(wait);
            let result = loop {
                tokio::select! {
                    r = &mut wait => break r,
                    _ = tokio::time::sleep(shared.beat_every()) => shared.beat(INBOX),
                    _ = shutdown.changed() => break 'connect,
                    _ = shared.reloaded.notified() => {
                        if shared.loaded().config.mailbox != source {
                            info!("mailbox: settings changed by a reload; reconnecting");
                            continue 'connect;
                        }
                    }
                }
            };
            if let Err(e) = result {
                warn!(error = %redact(&e.to_string()), "mailbox: lost while waiting; reconnecting");
                stall_check(&shared, &e.to_string())?;
                if sleep_or_stop(&shared, INBOX, backoff.next_delay(), &mut shutdown).await {
                    break 'connect;
                }
                continue 'connect;
            }
        }
    }
    info!("mailbox: stopped");
    Ok(())
}

/// Letters one batch holds at most.
const BATCH: usize = 50;

/// Bytes of letters one batch holds at most: a letter larger than this comes alone,
/// so with letters of up to 30 MB a batch holds about one of them (the batch stays
/// in memory until its letters are moved).
const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// How often a letter the server refuses (to give, or to move) is tried in all:
/// then it is filed as unreadable (fetch) or left in the inbox, marked handled and
/// shown in `status` (move).
pub const LETTER_ATTEMPTS: u32 = 5;

/// The wait before trying a refused letter again after `attempts` failures:
/// 1, 2, 4, 8 … minutes of the daemon's clock.
fn letter_retry_delay(attempts: u32) -> chrono::Duration {
    chrono::Duration::minutes(1i64 << attempts.saturating_sub(1).min(10))
}

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

/// The state store failed while a letter was being decided (locked, full, I/O):
/// nothing of that letter was committed, and it is decided again later. Never a
/// reason to file a letter as unreadable.
#[derive(Debug, thiserror::Error)]
#[error("the state store failed (the letter stays in the inbox and is tried again): {0:#}")]
pub struct StoreTrouble(anyhow::Error);

/// Whether an error of a decision comes from the state store rather than from the
/// letter: any SQLite error but a constraint or size violation (which a letter's
/// content could cause).
fn is_store_error(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| match c.downcast_ref::<rusqlite::Error>() {
            Some(rusqlite::Error::SqliteFailure(f, _)) => !matches!(
                f.code,
                rusqlite::ErrorCode::ConstraintViolation | rusqlite::ErrorCode::TooBig
            ),
            Some(_) => true,
            None => false,
        })
}

fn read_trouble(value: &str) -> Option<LetterTrouble> {
    serde_json::from_str(value).ok()
}

/// Handles every waiting letter; returns when the inbox is empty (or shutdown).
///
/// A letter the server refuses to give or to move is recorded and tried again
/// later ([`LETTER_ATTEMPTS`]); the others go on. A failure of the state store
/// stops the pass at that letter (so the cursor never passes it) and returns a
/// [`StoreTrouble`]; the caller tries again later.
async fn drain(
    shared: &Arc<Shared>,
    mailbox: &mut Mailbox,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let source = source_name(&loaded.config);
    let uidvalidity = mailbox.uidvalidity();
    let budget = Budget {
        letters: BATCH,
        bytes: BATCH_BYTES,
        max_message_size: loaded.config.max_message_size as u64,
    };
    move_unmoved(shared, mailbox).await?;
    retry_refused(shared, mailbox, &source, uidvalidity, &budget).await?;
    // The highest UID handled in this pass: the next fetch starts above it even
    // when a letter left alone did not move the stored cursor.
    let mut floor = 0u32;
    loop {
        let cursor = shared.store().read().cursor(&source)?;
        let after = match cursor {
            Some((v, last)) if v == uidvalidity => last,
            Some((v, _)) => {
                warn!(
                    old = v,
                    new = uidvalidity,
                    "mailbox: UIDVALIDITY changed; rescanning (handled letters are recognised by Message-ID)"
                );
                0
            }
            // First start: skip what arrived before `start_from` without downloading it.
            None => match loaded.config.start_from {
                Some(from) if matches!(mailbox, Mailbox::Imap(_)) => {
                    let skip = mailbox.last_uid_before(from).await?;
                    if skip > 0 {
                        info!(
                            skipped_up_to_uid = skip,
                            "first start: letters older than start_from are left alone"
                        );
                        shared
                            .store()
                            .transaction(|tx| tx.set_cursor(&source, uidvalidity, skip))?;
                    }
                    skip
                }
                _ => 0,
            },
        }
        .max(floor);
        // Fetching changes nothing: a stop (or a hung server) need not wait for it.
        let batch = tokio::select! {
            r = mailbox.fetch_batch(after, &budget) => r?,
            _ = stopped(shutdown.clone()) => return Ok(()),
        };
        if batch.is_empty() {
            break;
        }
        // Each letter is decided in its own transaction and its mail handed to the
        // outbox at once; the moves follow for the whole batch (one UID MOVE per
        // folder, one transaction marking them). A crash in between leaves decided
        // letters unmoved, and the next drain moves them (above).
        let mut decided: Vec<(&Fetched, Folder)> = Vec::with_capacity(batch.len());
        let mut trouble = None;
        for fetched in &batch {
            if stopping(shutdown) {
                break;
            }
            shared.beat(INBOX);
            let handled = match &fetched.refused {
                Some(why) => fetch_refused(shared, &source, uidvalidity, fetched, why),
                None => handle_letter(shared, &source, uidvalidity, fetched),
            };
            match handled {
                Ok(folder) => {
                    floor = floor.max(fetched.uid.unwrap_or(0));
                    shared.outbox_wake.notify_one();
                    if let Some(folder) = folder {
                        decided.push((fetched, folder));
                    }
                }
                Err(e) => {
                    trouble = Some(e);
                    break;
                }
            }
        }
        move_decided(shared, mailbox, &decided).await?;
        shared.due_wake.notify_one();
        if let Some(e) = trouble {
            store_failed(shared, &e);
            return Err(StoreTrouble(e).into());
        }
        if stopping(shutdown) {
            return Ok(());
        }
    }
    store_ok(shared)?;
    Ok(())
}

/// Letters committed before a crash (or refused by the server) but not yet moved:
/// moves them now, those whose retry is due.
async fn move_unmoved(shared: &Arc<Shared>, mailbox: &mut Mailbox) -> anyhow::Result<()> {
    let now = shared.clock.now();
    let (unmoved, troubles) = {
        let store = shared.store();
        let r = store.read();
        let mut troubles: HashMap<String, Option<LetterTrouble>> = HashMap::new();
        for (k, v) in r.kv_prefix(RETRY_PREFIX)? {
            troubles.insert(k[RETRY_PREFIX.len()..].to_string(), read_trouble(&v));
        }
        for (k, _) in r.kv_prefix(STUCK_PREFIX)? {
            troubles.insert(k[STUCK_PREFIX.len()..].to_string(), None);
        }
        (r.unmoved()?, troubles)
    };
    for u in unmoved {
        let key = u.key;
        if !key.starts_with("imap:") && !key.starts_with("maildir:") {
            continue;
        }
        match troubles.get(&key) {
            // Given up: it stays in the inbox, handled.
            Some(None) => continue,
            Some(Some(t)) if t.next > now => continue,
            _ => {}
        }
        let fetched = Fetched {
            key: key.clone(),
            uid: u.uid,
            internal_date: None,
            raw: Vec::new(),
            size: 0,
            refused: None,
        };
        let folder = Folder::from_leaf(&u.folder);
        // The server may have copied it before the crash and never expunged it.
        let already = match &u.message_id {
            Some(mid) => mailbox.filed_copy(folder, mid).await,
            None => Ok(false),
        };
        let done = match already {
            Ok(true) => {
                info!(
                    key,
                    folder = folder.leaf(),
                    "already filed by an interrupted move: removing the inbox copy"
                );
                mailbox.discard_copy(&fetched).await
            }
            Ok(false) => mailbox.move_to(&fetched, folder).await,
            Err(e) => Err(e),
        };
        match done {
            Ok(()) => {}
            Err(MailboxError::Stale { .. }) => {
                debug!(key, "unmoved letter from another session")
            }
            Err(e @ (MailboxError::Refused { .. } | MailboxError::Io { .. })) => {
                let why = e.to_string();
                shared
                    .store()
                    .transaction(|tx| move_refused(tx, &key, folder, &why, now))?;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        shared.store().transaction(|tx| {
            tx.mark_moved(&key)?;
            tx.kv_delete(&format!("{RETRY_PREFIX}{key}"))
        })?;
    }
    Ok(())
}

/// Letters the server refused to give earlier, whose retry is due: asked for
/// again one by one, and decided (or recorded as refused once more).
async fn retry_refused(
    shared: &Arc<Shared>,
    mailbox: &mut Mailbox,
    source: &str,
    uidvalidity: u32,
    budget: &Budget,
) -> anyhow::Result<()> {
    let now = shared.clock.now();
    let entries = shared.store().read().kv_prefix(RETRY_PREFIX)?;
    let mine = match mailbox {
        Mailbox::Imap(_) => format!("imap:{uidvalidity}:"),
        Mailbox::Maildir(_) => "maildir:".to_string(),
    };
    for (k, v) in entries {
        let key = &k[RETRY_PREFIX.len()..];
        let trouble = read_trouble(&v);
        let obsolete = !key.starts_with(&mine) || trouble.is_none();
        if obsolete {
            // Another UIDVALIDITY (the rescan fetches it anew) or unreadable.
            if trouble.as_ref().is_none_or(|t| t.what == "fetch") {
                shared.store().transaction(|tx| tx.kv_delete(&k))?;
            }
            continue;
        }
        let Some(t) = trouble.filter(|t| t.what == "fetch" && t.next <= now) else {
            continue;
        };
        let got = mailbox.fetch_keys(&[key.to_string()], budget).await?;
        let Some(fetched) = got.into_iter().next() else {
            info!(key, "a letter refused earlier is no longer in the inbox");
            shared.store().transaction(|tx| tx.kv_delete(&k))?;
            continue;
        };
        debug!(key, attempts = t.attempts, "trying a refused letter again");
        let handled = match &fetched.refused {
            Some(why) => fetch_refused(shared, source, uidvalidity, &fetched, why),
            None => handle_letter(shared, source, uidvalidity, &fetched).and_then(|f| {
                shared.store().transaction(|tx| tx.kv_delete(&k))?;
                Ok(f)
            }),
        };
        let folder = match handled {
            Ok(f) => f,
            Err(e) => {
                store_failed(shared, &e);
                return Err(StoreTrouble(e).into());
            }
        };
        shared.outbox_wake.notify_one();
        if let Some(folder) = folder {
            move_decided(shared, mailbox, &[(&fetched, folder)]).await?;
        }
    }
    Ok(())
}

/// Moves decided letters and marks them moved; a letter the server refuses to move
/// is recorded to be tried again ([`move_refused`]).
async fn move_decided(
    shared: &Shared,
    mailbox: &mut Mailbox,
    decided: &[(&Fetched, Folder)],
) -> anyhow::Result<()> {
    if decided.is_empty() {
        return Ok(());
    }
    let refused: HashMap<String, String> = mailbox.move_many(decided).await?.into_iter().collect();
    let now = shared.clock.now();
    note_unexpunged(shared, mailbox.expunge_note(), now)?;
    shared.store().transaction(|tx| {
        for (fetched, folder) in decided {
            match refused.get(&fetched.key) {
                Some(why) => move_refused(tx, &fetched.key, *folder, why, now)?,
                None => tx.mark_moved(&fetched.key)?,
            }
        }
        Ok(())
    })
}

/// Records that the server refused to move a decided letter: tried again after
/// [`letter_retry_delay`], and after [`LETTER_ATTEMPTS`] left in the inbox, handled
/// (its store row says where it belongs) and shown in `status`.
fn move_refused(
    tx: &crate::store::Tx<'_>,
    key: &str,
    folder: Folder,
    why: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let retry_key = format!("{RETRY_PREFIX}{key}");
    let prev = tx.kv_get(&retry_key)?.as_deref().and_then(read_trouble);
    let attempts = prev.as_ref().map_or(0, |p| p.attempts) + 1;
    let trouble = LetterTrouble {
        what: "move".into(),
        attempts,
        next: now + letter_retry_delay(attempts),
        folder: Some(folder.leaf().to_string()),
        error: why.to_string(),
        since: prev.map_or(now, |p| p.since),
    };
    if attempts >= LETTER_ATTEMPTS {
        warn!(key, folder = folder.leaf(), attempts, error = %redact(why), "the server keeps refusing to move a letter; it stays in the inbox, handled");
        tx.kv_delete(&retry_key)?;
        tx.kv_set(
            &format!("{STUCK_PREFIX}{key}"),
            &serde_json::to_string(&trouble)?,
        )?;
        tx.audit(
            now,
            None,
            None,
            "move_failed",
            &format!(
                "{key} to {} refused {attempts} times; left in the inbox: {why}",
                folder.leaf()
            ),
        )
    } else {
        warn!(key, folder = folder.leaf(), attempts, error = %redact(why), "the server refused to move a letter; will retry");
        tx.kv_set(&retry_key, &serde_json::to_string(&trouble)?)
    }
}

/// Records that the server refused to give a letter (its FETCH answered NO): the
/// cursor passes it (the retry asks for it by key), it is tried again after
/// [`letter_retry_delay`], and after [`LETTER_ATTEMPTS`] it is recorded as
/// unreadable with the server's reason, to be moved to `Unreadable`. Any error is
/// the store's.
fn fetch_refused(
    shared: &Shared,
    source: &str,
    uidvalidity: u32,
    fetched: &Fetched,
    why: &str,
) -> anyhow::Result<Option<Folder>> {
    let now = shared.clock.now();
    let key = &fetched.key;
    let retry_key = format!("{RETRY_PREFIX}{key}");
    shared.store().transaction(|tx| {
        if let Some(uid) = fetched.uid {
            tx.set_cursor(source, uidvalidity, uid)?;
        }
        let prev = tx.kv_get(&retry_key)?.as_deref().and_then(read_trouble);
        let attempts = prev.as_ref().map_or(0, |p| p.attempts) + 1;
        if attempts >= LETTER_ATTEMPTS {
            let reason = format!(
                "unreadable: the mail server refused to give this letter ({attempts} attempts): {why}"
            );
            warn!(key, attempts, error = %redact(why), "the server keeps refusing to give a letter; filing it as unreadable");
            tx.kv_delete(&retry_key)?;
            tx.record_message(
                &crate::store::SeenMessage {
                    source_key: key,
                    uid: fetched.uid,
                    message_id: None,
                    sender: None,
                    ticket: None,
                    verdict: "ignore",
                    reason: &reason,
                    folder: Folder::Unreadable.leaf(),
                    raw: None,
                },
                now,
            )?;
            tx.audit(now, None, None, "fetch_failed", &format!("{key}: {reason}"))?;
            return Ok(Some(Folder::Unreadable));
        }
        warn!(key, attempts, error = %redact(why), "the server refused to give a letter; will retry");
        let trouble = LetterTrouble {
            what: "fetch".into(),
            attempts,
            next: now + letter_retry_delay(attempts),
            folder: None,
            error: why.to_string(),
            since: prev.map_or(now, |p| p.since),
        };
        tx.kv_set(&retry_key, &serde_json::to_string(&trouble)?)?;
        Ok(None)
    })
}

/// Logs a failure of the state store and notes it for `status` (best effort: the
/// store may refuse that too).
fn store_failed(shared: &Shared, e: &anyhow::Error) {
    error!(error = %redact(&format!("{e:#}")), "the state store failed; the letter stays in the inbox and is tried again");
    update_status(shared, "state store failing; retrying");
    let now = shared.clock.now();
    let noted = shared.store().transaction(|tx| {
        if tx.kv_get(STORE_ERROR_KEY)?.is_none() {
            tx.kv_set(STORE_ERROR_KEY, &format!("{}; {e:#}", now.to_rfc3339()))?;
            tx.audit(now, None, None, "store_error", &format!("{e:#}"))?;
        }
        Ok(())
    });
    if let Err(e2) = noted {
        debug!(error = %format!("{e2:#}"), "could not note the store failure in the store");
        let mut failing = shared
            .store_failing
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        failing.get_or_insert_with(|| (now, format!("{e:#}")));
    }
}

/// Clears a noted store failure after a pass that went through; one that could not
/// be noted while it lasted is audited now (`status` lists it under the errors).
fn store_ok(shared: &Shared) -> anyhow::Result<()> {
    let unnoted = shared
        .store_failing
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let mut store = shared.store();
    let noted = store.read().kv_get(STORE_ERROR_KEY)?.is_some();
    if noted || unnoted.is_some() {
        let now = shared.clock.now();
        store.transaction(|tx| {
            if let Some((since, error)) = &unnoted {
                let detail = format!(
                    "from {} to {}: {error}",
                    since.to_rfc3339(),
                    now.to_rfc3339()
                );
                tx.audit(*since, None, None, "store_error", &detail)?;
            }
            tx.kv_delete(STORE_ERROR_KEY)?;
            tx.audit(now, None, None, "store_recovered", "")
        })?;
        info!("the state store works again");
    }
    Ok(())
}

/// Understands and decides one letter in one transaction. Returns the folder to
/// move it to, or None to leave it where it is (older than `start_from`, or a
/// letter the server would not move, left handled in the inbox).
///
/// Only the letter's own trouble files it as unreadable (with the reason). Any
/// `Err` is the state store's: nothing of the letter was committed.
fn handle_letter(
    shared: &Shared,
    source: &str,
    uidvalidity: u32,
    fetched: &Fetched,
) -> anyhow::Result<Option<Folder>> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let mut store = shared.store();
    if let Some((folder, moved)) = store.read().seen_key(&fetched.key)? {
        // Committed before a crash: only the move is left to do (unless given up).
        let stuck = store
            .read()
            .kv_get(&format!("{STUCK_PREFIX}{}", fetched.key))?
            .is_some();
        return Ok((!moved && !stuck).then(|| Folder::from_leaf(&folder)));
    }
    if let (Some(from), Some(date)) = (loaded.config.start_from, fetched.internal_date)
        && date < from
    {
        debug!(key = fetched.key, "older than start_from: left alone");
        if let Some(uid) = fetched.uid {
            store.transaction(|tx| tx.set_cursor(source, uidvalidity, uid))?;
        }
        return Ok(None);
    }
    // A letter over the size limit came with its header block only.
    let size = usize::try_from(fetched.size).unwrap_or(usize::MAX);
    let req = request::understand_sized(&fetched.raw, size, &loaded.request_context());
    let desk = Desk {
        config: &loaded.config,
        templates: &loaded.templates,
    };
    let incoming = Incoming {
        key: &fetched.key,
        uid: fetched.uid,
        raw: &fetched.raw,
    };
    let outcome = store.transaction(|tx| {
        let outcome = ticket::handle(tx, &desk, &req, &incoming, now)?;
        if let Some(uid) = fetched.uid {
            tx.set_cursor(source, uidvalidity, uid)?;
        }
        Ok(outcome)
    });
    let outcome = match outcome {
        Ok(o) => o,
        // Locked, full, broken: not the letter's fault. Nothing was committed.
        Err(e) if is_store_error(&e) => return Err(e),
        Err(e) => {
            // The letter itself cannot be decided on (what it holds breaks a step of
            // the decision): it is kept, filed as unreadable with the reason, and logged.
            error!(key = fetched.key, error = %redact(&format!("{e:#}")), "cannot decide on a letter; filing it as unreadable");
            let o = Outcome {
                folder: Folder::Unreadable,
                decision: "ignore".into(),
                reason: format!("unreadable: cannot decide on it: {e:#}"),
                ticket: None,
                assignee: None,
                queued: 0,
            };
            store.transaction(|tx| {
                tx.record_message(
                    &crate::store::SeenMessage {
                        source_key: &fetched.key,
                        uid: fetched.uid,
                        message_id: None,
                        sender: None,
                        ticket: None,
                        verdict: "ignore",
                        reason: &o.reason,
                        folder: o.folder.leaf(),
                        raw: Some(&fetched.raw),
                    },
                    now,
                )?;
                if let Some(uid) = fetched.uid {
                    tx.set_cursor(source, uidvalidity, uid)?;
                }
                Ok(())
            })?;
            o
        }
    };
    log_outcome(&outcome);
    Ok(Some(outcome.folder))
}

/// One line per decision: ticket, verdict, reason, assignee. Never a body or an address.
fn log_outcome(o: &Outcome) {
    info!(
        ticket = o
            .ticket
            .map(|t| format!("#{t}"))
            .unwrap_or_else(|| "-".into()),
        verdict = o.decision,
        reason = %redact(&o.reason),
        assignee = o.assignee.as_deref().unwrap_or("-"),
        queued = o.queued,
        folder = o.folder.leaf(),
        "decision"
    );
}

/// Hides the local part of every mail address in a log text (an SMTP server's
/// refusal names the recipient: a requester's address must not reach the log).
/// The store keeps the whole text for `status`.
///
/// A text longer than [`LOG_TEXT_MAX`] characters is cut there: an error or reason
/// says what went wrong in far less, and a longer one quotes what it was given (an
/// IMAP client's "unexpected response" is the whole response, a letter's text with it).
pub fn redact(text: &str) -> std::borrow::Cow<'_, str> {
    static ADDRESS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // A fixed pattern: compiling it cannot fail.
        regex::Regex::new(r"[\w.!#$%&'*+/=?^`{|}~-]+@").expect("valid address pattern")
    });
    let text = ADDRESS.replace_all(text, "…@");
    match text.char_indices().nth(LOG_TEXT_MAX) {
        Some((cut, _)) => format!(
            "{}… ({} more characters not logged)",
            &text[..cut],
            text[cut..].chars().count()
        )
        .into(),
        None => text,
    }
}

/// The longest error or reason text a log line carries, in characters.
pub const LOG_TEXT_MAX: usize = 2000;

/// Forwards held tickets whose window has opened.
fn release_due(shared: &Shared) -> anyhow::Result<usize> {
    let loaded = shared.loaded();
    let desk = Desk {
        config: &loaded.config,
        templates: &loaded.templates,
    };
    let now = shared.clock.now();
    let outcomes = shared
        .store()
        .transaction(|tx| ticket::release_due(tx, &desk, now))?;
    for o in &outcomes {
        log_outcome(o);
    }
    if !outcomes.is_empty() {
        shared.outbox_wake.notify_one();
        refresh_status(shared);
    }
    Ok(outcomes.len())
}

/// Closes idle tickets and purges personal data of long-closed ones (see `[service]`).
pub fn housekeeping(shared: &Shared) -> anyhow::Result<(usize, usize)> {
    let loaded = shared.loaded();
    let cfg = &loaded.config;
    let now = shared.clock.now();
    let close_before =
        now - chrono::Duration::from_std(cfg.close_after).unwrap_or(chrono::Duration::days(30));
    let purge_before = now - chrono::Duration::days(i64::from(cfg.purge_after_days));
    let (closed, purged) = shared.store().transaction(|tx| {
        let closed = tx.close_idle(close_before, now)?;
        let purged = tx.purge_closed(purge_before, now)?;
        if closed + purged > 0 {
            tx.audit(
                now,
                None,
                None,
                "housekeeping",
                &format!("closed {closed}, purged {purged}"),
            )?;
        }
        Ok((closed, purged))
    })?;
    // The WAL still holds the pages as they were before the purge (and before any
    // other change since the last truncation): copy it into the file, where
    // `secure_delete` zeroed what was purged, and truncate it.
    if !shared.store().checkpoint()? {
        debug!("housekeeping: a reader kept the WAL from being truncated; next time");
    }
    if closed + purged > 0 {
        info!(
            closed,
            purged, "housekeeping: idle tickets closed, personal data purged"
        );
    }
    Ok((closed, purged))
}

/// Queues the weekly report when its day and hour have come (`report::send`).
fn weekly_report(shared: &Shared) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    if crate::report::send::send_weekly(&mut shared.store(), &loaded.config, now)? {
        info!("weekly report queued");
        shared.outbox_wake.notify_one();
    }
    Ok(())
}

async fn due_loop(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
    let mut last_housekeeping: Option<Instant> = None;
    loop {
        shared.beat(DUE);
        if let Err(e) = release_due(&shared) {
            error!(error = %redact(&format!("{e:#}")), "due queue");
        }
        if last_housekeeping.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            if let Err(e) = housekeeping(&shared) {
                error!(error = %redact(&format!("{e:#}")), "housekeeping");
            }
            last_housekeeping = Some(Instant::now());
        }
        if let Err(e) = timetable_check(&shared) {
            error!(error = %redact(&format!("{e:#}")), "timetable check");
        }
        if let Err(e) = weekly_report(&shared) {
            error!(error = %redact(&format!("{e:#}")), "weekly report");
        }
        let next = shared.store().read().next_due()?;
        let wait = next
            .map(|t| (t - shared.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_BEAT)
            .min(shared.beat_every())
            .max(Duration::from_millis(20));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.due_wake.notified() => {}
            _ = shutdown.changed() => return Ok(()),
        }
        if stopping(&shutdown) {
            return Ok(());
        }
    }
}

/// How an outbox pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassEnd {
    /// Nothing ready is left (or shutdown).
    Done,
    /// The server cannot be reached: wait (connection backoff) and try again.
    Unreachable,
}

/// The `kv` key holding "since; why" while handled letters are left flagged
/// `\Deleted` in the inbox (a server without UIDPLUS, others' deletions pending).
pub const UNEXPUNGED_KEY: &str = "mailbox_unexpunged";

/// Keeps [`UNEXPUNGED_KEY`] in step with the mailbox's note: logged and stored
/// once when it starts, cleared (and logged) when an EXPUNGE took the letters.
fn note_unexpunged(shared: &Shared, note: Option<&str>, now: DateTime<Utc>) -> anyhow::Result<()> {
    let stored = shared.store().read().kv_get(UNEXPUNGED_KEY)?;
    match (note, stored) {
        (Some(why), None) => {
            warn!(reason = %why, "mailbox: handled letters left in the inbox, flagged \\Deleted");
            shared.store().transaction(|tx| {
                tx.kv_set(UNEXPUNGED_KEY, &format!("{}; {why}", now.to_rfc3339()))?;
                tx.audit(now, None, None, "mailbox_unexpunged", why)
            })?;
        }
        (None, Some(_)) => {
            info!("mailbox: the handled letters left flagged \\Deleted are expunged now");
            shared
                .store()
                .transaction(|tx| tx.kv_delete(UNEXPUNGED_KEY))?;
        }
        _ => {}
    }
    Ok(())
}

/// The `kv` key holding "since; error" while the SMTP server cannot be reached.
pub const OUTBOX_UNREACHABLE_KEY: &str = "outbox_unreachable";

/// Sends what is queued over `outbox` (connecting it when needed). With
/// `until_empty` (for `--once`) returns when nothing is ready; a transient failure
/// then leaves the mail queued for the next run.
///
/// A server that cannot be reached is the connection's fault, not a mail's: the
/// mails keep their attempts and schedule (so they all go out as soon as the server
/// is back), the outage is recorded once for `status`, and the caller backs off.
async fn outbox_pass(
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
    until_empty: bool,
    outbox: &mut Option<Outbox>,
) -> anyhow::Result<PassEnd> {
    loop {
        let now = shared.clock.now();
        // One mail at a time: a forward carries its originals (tens of MB), and a
        // queue of them must never be held in memory at once.
        let ready = shared.store().read().ready_outgoing(now, 1)?;
        if ready.is_empty() {
            return Ok(PassEnd::Done);
        }
        for mail in ready {
            if stopping(shutdown) {
                return Ok(PassEnd::Done);
            }
            shared.beat(OUTBOX);
            if outbox.is_none() {
                let settings = outbox_settings(&shared.loaded().config)?;
                let connected = tokio::select! {
                    r = Outbox::connect(&settings) => r,
                    _ = stopped(shutdown.clone()) => return Ok(PassEnd::Done),
                };
                match connected {
                    Ok(o) => {
                        *outbox = Some(o);
                        server_reachable(shared)?;
                    }
                    Err(e) => {
                        warn!(error = %redact(&e.to_string()), "outbox: cannot connect");
                        server_unreachable(shared, &e.to_string())?;
                        if until_empty {
                            return Err(anyhow::anyhow!("outbox: {}", redact(&e.to_string())));
                        }
                        return Ok(PassEnd::Unreachable);
                    }
                }
            }
            let Some(conn) = outbox.as_mut() else {
                continue;
            };
            // A transaction in flight is let finish, within SMTP_GRACE of a stop.
            let grace = async {
                stopped(shutdown.clone()).await;
                tokio::time::sleep(SMTP_GRACE).await;
            };
            let result = tokio::select! {
                r = conn.send(&mail.envelope_from, &mail.recipients, &mail.raw) => r,
                _ = grace => {
                    warn!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), "stopping: the SMTP server did not finish in time; the mail stays queued");
                    return Ok(PassEnd::Done);
                }
            };
            let now = shared.clock.now();
            match result {
                Ok(()) => {
                    shared
                        .store()
                        .transaction(|tx| tx.mark_sent(mail.id, now))?;
                    info!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), "sent");
                }
                Err(e) if !mail_is_at_fault(&e) => {
                    let retry = now + chrono::Duration::seconds(backoff_secs(mail.attempts));
                    warn!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), error = %redact(&e.to_string()), "send failed; will retry");
                    shared
                        .store()
                        .transaction(|tx| tx.mark_retry(mail.id, &e.to_string(), retry))?;
                    *outbox = None;
                    if until_empty {
                        return Ok(PassEnd::Done);
                    }
                }
                Err(e) => {
                    error!(kind = mail.kind, ticket = mail.ticket.unwrap_or(0), error = %redact(&e.to_string()), "send refused permanently; recorded, not retried");
                    shared.store().transaction(|tx| {
                        tx.mark_failed(mail.id, &e.to_string())?;
                        tx.audit(
                            now,
                            mail.ticket,
                            Some(&mail.message_id),
                            "send_failed",
                            &e.to_string(),
                        )
                    })?;
                }
            }
        }
    }
}

/// Records the start of an outage (once; `status` shows it) and audits it.
fn server_unreachable(shared: &Shared, error: &str) -> anyhow::Result<()> {
    let now = shared.clock.now();
    shared.store().transaction(|tx| {
        if tx.kv_get(OUTBOX_UNREACHABLE_KEY)?.is_none() {
            tx.kv_set(
                OUTBOX_UNREACHABLE_KEY,
                &format!("{}; {error}", now.to_rfc3339()),
            )?;
            tx.audit(now, None, None, "outbox_error", error)?;
        }
        Ok(())
    })
}

/// Clears a recorded outage.
fn server_reachable(shared: &Shared) -> anyhow::Result<()> {
    let mut store = shared.store();
    if store.read().kv_get(OUTBOX_UNREACHABLE_KEY)?.is_some() {
        store.transaction(|tx| tx.kv_delete(OUTBOX_UNREACHABLE_KEY))?;
        info!("outbox: server reachable again");
    }
    Ok(())
}

/// Whether a send error condemns this mail (a 5xx reply, an impossible address)
/// rather than the connection (network, 4xx, TLS, login: retried later).
fn mail_is_at_fault(e: &SendError) -> bool {
    match e {
        SendError::Rejected { code, .. } => *code >= 500,
        SendError::InvalidAddress { .. } | SendError::Unsendable { .. } => true,
        _ => false,
    }
}

/// Retry delays: 5 s, 10 s, 20 s … capped at 10 minutes.
fn backoff_secs(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 7)).min(600)
}

async fn outbox_loop(
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    // Between attempts to reach a server that is down: 0.5 s doubling to 15 s, so a
    // queue of any length costs one connection attempt per step, and mail flows again
    // within seconds of the server's return.
    let mut reconnect = Backoff::new(Duration::from_millis(500), Duration::from_secs(15));
    // The SMTP session is kept between passes (a forward right after a letter pays no
    // TCP + TLS + AUTH), checked with NOOP when it has rested, and closed after a
    // minute without mail.
    let mut conn: Option<Outbox> = None;
    let mut last_mail = Instant::now();
    loop {
        shared.beat(OUTBOX);
        let had_ready = shared
            .store()
            .read()
            .ready_outgoing(shared.clock.now(), 1)
            .map(|r| !r.is_empty())
            .unwrap_or(true);
        if had_ready {
            last_mail = Instant::now();
        } else if last_mail.elapsed() > Duration::from_secs(60)
            && let Some(c) = conn.take()
        {
            c.close().await;
        }
        match outbox_pass(&shared, &shutdown, false, &mut conn).await {
            Ok(PassEnd::Done) => reconnect.reset(),
            Ok(PassEnd::Unreachable) => {
                conn = None;
                if sleep_or_stop(&shared, OUTBOX, reconnect.next_delay(), &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => {
                conn = None;
                error!(error = %redact(&format!("{e:#}")), "outbox");
            }
        }
        if stopping(&shutdown) {
            return Ok(());
        }
        let next = shared.store().read().next_outgoing()?;
        let wait = next
            .map(|t| (t - shared.clock.now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(MAX_BEAT)
            .clamp(Duration::from_millis(20), shared.beat_every());
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shared.outbox_wake.notified() => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Tells systemd we are ready (no-op outside systemd).
fn notify_ready(shared: &Shared) {
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
    update_status(shared, "ready");
}

/// Records a successful exchange with the mailbox (for `status`), at most every
/// [`CONTACT_EVERY`].
fn touch_contact(shared: &Shared) -> anyhow::Result<()> {
    let mut written = shared
        .contact_written
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if written.is_some_and(|t| t.elapsed() < CONTACT_EVERY) {
        return Ok(());
    }
    let now = shared.clock.now();
    shared
        .store()
        .transaction(|tx| tx.kv_set("last_mailbox_contact", &now.to_rfc3339()))?;
    *written = Some(Instant::now());
    Ok(())
}

/// Rebuilds the status line with the inbox's current mode (after the due queue moved).
fn refresh_status(shared: &Shared) {
    let mode = *shared.mode.lock().unwrap_or_else(|e| e.into_inner());
    update_status(shared, mode);
}

/// A one-line state for systemd's STATUS= and `status`, e.g.
/// "IDLE; 3 waiting for duty; next window Thu 08:00 Бамбуркин С.П.".
fn update_status(shared: &Shared, mode: &'static str) {
    *shared.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let held = shared
        .store()
        .read()
        .held_tickets()
        .map(|h| h.len())
        .unwrap_or(0);
    let s = &loaded.config.schedule;
    let next = match s.next_window(now) {
        Some(x) => format!(
            "next window {} {}",
            x.from.format("%a %H:%M"),
            s.specialists()[x.specialist].name
        ),
        None => "no window ahead".into(),
    };
    let mut line = format!("{mode}; {held} waiting for duty; {next}");
    match s.validity(now, loaded.config.warn_before_end_days) {
        Validity::Valid => {}
        Validity::EndsSoon {
            last_day,
            days_left,
        } => line.push_str(&format!(
            "; timetable ends {last_day} ({days_left} days left)"
        )),
        Validity::Ended { last_day } => line.push_str(&format!(
            "; TIMETABLE ENDED {last_day}: every ticket goes to the fallback"
        )),
    }
    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Status(&line)]);
    *shared.status.lock().unwrap_or_else(|e| e.into_inner()) = line;
}

/// Records a mailbox failure; after `stall_alert_after`, one alert mail per incident.
fn stall_check(shared: &Shared, error: &str) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let cfg = &loaded.config;
    let mut store = shared.store();
    store.transaction(|tx| {
        tx.audit(now, None, None, "mailbox_error", error)?;
        let since = match tx.kv_get("stall_since")? {
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now),
            None => {
                tx.kv_set("stall_since", &now.to_rfc3339())?;
                now
            }
        };
        let alerted = tx.kv_get("stall_alerted")?.is_some();
        let threshold = chrono::Duration::from_std(cfg.stall_alert_after)
            .unwrap_or(chrono::Duration::minutes(15));
        if !alerted && now - since >= threshold {
            if let Some(admin) = &cfg.admin {
                queue_admin_mail(tx, &loaded, admin, "stall_alert", since, error, now)?;
            }
            tx.kv_set("stall_alerted", &now.to_rfc3339())?;
            warn!("mailbox unreadable since {since}: alert queued for the admin");
        }
        Ok(())
    })?;
    drop(store);
    shared.outbox_wake.notify_one();
    Ok(())
}

/// Clears a stall; if an alert went out, queues the recovery note.
fn stall_recovered(shared: &Shared) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let now = shared.clock.now();
    let mut store = shared.store();
    let recovered = store.transaction(|tx| {
        tx.kv_set("last_mailbox_contact", &now.to_rfc3339())?;
        let Some(since) = tx.kv_get("stall_since")? else {
            return Ok(false);
        };
        let alerted = tx.kv_get("stall_alerted")?.is_some();
        tx.kv_delete("stall_since")?;
        tx.kv_delete("stall_alerted")?;
        if alerted && let Some(admin) = &loaded.config.admin {
            let since = DateTime::parse_from_rfc3339(&since)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now);
            queue_admin_mail(tx, &loaded, admin, "stall_recovered", since, "", now)?;
        }
        Ok(alerted)
    })?;
    drop(store);
    if recovered {
        info!("mailbox readable again: recovery note queued for the admin");
        shared.outbox_wake.notify_one();
    }
    Ok(())
}

/// The `kv` key holding the `valid_until` whose "the timetable ends soon" mail went
/// to the admin: one mail per timetable (a new `valid_until` arms it again).
pub const TIMETABLE_WARNED_KEY: &str = "timetable_end_warned";
/// The `kv` key holding "valid_until;local date" of the last "the timetable has
/// ended" reminder to the admin.
pub const TIMETABLE_REMINDED_KEY: &str = "timetable_ended_reminded";
/// Days between two reminders that the timetable has ended.
const TIMETABLE_REMIND_EVERY_DAYS: i64 = 7;

/// `warn_before_end` days before the timetable's last day, one mail to the admin
/// (template `timetable_end`) saying when it ends and how to add the next one; once
/// it has ended, a reminder every [`TIMETABLE_REMIND_EVERY_DAYS`] days. Returns
/// whether a mail was queued.
pub fn timetable_check(shared: &Shared) -> anyhow::Result<bool> {
    let loaded = shared.loaded();
    let cfg = &loaded.config;
    let s = &cfg.schedule;
    let now = shared.clock.now();
    let today = now.with_timezone(&s.tz()).date_naive();
    let last = s.valid_until().to_string();
    let validity = s.validity(now, cfg.warn_before_end_days);
    let queued = shared.store().transaction(|tx| {
        let (expired, days_left) = match validity {
            Validity::Valid => return Ok(false),
            Validity::EndsSoon { days_left, .. } => {
                if tx.kv_get(TIMETABLE_WARNED_KEY)?.as_deref() == Some(last.as_str()) {
                    return Ok(false);
                }
                tx.kv_set(TIMETABLE_WARNED_KEY, &last)?;
                (false, days_left)
            }
            Validity::Ended { .. } => {
                let previous = tx.kv_get(TIMETABLE_REMINDED_KEY)?;
                let reminded = previous
                    .as_deref()
                    .and_then(|v| v.split_once(';'))
                    .filter(|(until, _)| *until == last)
                    .and_then(|(_, date)| date.parse::<chrono::NaiveDate>().ok());
                if reminded.is_some_and(|d| (today - d).num_days() < TIMETABLE_REMIND_EVERY_DAYS) {
                    return Ok(false);
                }
                tx.kv_set(TIMETABLE_REMINDED_KEY, &format!("{last};{today}"))?;
                (true, -1)
            }
        };
        let detail = if expired {
            format!("the timetable ended on {last}")
        } else {
            format!("the timetable ends on {last} ({days_left} days left)")
        };
        tx.audit(now, None, None, "timetable_end", &detail)?;
        let Some(admin) = &cfg.admin else {
            return Ok(false);
        };
        let ctx = minijinja::context! {
            school => cfg.school_name,
            mailbox => cfg.from.email,
            last_day => crate::ticket::date_ru(s.valid_until()),
            days_left => days_left,
            expired => expired,
            config => cfg.file.display().to_string(),
            unit => shared.unit,
        };
        queue_admin_letter(tx, &loaded, admin, "timetable_end", ctx, now)?;
        Ok(true)
    })?;
    if queued {
        warn!(valid_until = %last, "the timetable ends or has ended: mail queued for the admin");
        shared.outbox_wake.notify_one();
        refresh_status(shared);
    }
    Ok(queued)
}

fn queue_admin_mail(
    tx: &crate::store::Tx<'_>,
    loaded: &Loaded,
    admin: &crate::config::Address,
    template: &str,
    since: DateTime<Utc>,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let tz = cfg.schedule.tz();
    let mailbox = match &cfg.mailbox {
        MailboxSource::Imap { server, .. } => format!(
            "{} ({})",
            server.login.as_ref().map_or("", |l| l.username.as_str()),
            server.host
        ),
        MailboxSource::Maildir { path, .. } => path.display().to_string(),
    };
    let ctx = minijinja::context! {
        mailbox => mailbox,
        since => since.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string(),
        error => error,
    };
    queue_admin_letter(tx, loaded, admin, template, ctx, now)
}

/// Renders `template` with `ctx` and queues it to the admin.
fn queue_admin_letter(
    tx: &crate::store::Tx<'_>,
    loaded: &Loaded,
    admin: &crate::config::Address,
    template: &str,
    ctx: minijinja::Value,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let cfg = &loaded.config;
    let rendered = loaded.templates.render(template, ctx)?;
    let letter = crate::letter::Letter {
        from: cfg.from.clone(),
        to: vec![admin.clone()],
        reply_to: None,
        subject: rendered.subject,
        body: rendered.body,
        message_id: crate::letter::new_message_id(template, None, &cfg.from),
        in_reply_to: None,
        references: vec![],
        auto_submitted: crate::letter::AutoSubmitted::Generated,
        ticket: None,
        date: now,
        attachments: vec![],
    };
    let raw = letter.build()?;
    tx.queue(
        &crate::store::NewOutgoing {
            message_id: &letter.message_id,
            ticket: None,
            kind: template,
            auto_reply_to: None,
            envelope_from: &cfg.from.email,
            recipients: std::slice::from_ref(&admin.email),
            raw: &raw,
            not_before: None,
        },
        now,
    )
}

/// The status line last set (for tests and `status`).
pub fn status_line(shared: &Shared) -> String {
    shared
        .status
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn redact_hides_local_parts_only() {
        assert_eq!(
            redact("550 5.1.1 <mama.ivanova@mail.ru>: Recipient address rejected"),
            "550 5.1.1 <…@mail.ru>: Recipient address rejected"
        );
        assert_eq!(redact("complete, on duty now"), "complete, on duty now");
        assert_eq!(redact("ученик.петров@школа.рф"), "…@школа.рф");
    }

    #[test]
    fn redact_cuts_long_texts() {
        let long = format!("unexpected response: {}", "Жираф ".repeat(500));
        let kept: String = long.chars().take(super::LOG_TEXT_MAX).collect();
        let more = long.chars().count() - super::LOG_TEXT_MAX;
        assert_eq!(
            redact(&long),
            format!("{kept}… ({more} more characters not logged)")
        );
        assert_eq!(redact(&"x".repeat(2000)), "x".repeat(2000));
    }
}
