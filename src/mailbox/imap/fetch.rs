//! Reading new mail: the UIDs past the cursor, their sizes and dates, then the
//! letters themselves within the batch's byte budget.

use super::*;

impl ImapMailbox {
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
    pub(super) async fn new_uids(&mut self, start: u32) -> Result<Vec<u32>, MailboxError> {
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
    pub(super) async fn uids_of(
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
    pub(super) async fn fetch_uids(
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
    pub(super) async fn fetch_each<T: Send + 'static>(
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
    pub(super) async fn fetch_set<T: Send + 'static>(
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
}
