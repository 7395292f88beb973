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
use crate::topic::Topic;

#[cfg(test)]
mod tests;
mod validate;

use validate::Validator;

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
        /// `via_desk` (default): specialists answer the desk, which passes the
        /// answer on; `direct`: they answer the requester themselves.
        pub answers: Option<Spanned<String>>,
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
        /// The kinds of problem they are preferred for: `technical`, `methodological`.
        #[serde(default)]
        pub topics: Vec<String>,
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
        /// A forwarded ticket unanswered for this much of its specialist's duty
        /// time gets one reminder to them ("2h"; sooner when their window ends).
        pub remind_after: Option<Spanned<String>>,
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

/// How a specialist's answer reaches the requester (`[school] answers`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    /// A forward's Reply-To is the support address: the answer comes back to the
    /// desk, which passes it on and records it (who answered, when).
    ViaDesk,
    /// A forward's Reply-To is the requester: the specialist answers them directly
    /// and the desk does not learn of the answer.
    Direct,
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
    /// `[school] answers`: whether specialists answer through the desk.
    pub answers: Answers,
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
    /// `[service] remind_after`: the specialist's duty time a forwarded ticket may
    /// stay unanswered before they are reminded (default 2 h).
    pub remind_after: Duration,
    /// `[report]`: the weekly report's day, hour and recipients.
    pub report: ReportSettings,
}

/// The example config with each `(from, to)` of `edits` replaced in its text,
/// for unit tests (an edit whose `from` is not there fails the test).
#[cfg(test)]
pub fn example(edits: &[(&str, &str)]) -> Config {
    let mut text = include_str!("../../config/duty-desk.example.toml").to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the example config has no {from:?}");
        text = text.replace(from, to);
    }
    Config::from_toml_str(&text, Path::new("example.toml"), Path::new("/tmp"))
        .expect("the example config is valid")
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
