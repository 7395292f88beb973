//! Filing letters: MOVE, or COPY + `\Deleted` + EXPUNGE (UID EXPUNGE with
//! UIDPLUS; a plain EXPUNGE only when no one else's message is flagged).

use super::*;

impl ImapMailbox {
    /// See [`super::Mailbox::move_to`].
    pub async fn move_to(&mut self, fetched: &Fetched, folder: Folder) -> Result<(), MailboxError> {
        self.move_one(fetched, folder).await?;
        self.expunge_ours().await?;
        self.drain();
        Ok(())
    }

    /// `UID MOVE`, or `UID COPY` and `\Deleted` (the EXPUNGE is left to the caller).
    pub(super) async fn move_one(
        &mut self,
        fetched: &Fetched,
        folder: Folder,
    ) -> Result<(), MailboxError> {
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
    pub(super) fn current_uid(&self, fetched: &Fetched) -> Result<u32, MailboxError> {
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
    pub(super) async fn delete_uid(&mut self, uid: u32) -> Result<(), MailboxError> {
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
    pub(super) async fn expunge_ours(&mut self) -> Result<(), MailboxError> {
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
}
