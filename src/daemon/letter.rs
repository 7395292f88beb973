//! One letter: understood and decided in one store transaction
//! ([`handle_letter`]), its decision logged, and what a failing state store
//! means for it (nothing committed, decided again later).

use tracing::{debug, error, info};

use super::health::update_status;
use super::{Shared, redact};
use crate::mailbox::{Fetched, Folder};
use crate::request;
use crate::store::{Queries, STORE_ERROR_KEY, STUCK_PREFIX};
use crate::ticket::{self, Incoming, Outcome};

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
