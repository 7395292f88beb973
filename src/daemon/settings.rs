//! The config's `[mailbox]` and `[outbox]` as the settings the mailbox and the
//! outbox take, and the config and templates in force ([`Loaded`]).

use std::path::Path;

use anyhow::Context as _;

use crate::config::{Config, MailboxSource, OutboxSink, Server, Tls};
use crate::mailbox::{ImapSettings, MailboxSettings, MaildirSettings, TlsMode};
use crate::outbox::{MaildirOutboxSettings, OutboxSettings, SmtpSettings};
use crate::request::Context as RequestContext;
use crate::templates::Templates;
use crate::ticket::Desk;

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

    /// What the ticket side decides with.
    pub fn desk(&self) -> Desk<'_> {
        Desk {
            config: &self.config,
            templates: &self.templates,
        }
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

pub(super) fn tls_mode(t: Tls) -> TlsMode {
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
pub(super) fn source_name(c: &Config) -> String {
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
