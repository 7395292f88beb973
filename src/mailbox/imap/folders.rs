//! The desk's folders on the server: the layout learned from `LIST "" ""` and
//! NAMESPACE, the missing folders created and subscribed.

use super::*;

impl ImapMailbox {
    /// The personal namespace (RFC 2342), by [`raw_command`](Self::raw_command):
    /// async-imap cannot parse a NAMESPACE answer (it would break the session).
    /// None when the server names no personal namespace or refuses the command.
    pub(super) async fn namespace(&mut self) -> Result<Option<layout::Namespace>, MailboxError> {
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
    pub(super) async fn create_folders(&mut self) -> Result<(), MailboxError> {
        let host = self.settings.host.clone();
        let mut separator = match self.list("\"\" \"\"").await {
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
    pub(super) async fn existing_folders(
        &mut self,
        layout: &Layout,
    ) -> Result<HashSet<String>, MailboxError> {
        let mut existing = HashSet::new();
        let mut patterns = vec![
            format!("{}*", layout.parent()),
            format!("{}*", Folder::PARENT),
        ];
        patterns.dedup();
        for p in patterns {
            let args = format!("\"\" {}", quoted(&utf7::encode(&p)));
            match self.list(&args).await {
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
    pub(super) async fn make_folders(
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
    pub(super) async fn create(&mut self, wire: String) -> Result<(), MailboxError> {
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
}
