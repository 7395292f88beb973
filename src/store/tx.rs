//! The writes of one letter's transaction ([`Tx`]).

use super::*;

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

    /// Records a specialist's answer to a ticket: who, when, since when the ticket
    /// was theirs (its last forward), and whether it was passed on to the requester.
    pub fn record_answer(&self, a: &NewAnswer<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "INSERT INTO answers (ticket, at, specialist, specialist_name, assigned_at, relayed)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                a.ticket,
                ts(now),
                a.specialist,
                a.specialist_name,
                a.assigned_at.map(ts),
                a.relayed
            ],
        )?;
        Ok(())
    }

    /// Marks a forwarded ticket's specialist as reminded of it.
    pub fn set_reminded(&self, number: i64, at: DateTime<Utc>) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET reminded_at = ?2 WHERE number = ?1",
            params![number, ts(at)],
        )?;
        Ok(())
    }

    /// A ticket was just handed on (a forward or an addition): nobody is
    /// reminded of it yet; `via_desk` says whether answers come back to the desk.
    pub fn set_handed(&self, number: i64, via_desk: bool) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET reminded_at = NULL, via_desk = ?2 WHERE number = ?1",
            params![number, via_desk],
        )?;
        Ok(())
    }

    /// Runs `f` inside a savepoint: what it wrote is undone if it fails, the
    /// rest of the transaction is kept.
    pub fn savepoint<T>(&self, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.0.execute_batch("SAVEPOINT one_ticket")?;
        match f() {
            Ok(v) => {
                self.0.execute_batch("RELEASE one_ticket")?;
                Ok(v)
            }
            Err(e) => {
                self.0
                    .execute_batch("ROLLBACK TO one_ticket; RELEASE one_ticket")?;
                Err(e)
            }
        }
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

    /// Opens a closed ticket again in `state` (forwarded: as if forwarded now,
    /// so its specialist is not reminded at once).
    pub fn reopen_ticket(
        &self,
        number: i64,
        state: TicketState,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        self.0.execute(
            "UPDATE tickets SET state = ?2, closed_at = NULL, closed_from = NULL, updated_at = ?3,
                 reminded_at = NULL,
                 forwarded_at = CASE WHEN ?2 = 'forwarded' THEN ?3 ELSE forwarded_at END
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
