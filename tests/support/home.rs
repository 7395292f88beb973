//! A daemon's home, the one place the tests write a config: a temporary folder
//! with the config, password files, templates, state store and log, and the
//! commands that run the real binary on it.
//!
//! Configs come in a few shapes, all with the regulation's school, schedule and
//! specialists ([`DeskToml`]):
//! - [`Home::new`] + [`Home::write`]: IMAP (plain, or implicit TLS with
//!   `imap_tls`) and SMTP over implicit TLS on a [`MailStack`], password files
//!   next to the config, the project's templates;
//! - [`Home::service`]: as systemd runs it, password files in
//!   `$CREDENTIALS_DIRECTORY`, STARTTLS submission, a templates folder of its own
//!   and a `[service]` section;
//! - [`Home::batch`]: many letters in minutes (no hourly ration of replies);
//! - [`Home::maildir`]: inbox and outbox as Maildirs, no server at all, the
//!   example config's school.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::daemon::Daemon;
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

/// Thursday 9 September 2021, 08:30 in Moscow: Бамбуркин С.П. and Макаренко С.О. are
/// on duty until 10:00.
pub const ON_DUTY: &str = "2021-09-09T08:30:00+03:00";
/// Thursday 9 September 2021, 12:00 in Moscow: nobody on duty; Бухер В.В. at 14:00.
pub const OFF_DUTY: &str = "2021-09-09T12:00:00+03:00";

/// The example config: [`Home::maildir`] takes its school, schedule and limits.
pub const EXAMPLE: &str = include_str!("../../config/duty-desk.example.toml");

/// [`TIMETABLE`] as the config's `[[specialists]]` tables, with the stack's addresses.
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

/// The address of the specialist called `name` in [`TIMETABLE`].
pub fn specialist(name: &str) -> &'static str {
    let i = TIMETABLE
        .iter()
        .position(|(n, _, _)| *n == name)
        .unwrap_or_else(|| panic!("no specialist {name}"));
    SPECIALISTS[i]
}

/// What the server configs differ in; [`DeskToml::render`] writes the rest (the
/// school, the regulation's schedule and specialists) the same for all of them.
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
path = "{STATE}"

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
            templates = self.templates_dir.display(),
            extra = self.extra,
        )
    }
}

/// Where every home keeps its state store, relative to the home.
pub const STATE: &str = "state/duty-desk.sqlite3";

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

/// The `duty-desk` binary cargo built for the tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_duty-desk");

/// The `duty-desk` binary with a clean environment (no `RUST_LOG`, no systemd
/// variables, no `$CREDENTIALS_DIRECTORY`), run through `wrapper` (a command and its arguments that ends by
/// running the rest, as `prlimit … --`) when there is one.
pub fn binary_under(wrapper: &[&str]) -> Command {
    let mut c = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(BIN);
            c
        }
        None => Command::new(BIN),
    };
    c.env_remove("RUST_LOG")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null());
    c
}

/// The `duty-desk` binary with a clean environment.
pub fn binary() -> Command {
    binary_under(&[])
}

/// `duty-desk --config CONFIG run --once --now NOW`; panics with its output on failure.
pub fn run_once(config: &Path, now: &str) -> Output {
    let out = run_cli(config, &["run", "--once", "--now", now]);
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

/// The choices of [`Home::maildir_with`].
#[derive(Default)]
pub struct MaildirSetup<'a> {
    /// Lines added to `[mailbox]`.
    pub mailbox_extra: &'a str,
    /// `[limits]` keys replaced or added.
    pub limits: &'a [(&'a str, &'a str)],
    /// The body of `[outbox]` (but `from`) [default: the Maildir `outbox/`].
    pub outbox: Option<&'a str>,
    /// `[state] path` as written [default: the home's `state/duty-desk.sqlite3`].
    pub state: Option<&'a str>,
    /// The templates folder [default: none, the built-in templates].
    pub templates: Option<PathBuf>,
}

/// See the module documentation.
pub struct Home {
    dir: tempfile::TempDir,
    /// The config file (written by `write`, `service`, `batch` or `maildir`).
    pub config: PathBuf,
    /// For [`write`](Self::write): IMAP over implicit TLS with the stack's CA
    /// instead of plain text.
    pub imap_tls: bool,
    /// For [`write`](Self::write).
    pub auto_replies_per_sender_per_day: u32,
    /// For [`write`](Self::write): the templates folder [default: the project's
    /// `config/templates`].
    pub templates_dir: Option<PathBuf>,
    /// For [`write`](Self::write): TOML appended at the end.
    pub extra: String,
}

impl Home {
    /// An empty home (folders `secrets/` and `templates/`; the daemon makes
    /// `state/`); the config is written by [`write`](Self::write) or
    /// [`write_config`](Self::write_config).
    pub fn new() -> Home {
        let dir = tempfile::Builder::new()
            .prefix("duty-desk-home-")
            .tempdir()
            .expect("create temp dir for the daemon");
        for sub in ["secrets", "templates"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir in the home");
        }
        let config = dir.path().join("duty-desk.toml");
        Home {
            dir,
            config,
            imap_tls: false,
            auto_replies_per_sender_per_day: 5,
            templates_dir: None,
            extra: String::new(),
        }
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
        let templates = self.templates_dir.clone().unwrap_or_else(project_templates);
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
            templates_dir: &templates,
            extra: &self.extra,
        }
        .render();
        self.write_config(&text);
        self.config.clone()
    }

    /// A home for `stack` as systemd runs the daemon: the mailbox is SUPPORT's
    /// INBOX over IMAP (loopback, no TLS), the outbox STARTTLS submission with AUTH
    /// as SUPPORT; the passwords are files in `$CREDENTIALS_DIRECTORY`, as
    /// `LoadCredential=` provides them (see [`command`](Self::command)); templates
    /// in the home's own `templates/`. `service` is the body of `[service]`.
    pub fn service(stack: &MailStack, service: &str) -> Home {
        let home = Home::new();
        write_secret(&home.credentials().join("imap"), &password(SUPPORT));
        write_secret(
            &home.credentials().join("smtp"),
            &format!("{}\n", password(SUPPORT)),
        );
        home.write_config(&home.service_text(stack, service));
        home
    }

    /// The config text [`service`](Self::service) writes.
    pub fn service_text(&self, stack: &MailStack, service: &str) -> String {
        DeskToml {
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
            templates_dir: Path::new("templates"),
            extra: &format!("[service]\n{service}"),
        }
        .render()
    }

    /// A home for hundreds of letters in minutes on `stack` (the fault tests and
    /// the pipeline benchmark): IMAP (plain, loopback), SMTP submission over
    /// implicit TLS, the project's templates, and no hourly ration of automatic
    /// replies (tested in open_mailbox), which would hold most of them back.
    pub fn batch(stack: &MailStack) -> Home {
        let home = Home::new();
        write_secret(&home.path("imap.pw"), &password(SUPPORT));
        write_secret(&home.path("smtp.pw"), &password(SUPPORT));
        let text = DeskToml {
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
            limits: "auto_replies_per_sender_per_day = 5\nmax_message_size = \"40MB\"\nauto_replies_per_hour = 100000"
                .to_string(),
            templates_dir: &project_templates(),
            extra: "",
        }
        .render();
        home.write_config(&text);
        home
    }

    /// A home with no server: inbox (`inbox/`) and outbox (`outbox/`) are
    /// Maildirs, the school, schedule and limits the example config's.
    /// `mailbox_extra` goes into `[mailbox]`; each `(key, value)` of `limits`
    /// replaces or adds a `[limits]` key. Templates: the built-in ones.
    pub fn maildir(mailbox_extra: &str, limits: &[(&str, &str)]) -> Home {
        Home::maildir_with(MaildirSetup {
            mailbox_extra,
            limits,
            ..MaildirSetup::default()
        })
    }

    /// [`maildir`](Self::maildir) with more of it chosen (see [`MaildirSetup`]).
    pub fn maildir_with(setup: MaildirSetup<'_>) -> Home {
        let home = Home::new();
        std::fs::remove_dir(home.path("templates")).expect("no templates folder");
        let school = EXAMPLE.find("\n[school]").expect("example has [school]");
        let state = EXAMPLE.find("\n[state]").expect("example has [state]");
        let limits = setup.limits;
        let mut middle = String::new();
        let mut in_limits = false;
        let add_limits = |middle: &mut String| {
            for (k, v) in limits {
                middle.push_str(&format!("{k} = {v}\n"));
            }
        };
        for line in EXAMPLE[school..state].lines() {
            if line.starts_with('[') {
                if in_limits {
                    add_limits(&mut middle);
                }
                in_limits = line.trim() == "[limits]";
            }
            let key = line.split('=').next().unwrap_or("").trim();
            if in_limits && limits.iter().any(|(k, _)| *k == key) {
                continue;
            }
            middle.push_str(line);
            middle.push('\n');
        }
        if in_limits {
            add_limits(&mut middle);
        }
        let outbox = match setup.outbox {
            Some(section) => section.to_string(),
            None => format!(
                "kind = \"maildir\"\npath = \"{}\"",
                home.path("outbox").display()
            ),
        };
        let state = match setup.state {
            Some(rel) => rel.to_string(),
            None => home.state_path().display().to_string(),
        };
        let templates = setup.templates.unwrap_or_else(|| home.path("templates"));
        home.write_config(&format!(
            "[mailbox]\nkind = \"maildir\"\npath = \"{inbox}\"\npoll_interval = \"1s\"\n{extra}\n\n\
             [outbox]\n{outbox}\nfrom = \"Поддержка ЭлЖур <uvk-mtl@mail.ru>\"\n\
             {middle}\n[state]\npath = \"{state}\"\n\n[templates]\ndir = \"{templates}\"\n",
            inbox = home.path("inbox").display(),
            extra = setup.mailbox_extra,
            templates = templates.display(),
        ));
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(home.path("inbox").join(sub)).expect("mkdir inbox");
        }
        home
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `rel` inside the home.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn state_path(&self) -> PathBuf {
        self.path(STATE)
    }

    /// The folder that plays `$CREDENTIALS_DIRECTORY`.
    pub fn credentials(&self) -> PathBuf {
        self.path("secrets")
    }

    /// The log file every daemon spawned from this home appends to.
    pub fn log_path(&self) -> PathBuf {
        self.path("daemon.log")
    }

    /// Everything the daemons spawned from this home wrote so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Replaces the config file atomically (write + rename), as an admin's editor would.
    pub fn write_config(&self, text: &str) {
        let tmp = self.path(".duty-desk.toml.new");
        std::fs::write(&tmp, text).expect("write config");
        std::fs::rename(&tmp, &self.config).expect("rename config");
    }

    /// Rewrites the config through `edit`.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = std::fs::read_to_string(&self.config).expect("read the config");
        self.write_config(&edit(text));
    }

    /// Writes `templates/NAME.j2` atomically.
    pub fn write_template(&self, name: &str, text: &str) {
        let dir = self.path("templates");
        let tmp = dir.join(format!(".{name}.j2.new"));
        std::fs::write(&tmp, text).expect("write template");
        std::fs::rename(&tmp, dir.join(format!("{name}.j2"))).expect("rename template");
    }

    /// `duty-desk --config … ARGS` with a clean environment and the credentials
    /// directory set as systemd sets it.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_under(&[], args)
    }

    /// [`command`](Self::command) started through `wrapper` (see [`binary_under`]).
    pub fn command_under(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut c = binary_under(wrapper);
        c.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("CREDENTIALS_DIRECTORY", self.credentials());
        c
    }

    /// Runs `duty-desk --config … ARGS` to its end.
    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run duty-desk")
    }

    /// `run --once --now NOW`; panics with its output on failure.
    pub fn run_once(&self, now: &str) -> Output {
        let out = self.output(&["run", "--once", "--now", now]);
        assert!(
            out.status.success(),
            "duty-desk run --once failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// `run --once --now NOW EXTRA…` to its end: whether it succeeded, and what it
    /// wrote (stdout and stderr together, also appended to the home's log).
    pub fn once_at(&self, now: &str, extra: &[&str]) -> (bool, String) {
        let mut args = vec!["run", "--once", "--now", now];
        args.extend_from_slice(extra);
        let out = self.output(&args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        (out.status.success(), text)
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

    /// Starts `duty-desk --config … ARGS` in the background.
    pub fn spawn(&self, args: &[&str]) -> Daemon {
        Daemon::spawn(self.command(args), &self.log_path())
    }

    /// Starts `cmd` (built from [`command`](Self::command) or
    /// [`command_under`](Self::command_under)) in the background.
    pub fn spawn_command(&self, cmd: Command) -> Daemon {
        Daemon::spawn(cmd, &self.log_path())
    }

    /// Starts `duty-desk run --now NOW` in the background.
    pub fn start(&self, now: &str) -> Daemon {
        self.spawn(&["run", "--now", now])
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

    /// A number from the store (`SELECT count(*) …`); panics if the query fails.
    pub fn count(&self, sql: &str) -> i64 {
        self.store()
            .query_row(sql, [], |r| r.get(0))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A number from the store, or None when the store is missing or busy.
    pub fn query(&self, sql: &str) -> Option<i64> {
        if !self.state_path().exists() {
            return None;
        }
        let conn = rusqlite::Connection::open_with_flags(
            self.state_path(),
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

impl Drop for Home {
    fn drop(&mut self) {
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

/// The project's own templates (`config/templates`).
pub fn project_templates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/templates")
}
