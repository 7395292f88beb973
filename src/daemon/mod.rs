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

mod due;
mod health;
mod inbox;
mod letter;
mod outbox;
mod refusals;
mod settings;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tracing::{debug, error, warn};

use crate::store::{Queries, Store};

pub use due::{housekeeping, timetable_check, weekly_report};
pub use health::status_line;
pub use refusals::LETTER_ATTEMPTS;
pub use settings::{Loaded, mailbox_settings, outbox_settings};

use due::{due_loop, release_due};
use health::notify_ready;
use inbox::{connect_mailbox, inbox_loop, inbox_pass};
use outbox::{outbox_loop, outbox_pass};

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
