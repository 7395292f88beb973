//! The inbox loop: connect, drain what waits, wait for more (IDLE or poll).
//!
//! One letter is understood and decided in one store transaction
//! ([`handle_letter`]); the moves into the folders follow per batch.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::health::{stall_check, stall_recovered, touch_contact, update_status};
use super::refusals::{fetch_refused, move_decided, move_unmoved, retry_refused};
use super::settings::{mailbox_settings, source_name};
use super::{INBOX, Shared, notify_ready, redact, sleep_or_stop, stopped, stopping};
use crate::config::MailboxSource;
use crate::mailbox::{Backoff, Budget, Fetched, Folder, Mailbox};
use crate::request;
use crate::store::{Queries, STORE_ERROR_KEY, STUCK_PREFIX};
use crate::ticket::{self, Incoming, Outcome};

/// Connects to the mailbox, logging and backing off until it works or shutdown.
/// Returns the mailbox with the settings it was opened with.
pub(super) async fn connect_mailbox(
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
pub(super) async fn inbox_pass(
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
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
pub(super) async fn inbox_loop(
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
pub(super) const BATCH: usize = 50;

/// Bytes of letters one batch holds at most: a letter larger than this comes alone,
/// so with letters of up to 30 MB a batch holds about one of them (the batch stays
/// in memory until its letters are moved).
pub(super) const BATCH_BYTES: u64 = 32 * 1024 * 1024;

/// The state store failed while a letter was being decided (locked, full, I/O):
/// nothing of that letter was committed, and it is decided again later. Never a
/// reason to file a letter as unreadable.
#[derive(Debug, thiserror::Error)]
#[error("the state store failed (the letter stays in the inbox and is tried again): {0:#}")]
pub(super) struct StoreTrouble(pub(super) anyhow::Error);

/// Whether an error of a decision comes from the state store rather than from the
/// letter: any SQLite error but a constraint or size violation (which a letter's
/// content could cause).
pub(super) fn is_store_error(e: &anyhow::Error) -> bool {
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

/// Handles every waiting letter; returns when the inbox is empty (or shutdown).
///
/// First the recovery (letters decided but not moved, refused letters whose retry
/// is due), then batch after batch above the cursor. A letter the server refuses to
/// give or to move is recorded and tried again later ([`LETTER_ATTEMPTS`]); the
/// others go on. A failure of the state store stops the pass at that letter (so the
/// cursor never passes it) and returns a [`StoreTrouble`]; the caller tries again
/// later.
///
/// [`LETTER_ATTEMPTS`]: super::LETTER_ATTEMPTS
pub(super) async fn drain(
    shared: &Arc<Shared>,
    mailbox: &mut Mailbox,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let loaded = shared.loaded();
    let pass = Pass {
        source: source_name(&loaded.config),
        uidvalidity: mailbox.uidvalidity(),
        budget: Budget {
            letters: BATCH,
            bytes: BATCH_BYTES,
            max_message_size: loaded.config.max_message_size as u64,
        },
    };
    // Recovery.
    move_unmoved(shared, mailbox).await?;
    retry_refused(
        shared,
        mailbox,
        &pass.source,
        pass.uidvalidity,
        &pass.budget,
    )
    .await?;
    // The highest UID handled in this pass: the next fetch starts above it even
    // when a letter left alone did not move the stored cursor.
    let mut floor = 0u32;
    loop {
        let after = cursor(shared, mailbox, &pass).await?.max(floor);
        // Fetching changes nothing: a stop (or a hung server) need not wait for it.
        let batch = tokio::select! {
            r = mailbox.fetch_batch(after, &pass.budget) => r?,
            _ = stopped(shutdown.clone()) => return Ok(()),
        };
        if batch.is_empty() {
            break;
        }
        floor = floor.max(handle_batch(shared, mailbox, &pass, &batch, shutdown).await?);
        if stopping(shutdown) {
            return Ok(());
        }
    }
    store_ok(shared)?;
    Ok(())
}

/// What one drain works with: the cursor's name, the mailbox's UIDVALIDITY and the
/// size of a batch.
struct Pass {
    source: String,
    uidvalidity: u32,
    budget: Budget,
}

/// The UID the next batch starts after: the stored cursor; 0 when UIDVALIDITY
/// changed (a rescan); on the first start, the last letter before `start_from`.
async fn cursor(shared: &Shared, mailbox: &mut Mailbox, pass: &Pass) -> anyhow::Result<u32> {
    let uidvalidity = pass.uidvalidity;
    let cursor = shared.store().read().cursor(&pass.source)?;
    Ok(match cursor {
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
        None => match shared.loaded().config.start_from {
            Some(from) if matches!(mailbox, Mailbox::Imap(_)) => {
                let skip = mailbox.last_uid_before(from).await?;
                if skip > 0 {
                    info!(
                        skipped_up_to_uid = skip,
                        "first start: letters older than start_from are left alone"
                    );
                    shared
                        .store()
                        .transaction(|tx| tx.set_cursor(&pass.source, uidvalidity, skip))?;
                }
                skip
            }
            _ => 0,
        },
    })
}

/// Decides the letters of one batch and moves them; returns the highest UID handled.
///
/// Each letter is decided in its own transaction and its mail handed to the outbox
/// at once; the moves follow for the whole batch (one UID MOVE per folder, one
/// transaction marking them). A crash in between leaves decided letters unmoved,
/// and the next drain moves them (its recovery).
async fn handle_batch(
    shared: &Arc<Shared>,
    mailbox: &mut Mailbox,
    pass: &Pass,
    batch: &[Fetched],
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<u32> {
    let mut highest = 0u32;
    let mut decided: Vec<(&Fetched, Folder)> = Vec::with_capacity(batch.len());
    let mut trouble = None;
    for fetched in batch {
        if stopping(shutdown) {
            break;
        }
        shared.beat(INBOX);
        let handled = match &fetched.refused {
            Some(why) => fetch_refused(shared, &pass.source, pass.uidvalidity, fetched, why),
            None => handle_letter(shared, &pass.source, pass.uidvalidity, fetched),
        };
        match handled {
            Ok(folder) => {
                highest = highest.max(fetched.uid.unwrap_or(0));
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
    Ok(highest)
}

/// Logs a failure of the state store and notes it for `status` (best effort: the
/// store may refuse that too).
pub(super) fn store_failed(shared: &Shared, e: &anyhow::Error) {
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
pub(super) fn store_ok(shared: &Shared) -> anyhow::Result<()> {
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
pub(super) fn handle_letter(
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
    let desk = loaded.desk();
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
            store.transaction(|tx| {
                let o = ticket::undecidable(tx, &incoming, &e, now)?;
                if let Some(uid) = fetched.uid {
                    tx.set_cursor(source, uidvalidity, uid)?;
                }
                Ok(o)
            })?
        }
    };
    log_outcome(&outcome);
    Ok(Some(outcome.folder))
}

/// One line per decision: ticket, verdict, reason, assignee. Never a body or an address.
pub(super) fn log_outcome(o: &Outcome) {
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
