//! Driving the real `duty-desk` binary against a [`MailStack`]: a config the test
//! writes, the daemon as a child process with its log captured, signals, the store.
//!
//! The service tests' daemon helpers, used by `tests/service.rs` through `#[path]` (so `support/mod.rs` stays untouched).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{MailStack, SUPPORT, password};

/// Thursday 9 September 2021, 08:30 in Moscow: Бамбуркин С.П. and Макаренко С.О. are
/// on duty until 10:00.
pub const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";
/// Thursday 9 September 2021, 12:00 in Moscow: nobody on duty; Бухер В.В. at 14:00.
pub const OFF_DUTY: &str = "2021-09-09T12:00:00+03:00";

/// A daemon's home: config, password files, templates dir and state, in a temp dir.
pub struct Desk {
    dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Desk {
    /// Writes a config for `stack`: the mailbox is SUPPORT's INBOX over IMAP (loopback,
    /// no TLS), the outbox is STARTTLS submission with AUTH as SUPPORT, the admin is
    /// ADMIN. The passwords are files in `$CREDENTIALS_DIRECTORY`, as systemd's
    /// `LoadCredential=` provides them (see [`Desk::command`]). `service` is the body
    /// of the `[service]` section.
    pub fn new(stack: &MailStack, service: &str) -> Desk {
        let dir = tempfile::Builder::new()
            .prefix("duty-desk-service-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("secrets")).expect("mkdir secrets");
        std::fs::create_dir_all(root.join("templates")).expect("mkdir templates");
        crate::support::daemon::write_secret(&root.join("secrets/imap"), &password(SUPPORT));
        crate::support::daemon::write_secret(
            &root.join("secrets/smtp"),
            &format!("{}\n", password(SUPPORT)),
        );
        let config = root.join("duty-desk.toml");
        let desk = Desk { dir, config };
        desk.write_config(&desk.config_text(stack, service));
        desk
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The config text `new` writes.
    pub fn config_text(&self, stack: &MailStack, service: &str) -> String {
        crate::support::daemon::DeskToml {
            imap: format!("port = {}\ntls = \"none\"", stack.imap_port()),
            imap_password_file: "${CREDENTIALS_DIRECTORY}/imap",
            poll_interval: "5s",
            smtp_host: "localhost",
            smtp_port: stack.submission_port(),
            smtp_tls: "starttls",
            smtp_password_file: "${CREDENTIALS_DIRECTORY}/smtp",
            ca_file: &stack.ca_file(),
            school_name: "Тестовая школа",
            staff: "staff_domains = [\"school.test\"]",
            limits: "auto_replies_per_sender_per_day = 100\nauto_replies_per_hour = 100000"
                .to_string(),
            state_path: "state/duty-desk.sqlite3",
            templates_dir: Path::new("templates"),
            extra: &format!("[service]\n{service}"),
        }
        .render()
    }

    /// Replaces the config file atomically (write + rename), as an admin's editor would.
    pub fn write_config(&self, text: &str) {
        let tmp = self.dir.path().join(".duty-desk.toml.new");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, &self.config).expect("rename config");
    }

    /// Writes `templates/NAME.j2` atomically.
    pub fn write_template(&self, name: &str, text: &str) {
        let dir = self.dir.path().join("templates");
        let tmp = dir.join(format!(".{name}.j2.new"));
        std::fs::write(&tmp, text).expect("write template");
        std::fs::rename(&tmp, dir.join(format!("{name}.j2"))).expect("rename template");
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.path().join("state/duty-desk.sqlite3")
    }

    /// The folder that plays `$CREDENTIALS_DIRECTORY`.
    pub fn credentials(&self) -> PathBuf {
        self.dir.path().join("secrets")
    }

    /// `duty-desk --config … ARGS` with a clean logging environment and the
    /// credentials directory set as systemd sets it.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_duty-desk"));
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("CREDENTIALS_DIRECTORY", self.credentials())
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .stdin(Stdio::null());
        c
    }

    /// Runs a command to its end (at most `limit`), returning its output.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run duty-desk")
    }

    /// `duty-desk status`, asserting success; returns its stdout.
    pub fn status(&self) -> String {
        let out = self.output(&["status"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "status failed: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    }

    /// Starts `duty-desk run ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Daemon {
        let mut all = vec!["run"];
        all.extend_from_slice(args);
        Daemon::spawn(self.command(&all))
    }

    /// The state store, opened read-only.
    pub fn store(&self) -> rusqlite::Connection {
        let c = rusqlite::Connection::open_with_flags(
            self.state_path(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .expect("open the state store");
        c.busy_timeout(Duration::from_secs(5))
            .expect("busy timeout");
        c
    }

    /// A number from the store (`SELECT count(*) …`).
    pub fn count(&self, sql: &str) -> i64 {
        self.store()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }
}

/// `duty-desk run` as a child process; its stderr is collected line by line, each
/// line prefixed with the seconds since the start.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Spawns `cmd` with stderr captured.
    pub fn spawn(mut cmd: Command) -> Daemon {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn duty-desk");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let started = Instant::now();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap_or_else(|e| e.into_inner());
                // When each line came, for reading a failure's story.
                l.push_str(&format!(
                    "[{:7.3}s] {line}\n",
                    started.elapsed().as_secs_f64()
                ));
            }
        });
        Daemon {
            child,
            log,
            reader: Some(reader),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits until the log holds `needle` `times` times; panics with the log after `timeout`.
    pub fn wait_log(&mut self, needle: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().matches(needle).count() >= times {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "duty-desk exited ({status}) while we waited for {needle:?}:\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {needle:?} x{times} in the log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// Waits for the exit at most `timeout`; None if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Some(r) = self.reader.take() {
                    let _ = r.join();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A complete request (name, class, problem) from `from`, numbered `n` in its body
/// and Message-ID. Returns (Message-ID without brackets, raw).
pub fn request(from: &str, n: usize) -> (String, Vec<u8>) {
    let id = format!("svc-{n}-{:08x}@parents.test", fastrand::u32(..));
    let raw = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: Dnevnik {n}\r\nMessage-ID: <{id}>\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте!\r\n\r\nФИО: Смирнова Ольга Викторовна\r\nКласс: 5А\r\n\
         Проблема: со вчерашнего дня не открывается дневник сына, после входа\r\n\
         белая страница номер {n}. Пробовала с телефона и с компьютера.\r\n"
    );
    (id, raw.into_bytes())
}

/// A request that lacks the class (the daemon asks for it).
pub fn request_without_class(from: &str, n: usize) -> (String, Vec<u8>) {
    let id = format!("svc-nc-{n}-{:08x}@parents.test", fastrand::u32(..));
    let raw = format!(
        "From: {from}\r\nTo: {SUPPORT}\r\nSubject: Parol {n}\r\nMessage-ID: <{id}>\r\n\
         Date: Thu, 09 Sep 2021 08:12:40 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте! Я мама ученика, Смирнова Ольга Викторовна.\r\n\
         Не приходит письмо для смены пароля в электронном журнале.\r\n"
    );
    (id, raw.into_bytes())
}

/// The value of a header (first occurrence, unfolded), if any.
pub fn header(raw: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .replace("\r\n ", " ");
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
}

/// A TCP server on loopback that accepts connections and never says a word (a hung
/// mail server). Returns its port; the connections are held until the process ends.
pub fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

/// An SMTP server on loopback (no TLS) that takes AUTH and a whole message, then
/// never answers the final dot: a transaction hung in flight. Returns its port and a
/// receiver told each time a message's data has been read.
pub fn smtp_hanging_after_data() -> (u16, std::sync::mpsc::Receiver<()>) {
    use std::io::Write as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().expect("clone stream");
                let mut r = BufReader::new(conn);
                let _ = w.write_all(b"220 hang.test ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-hang.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("AUTH") {
                        b"235 2.7.0 ok\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n");
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                        }
                        let _ = tx.send(());
                        // The reply never comes; hold the connection open.
                        std::thread::sleep(Duration::from_secs(600));
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    (port, rx)
}
