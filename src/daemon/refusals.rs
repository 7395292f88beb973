//! Letters the server refused to give or to move: recorded, tried again later,
//! and after [`LETTER_ATTEMPTS`] filed as unreadable (fetch) or left handled in
//! the inbox (move); and letters decided but not yet moved (after a crash).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use super::inbox::{StoreTrouble, handle_letter, store_failed};
use super::{Shared, redact};
use crate::mailbox::{Budget, Fetched, Folder, Mailbox, MailboxError};
use crate::store::{LetterTrouble, Queries, RETRY_PREFIX, STUCK_PREFIX, UNEXPUNGED_KEY};

/// How often a letter the server refuses (to give, or to move) is tried in all:
/// then it is filed as unreadable (fetch) or left in the inbox, marked handled and
/// shown in `status` (move).
pub const LETTER_ATTEMPTS: u32 = 5;

/// The wait before trying a refused letter again after `attempts` failures:
/// 1, 2, 4, 8 … minutes of the daemon's clock.
pub(super) fn letter_retry_delay(attempts: u32) -> chrono::Duration {
    chrono::Duration::minutes(1i64 << attempts.saturating_sub(1).min(10))
}

/// Letters committed before a crash (or refused by the server) but not yet moved:
/// moves them now, those whose retry is due.
pub(super) async fn move_unmoved(
    shared: &Arc<Shared>,
    mailbox: &mut Mailbox,
) -> anyhow::Result<()> {
    let now = shared.clock.now();
    let (unmoved, troubles) = {
        let store = shared.store();
        let r = store.read();
        let mut troubles: HashMap<String, Option<LetterTrouble>> = HashMap::new();
        for (k, v) in r.kv_prefix(RETRY_PREFIX)? {
            troubles.insert(k[RETRY_PREFIX.len()..].to_string(), LetterTrouble::read(&v));
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
pub(super) async fn retry_refused(
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
        let trouble = LetterTrouble::read(&v);
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
pub(super) async fn move_decided(
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
pub(super) fn move_refused(
    tx: &crate::store::Tx<'_>,
    key: &str,
    folder: Folder,
    why: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let retry_key = format!("{RETRY_PREFIX}{key}");
    let prev = tx
        .kv_get(&retry_key)?
        .as_deref()
        .and_then(LetterTrouble::read);
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
pub(super) fn fetch_refused(
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
        let prev = tx.kv_get(&retry_key)?.as_deref().and_then(LetterTrouble::read);
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

/// Keeps [`UNEXPUNGED_KEY`] in step with the mailbox's note: logged and stored
/// once when it starts, cleared (and logged) when an EXPUNGE took the letters.
pub(super) fn note_unexpunged(
    shared: &Shared,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
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
