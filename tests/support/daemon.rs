//! Driving the real `duty-desk` binary against a [`MailStack`]: a config written
//! for the stack, `run --once`, and `run` as a child process killed at the end.
//! Plus [`Mail`], a received letter read the way a test wants to look at it.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{ADMIN, DIRECTOR, MailStack, SPECIALISTS, SUPPORT, password};

/// The regulation's timetable (DESIGN.md), one entry per specialist in
/// [`SPECIALISTS`] order: (name, position, duty table).
pub const TIMETABLE: [(&str, &str, &str); 6] = [
    (
        "Бамбуркин С.П.",
        "администратор ЭлЖур, технический специалист",
        r#"{ tue = ["14:30-16:00"], thu = ["08:00-10:00"] }"#,
    ),
    (
        "Бухер В.В.",
        "зам. директора по УВР",
        r#"{ tue = ["08:00-10:00"], thu = ["14:00-16:00"] }"#,
    ),
    (
        "Войтенко Л.А.",
        "зам. директора по УВР",
        r#"{ mon = ["08:00-11:00"], wed = ["13:00-15:00"] }"#,
    ),
    (
        "Мальченко З.А.",
        "зам. директора по УВР",
        r#"{ wed = ["08:00-10:00"], fri = ["14:00-16:00"] }"#,
    ),
    (
        "Макаренко С.О.",
        "администратор ЭлЖур, зам. директора по УВР",
        r#"{ mon = ["14:30-16:00"], thu = ["08:00-10:00"] }"#,
    ),
    (
        "Ткаченко Е.В.",
        "зам. директора по ВР",
        r#"{ tue = ["12:00-14:00"], fri = ["08:00-10:00"] }"#,
    ),
];

/// [`TIMETABLE`] as the config's `[[specialists]]` tables, with the stack's
/// addresses: every harness that writes a daemon config uses this one.
pub fn specialists_toml() -> String {
    TIMETABLE
        .iter()
        .zip(SPECIALISTS)
        .map(|((name, position, duty), email)| {
            format!(
                "[[specialists]]\nname = \"{name}\"\nposition = \"{position}\"\nemail = \"{email}\"\nduty = {duty}\n\n"
            )
        })
        .collect()
}

/// What the harnesses' daemon configs differ in; [`DeskToml::render`] writes
/// the rest (the school, the regulation's schedule and specialists) the same
/// for all of them (this file, `support/svc.rs`, `prove/mod.rs`).
pub struct DeskToml<'a> {
    /// `[mailbox]` lines after `host`: `port`, `tls`, maybe `ca_file`.
    pub imap: String,
    pub imap_password_file: &'a str,
    pub poll_interval: &'a str,
    pub smtp_host: &'a str,
    pub smtp_port: u16,
    pub smtp_tls: &'a str,
    pub smtp_password_file: &'a str,
    pub ca_file: &'a Path,
    pub school_name: &'a str,
    /// `staff_domains` (and `staff_addresses`) lines of `[school]`.
    pub staff: &'a str,
    /// The lines of `[limits]`.
    pub limits: String,
    pub state_path: &'a str,
    pub templates_dir: &'a Path,
    /// TOML appended at the end (`[service]`, …).
    pub extra: &'a str,
}

impl DeskToml<'_> {
    pub fn render(&self) -> String {
        format!(
            r#"[mailbox]
kind = "imap"
host = "127.0.0.1"
{imap}
username = "{SUPPORT}"
password_file = "{imap_pw}"
folder = "INBOX"
idle = true
poll_interval = "{poll}"

[outbox]
kind = "smtp"
host = "{smtp_host}"
port = {smtp_port}
tls = "{smtp_tls}"
ca_file = "{ca}"
username = "{SUPPORT}"
password_file = "{smtp_pw}"
from = "Поддержка ЭлЖур <{SUPPORT}>"

[school]
name = "{school}"
timezone = "Europe/Moscow"
supervisor = "Костина Т.В. <{DIRECTOR}>"
fallback = ["{ADMIN}"]
admin = "{ADMIN}"
{staff}

[schedule]
valid_from = "2021-09-01"
valid_until = "2022-05-31"
holidays = ["2021-11-04", "2021-11-05"]

{specialists}[limits]
{limits}

[state]
path = "{state}"

[templates]
dir = "{templates}"

{extra}
"#,
            imap = self.imap,
            imap_pw = self.imap_password_file,
            poll = self.poll_interval,
            smtp_host = self.smtp_host,
            smtp_port = self.smtp_port,
            smtp_tls = self.smtp_tls,
            ca = self.ca_file.display(),
            smtp_pw = self.smtp_password_file,
            school = self.school_name,
            staff = self.staff,
            specialists = specialists_toml(),
            limits = self.limits,
            state = self.state_path,
            templates = self.templates_dir.display(),
            extra = self.extra,
        )
    }
}

/// The address of the specialist called `name` in [`TIMETABLE`].
pub fn specialist(name: &str) -> &'static str {
    let i = TIMETABLE
        .iter()
        .position(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no specialist {name}"));
    SPECIALISTS[i]
}

/// A daemon config for one stack, written into its own temporary folder
/// (passwords in files there, state there, templates the project's own).
pub struct DaemonConfig {
    dir: tempfile::TempDir,
    /// IMAP: implicit TLS with the stack's CA instead of plain text.
    pub imap_tls: bool,
    pub auto_replies_per_sender_per_day: u32,
    /// Templates folder [default: the project's `config/templates`].
    pub templates_dir: Option<PathBuf>,
    /// Extra TOML appended at the end.
    pub extra: String,
}

impl DaemonConfig {
    pub fn new() -> DaemonConfig {
        DaemonConfig {
            dir: tempfile::Builder::new()
                .prefix("duty-desk-daemon-")
                .tempdir()
                .expect("create temp dir for the daemon"),
            imap_tls: false,
            auto_replies_per_sender_per_day: 5,
            templates_dir: None,
            extra: String::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state/duty-desk.sqlite3")
    }

    /// Writes the config (and the password files) for `stack`; returns its path.
    pub fn write(&self, stack: &MailStack) -> PathBuf {
        self.write_for(
            stack.imap_port(),
            stack.imaps_port(),
            stack.smtps_port(),
            &stack.ca_file(),
        )
    }

    /// Like [`write`](Self::write), for servers on these loopback ports.
    pub fn write_for(&self, imap: u16, imaps: u16, smtps: u16, ca: &Path) -> PathBuf {
        let dir = self.dir.path();
        write_secret(&dir.join("imap.pw"), &password(SUPPORT));
        write_secret(&dir.join("smtp.pw"), &password(SUPPORT));
        let imap = if self.imap_tls {
            format!(
                "port = {imaps}\ntls = \"implicit\"\nca_file = \"{}\"",
                ca.display()
            )
        } else {
            format!("port = {imap}\ntls = \"none\"")
        };
        let templates = self
            .templates_dir
            .clone()
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates"));
        let text = DeskToml {
            imap,
            imap_password_file: "imap.pw",
            poll_interval: "2s",
            smtp_host: "127.0.0.1",
            smtp_port: smtps,
            smtp_tls: "implicit",
            smtp_password_file: "smtp.pw",
            ca_file: ca,
            school_name: "МБОУ УВК",
            staff: "staff_domains = []\nstaff_addresses = []",
            limits: format!(
                "auto_replies_per_sender_per_day = {}\nmax_message_size = \"30MB\"",
                self.auto_replies_per_sender_per_day
            ),
            state_path: "state/duty-desk.sqlite3",
            templates_dir: &templates,
            extra: &self.extra,
        }
        .render();
        let path = dir.join("duty-desk.toml");
        std::fs::write(&path, text).expect("write the daemon config");
        path
    }
}

/// Writes a password file readable by its owner only, as the README's install steps
/// do (duty-desk refuses a password file that its group or others can read).
pub fn write_secret(path: &Path, text: &str) {
    use std::os::unix::fs::OpenOptionsExt as _;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    // An existing file keeps its mode on open: set it.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn binary() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_duty-desk"));
    c.env_remove("RUST_LOG").stdin(Stdio::null());
    c
}

/// `duty-desk --config CONFIG run --once --now NOW`; panics with its output on failure.
pub fn run_once(config: &Path, now: &str) -> Output {
    let out = binary()
        .arg("--config")
        .arg(config)
        .args(["run", "--once", "--now", now])
        .output()
        .expect("run duty-desk");
    assert!(
        out.status.success(),
        "duty-desk run --once failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `duty-desk --config CONFIG ARGS…`, whatever its exit.
pub fn run_cli(config: &Path, args: &[&str]) -> Output {
    binary()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("run duty-desk")
}

/// `duty-desk run --now NOW` as a child process; SIGKILLed on drop. Its log goes
/// to a file, for [`Daemon::log`] and failure messages.
pub struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Starts the daemon; `log_name` names its log file in the config's folder.
    pub fn start(config: &Path, now: &str, log_name: &str) -> Daemon {
        Self::start_args(config, &["run", "--now", now], log_name)
    }

    /// Starts `duty-desk --config CONFIG ARGS…` (e.g. `--instance NAME run --now …`).
    pub fn start_args(config: &Path, args: &[&str], log_name: &str) -> Daemon {
        let log = config
            .parent()
            .expect("the config lives in a folder")
            .join(log_name);
        let file = std::fs::File::create(&log).expect("create the daemon log");
        let child = binary()
            .arg("--config")
            .arg(config)
            .args(args)
            .stdout(file.try_clone().expect("dup the log file"))
            .stderr(file)
            .spawn()
            .expect("spawn duty-desk run");
        Daemon {
            child: Some(child),
            log,
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// How many decisions it logged so far.
    pub fn decisions(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("decision") && l.contains("verdict="))
            .count()
    }

    /// Panics (with the log) if the daemon has exited.
    pub fn assert_running(&mut self) {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            panic!("duty-desk run exited: {status}\n{}", self.log());
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit (panics if it does not exit in 20 s).
    pub fn stop(&mut self) {
        let Some(mut c) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = c.try_wait() {
                assert!(
                    status.success(),
                    "duty-desk exited {status}\n{}",
                    self.log()
                );
                return;
            }
            if Instant::now() >= deadline {
                let _ = c.kill();
                let _ = c.wait();
                panic!("duty-desk did not stop on SIGTERM\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

impl MailStack {
    /// Waits until Postfix has finished with every message it accepted (each
    /// queue file the queue manager took is `removed`, and no queue folder
    /// holds a file), so "nothing else arrived" can be asserted. A client
    /// killed in the middle of DATA leaves a `cleanup` line but no message:
    /// Postfix drops it, so it is not counted.
    pub async fn wait_postfix_idle(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let log =
                std::fs::read_to_string(self.dir().join("postfix/postfix.log")).unwrap_or_default();
            // Queue ids the queue manager took, and those it removed; a
            // deferred message is taken again on each retry, hence sets.
            let qmgr_ids = |suffix: &str| -> std::collections::BTreeSet<String> {
                log.lines()
                    .filter(|l| l.contains("/qmgr[") && l.contains(suffix))
                    .filter_map(|l| l.split("]: ").nth(1)?.split(':').next().map(str::to_string))
                    .collect()
            };
            let taken = qmgr_ids(": from=<");
            let removed_ids = qmgr_ids(": removed");
            let queued = taken.len();
            let removed = taken.intersection(&removed_ids).count();
            let waiting = queue_files(&self.dir().join("postfix/queue"));
            if queued == removed && waiting == 0 {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "Postfix still busy after {timeout:?}: {queued} queued, {removed} done, {waiting} files waiting\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Messages in every folder of `user` except INBOX, as (folder, count).
    pub async fn folder_counts(&self, user: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for f in self.folders(user).await {
            let n = self.fetch(user, &f).await.len();
            out.push((f, n));
        }
        out.sort();
        out
    }
}

/// A received letter, parsed.
#[derive(Debug, Clone)]
pub struct Mail {
    pub raw: Vec<u8>,
    pub subject: String,
    pub message_id: String,
    pub from: String,
    pub to: Vec<String>,
    pub reply_to: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub auto_submitted: Option<String>,
    pub body: String,
    /// Letters attached whole (message/rfc822), raw.
    pub attached: Vec<Vec<u8>>,
}

fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    match v {
        mail_parser::HeaderValue::Text(t) => vec![t.to_string()],
        mail_parser::HeaderValue::TextList(l) => l.iter().map(|t| t.to_string()).collect(),
        _ => vec![],
    }
}

fn addrs(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    a.map(|a| {
        a.iter()
            .filter_map(|x| x.address())
            .map(str::to_lowercase)
            .collect()
    })
    .unwrap_or_default()
}

impl Mail {
    pub fn parse(raw: &[u8]) -> Mail {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .unwrap_or_else(|| panic!("unparsable mail: {}", String::from_utf8_lossy(raw)));
        let attached = m
            .attachments()
            .filter_map(|p| p.message())
            .map(|inner| inner.raw_message().to_vec())
            .collect();
        Mail {
            raw: raw.to_vec(),
            subject: m.subject().unwrap_or_default().to_string(),
            message_id: m.message_id().unwrap_or_default().to_string(),
            from: addrs(m.from()).into_iter().next().unwrap_or_default(),
            to: addrs(m.to()),
            reply_to: addrs(m.reply_to()).into_iter().next(),
            in_reply_to: ids(m.in_reply_to()),
            references: ids(m.references()),
            auto_submitted: m.header_raw("Auto-Submitted").map(|s| s.trim().to_string()),
            body: m.body_text(0).map(|b| b.into_owned()).unwrap_or_default(),
            attached,
        }
    }

    pub fn all(raws: &[Vec<u8>]) -> Vec<Mail> {
        raws.iter().map(|r| Mail::parse(r)).collect()
    }

    /// Message-IDs of the attached letters.
    pub fn attached_ids(&self) -> Vec<String> {
        self.attached
            .iter()
            .map(|r| Mail::parse(r).message_id)
            .collect()
    }
}

/// A letter as a person's mail client writes it (UTF-8, 8bit, plain text).
#[derive(Debug, Clone)]
pub struct Compose {
    /// The sender's address (also the envelope sender).
    pub from: String,
    /// The sender's display name.
    pub name: Option<String>,
    pub subject: String,
    pub body: String,
    /// Without angle brackets.
    pub message_id: String,
    pub headers: Vec<(String, String)>,
    /// Written in windows-1251, as older Outlook and some phones do.
    pub cp1251: bool,
}

impl Compose {
    pub fn new(from: &str, subject: &str, body: &str) -> Compose {
        Compose {
            from: from.to_string(),
            name: None,
            subject: subject.to_string(),
            body: body.to_string(),
            message_id: format!("{:016x}@client.test", fastrand::u64(..)),
            headers: vec![],
            cp1251: false,
        }
    }

    /// Encodes subject, name and body in windows-1251 instead of UTF-8.
    pub fn windows_1251(mut self) -> Compose {
        self.cp1251 = true;
        self
    }

    pub fn name(mut self, name: &str) -> Compose {
        self.name = Some(name.to_string());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Compose {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        let (charset, enc): (&str, &'static encoding_rs::Encoding) = if self.cp1251 {
            ("windows-1251", encoding_rs::WINDOWS_1251)
        } else {
            ("UTF-8", encoding_rs::UTF_8)
        };
        let word = |s: &str| format!("=?{charset}?B?{}?=", b64(&enc.encode(s).0));
        let from = match &self.name {
            Some(n) => format!("{} <{}>", word(n), self.from),
            None => self.from.clone(),
        };
        let mut s = format!(
            "From: {from}\r\nTo: {} <{SUPPORT}>\r\nSubject: {}\r\n\
             Message-ID: <{}>\r\nDate: Tue, 07 Sep 2021 08:20:00 +0300\r\nMIME-Version: 1.0\r\n\
             Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n",
            word("Поддержка ЭлЖур"),
            word(&self.subject),
            self.message_id
        );
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\r\n"));
        }
        s.push_str("\r\n");
        let mut raw = s.into_bytes();
        let body = self.body.replace("\r\n", "\n").replace('\n', "\r\n") + "\r\n";
        raw.extend_from_slice(&enc.encode(&body).0);
        raw
    }
}

/// Base64 for encoded-words (no dependency for it in the tests).
pub fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Files in Postfix's queue folders that hold messages on their way.
fn queue_files(queue: &std::path::Path) -> usize {
    fn count(dir: &std::path::Path) -> usize {
        std::fs::read_dir(dir).map_or(0, |entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => count(&e.path()),
                    Ok(_) => 1,
                    Err(_) => 0,
                })
                .sum()
        })
    }
    ["maildrop", "incoming", "active", "deferred", "hold"]
        .iter()
        .map(|d| count(&queue.join(d)))
        .sum()
}
