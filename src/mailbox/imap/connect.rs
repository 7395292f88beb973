//! Connecting: TCP (TCP_NODELAY) → TLS (implicit) or greeting + STARTTLS + TLS,
//! or plain on loopback only → greeting → LOGIN → CAPABILITY → the desk's
//! folders → SELECT.

use super::*;

impl ImapMailbox {
    /// See [`super::Mailbox::connect`].
    pub async fn connect(s: &ImapSettings) -> Result<Self, MailboxError> {
        let host = s.host.as_str();
        let t = s.timeout;
        let client = open_client(s).await?;

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
}

/// TCP (no Nagle delay: commands are small writes waiting for a reply), TLS as
/// the settings say (implicit, or STARTTLS after the greeting; plain text on
/// loopback only), and the greeting read: a client ready for LOGIN.
async fn open_client(s: &ImapSettings) -> Result<Client<ImapStream>, MailboxError> {
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

    Ok(match (s.tls, tls_config) {
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
    })
}
