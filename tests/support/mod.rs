//! The real-server test harness: a private Dovecot and Postfix per test.
//!
//! `MailStack::start()` builds, in a fresh temporary folder, a test CA and a server
//! certificate for `localhost`/`127.0.0.1`, a Dovecot (IMAP, IMAPS, LMTP and an auth
//! listener for Postfix's SASL) and a Postfix (plain SMTP, implicit-TLS submission,
//! STARTTLS submission; AUTH through Dovecot; delivery by LMTP to Dovecot; unknown
//! recipients refused with 550 at RCPT), all on free loopback ports. Every stack has
//! its own instance name, folders and ports, so tests run in parallel. Dropping the
//! stack kills both servers' process groups and removes the folder, also when a test
//! panics. When Dovecot or Postfix is missing, `scripts/install-mail-stack` runs
//! first (tests never skip).
//!
//! Tests act as people do: [`MailStack::send`] speaks SMTP, [`MailStack::fetch`] and
//! [`MailStack::wait_for`] read folders over IMAP.
//!
//! ```text
//! mod support;
//! use support::{MailStack, SUPPORT, REQUESTERS, password};
//!
//! #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
//! async fn example() {
//!     let stack = MailStack::start();            // ~0.2 s; stopped and removed on drop
//!     stack.send(REQUESTERS[0], SUPPORT, b"Subject: hi\r\n\r\ntext\r\n").await.unwrap();
//!     // point the daemon at 127.0.0.1:stack.imaps_port() / stack.smtps_port(),
//!     // ca_file = stack.ca_file(), user SUPPORT with password(SUPPORT) ...
//!     let inbox = stack.wait_for(SUPPORT, "INBOX", 1, Duration::from_secs(10)).await;
//!     let moved = stack.fetch(SUPPORT, "duty-desk/Processed").await;
//! }
//! ```
//!
//! Ports: `imap_port` (plain, STARTTLS offered), `imaps_port` (implicit TLS),
//! `smtp_port` (plain, no AUTH, loopback relays), `smtps_port` (implicit TLS, AUTH),
//! `submission_port` (STARTTLS required, AUTH). Certificates name `localhost` and
//! `127.0.0.1`. Logs: [`MailStack::logs`] (also printed by the panicking helpers).
//! Set `DUTY_DESK_KEEP_STACK=1` to keep the folder (configs, logs, mail) after a test.
//! Servers of a test process that was killed outright are reaped by the next stack.
#![allow(dead_code)] // Each test binary uses a different part of the harness.

mod clients;
mod configs;
pub mod daemon;
pub mod desk;
pub mod home;
pub mod letters;
pub mod maildesk;
pub mod net;
pub mod others;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

pub use clients::Imap;
pub use configs::Ports;
// Each test binary uses some of these.
#[allow(unused_imports)]
pub use daemon::{Daemon, InProcess, rss_kib};
#[allow(unused_imports)]
pub use home::{
    DeskToml, Home, OFF_DUTY, ON_DUTY, TIMETABLE, run_cli, run_once, specialist, write_secret,
};
#[allow(unused_imports)]
pub use letters::{
    Compose, Delivered, Kind, Mail, assert_contains, b64, batch_letter, delivered, header,
    letter_id, parent, reply_to, request, request_without_class, sender, sender_users,
    support_folders,
};

/// The support mailbox the daemon reads.
pub const SUPPORT: &str = "support@school.test";
/// The six duty specialists.
pub const SPECIALISTS: [&str; 6] = [
    "bamburkin@school.test",
    "bukher@school.test",
    "voitenko@school.test",
    "malchenko@school.test",
    "makarenko@school.test",
    "tkachenko@school.test",
];
/// The supervisor (etiquette reports).
pub const DIRECTOR: &str = "director@school.test";
/// The fallback administrator.
pub const ADMIN: &str = "admin@school.test";
/// People who write to the support mailbox.
pub const REQUESTERS: [&str; 6] = [
    "parent1@parents.test",
    "parent2@parents.test",
    "parent3@parents.test",
    "teacher1@school.test",
    "student1@school.test",
    "student2@school.test",
];
/// Local mail domains of the stack.
pub const DOMAINS: [&str; 2] = ["school.test", "parents.test"];

/// Every user of the stack.
pub fn users() -> Vec<&'static str> {
    let mut all = vec![SUPPORT, DIRECTOR, ADMIN];
    all.extend(SPECIALISTS);
    all.extend(REQUESTERS);
    all
}

/// The password of `user` (the same on IMAP, SMTP AUTH and Dovecot SASL).
pub fn password(user: &str) -> String {
    let local = user.split('@').next().unwrap_or(user);
    format!("pw-{local}-secret")
}

/// Name prefix of every stack folder in the temp dir.
const STACK_PREFIX: &str = "duty-desk-stack-";

/// Stack numbers in this process (instance names must be unique).
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Variations of a stack (defaults: everything on).
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Overrides the capabilities Dovecot advertises after login (`imap_capability`),
    /// e.g. `"IMAP4rev1 LITERAL+ UIDPLUS"` to test clients against a server without
    /// IDLE and MOVE.
    pub imap_capability: Option<String>,
    /// More mail users (`name@domain`), on top of [`users`]; their domains become
    /// local too. Their password is [`password`] as for everyone.
    pub extra_users: Vec<String>,
    /// Dovecot's `imap_fetch_failure`: what it does when it cannot read a message
    /// for a FETCH. Its default, `disconnect-immediately`, ends the session;
    /// `no-after` answers the FETCH with NO once the other messages are sent.
    pub imap_fetch_failure: Option<String>,
    /// The settings inside Dovecot's `namespace inbox { … }` (default
    /// `separator = /`), e.g. `separator = .` or `prefix = INBOX.` and
    /// `separator = .` for a Courier-like "INBOX." namespace.
    pub namespace: Option<String>,
}

/// A private Dovecot + Postfix. See the module documentation.
pub struct MailStack {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    ports: Ports,
    users: Vec<String>,
    dovecot: Option<Child>,
    postfix: Option<Child>,
}

impl MailStack {
    /// Starts a new stack and waits until IMAP and SMTP answer. Panics with the servers'
    /// logs if they do not come up.
    pub fn start() -> MailStack {
        Self::start_with(StackOptions::default())
    }

    /// Like [`start`](Self::start), with variations.
    pub fn start_with(options: StackOptions) -> MailStack {
        ensure_installed();
        reap_abandoned_stacks();
        let dir = tempfile::Builder::new()
            .prefix(STACK_PREFIX)
            .tempdir()
            .expect("create temp dir for the mail stack");
        let root = dir.path().to_path_buf();
        std::fs::write(root.join("owner.pid"), std::process::id().to_string())
            .expect("write owner.pid");
        let mut all_users: Vec<String> = users().into_iter().map(String::from).collect();
        all_users.extend(options.extra_users.iter().cloned());
        // Dovecot's mail processes (uid 5000) and Postfix's (user postfix) must reach it.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("chmod stack dir");
        let ports = free_ports();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let instance = format!("dd-{}-{}", std::process::id(), n);
        let mut stack = MailStack {
            dir: Some(dir),
            root,
            ports,
            users: all_users,
            dovecot: None,
            postfix: None,
        };
        stack.write_certs();
        stack.write_dovecot(&instance, &options);
        stack.write_postfix();
        stack.start_dovecot();
        stack.start_postfix();
        stack
    }

    // ---- accessors -------------------------------------------------------------------

    /// Always `127.0.0.1`.
    pub fn host(&self) -> &'static str {
        "127.0.0.1"
    }
    pub fn ports(&self) -> Ports {
        self.ports
    }
    /// IMAP without TLS (STARTTLS offered).
    pub fn imap_port(&self) -> u16 {
        self.ports.imap
    }
    /// IMAP over implicit TLS.
    pub fn imaps_port(&self) -> u16 {
        self.ports.imaps
    }
    /// SMTP without TLS and without AUTH (STARTTLS offered); loopback is in
    /// `mynetworks`, so it relays without AUTH. Keeps accepting (and queueing) mail
    /// while Dovecot is stopped.
    pub fn smtp_port(&self) -> u16 {
        self.ports.smtp
    }
    /// Submission over implicit TLS (465-style), AUTH required for relay.
    pub fn smtps_port(&self) -> u16 {
        self.ports.smtps
    }
    /// Submission with mandatory STARTTLS (587-style), AUTH only after TLS.
    pub fn submission_port(&self) -> u16 {
        self.ports.submission
    }
    pub fn lmtp_port(&self) -> u16 {
        self.ports.lmtp
    }
    /// The test CA that signed the servers' certificate (PEM).
    pub fn ca_file(&self) -> PathBuf {
        self.root.join("certs/ca.pem")
    }
    /// The stack's temporary folder (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.root
    }
    /// Dovecot's and Postfix's logs, for failure messages.
    pub fn logs(&self) -> String {
        let read = |p: &str| std::fs::read_to_string(self.root.join(p)).unwrap_or_default();
        format!(
            "--- dovecot.log ---\n{}\n--- postfix.log ---\n{}\n--- postfix.out ---\n{}",
            read("dovecot/dovecot.log"),
            read("postfix/postfix.log"),
            read("postfix/master.out"),
        )
    }

    // ---- acting as people ------------------------------------------------------------

    /// Sends `raw` (a complete RFC 5322 message) over plain SMTP. The error carries
    /// the server's reply, so tests can assert a refusal.
    pub async fn send(&self, from: &str, to: &str, raw: &[u8]) -> Result<(), String> {
        clients::smtp_send(self.ports.smtp, from, &[to], raw).await
    }

    /// Sends `letter` to the support mailbox and waits (up to a minute) until it is there.
    pub async fn deliver(&self, letter: &Compose) {
        let before = self.fetch(SUPPORT, "INBOX").await.len();
        self.send(&letter.from, SUPPORT, &letter.build())
            .await
            .unwrap_or_else(|e| panic!("send {}: {e}", letter.subject));
        self.wait_for(SUPPORT, "INBOX", before + 1, Duration::from_secs(60))
            .await;
    }

    /// Waits (up to a minute) for `count` letters in `user`'s INBOX and parses them.
    pub async fn inbox(&self, user: &str, count: usize) -> Vec<Mail> {
        Mail::all(
            &self
                .wait_for(user, "INBOX", count, Duration::from_secs(60))
                .await,
        )
    }

    /// Like [`send`](Self::send) to several recipients in one transaction.
    pub async fn send_many(&self, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
        clients::smtp_send(self.ports.smtp, from, to, raw).await
    }

    /// All messages in `folder` of `user`, oldest first (flags untouched). A missing
    /// folder gives an empty list. Panics if IMAP itself fails.
    pub async fn fetch(&self, user: &str, folder: &str) -> Vec<Vec<u8>> {
        clients::imap_fetch(self.ports.imap, user, &password(user), folder)
            .await
            .unwrap_or_else(|e| panic!("IMAP fetch {user} {folder}: {e}\n{}", self.logs()))
    }

    /// Folder names of `user`.
    pub async fn folders(&self, user: &str) -> Vec<String> {
        clients::imap_folders(self.ports.imap, user, &password(user))
            .await
            .unwrap_or_else(|e| panic!("IMAP LIST {user}: {e}\n{}", self.logs()))
    }

    /// Waits until `folder` of `user` holds at least `count` messages and returns them;
    /// panics after `timeout` saying how many were there.
    pub async fn wait_for(
        &self,
        user: &str,
        folder: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = clients::imap_fetch(self.ports.imap, user, &password(user), folder)
                .await
                .unwrap_or_default();
            if got.len() >= count {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {count} message(s) in {user} {folder}, found {}\n{}",
                    got.len(),
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stores `raw` in `folder` of `user` with the given INTERNALDATE
    /// (`"01-Jan-2020 10:00:00 +0000"`), as an old message already in the mailbox.
    pub async fn append(&self, user: &str, folder: &str, internal_date: &str, raw: &[u8]) {
        let mut imap = self.imap(user).await;
        // LITERAL+ (RFC 7888): the literal follows the command line without waiting.
        let mut cmd = format!(
            "APPEND \"{folder}\" () \"{internal_date}\" {{{}+}}\r\n",
            raw.len()
        )
        .into_bytes();
        cmd.extend_from_slice(raw);
        imap.command_bytes(&cmd)
            .await
            .unwrap_or_else(|e| panic!("APPEND for {user}: {e}"));
        imap.logout().await;
    }

    /// A logged-in IMAP session on the plain port, for tests that need raw commands.
    pub async fn imap(&self, user: &str) -> Imap {
        Imap::login(self.ports.imap, user, &password(user))
            .await
            .unwrap_or_else(|e| panic!("IMAP login {user}: {e}"))
    }

    // ---- server control --------------------------------------------------------------

    /// Starts Dovecot (if stopped) and waits until IMAP answers.
    pub fn start_dovecot(&mut self) {
        if self.dovecot.is_some() {
            return;
        }
        let log = self.root.join("dovecot/master.out");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open dovecot output file");
        // Foreground (-F) in its own process group, so we own the pid and can kill the
        // whole group. Its streams go to a file: a pipe would hang us (children keep it).
        let child = Command::new("dovecot")
            .arg("-F")
            .arg("-c")
            .arg(self.root.join("dovecot/dovecot.conf"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup file"))
            .stderr(out)
            .env("PATH", path_env())
            .process_group(0)
            .spawn()
            .expect("spawn dovecot");
        self.dovecot = Some(child);
        self.wait_port(self.ports.imap, "dovecot");
        self.wait_port(self.ports.imaps, "dovecot");
        self.wait_port(self.ports.lmtp, "dovecot");
        self.wait_port(self.ports.auth, "dovecot");
    }

    /// Stops Dovecot: SIGTERM, wait up to 3 s, then SIGKILL of its process group.
    /// Established IMAP connections are cut.
    pub fn stop_dovecot(&mut self) {
        if let Some(child) = self.dovecot.take() {
            stop_group(child, Duration::from_secs(3));
        }
    }

    /// Starts Postfix (if stopped) and waits until its SMTP listeners answer.
    pub fn start_postfix(&mut self) {
        if self.postfix.is_some() {
            return;
        }
        let conf = self.root.join("postfix/conf");
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.join("postfix/master.out"))
            .expect("open postfix output file");
        // The master in the foreground (-s: keep stderr); it calls setsid() itself (so
        // it must not be a group leader already: no `process_group(0)` here), which
        // makes its pid its process group.
        let child = Command::new("/usr/lib/postfix/sbin/master")
            .arg("-c")
            .arg(&conf)
            .arg("-s")
            .env("MAIL_CONFIG", &conf)
            .env("PATH", path_env())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup file"))
            .stderr(out)
            .spawn()
            .expect("spawn postfix master");
        self.postfix = Some(child);
        self.wait_port(self.ports.smtp, "postfix");
        self.wait_port(self.ports.smtps, "postfix");
        self.wait_port(self.ports.submission, "postfix");
    }

    /// Stops Postfix: SIGTERM to the master, then SIGKILL of its process group.
    /// Mail already queued stays in the queue and goes out after `start_postfix`.
    pub fn stop_postfix(&mut self) {
        if let Some(child) = self.postfix.take() {
            stop_group(child, Duration::from_secs(3));
        }
    }

    // ---- setup -----------------------------------------------------------------------

    fn wait_port(&mut self, port: u16, what: &str) {
        let mut child = match what {
            "dovecot" => self.dovecot.as_mut(),
            _ => self.postfix.as_mut(),
        };
        let waited = net::wait_listening(port, Duration::from_secs(15), || {
            child.as_mut().and_then(|c| c.try_wait().ok().flatten())
        });
        if let Err(e) = waited {
            panic!("{what} {e}\n{}", self.logs());
        }
    }

    fn write_certs(&self) {
        let certs = self.root.join("certs");
        std::fs::create_dir_all(&certs).expect("mkdir certs");
        let ext = certs.join("server.ext");
        std::fs::write(
            &ext,
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )
        .expect("write server.ext");
        let c = |p: &str| certs.join(p).to_string_lossy().into_owned();
        run_openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &c("ca.key"),
            "-out",
            &c("ca.pem"),
            "-days",
            "3",
            "-subj",
            "/CN=duty-desk test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        run_openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &c("server.key"),
            "-out",
            &c("server.csr"),
            "-subj",
            "/CN=localhost",
        ]);
        run_openssl(&[
            "x509",
            "-req",
            "-in",
            &c("server.csr"),
            "-CA",
            &c("ca.pem"),
            "-CAkey",
            &c("ca.key"),
            "-CAcreateserial",
            "-out",
            &c("server.pem"),
            "-days",
            "3",
            "-extfile",
            &c("server.ext"),
        ]);
    }

    fn write_dovecot(&self, instance: &str, options: &StackOptions) {
        let d = self.root.join("dovecot");
        std::fs::create_dir_all(d.join("state")).expect("mkdir dovecot");
        let mut conf = configs::dovecot_conf(&self.root, instance, &self.ports);
        if let Some(ns) = &options.namespace {
            conf = conf.replace(
                "  separator = /\n",
                &format!("  {}\n", ns.replace('\n', "\n  ")),
            );
        }
        if let Some(caps) = &options.imap_capability {
            conf.push_str(&format!(
                "protocol imap {{\n  imap_capability = {caps}\n}}\n"
            ));
        }
        if let Some(mode) = &options.imap_fetch_failure {
            conf.push_str(&format!("imap_fetch_failure = {mode}\n"));
        }
        std::fs::write(d.join("dovecot.conf"), conf).expect("write dovecot.conf");
        let mut users = String::new();
        for u in &self.users {
            users.push_str(&format!("{u}:{{PLAIN}}{}::::::\n", password(u)));
        }
        std::fs::write(d.join("users"), users).expect("write users");
        let mail = self.root.join("mail");
        std::fs::create_dir_all(&mail).expect("mkdir mail");
        chown_vmail(&mail);
    }

    fn write_postfix(&self) {
        let p = self.root.join("postfix");
        let conf = p.join("conf");
        std::fs::create_dir_all(&conf).expect("mkdir postfix conf");
        make_queue_dirs(&p.join("queue"));
        let data = p.join("data");
        std::fs::create_dir_all(&data).expect("mkdir data");
        let status = Command::new("chown")
            .arg("postfix:postfix")
            .arg(&data)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown postfix data dir");
        let mut domains: Vec<&str> = DOMAINS.to_vec();
        for u in &self.users {
            if let Some((_, d)) = u.split_once('@')
                && !domains.contains(&d)
            {
                domains.push(d);
            }
        }
        std::fs::write(
            conf.join("main.cf"),
            configs::postfix_main_cf(&self.root, &self.ports, &domains),
        )
        .expect("write main.cf");
        std::fs::write(
            conf.join("master.cf"),
            configs::postfix_master_cf(&self.ports),
        )
        .expect("write master.cf");
        let mut vmailbox = String::new();
        for u in &self.users {
            vmailbox.push_str(&format!("{u} OK\n"));
        }
        std::fs::write(p.join("vmailbox"), vmailbox).expect("write vmailbox");
        // Postfix re-reads a file younger than a second in 300 ms steps until it is one
        // second old (a guard against half-written files): backdate ours.
        for f in [
            conf.join("main.cf"),
            conf.join("master.cf"),
            p.join("vmailbox"),
        ] {
            backdate(&f);
        }
    }
}

impl Drop for MailStack {
    fn drop(&mut self) {
        // Fast teardown: SIGKILL both process groups (restarts and new stacks are fine).
        for child in [self.postfix.take(), self.dovecot.take()]
            .into_iter()
            .flatten()
        {
            stop_group(child, Duration::ZERO);
        }
        if let Some(dir) = self.dir.take() {
            if std::env::var_os("DUTY_DESK_KEEP_STACK").is_some() {
                eprintln!("keeping mail stack folder {}", dir.keep().display());
                return;
            }
            // Best effort: a leftover folder must not turn a passing test into a failure.
            let _ = dir.close();
        }
    }
}

/// Kills the servers of stacks whose test process died without running `Drop`
/// (killed by a timeout, SIGKILL) and removes their folders. Once per process.
fn reap_abandoned_stacks() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with(STACK_PREFIX) {
                continue;
            }
            let dir = entry.path();
            let Some(owner) = std::fs::read_to_string(dir.join("owner.pid"))
                .ok()
                .and_then(|p| p.trim().parse::<u32>().ok())
            else {
                continue; // being created right now, or not ours
            };
            if process_alive(owner) {
                continue;
            }
            // Servers started from this folder: their command line names it.
            let needle = dir.to_string_lossy().into_owned();
            for pgid in groups_mentioning(&needle) {
                signal_group(pgid, "KILL", true);
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}

/// Whether `pid` runs (a zombie does not count).
fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    state != Some("Z")
}

/// Process groups of processes whose command line contains `needle`.
fn groups_mentioning(needle: &str) -> Vec<i32> {
    let mut groups = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return groups;
    };
    for e in entries.flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if !String::from_utf8_lossy(&cmdline).contains(needle) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        let pgrp = stat
            .rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().nth(2))
            .and_then(|p| p.parse::<i32>().ok());
        if let Some(p) = pgrp.filter(|p| *p > 1 && !groups.contains(p)) {
            groups.push(p);
        }
    }
    groups
}

/// SIGTERM the group leader, wait up to `grace`, then SIGKILL the whole group and reap.
fn stop_group(mut child: Child, grace: Duration) {
    let pgid = child.id() as i32;
    if !grace.is_zero() {
        signal_group(pgid, "TERM", false);
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    signal_group(pgid, "KILL", true);
    let _ = child.kill();
    let _ = child.wait();
    // Let the kernel release the group's listening sockets before a restart binds them.
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && group_alive(pgid) {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `kill -SIG -pgid` (or just the leader). std has no killpg and we add no libc dependency.
fn signal_group(pgid: i32, sig: &str, group: bool) {
    let target = if group {
        format!("-{pgid}")
    } else {
        pgid.to_string()
    };
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(target)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Whether any process still belongs to group `pgid` (zombies excluded).
fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    for e in entries.flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // Fields after the `(comm)`: state ppid pgrp ...
        let Some(after) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut f = after.split_whitespace();
        let state = f.next();
        let _ppid = f.next();
        if f.next() == Some(pgid.to_string().as_str()) && state != Some("Z") {
            return true;
        }
    }
    false
}

/// The queue folders `postfix check` would make (it takes ~2 s; this takes ~5 ms).
fn make_queue_dirs(queue: &Path) {
    const PRIVATE: [&str; 11] = [
        "active", "bounce", "corrupt", "defer", "deferred", "flush", "hold", "incoming", "private",
        "saved", "trace",
    ];
    let mk = |name: &str, mode: u32| {
        let d = queue.join(name);
        std::fs::create_dir_all(&d).expect("mkdir queue folder");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(mode)).expect("chmod");
        d
    };
    mk("pid", 0o755);
    let private: Vec<PathBuf> = PRIVATE.iter().map(|n| mk(n, 0o700)).collect();
    let shared = [mk("maildrop", 0o730), mk("public", 0o710)];
    let chown = |owner: &str, paths: &[PathBuf]| {
        let status = Command::new("chown")
            .arg(owner)
            .args(paths)
            .status()
            .expect("run chown");
        assert!(status.success(), "chown {owner} queue folders");
    };
    chown("postfix:root", &private);
    chown("postfix:postdrop", &shared);
}

fn backdate(path: &Path) {
    let past = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(past))
        .expect("backdate a config file");
}

fn chown_vmail(path: &Path) {
    let status = Command::new("chown")
        .arg("5000:5000")
        .arg(path)
        .status()
        .expect("run chown");
    assert!(status.success(), "chown 5000:5000 {}", path.display());
}

fn run_openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn path_env() -> String {
    let cur = std::env::var("PATH").unwrap_or_default();
    format!("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{cur}")
}

fn installed(bin: &str) -> bool {
    ["/usr/sbin", "/usr/bin", "/usr/local/sbin"]
        .iter()
        .any(|d| Path::new(d).join(bin).exists())
}

/// Runs `scripts/install-mail-stack` once when Dovecot, Postfix, openssl, imap4d,
/// the unpacked Cyrus or the npm test servers are missing.
pub fn ensure_installed() {
    static DONE: Mutex<bool> = Mutex::new(false);
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if *done {
        return;
    }
    let node_servers = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/node_modules");
    if !(installed("dovecot")
        && installed("postfix")
        && installed("openssl")
        && installed("imap4d")
        && Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/servers/cyrus/root/usr/lib/cyrus/bin/master")
            .exists()
        && node_servers.join("hoodiecrow-imap").is_dir()
        && node_servers.join("smtp-server").is_dir())
    {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-mail-stack");
        let status = Command::new("bash")
            .arg(&script)
            .env("PATH", path_env())
            .status()
            .expect("run scripts/install-mail-stack");
        assert!(status.success(), "scripts/install-mail-stack failed");
    }
    *done = true;
}

/// Seven distinct free loopback ports.
fn free_ports() -> Ports {
    let p = net::free_ports(7);
    Ports {
        imap: p[0],
        imaps: p[1],
        lmtp: p[2],
        auth: p[3],
        smtp: p[4],
        smtps: p[5],
        submission: p[6],
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
