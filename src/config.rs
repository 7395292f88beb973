//! Configuration: TOML → serde structs ([`raw`]) → a validated [`Config`].
//!
//! Two stages, as in ripgrep and pueue: the file is first read into plain serde
//! structs that mirror it key for key (the key names are a contract, see
//! DESIGN.md), then checked and turned into [`Config`], a type that cannot hold
//! a broken value. Every error names the file, the line and what is wrong.
//!
//! Secrets never live in the file: `password_file` (systemd's
//! `$CREDENTIALS_DIRECTORY` is expanded) or `password_env`. An inline
//! `password` is refused.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use toml::Spanned;

use crate::schedule::{Change, Minutes, Schedule, Specialist, Window};

/// The default config path, relative to the working directory.
pub const DEFAULT_PATH: &str = "config/duty-desk.toml";
/// The commented example, used when [`DEFAULT_PATH`] does not exist.
pub const EXAMPLE_PATH: &str = "config/duty-desk.example.toml";

/// A configuration error: the file, the line (when one is to blame) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

/// The serde mirror of the file. Field names are the contract of DESIGN.md.
pub mod raw {
    use super::*;

    #[derive(Debug, Deserialize, Default)]
    pub struct File {
        pub mailbox: Option<Mailbox>,
        pub outbox: Option<Outbox>,
        pub school: Option<School>,
        pub schedule: Option<ScheduleSection>,
        #[serde(default)]
        pub specialists: Vec<Spanned<SpecialistEntry>>,
        #[serde(default)]
        pub limits: Limits,
        #[serde(default)]
        pub state: State,
        #[serde(default)]
        pub templates: Templates,
        #[serde(default)]
        pub service: Service,
        #[serde(default)]
        pub report: Report,
    }

    /// Where requests arrive.
    #[derive(Debug, Deserialize)]
    pub struct Mailbox {
        /// `imap` or `maildir`.
        pub kind: Spanned<String>,
        pub host: Option<Spanned<String>>,
        pub port: Option<u16>,
        /// `implicit`, `starttls` or `none` (loopback only).
        pub tls: Option<Spanned<String>>,
        /// Extra trust root (PEM), besides the system's.
        pub ca_file: Option<String>,
        pub username: Option<String>,
        pub password_file: Option<String>,
        pub password_env: Option<String>,
        /// Refused: passwords do not belong in the file.
        pub password: Option<Spanned<String>>,
        pub folder: Option<String>,
        /// The parent of the desk's folders ("/" between levels); default
        /// `duty-desk` in the server's personal namespace.
        pub folder_prefix: Option<Spanned<String>>,
        pub idle: Option<bool>,
        /// e.g. "60s", "5m".
        pub poll_interval: Option<Spanned<String>>,
        /// Maildir folder, for `kind = "maildir"`.
        pub path: Option<String>,
        /// Messages received before this date (or RFC 3339 instant) are left alone.
        pub start_from: Option<Spanned<String>>,
        /// The receiving server's authserv-id (RFC 8601): only its
        /// `Authentication-Results` fields are read.
        pub authserv_id: Option<Spanned<String>>,
    }

    /// Where replies and forwards go out.
    #[derive(Debug, Deserialize)]
    pub struct Outbox {
        /// `smtp` or `maildir`.
        pub kind: Spanned<String>,
        pub host: Option<Spanned<String>>,
        pub port: Option<u16>,
        pub tls: Option<Spanned<String>>,
        pub ca_file: Option<String>,
        pub username: Option<String>,
        pub password_file: Option<String>,
        pub password_env: Option<String>,
        pub password: Option<Spanned<String>>,
        /// `Name <address>` the mail is sent from.
        pub from: Spanned<String>,
        /// Folder for `.eml` files, for `kind = "maildir"`.
        pub path: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct School {
        pub name: Option<String>,
        pub timezone: Option<Spanned<String>>,
        /// Receives etiquette reports (rule 5).
        pub supervisor: Spanned<String>,
        /// Receives tickets when no duty window lies ahead.
        #[serde(default)]
        pub fallback: Vec<Spanned<String>>,
        #[serde(default)]
        pub staff_domains: Vec<String>,
        #[serde(default)]
        pub staff_addresses: Vec<String>,
        /// Receives stall alerts; defaults to the first fallback address.
        pub admin: Option<Spanned<String>>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ScheduleSection {
        pub valid_from: Spanned<String>,
        pub valid_until: Spanned<String>,
        #[serde(default)]
        pub holidays: Vec<Spanned<String>>,
        #[serde(default)]
        pub changes: Vec<Spanned<ChangeEntry>>,
        /// The admin is warned this long before `valid_until` ("14d").
        pub warn_before_end: Option<Spanned<String>>,
    }

    /// A one-off change on a date: `replaced_by` someone, or an `extra` window.
    #[derive(Debug, Deserialize)]
    pub struct ChangeEntry {
        pub date: String,
        pub name: String,
        pub replaced_by: Option<String>,
        pub extra: Option<String>,
        #[serde(default)]
        pub cancelled: bool,
    }

    #[derive(Debug, Deserialize)]
    pub struct SpecialistEntry {
        pub name: String,
        #[serde(default)]
        pub position: String,
        pub email: Option<String>,
        /// Who gets complaints about this specialist (default `[school] supervisor`).
        pub supervisor: Option<String>,
        /// Weekday (mon…sun) → list of "HH:MM-HH:MM".
        #[serde(default)]
        pub duty: toml::Table,
    }

    #[derive(Debug, Deserialize)]
    pub struct Limits {
        #[serde(default = "default_auto_replies")]
        pub auto_replies_per_sender_per_day: u32,
        #[serde(default = "default_max_size")]
        pub max_message_size: Spanned<String>,
        /// Automatic replies to all senders together, per hour.
        #[serde(default = "default_auto_replies_per_hour")]
        pub auto_replies_per_hour: u32,
        /// Originals attached to one forward, in all.
        #[serde(default = "default_max_forward_size")]
        pub max_forward_size: Spanned<String>,
        /// Specialist's answers relayed plus requester's additions forwarded, per ticket per day.
        #[serde(default = "default_exchanges")]
        pub exchanges_per_ticket_per_day: u32,
    }

    impl Default for Limits {
        fn default() -> Self {
            Limits {
                auto_replies_per_sender_per_day: default_auto_replies(),
                max_message_size: default_max_size(),
                auto_replies_per_hour: default_auto_replies_per_hour(),
                max_forward_size: default_max_forward_size(),
                exchanges_per_ticket_per_day: default_exchanges(),
            }
        }
    }

    fn default_auto_replies_per_hour() -> u32 {
        60
    }
    fn default_max_forward_size() -> Spanned<String> {
        Spanned::new(0..0, "20MB".to_string())
    }
    fn default_exchanges() -> u32 {
        5
    }

    fn default_auto_replies() -> u32 {
        5
    }
    fn default_max_size() -> Spanned<String> {
        Spanned::new(0..0, "30MB".to_string())
    }

    #[derive(Debug, Deserialize, Default)]
    pub struct State {
        pub path: Option<String>,
    }

    #[derive(Debug, Deserialize, Default)]
    pub struct Templates {
        pub dir: Option<String>,
    }

    /// How the daemon runs (not in DESIGN.md's sample; all optional).
    #[derive(Debug, Deserialize, Default)]
    pub struct Service {
        /// Mailbox unreadable this long → one alert to the admin ("15m").
        pub stall_alert_after: Option<Spanned<String>>,
        /// Personal data of closed tickets is purged after this many days.
        pub purge_after_days: Option<u32>,
        /// A ticket with no activity this long is closed ("30d").
        pub close_after: Option<Spanned<String>>,
    }

    /// The weekly report (all optional).
    #[derive(Debug, Deserialize, Default)]
    pub struct Report {
        /// Off with `false` (default on).
        pub enabled: Option<bool>,
        /// The weekday it is sent on (mon … sun; default mon).
        pub day: Option<Spanned<String>>,
        /// The local hour it is sent at, 0–23 (default 8).
        pub hour: Option<Spanned<u32>>,
        /// Who gets it (default the supervisor).
        pub recipients: Option<Vec<Spanned<String>>>,
    }
}

/// `[report]`: when the weekly report goes out and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSettings {
    pub enabled: bool,
    /// Sent on this weekday at `hour`:00 local time, for the Monday–Sunday week before.
    pub day: Weekday,
    pub hour: u32,
    pub recipients: Vec<Address>,
}

/// TLS on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tls {
    Implicit,
    StartTls,
    None,
}

/// Where a password comes from; read when connecting, never stored in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    File(PathBuf),
    Env(String),
}

impl Secret {
    /// Reads the secret; a trailing newline in a file is dropped.
    pub fn read(&self) -> anyhow::Result<String> {
        match self {
            Secret::File(path) => {
                check_private(path)?;
                let text = std::fs::read_to_string(path).map_err(|e| {
                    anyhow::anyhow!("cannot read password file {}: {e}", path.display())
                })?;
                Ok(text.trim_end_matches(['\r', '\n']).to_string())
            }
            Secret::Env(var) => std::env::var(var).map_err(|_| {
                anyhow::anyhow!("environment variable {var} (password_env) is not set")
            }),
        }
    }
}

/// Refuses a password file that other accounts can read (or change): a mode with any
/// bit for others, or for the group.
///
/// One exception, for systemd's credentials: `LoadCredential=` writes each file into
/// `$CREDENTIALS_DIRECTORY` as 0400, owned by root, and grants the service's (dynamic)
/// user read access with a POSIX ACL entry (`user:<uid>:r--`); `stat` shows an ACL's
/// mask in the group bits, so such a file reads as 0440 although no group can read it
/// (`getfacl`: `group::---`, `mask::r--`). Where the file system has no ACLs, systemd
/// chowns the file to the service's user instead, 0400. So a file directly in the
/// `$CREDENTIALS_DIRECTORY` systemd set for this process, owned by root, with at most
/// group read (never write, never anything for others) is accepted.
#[cfg(unix)]
fn check_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("cannot read password file {}: {e}", path.display()))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    let systemd_credential = mode & 0o077 == 0o040
        && meta.uid() == 0
        && std::env::var_os("CREDENTIALS_DIRECTORY")
            .is_some_and(|dir| path.parent() == Some(Path::new(&dir)));
    if systemd_credential {
        return Ok(());
    }
    let who = if mode & 0o007 != 0 {
        "other users"
    } else {
        "its group"
    };
    anyhow::bail!(
        "password file {} has mode {mode:04o}: {who} can read or change it; refusing to use it \
         (make it readable by the daemon's user only: chmod 600 {}, or hand it in with \
         systemd's LoadCredential=)",
        path.display(),
        path.display()
    )
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// A server endpoint with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub tls: Tls,
    pub ca_file: Option<PathBuf>,
    /// None: no login (an SMTP relay that takes mail without AUTH).
    pub login: Option<Login>,
}

/// A user name and where its password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub username: String,
    pub password: Secret,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxSource {
    Imap {
        server: Server,
        folder: String,
        folder_prefix: Option<String>,
        idle: bool,
        poll_interval: Duration,
    },
    Maildir {
        path: PathBuf,
        poll_interval: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxSink {
    Smtp(Server),
    Maildir(PathBuf),
}

pub use crate::address::Address;

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub file: PathBuf,
    pub mailbox: MailboxSource,
    /// Messages received before this instant are left alone on first start.
    pub start_from: Option<chrono::DateTime<chrono::Utc>>,
    pub outbox: OutboxSink,
    pub from: Address,
    pub school_name: String,
    pub supervisor: Address,
    pub fallback: Vec<Address>,
    pub admin: Option<Address>,
    pub staff_domains: Vec<String>,
    pub staff_addresses: Vec<String>,
    pub schedule: Schedule,
    /// `[schedule] warn_before_end` in days: the admin's warning that the timetable
    /// ends comes this many days before `valid_until` (default 14).
    pub warn_before_end_days: u32,
    pub auto_replies_per_sender_per_day: u32,
    pub max_message_size: usize,
    /// `[mailbox] authserv_id`, lower-cased: whose `Authentication-Results` count.
    pub authserv_id: Option<String>,
    /// Automatic replies to all senders together per hour; past it they wait.
    pub auto_replies_per_hour: u32,
    /// Total size of the originals one forward attaches.
    pub max_forward_size: usize,
    /// Relays plus additions per ticket per local day (loop guard).
    pub exchanges_per_ticket_per_day: u32,
    pub state_path: PathBuf,
    pub templates_dir: PathBuf,
    pub stall_alert_after: Duration,
    pub purge_after_days: u32,
    pub close_after: Duration,
    /// `[report]`: the weekly report's day, hour and recipients.
    pub report: ReportSettings,
}

impl Config {
    /// Who gets complaints about the specialist with this address: their own
    /// `supervisor`, else the school's.
    pub fn supervisor_of(&self, email: &str) -> &Address {
        self.schedule
            .specialists()
            .iter()
            .find(|s| s.email.email.eq_ignore_ascii_case(email))
            .and_then(|s| s.supervisor.as_ref())
            .unwrap_or(&self.supervisor)
    }

    /// Finds the config: the given path, else [`DEFAULT_PATH`] if it exists, else the example.
    pub fn locate(given: Option<&Path>) -> PathBuf {
        match given {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_PATH).exists() => PathBuf::from(DEFAULT_PATH),
            None => PathBuf::from(EXAMPLE_PATH),
        }
    }

    /// Reads and validates a config file (templates are checked separately).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read: {e}"),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_toml_str(&text, path, base)
    }

    /// Parses and validates TOML text; `file` names it in errors, `base` resolves relative paths.
    pub fn from_toml_str(text: &str, file: &Path, base: &Path) -> Result<Config, ConfigError> {
        let v = Validator { text, file, base };
        let raw: raw::File = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| v.line_of(s.start));
            ConfigError {
                file: file.to_path_buf(),
                line,
                message: e.message().to_string(),
            }
        })?;
        v.validate(raw)
    }
}

struct Validator<'a> {
    text: &'a str,
    file: &'a Path,
    base: &'a Path,
}

type R<T> = Result<T, ConfigError>;

impl Validator<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            // A zero-length span at 0 is a default value, not a place in the file.
            line: span.filter(|s| s.end > 0).map(|s| self.line_of(s.start)),
            message: message.into(),
        }
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.err(Some(s.span()), message)
    }

    /// The line of a section header, for errors about a missing key in it.
    fn section_line(&self, header: &str) -> Option<Range<usize>> {
        let needle = format!("[{header}]");
        self.text.find(&needle).map(|i| i..i + needle.len())
    }

    fn path(&self, p: &str) -> PathBuf {
        let expanded = expand_env(p);
        let p = Path::new(&expanded);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    fn validate(&self, raw: raw::File) -> R<Config> {
        let mailbox_raw = raw
            .mailbox
            .ok_or_else(|| self.err(None, "missing section [mailbox]"))?;
        let authserv_id = match &mailbox_raw.authserv_id {
            Some(s) if s.get_ref().trim().is_empty() || s.get_ref().contains([';', ' ']) => {
                return Err(self.at(
                    s,
                    format!(
                        "mailbox.authserv_id {:?} is not a server name like \"mxs.mail.ru\"",
                        s.get_ref()
                    ),
                ));
            }
            Some(s) => Some(s.get_ref().trim().to_lowercase()),
            None => None,
        };
        let (mailbox, start_from) = self.mailbox(mailbox_raw)?;
        let outbox_raw = raw
            .outbox
            .ok_or_else(|| self.err(None, "missing section [outbox]"))?;
        let from = Address::parse(outbox_raw.from.get_ref()).ok_or_else(|| {
            self.at(
                &outbox_raw.from,
                format!(
                    "outbox.from {:?} is not an address like \"Name <box@example.org>\"",
                    outbox_raw.from.get_ref()
                ),
            )
        })?;
        let outbox = self.outbox(outbox_raw)?;
        let school = raw
            .school
            .ok_or_else(|| self.err(None, "missing section [school]"))?;
        let tz = match &school.timezone {
            None => chrono_tz::Europe::Moscow,
            Some(s) => s.get_ref().parse::<Tz>().map_err(|_| {
                self.at(
                    s,
                    format!(
                        "unknown time zone {:?} (use an IANA name such as \"Europe/Moscow\")",
                        s.get_ref()
                    ),
                )
            })?,
        };
        let supervisor = self.address(&school.supervisor, "school.supervisor")?;
        let fallback = school
            .fallback
            .iter()
            .map(|a| self.address(a, "school.fallback"))
            .collect::<R<Vec<_>>>()?;
        let admin = match &school.admin {
            Some(a) => Some(self.address(a, "school.admin")?),
            None => fallback.first().cloned(),
        };
        let specialists = raw
            .specialists
            .iter()
            .map(|s| self.specialist(s))
            .collect::<R<Vec<_>>>()?;
        if specialists.is_empty() {
            return Err(self.err(None, "no [[specialists]]: nobody could ever be on duty"));
        }
        let sched = raw
            .schedule
            .ok_or_else(|| self.err(None, "missing section [schedule]"))?;
        let warn_before_end_days =
            self.days_or(&sched.warn_before_end, "schedule.warn_before_end", 14)?;
        let schedule = self.schedule(sched, tz, specialists)?;
        let max_message_size =
            parse_size(raw.limits.max_message_size.get_ref()).ok_or_else(|| {
                self.at(
                    &raw.limits.max_message_size,
                    format!(
                        "limits.max_message_size {:?} is not a size like \"30MB\"",
                        raw.limits.max_message_size.get_ref()
                    ),
                )
            })?;
        let max_forward_size =
            parse_size(raw.limits.max_forward_size.get_ref()).ok_or_else(|| {
                self.at(
                    &raw.limits.max_forward_size,
                    format!(
                        "limits.max_forward_size {:?} is not a size like \"20MB\"",
                        raw.limits.max_forward_size.get_ref()
                    ),
                )
            })?;
        let stall_alert_after = self.duration_or(
            &raw.service.stall_alert_after,
            "service.stall_alert_after",
            Duration::from_secs(15 * 60),
        )?;
        let close_after = self.duration_or(
            &raw.service.close_after,
            "service.close_after",
            Duration::from_secs(30 * 86400),
        )?;
        let report = self.report(&raw.report, &supervisor)?;
        Ok(Config {
            file: self.file.to_path_buf(),
            mailbox,
            start_from,
            outbox,
            from,
            school_name: school.name.unwrap_or_default(),
            supervisor,
            fallback,
            admin,
            staff_domains: school
                .staff_domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .collect(),
            staff_addresses: school
                .staff_addresses
                .iter()
                .map(|a| a.trim().to_lowercase())
                .collect(),
            schedule,
            warn_before_end_days,
            auto_replies_per_sender_per_day: raw.limits.auto_replies_per_sender_per_day,
            max_message_size,
            authserv_id,
            auto_replies_per_hour: raw.limits.auto_replies_per_hour,
            max_forward_size,
            exchanges_per_ticket_per_day: raw.limits.exchanges_per_ticket_per_day,
            state_path: self.path(
                raw.state
                    .path
                    .as_deref()
                    .unwrap_or("../var/duty-desk.sqlite3"),
            ),
            templates_dir: self.path(raw.templates.dir.as_deref().unwrap_or("templates")),
            stall_alert_after,
            purge_after_days: raw.service.purge_after_days.unwrap_or(365),
            close_after,
            report,
        })
    }

    /// `[report]`, with its defaults: on, Monday 08:00, to the supervisor.
    fn report(&self, r: &raw::Report, supervisor: &Address) -> R<ReportSettings> {
        let day = match &r.day {
            None => Weekday::Mon,
            Some(d) => parse_weekday(d.get_ref()).ok_or_else(|| {
                self.at(
                    d,
                    format!(
                        "report.day {:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                        d.get_ref()
                    ),
                )
            })?,
        };
        let hour = match &r.hour {
            None => 8,
            Some(h) if *h.get_ref() < 24 => *h.get_ref(),
            Some(h) => {
                return Err(self.at(
                    h,
                    format!(
                        "report.hour {} is not an hour of the day (0-23)",
                        h.get_ref()
                    ),
                ));
            }
        };
        let recipients = match &r.recipients {
            None => vec![supervisor.clone()],
            Some(list) if list.is_empty() => {
                return Err(self.err(
                    self.section_line("report"),
                    "report.recipients is empty; leave it out (the supervisor gets the report) or set enabled = false",
                ));
            }
            Some(list) => list
                .iter()
                .map(|a| self.address(a, "report.recipients"))
                .collect::<R<Vec<_>>>()?,
        };
        Ok(ReportSettings {
            enabled: r.enabled.unwrap_or(true),
            day,
            hour,
            recipients,
        })
    }

    fn duration_or(
        &self,
        s: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> R<Duration> {
        match s {
            None => Ok(default),
            Some(s) => parse_duration(s.get_ref()).ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "{key} {:?} is not a duration like \"90s\", \"15m\", \"2h\" or \"30d\"",
                        s.get_ref()
                    ),
                )
            }),
        }
    }

    /// A whole number of days written as a duration ("14d").
    fn days_or(&self, s: &Option<Spanned<String>>, key: &str, default: u32) -> R<u32> {
        let Some(s) = s else {
            return Ok(default);
        };
        parse_duration(s.get_ref())
            .filter(|d| d.as_secs() % 86400 == 0)
            .and_then(|d| u32::try_from(d.as_secs() / 86400).ok())
            .ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "{key} {:?} is not a number of days like \"14d\"",
                        s.get_ref()
                    ),
                )
            })
    }

    fn address(&self, s: &Spanned<String>, key: &str) -> R<Address> {
        Address::parse(s.get_ref()).ok_or_else(|| {
            self.at(
                s,
                format!("{key} {:?} is not an e-mail address", s.get_ref()),
            )
        })
    }

    fn tls(&self, s: &Option<Spanned<String>>, host: &Spanned<String>, section: &str) -> R<Tls> {
        let tls = match s {
            None => Tls::Implicit,
            Some(s) => match s.get_ref().as_str() {
                "implicit" => Tls::Implicit,
                "starttls" => Tls::StartTls,
                "none" => Tls::None,
                other => {
                    return Err(self.at(
                        s,
                        format!("{section}.tls {other:?} is not one of implicit, starttls, none"),
                    ));
                }
            },
        };
        if tls == Tls::None && !is_loopback(host.get_ref()) {
            let span = s.as_ref().map(|s| s.span()).unwrap_or(host.span());
            return Err(self.err(
                Some(span),
                format!(
                    "{section}.tls = \"none\" is refused for {:?}: plain text is allowed only to a loopback host",
                    host.get_ref()
                ),
            ));
        }
        Ok(tls)
    }

    #[allow(clippy::too_many_arguments)]
    fn server(
        &self,
        section: &str,
        host: Option<&Spanned<String>>,
        port: Option<u16>,
        tls: &Option<Spanned<String>>,
        ca_file: Option<&str>,
        username: Option<&str>,
        password_file: Option<&str>,
        password_env: Option<&str>,
        password: Option<&Spanned<String>>,
        default_ports: (u16, u16, u16),
        login_required: bool,
    ) -> R<Server> {
        if let Some(p) = password {
            return Err(self.at(
                p,
                format!("{section}.password: a password written in the config file is refused; use password_file (systemd LoadCredential=) or password_env"),
            ));
        }
        let header = self.section_line(section);
        let host =
            host.ok_or_else(|| self.err(header.clone(), format!("{section}.host is missing")))?;
        if host.get_ref().trim().is_empty() {
            return Err(self.at(host, format!("{section}.host is empty")));
        }
        let tls = self.tls(tls, host, section)?;
        let port = port.unwrap_or(match tls {
            Tls::Implicit => default_ports.0,
            Tls::StartTls => default_ports.1,
            Tls::None => default_ports.2,
        });
        let password = match (password_file, password_env) {
            (Some(f), None) => Some(Secret::File(self.path(f))),
            (None, Some(v)) => Some(Secret::Env(v.to_string())),
            (Some(_), Some(_)) => {
                return Err(self.err(
                    header,
                    format!("{section}: give password_file or password_env, not both"),
                ));
            }
            (None, None) => None,
        };
        let login = match (username, password) {
            (Some(u), Some(password)) => Some(Login {
                username: u.to_string(),
                password,
            }),
            (Some(_), None) => {
                return Err(self.err(
                    header,
                    format!("{section}: password_file or password_env is required"),
                ));
            }
            (None, Some(_)) => {
                return Err(self.err(
                    header,
                    format!(
                        "{section}: a password without {section}.username; give the user name, or neither (no authentication)"
                    ),
                ));
            }
            (None, None) if login_required => {
                return Err(self.err(header, format!("{section}.username is missing")));
            }
            (None, None) => None,
        };
        Ok(Server {
            host: host.get_ref().trim().to_string(),
            port,
            tls,
            ca_file: ca_file.map(|c| self.path(c)),
            login,
        })
    }

    fn mailbox(
        &self,
        m: raw::Mailbox,
    ) -> R<(MailboxSource, Option<chrono::DateTime<chrono::Utc>>)> {
        let poll_interval = self.duration_or(
            &m.poll_interval,
            "mailbox.poll_interval",
            Duration::from_secs(60),
        )?;
        let start_from = match &m.start_from {
            None => None,
            Some(s) => Some(parse_instant(s.get_ref()).ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "mailbox.start_from {:?} is not a date (2021-09-01) or an RFC 3339 instant",
                        s.get_ref()
                    ),
                )
            })?),
        };
        let source = match m.kind.get_ref().as_str() {
            "imap" => MailboxSource::Imap {
                server: self.server(
                    "mailbox",
                    m.host.as_ref(),
                    m.port,
                    &m.tls,
                    m.ca_file.as_deref(),
                    m.username.as_deref(),
                    m.password_file.as_deref(),
                    m.password_env.as_deref(),
                    m.password.as_ref(),
                    (993, 143, 143),
                    true,
                )?,
                folder: m.folder.unwrap_or_else(|| "INBOX".to_string()),
                folder_prefix: self.folder_prefix(&m.folder_prefix)?,
                idle: m.idle.unwrap_or(true),
                poll_interval,
            },
            "maildir" => MailboxSource::Maildir {
                path: self.path(m.path.as_deref().ok_or_else(|| {
                    self.at(&m.kind, "mailbox.kind = \"maildir\" needs mailbox.path")
                })?),
                poll_interval,
            },
            other => {
                return Err(self.at(
                    &m.kind,
                    format!("mailbox.kind {other:?} is not one of imap, maildir"),
                ));
            }
        };
        Ok((source, start_from))
    }

    fn folder_prefix(&self, p: &Option<Spanned<String>>) -> R<Option<String>> {
        let Some(p) = p else {
            return Ok(None);
        };
        let text = p.get_ref().trim();
        if text.trim_matches('/').is_empty() || text.contains("//") {
            return Err(self.at(
                p,
                format!(
                    "mailbox.folder_prefix {:?} is not a folder name like \"duty-desk\" or \"INBOX/Заявки\" (levels separated by \"/\")",
                    p.get_ref()
                ),
            ));
        }
        if text.chars().any(|c| c.is_control() || c == '*' || c == '%') {
            return Err(self.at(
                p,
                format!("mailbox.folder_prefix {:?}: control characters, * and % are not allowed in a folder name", p.get_ref()),
            ));
        }
        Ok(Some(text.to_string()))
    }

    fn outbox(&self, o: raw::Outbox) -> R<OutboxSink> {
        match o.kind.get_ref().as_str() {
            "smtp" => Ok(OutboxSink::Smtp(self.server(
                "outbox",
                o.host.as_ref(),
                o.port,
                &o.tls,
                o.ca_file.as_deref(),
                o.username.as_deref(),
                o.password_file.as_deref(),
                o.password_env.as_deref(),
                o.password.as_ref(),
                (465, 587, 25),
                false,
            )?)),
            "maildir" => Ok(OutboxSink::Maildir(self.path(
                o.path.as_deref().ok_or_else(|| {
                    self.at(&o.kind, "outbox.kind = \"maildir\" needs outbox.path")
                })?,
            ))),
            other => Err(self.at(
                &o.kind,
                format!("outbox.kind {other:?} is not one of smtp, maildir"),
            )),
        }
    }

    fn date(&self, s: &Spanned<String>, key: &str) -> R<NaiveDate> {
        NaiveDate::parse_from_str(s.get_ref().trim(), "%Y-%m-%d").map_err(|_| {
            self.at(
                s,
                format!("{key} {:?} is not a date like 2021-09-01", s.get_ref()),
            )
        })
    }

    fn specialist(&self, s: &Spanned<raw::SpecialistEntry>) -> R<Specialist> {
        let e = s.get_ref();
        let span = Some(s.span());
        if e.name.trim().is_empty() {
            return Err(self.err(span, "a specialist without a name"));
        }
        let email = match &e.email {
            None => {
                return Err(self.err(
                    span,
                    format!("specialist {:?} has no email address", e.name),
                ));
            }
            Some(a) => Address::parse(a).ok_or_else(|| {
                self.err(
                    span.clone(),
                    format!("specialist {:?}: {a:?} is not an e-mail address", e.name),
                )
            })?,
        };
        let mut windows = Vec::new();
        for (day, list) in &e.duty {
            let line_span = self.find_in(s.span(), day);
            let weekday = parse_weekday(day).ok_or_else(|| {
                self.err(line_span.clone(), format!("specialist {:?}: unknown weekday {day:?} (use mon, tue, wed, thu, fri, sat, sun)", e.name))
            })?;
            let items: Option<Vec<&str>> = match list {
                toml::Value::Array(a) => a.iter().map(|v| v.as_str()).collect(),
                toml::Value::String(s) => Some(vec![s.as_str()]),
                _ => None,
            };
            let items = items.ok_or_else(|| {
                self.err(
                    line_span.clone(),
                    format!(
                        "specialist {:?}: duty.{day} must be a list of \"HH:MM-HH:MM\"",
                        e.name
                    ),
                )
            })?;
            for item in items {
                let (start, end) = parse_window(item).map_err(|why| {
                    self.err(
                        self.find_in(s.span(), item),
                        format!("specialist {:?}: window {item:?} on {day}: {why}", e.name),
                    )
                })?;
                windows.push(Window {
                    weekday,
                    start,
                    end,
                });
            }
        }
        windows.sort_by_key(|w| (w.weekday.num_days_from_monday(), w.start));
        for pair in windows.windows(2) {
            if pair[0].weekday == pair[1].weekday && pair[1].start < pair[0].end {
                return Err(self.err(
                    span,
                    format!(
                        "specialist {:?}: windows {} and {} on {} overlap",
                        e.name,
                        pair[0].label(),
                        pair[1].label(),
                        weekday_key(pair[0].weekday)
                    ),
                ));
            }
        }
        let supervisor = match &e.supervisor {
            None => None,
            Some(a) => Some(Address::parse(a).ok_or_else(|| {
                self.err(
                    self.find_in(s.span(), a),
                    format!(
                        "specialist {:?}: supervisor {a:?} is not an e-mail address",
                        e.name
                    ),
                )
            })?),
        };
        if supervisor
            .as_ref()
            .is_some_and(|a| a.email.eq_ignore_ascii_case(&email.email))
        {
            return Err(self.err(
                span,
                format!(
                    "specialist {:?} is their own supervisor: complaints about them would reach them",
                    e.name
                ),
            ));
        }
        Ok(Specialist {
            name: e.name.trim().to_string(),
            position: e.position.trim().to_string(),
            email,
            supervisor,
            windows,
        })
    }

    /// The span of `needle` inside `within`, else `within` (for a precise line number).
    fn find_in(&self, within: Range<usize>, needle: &str) -> Option<Range<usize>> {
        let end = within.end.min(self.text.len());
        let hay = self.text.get(within.start..end)?;
        match hay.find(needle) {
            Some(i) => Some(within.start + i..within.start + i + needle.len()),
            None => Some(within),
        }
    }

    fn schedule(
        &self,
        s: raw::ScheduleSection,
        tz: Tz,
        specialists: Vec<Specialist>,
    ) -> R<Schedule> {
        let valid_from = self.date(&s.valid_from, "schedule.valid_from")?;
        let valid_until = self.date(&s.valid_until, "schedule.valid_until")?;
        if valid_until < valid_from {
            return Err(self.at(&s.valid_until, "schedule.valid_until is before valid_from"));
        }
        let holidays = s
            .holidays
            .iter()
            .map(|h| self.date(h, "schedule.holidays"))
            .collect::<R<BTreeSet<_>>>()?;
        let mut changes = Vec::new();
        for c in &s.changes {
            let e = c.get_ref();
            let span = Some(c.span());
            let date = NaiveDate::parse_from_str(e.date.trim(), "%Y-%m-%d").map_err(|_| {
                self.err(
                    span.clone(),
                    format!("schedule.changes: {:?} is not a date", e.date),
                )
            })?;
            let who = specialists
                .iter()
                .position(|sp| sp.name == e.name.trim())
                .ok_or_else(|| {
                    self.err(
                        span.clone(),
                        format!("schedule.changes: no specialist named {:?}", e.name),
                    )
                })?;
            let change = match (&e.replaced_by, &e.extra, e.cancelled) {
                (Some(r), None, false) => {
                    let by = specialists
                        .iter()
                        .position(|sp| sp.name == r.trim())
                        .ok_or_else(|| {
                            self.err(
                                span.clone(),
                                format!("schedule.changes: no specialist named {r:?}"),
                            )
                        })?;
                    Change::Replace { date, who, by }
                }
                (None, Some(w), false) => {
                    let (start, end) = parse_window(w).map_err(|why| {
                        self.err(
                            span.clone(),
                            format!("schedule.changes: window {w:?}: {why}"),
                        )
                    })?;
                    Change::Extra {
                        date,
                        who,
                        start,
                        end,
                    }
                }
                (None, None, true) => Change::Cancel { date, who },
                _ => {
                    return Err(self.err(
                        span,
                        "schedule.changes: give exactly one of replaced_by = \"…\", extra = \"HH:MM-HH:MM\", cancelled = true",
                    ));
                }
            };
            changes.push(change);
        }
        Ok(Schedule::new(
            tz,
            valid_from,
            valid_until,
            holidays,
            changes,
            specialists,
        ))
    }
}

/// Expands `$VAR` and `${VAR}` (e.g. `$CREDENTIALS_DIRECTORY`); unknown variables stay as written.
pub fn expand_env(s: &str) -> String {
    static RE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // A constant pattern: compiling it cannot fail.
        regex::Regex::new(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
            .expect("valid regex")
    });
    RE.replace_all(s, |c: &regex::Captures| {
        let name = c
            .get(1)
            .or_else(|| c.get(2))
            .map(|m| m.as_str())
            .unwrap_or("");
        std::env::var(name).unwrap_or_else(|_| c[0].to_string())
    })
    .into_owned()
}

fn is_loopback(host: &str) -> bool {
    let h = host.trim().trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

pub fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.trim().to_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    })
}

pub fn weekday_key(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

/// Parses "HH:MM-HH:MM" (also "8.00-10.00", as the order writes it); the end may be 24:00.
pub fn parse_window(s: &str) -> Result<(Minutes, Minutes), String> {
    let (a, b) = s
        .split_once(['-', '–'])
        .ok_or_else(|| "expected \"HH:MM-HH:MM\"".to_string())?;
    let start = parse_clock(a).ok_or_else(|| format!("{:?} is not a time of day", a.trim()))?;
    let end = parse_clock(b).ok_or_else(|| format!("{:?} is not a time of day", b.trim()))?;
    if start >= 24 * 60 {
        return Err("a window cannot start at 24:00".into());
    }
    if end > 24 * 60 {
        return Err("a window cannot end after 24:00".into());
    }
    if end <= start {
        return Err("the end is not after the start".into());
    }
    Ok((start, end))
}

fn parse_clock(s: &str) -> Option<Minutes> {
    let (h, m) = s.trim().split_once([':', '.'])?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
}

/// Parses "90s", "15m", "2h", "30d", or a bare number of seconds.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let secs = match unit.trim() {
        "" | "s" => n,
        "ms" => return Some(Duration::from_millis(n)),
        "m" | "min" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86400)?,
        _ => return None,
    };
    Some(Duration::from_secs(secs))
}

/// Parses "30MB", "512KB", "1GB" or bytes.
pub fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: usize = n.parse().ok()?;
    let mult = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1024,
        "M" | "MB" | "MIB" => 1024 * 1024,
        "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
        _ => return None,
    };
    n.checked_mul(mult).filter(|&n| n > 0)
}

fn parse_instant(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(NaiveDateTime::new(d, NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[mailbox]
kind = "imap"
host = "imap.mail.ru"
port = 993
tls = "implicit"
username = "uvk-mtl@mail.ru"
password_file = "/run/credentials/duty-desk.service/imap"

[outbox]
kind = "smtp"
host = "smtp.mail.ru"
port = 465
tls = "implicit"
username = "uvk-mtl@mail.ru"
password_file = "/run/credentials/duty-desk.service/smtp"
from = "Поддержка ЭлЖур <uvk-mtl@mail.ru>"

[school]
timezone = "Europe/Moscow"
supervisor = "Костина Т.В. <director@example.org>"
fallback = ["admin@example.org"]

[schedule]
valid_from = "2021-09-01"
valid_until = "2022-05-31"

[[specialists]]
name = "Бамбуркин С.П."
email = "bamburkin@example.org"
duty = { tue = ["14:30-16:00"], thu = ["08:00-10:00"] }
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::from_toml_str(text, Path::new("test.toml"), Path::new("/etc/duty-desk"))
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle in text")
            + 1
    }

    #[test]
    fn good_config_validates() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.schedule.specialists().len(), 1);
        assert_eq!(c.from.email, "uvk-mtl@mail.ru");
        assert_eq!(
            c.state_path,
            PathBuf::from("/etc/duty-desk/../var/duty-desk.sqlite3")
        );
        assert!(matches!(c.mailbox, MailboxSource::Imap { idle: true, .. }));
    }

    #[test]
    fn warn_before_end_is_days_default_14() {
        assert_eq!(parse(GOOD).unwrap().warn_before_end_days, 14);
        let with = |v: &str| {
            GOOD.replace(
                "valid_until = \"2022-05-31\"",
                &format!("valid_until = \"2022-05-31\"\nwarn_before_end = \"{v}\""),
            )
        };
        assert_eq!(parse(&with("30d")).unwrap().warn_before_end_days, 30);
        let text = with("36h");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(line_of(&text, "36h")), "{e}");
        assert!(e.message.contains("number of days"), "{e}");
    }

    #[test]
    fn bad_window_is_reported_on_its_line() {
        let text = GOOD.replace("\"08:00-10:00\"", "\"08:00-25:00\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(line_of(&text, "25:00")), "{e}");
        assert!(e.message.contains("not a time of day"), "{e}");
        let text = GOOD.replace("\"08:00-10:00\"", "\"eight-ten\"");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(line_of(&text, "eight-ten")), "{e}");
    }

    #[test]
    fn window_may_end_at_midnight_but_not_after() {
        assert_eq!(parse_window("22:00-24:00"), Ok((22 * 60, 24 * 60)));
        assert!(
            parse_window("22:00-24:01")
                .unwrap_err()
                .contains("time of day")
        );
        assert_eq!(parse_window("8.00-10.00"), Ok((480, 600)));
        assert!(parse_window("10:00-09:00").is_err());
    }

    #[test]
    fn overlapping_windows_of_one_person_are_refused() {
        let text = GOOD.replace(
            "thu = [\"08:00-10:00\"]",
            "thu = [\"08:00-10:00\", \"09:30-11:00\"]",
        );
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("overlap"), "{e}");
        assert!(e.line.is_some());
    }

    #[test]
    fn unknown_weekday_is_refused_with_line() {
        let text = GOOD.replace("thu = ", "thursdai = ");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("unknown weekday"), "{e}");
        assert_eq!(e.line, Some(line_of(&text, "thursdai")));
    }

    #[test]
    fn unknown_timezone_is_refused_with_line() {
        let text = GOOD.replace("Europe/Moscow", "Europe/Atlantis");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("unknown time zone"), "{e}");
        assert_eq!(e.line, Some(line_of(&text, "Atlantis")));
    }

    #[test]
    fn plain_text_only_to_loopback() {
        let text = GOOD.replacen("tls = \"implicit\"", "tls = \"none\"", 1);
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("loopback"), "{e}");
        assert_eq!(e.line, Some(line_of(&text, "tls = \"none\"")));
        let text = text.replacen("imap.mail.ru", "127.0.0.1", 1);
        parse(&text).unwrap();
    }

    #[test]
    fn inline_password_is_refused() {
        let text = GOOD.replacen(
            "password_file = \"/run/credentials/duty-desk.service/smtp\"",
            "password = \"hunter2\"",
            1,
        );
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("password written in the config"), "{e}");
        assert_eq!(e.line, Some(line_of(&text, "hunter2")));
    }

    #[test]
    fn specialist_without_address_is_refused() {
        let text = GOOD.replace("email = \"bamburkin@example.org\"\n", "");
        let e = parse(&text).unwrap_err();
        assert!(e.message.contains("no email"), "{e}");
        assert!(e.line.is_some());
    }

    #[test]
    fn toml_syntax_error_has_line() {
        let text = GOOD.replace("port = 465", "port = = 465");
        let e = parse(&text).unwrap_err();
        assert_eq!(e.line, Some(line_of(&text, "port = = 465")), "{e}");
    }

    #[test]
    fn durations_sizes_and_env() {
        assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("soon"), None);
        assert_eq!(parse_size("30MB"), Some(30 * 1024 * 1024));
        assert_eq!(parse_size("0"), None);
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("DD_TEST_CRED_DIR", "/run/creds") };
        assert_eq!(expand_env("${DD_TEST_CRED_DIR}/imap"), "/run/creds/imap");
        assert_eq!(expand_env("$DD_UNSET_VAR_X/imap"), "$DD_UNSET_VAR_X/imap");
    }
}
