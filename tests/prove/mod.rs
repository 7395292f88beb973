//! Shared by the fault tests (`tests/faults.rs`) and the pipeline benchmark
//! (`benches/pipeline.rs`): a daemon config for a [`MailStack`], letters of every
//! kind, the daemon as a child process, and reading back every mail delivered.
//!
//! It sits under `tests/prove/` (a folder, so cargo does not build it as a test of
//! its own) next to `tests/support/`, and is included with `mod prove;` or
//! `#[path = "../tests/prove/mod.rs"] mod prove;`. It expects the including crate
//! to have `mod support;` at its root.
#![allow(dead_code)] // The tests and the benchmark use different parts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{MailStack, SUPPORT, password};

/// Thursday 2021-09-09 08:30 Moscow: Бамбуркин and Макаренко on duty until 10:00.
pub const DUTY_NOW: &str = "2021-09-09T08:30:00+03:00";

/// The domain of the generated senders (a local domain of every stack).
pub const SENDER_DOMAIN: &str = "parents.test";

/// Sender number `i`: a mail user of the stack when it was started with
/// [`sender_users`] among its extra users.
pub fn sender(i: usize) -> String {
    format!("w{i:04}@{SENDER_DOMAIN}")
}

/// `n` senders, for `StackOptions::extra_users`.
pub fn sender_users(n: usize) -> Vec<String> {
    (0..n).map(sender).collect()
}

/// What a generated letter should lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Complete: a forward to the specialist on duty and an acknowledgement.
    Complete,
    /// No class: an ask to the sender.
    Incomplete,
    /// An auto-reply: nothing sent.
    Robot,
    /// Rude: an etiquette refusal and a report to the supervisor.
    Rude,
}

impl Kind {
    /// The mix used for runs of many letters: 6 complete, 2 incomplete, 1 robot,
    /// 1 rude in every 10.
    pub fn of(i: usize) -> Kind {
        match i % 10 {
            0..=5 => Kind::Complete,
            6 | 7 => Kind::Incomplete,
            8 => Kind::Robot,
            _ => Kind::Rude,
        }
    }
    /// The folder of the support mailbox the letter is filed into.
    pub fn folder(self) -> &'static str {
        match self {
            Kind::Complete => "duty-desk/Processed",
            Kind::Incomplete => "duty-desk/Waiting",
            Kind::Robot => "duty-desk/Ignored",
            Kind::Rude => "duty-desk/Etiquette",
        }
    }
    /// The kinds of mail (the `kind` part of our Message-IDs) it causes.
    pub fn mails(self) -> &'static [&'static str] {
        match self {
            Kind::Complete => &["forward", "ack_now"],
            Kind::Incomplete => &["ask"],
            Kind::Robot => &[],
            Kind::Rude => &["etiquette", "report"],
        }
    }
}

/// The Message-ID (without brackets) of generated letter `i`.
pub fn letter_id(i: usize) -> String {
    format!("letter-{i:04}@{SENDER_DOMAIN}")
}

/// Letter number `i` of kind `kind` from [`sender`]`(i)` to the support mailbox.
pub fn letter(i: usize, kind: Kind) -> Vec<u8> {
    let from = sender(i);
    let id = letter_id(i);
    let (extra, subject, body) = match kind {
        Kind::Complete => (
            "",
            format!("Не открывается дневник, вопрос {i}"),
            format!(
                "Здравствуйте!\r\n\r\nФИО: Смирнова Ольга Викторовна\r\nКласс: 5А\r\n\
                 Проблема: со вчерашнего дня не открывается дневник сына, после входа\r\n\
                 белая страница (обращение номер {i}).\r\n"
            ),
        ),
        Kind::Incomplete => (
            "",
            format!("Пароль, вопрос {i}"),
            format!(
                "Добрый день. Я Петрова Наталья Андреевна, мама ученика Петрова Ильи.\r\n\
                 Не могу восстановить пароль от родительского входа: письмо для сброса\r\n\
                 не приходит уже второй день (обращение номер {i}).\r\n"
            ),
        ),
        Kind::Robot => (
            "Auto-Submitted: auto-replied\r\n",
            format!("Автоответ: меня нет на месте {i}"),
            "Я в отпуске до понедельника.\r\n".to_string(),
        ),
        Kind::Rude => (
            "",
            format!("Опять не работает {i}"),
            "Вы там совсем охренели? Третью неделю не работает ваш долбаный журнал,\r\n\
             идиоты, сколько можно!\r\nШустов Денис Олегович, отец ученика 8А.\r\n"
                .to_string(),
        ),
    };
    format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: {subject}\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMessage-ID: <{id}>\r\n{extra}\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{body}"
    )
    .into_bytes()
}

/// A daemon's config, state store and log in a temporary folder.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    pub log: PathBuf,
    pub bin: PathBuf,
    /// Daemons spawned, killed on drop if still running (a failing test must not
    /// leave one behind).
    spawned: std::sync::Mutex<Vec<u32>>,
}

impl Daemon {
    /// Writes a config for `stack`: IMAP (plain, loopback) on the support mailbox,
    /// SMTP submission over implicit TLS with the stack's CA, the regulation's
    /// timetable with the stack's specialists, the project's templates.
    pub fn new(stack: &MailStack, bin: &Path) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("duty-desk-prove-")
            .tempdir()
            .expect("temp dir for the daemon");
        let root = dir.path();
        crate::support::daemon::write_secret(&root.join("imap.pw"), &password(SUPPORT));
        crate::support::daemon::write_secret(&root.join("smtp.pw"), &password(SUPPORT));
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates");
        let state = root.join("var/duty-desk.sqlite3");
        let config = crate::support::daemon::DeskToml {
            imap: format!("port = {}\ntls = \"none\"", stack.imap_port()),
            imap_password_file: "imap.pw",
            poll_interval: "60s",
            smtp_host: "127.0.0.1",
            smtp_port: stack.smtps_port(),
            smtp_tls: "implicit",
            smtp_password_file: "smtp.pw",
            ca_file: &stack.ca_file(),
            school_name: "Тестовая школа",
            staff: "staff_domains = [\"school.test\"]\nstaff_addresses = []",
            // Hundreds of letters in minutes: the hourly ration of automatic replies
            // (tested in open_mailbox) would hold most of them back.
            limits: "auto_replies_per_sender_per_day = 5\nmax_message_size = \"40MB\"\nauto_replies_per_hour = 100000"
                .to_string(),
            state_path: "var/duty-desk.sqlite3",
            templates_dir: &templates,
            extra: "",
        }
        .render();
        let config_path = root.join("duty-desk.toml");
        std::fs::write(&config_path, config).expect("write config");
        Daemon {
            config: config_path,
            state,
            log: root.join("daemon.log"),
            bin: bin.to_path_buf(),
            dir,
            spawned: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The command `duty-desk --config … <args>`, its output appended to the log.
    pub fn command(&self, args: &[&str]) -> Command {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open daemon log");
        let mut c = Command::new(&self.bin);
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("dup log"))
            .stderr(log);
        c
    }

    /// Starts `duty-desk run --now DUTY_NOW` (plus `extra` arguments).
    pub fn spawn(&self, extra: &[&str]) -> Child {
        self.spawn_at(DUTY_NOW, extra)
    }

    /// Starts `duty-desk run --now NOW` (plus `extra` arguments).
    pub fn spawn_at(&self, now: &str, extra: &[&str]) -> Child {
        let mut args = vec!["run", "--now", now];
        args.extend_from_slice(extra);
        let child = self.command(&args).spawn().expect("spawn duty-desk run");
        self.spawned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child.id());
        child
    }

    /// Runs `duty-desk run --once --now DUTY_NOW` (plus `extra`) to the end; returns
    /// whether it succeeded and what it wrote (stdout and stderr together).
    pub fn once(&self, extra: &[&str]) -> (bool, String) {
        self.once_at(DUTY_NOW, extra)
    }

    /// Like [`once`](Self::once) at `now`.
    pub fn once_at(&self, now: &str, extra: &[&str]) -> (bool, String) {
        let mut args = vec!["run", "--once", "--now", now];
        args.extend_from_slice(extra);
        let out = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .args(&args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .output()
            .expect("run duty-desk run --once");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// `duty-desk status` output.
    pub fn status(&self) -> String {
        let out = Command::new(&self.bin)
            .arg("--config")
            .arg(&self.config)
            .arg("status")
            .stdin(Stdio::null())
            .output()
            .expect("run duty-desk status");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Runs `sql` (one integer result) on the state store, read-only; None when the
    /// store is missing or busy.
    pub fn query(&self, sql: &str) -> Option<i64> {
        if !self.state.exists() {
            return None;
        }
        let conn = rusqlite::Connection::open_with_flags(
            &self.state,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        let _ = conn.busy_timeout(Duration::from_secs(2));
        conn.query_row(sql, [], |r| r.get(0)).ok()
    }

    /// Letters decided on (messages recorded in the store).
    pub fn decided(&self) -> i64 {
        self.query("SELECT count(*) FROM messages").unwrap_or(0)
    }

    /// Outgoing mails by state.
    pub fn outgoing(&self, state: &str) -> i64 {
        self.query(&format!(
            "SELECT count(*) FROM outgoing WHERE state = '{state}'"
        ))
        .unwrap_or(0)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Reaped children are gone; a pid still alive with our config is a leftover.
        let config = self.config.display().to_string();
        for pid in self
            .spawned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&config) {
                let _ = Command::new("kill")
                    .arg("-KILL")
                    .arg(pid.to_string())
                    .status();
            }
        }
        // With the harness's switch, keep config, store and log for a look afterwards.
        if std::env::var_os("DUTY_DESK_KEEP_STACK").is_some() {
            let dir = std::mem::replace(
                &mut self.dir,
                tempfile::tempdir().expect("placeholder temp dir"),
            );
            eprintln!("keeping daemon folder {}", dir.keep().display());
        }
    }
}

/// SIGKILL and reap.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM and wait (up to 10 s, then SIGKILL).
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    kill(child);
}

/// One delivered mail: whose mailbox (user), the raw bytes.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub user: String,
    pub raw: Vec<u8>,
}

impl Delivered {
    pub fn header(&self, name: &str) -> Option<String> {
        header(&self.raw, name)
    }
    pub fn message_id(&self) -> Option<String> {
        self.header("Message-ID")
            .map(|v| v.trim().trim_matches(|c| c == '<' || c == '>').to_string())
    }
    /// `(ticket, kind)` from one of our Message-IDs
    /// (`duty-desk.{ticket}.{kind}.{random}@domain`).
    pub fn ticket_kind(&self) -> Option<(i64, String)> {
        let id = self.message_id()?;
        let rest = id.strip_prefix("duty-desk.")?;
        let mut parts = rest.splitn(3, '.');
        let ticket = parts.next()?.parse().ok()?;
        let kind = parts.next()?.to_string();
        Some((ticket, kind))
    }
}

/// A top-level header's unfolded value (first occurrence), or None.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    // Dovecot stores messages with bare LF line ends; SMTP carries CRLF.
    let text = String::from_utf8_lossy(raw).replace("\r\n", "\n");
    let head = text.split("\n\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.split('\n') {
        if let Some(v) = value.as_mut() {
            if line.starts_with([' ', '\t']) {
                v.push(' ');
                v.push_str(line.trim());
                continue;
            }
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(name)
        {
            value = Some(v.trim().to_string());
        }
    }
    value
}

/// Every mail delivered to any user of `stack` but the support mailbox, read from
/// Dovecot's Maildirs on disk (`mail/<domain>/<user>/Maildir/{cur,new}`).
pub fn delivered(stack: &MailStack) -> Vec<Delivered> {
    let mut out = Vec::new();
    let mail = stack.dir().join("mail");
    let Ok(domains) = std::fs::read_dir(&mail) else {
        return out;
    };
    for d in domains.flatten() {
        let domain = d.file_name().to_string_lossy().into_owned();
        let Ok(users) = std::fs::read_dir(d.path()) else {
            continue;
        };
        for u in users.flatten() {
            let user = format!("{}@{domain}", u.file_name().to_string_lossy());
            if user == SUPPORT {
                continue;
            }
            for sub in ["new", "cur"] {
                let Ok(files) = std::fs::read_dir(u.path().join("Maildir").join(sub)) else {
                    continue;
                };
                for f in files.flatten() {
                    if let Ok(raw) = std::fs::read(f.path()) {
                        out.push(Delivered {
                            user: user.clone(),
                            raw,
                        });
                    }
                }
            }
        }
    }
    out
}

/// The support mailbox's folders: name → Message-IDs of the letters in it.
pub async fn support_folders(stack: &MailStack) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    for folder in [
        "INBOX",
        "duty-desk/Processed",
        "duty-desk/Waiting",
        "duty-desk/Ignored",
        "duty-desk/Etiquette",
        "duty-desk/Unreadable",
    ] {
        let ids = stack
            .fetch(SUPPORT, folder)
            .await
            .iter()
            .map(|raw| {
                header(raw, "Message-ID")
                    .unwrap_or_default()
                    .trim_matches(|c| c == '<' || c == '>')
                    .to_string()
            })
            .collect();
        out.insert(folder.to_string(), ids);
    }
    out
}

/// Peak resident set (VmHWM) and current (VmRSS) of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
