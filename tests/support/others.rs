//! Mail servers other than Dovecot and Postfix, each a Node.js process from
//! `tests/servers/` (npm packages installed by `scripts/install-mail-stack`) on a
//! free loopback port, killed on drop:
//!
//! - [`Hoodiecrow`]: IMAP with the separator given, IDLE and NAMESPACE, without
//!   MOVE and UIDPLUS; its state lives in memory as long as the process.
//! - [`SmtpSink`]: SMTP without 8BITMIME, SMTPUTF8, STARTTLS and AUTH; every
//!   message accepted is a file in its folder.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn servers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A node process serving on `port`.
struct NodeServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl NodeServer {
    fn start(script: &str, port: u16, args: &[&str], log: PathBuf) -> NodeServer {
        super::ensure_installed();
        let out = std::fs::File::create(&log).expect("create the server log");
        let child = Command::new("node")
            .arg(servers_dir().join(script))
            .arg(port.to_string())
            .args(args)
            .current_dir(servers_dir())
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .expect("spawn node");
        let mut s = NodeServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("{script} exited: {status}\n{}", s.log());
            }
            assert!(
                Instant::now() < deadline,
                "{script} did not listen\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NodeServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// See the module documentation.
pub struct Hoodiecrow {
    server: NodeServer,
    _dir: tempfile::TempDir,
}

impl Hoodiecrow {
    /// Serves `user` (password `password`) with hierarchy separator `separator`.
    pub fn start(separator: &str, user: &str, password: &str) -> Hoodiecrow {
        let dir = tempfile::tempdir().expect("temp dir");
        let server = NodeServer::start(
            "hoodiecrow.js",
            free_port(),
            &[separator, user, password],
            dir.path().join("hoodiecrow.log"),
        );
        Hoodiecrow { server, _dir: dir }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn log(&self) -> String {
        self.server.log()
    }
}

/// One message an [`SmtpSink`] accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub envelope_from: String,
    pub recipients: Vec<String>,
    pub raw: Vec<u8>,
}

/// See the module documentation.
pub struct SmtpSink {
    server: NodeServer,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().expect("temp dir");
        let mail = dir.path().join("mail");
        std::fs::create_dir_all(&mail).expect("mkdir");
        let server = NodeServer::start(
            "smtp-sink.js",
            free_port(),
            &[mail.to_str().expect("utf-8 path")],
            dir.path().join("smtp-sink.log"),
        );
        SmtpSink { server, dir }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn log(&self) -> String {
        self.server.log()
    }

    /// Every message accepted so far, in order.
    pub fn received(&self) -> Vec<Received> {
        let mail = self.dir.path().join("mail");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mail)
            .expect("read the sink folder")
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let env = std::fs::read_to_string(p.with_extension("env")).unwrap_or_default();
                let mut words = env.split_whitespace().map(str::to_string);
                Received {
                    envelope_from: words.next().unwrap_or_default(),
                    recipients: words.collect(),
                    raw: std::fs::read(&p).expect("read a message"),
                }
            })
            .collect()
    }
}
