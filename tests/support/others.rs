//! Mail servers other than Dovecot and Postfix, each a process of its own on a
//! free loopback port, with its files in a temp folder, killed on drop (installed
//! by `scripts/install-mail-stack`):
//!
//! - [`Hoodiecrow`] (npm, `tests/servers/`): IMAP with the separator given,
//!   NAMESPACE, IDLE or not, without MOVE and UIDPLUS; its state lives in memory
//!   as long as the process.
//! - [`SmtpSink`] (npm, `tests/servers/`): SMTP without 8BITMIME, SMTPUTF8,
//!   STARTTLS and AUTH; every message accepted is a file in its folder.
//! - [`Imap4d`] (GNU Mailutils, Debian's mailutils-imap4d): IMAP with mbox
//!   folders under the user's home, one user from a private virtual-domain
//!   password file.
//! - [`Cyrus`] (Cyrus IMAP, Debian's cyrus-imapd unpacked into
//!   `tests/servers/cyrus`): the classic layout (`altnamespace: no`,
//!   `unixhierarchysep: no`: every folder under "INBOX.", separator "."), one user
//!   in a private sasldb whose INBOX is made at its first login.

use std::collections::BTreeMap;
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

/// A server process serving on `port`, its output in `log`.
struct NodeServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl NodeServer {
    fn start(script: &str, port: u16, args: &[&str], log: PathBuf) -> NodeServer {
        let mut cmd = Command::new("node");
        cmd.arg(servers_dir().join(script))
            .arg(port.to_string())
            .args(args)
            .current_dir(servers_dir());
        NodeServer::spawn(script, cmd, port, log)
    }

    /// Runs `cmd` (output to `log`) and waits until it listens on `port`.
    fn spawn(name: &str, mut cmd: Command, port: u16, log: PathBuf) -> NodeServer {
        super::ensure_installed();
        let out = std::fs::File::create(&log).expect("create the server log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("dup"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let mut s = NodeServer { child, port, log };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = s.child.try_wait() {
                panic!("{name} exited: {status}\n{}", s.log());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not listen\n{}",
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

/// See the module documentation. The session transcript (every command and
/// answer) is in [`log`](Imap4d::log).
pub struct Imap4d {
    server: NodeServer,
    dir: tempfile::TempDir,
}

impl Imap4d {
    /// Serves `user` (an address, `local@domain`; password `password`) with an
    /// empty INBOX.
    pub fn start(user: &str, password: &str) -> Imap4d {
        use std::os::unix::fs::MetadataExt;
        super::ensure_installed();
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        let (local, domain) = user.split_once('@').expect("user@domain");
        let home = root.join("home").join(local);
        std::fs::create_dir_all(&home).expect("mkdir home");
        // Mailutils' virtual domains: INBOX is HOME/INBOX, an mbox it will not
        // create by itself.
        std::fs::write(home.join("INBOX"), b"").expect("create INBOX");
        let passwd = root.join("passwd");
        std::fs::create_dir_all(&passwd).expect("mkdir passwd");
        let hash = Command::new("openssl")
            .args(["passwd", "-6", password])
            .output()
            .expect("openssl passwd");
        assert!(hash.status.success(), "openssl passwd failed");
        let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
        // The mailbox files belong to whoever runs the tests.
        let meta = std::fs::metadata(root).expect("stat the temp dir");
        std::fs::write(
            passwd.join(domain),
            format!(
                "{local}:{hash}:{}:{}::{}:/bin/sh\n",
                meta.uid(),
                meta.gid(),
                home.display()
            ),
        )
        .expect("write the password file");
        let port = free_port();
        let config = root.join("imap4d.conf");
        std::fs::write(
            &config,
            format!(
                "logging {{ syslog no; print-severity yes; session-id yes; }};\n\
                 auth {{ authorization virtdomain; authentication generic; }};\n\
                 virtdomain {{ passwd-dir {}; }};\n\
                 gsasl {{ enable no; }};\n\
                 tcp-wrappers {{ enable no; }};\n\
                 mode daemon;\n\
                 foreground yes;\n\
                 pidfile {};\n\
                 server 127.0.0.1:{port} {{ transcript yes; }};\n",
                passwd.display(),
                root.join("imap4d.pid").display(),
            ),
        )
        .expect("write imap4d.conf");
        let mut cmd = Command::new("/usr/sbin/imap4d");
        cmd.arg(format!("--config-file={}", config.display()));
        let server = NodeServer::spawn("imap4d", cmd, port, root.join("imap4d.log"));
        Imap4d { server, dir }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The transcript and what imap4d logged.
    pub fn log(&self) -> String {
        self.server.log()
    }

    /// The transcript by session (imap4d's session id → its `C: …` and `S: …`
    /// lines, in order).
    pub fn sessions(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in self.log().lines() {
            let Some(rest) = line.strip_prefix("imap4d: ") else {
                continue;
            };
            let Some((id, said)) = rest.split_once(' ') else {
                continue;
            };
            if said.starts_with("C: ") || said.starts_with("S: ") {
                out.entry(id.to_string())
                    .or_default()
                    .push(said.to_string());
            }
        }
        out
    }

    /// The user's home: INBOX and the folders, as mbox files and directories.
    pub fn home(&self, local: &str) -> PathBuf {
        self.dir.path().join("home").join(local)
    }
}

/// See the module documentation.
pub struct Cyrus {
    server: NodeServer,
    telemetry: PathBuf,
    _dir: tempfile::TempDir,
}

impl Cyrus {
    /// Serves `user` (`local@domain`, password `password`); the capabilities in
    /// `suppress` (e.g. "NAMESPACE MOVE UIDPLUS") are never offered.
    pub fn start(user: &str, password: &str, suppress: &str) -> Cyrus {
        super::ensure_installed();
        let root = servers_dir().join("cyrus/root");
        let bin = root.join("usr/lib/cyrus/bin");
        let libs = std::fs::read_dir(root.join("usr/lib"))
            .expect("the unpacked Cyrus")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.join("libcyrus.so.0").exists())
            .expect("libcyrus.so.0 under tests/servers/cyrus/root/usr/lib");
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let (local, domain) = user.split_once('@').expect("user@domain");
        // lib/log/USER: imapd writes each session of USER there (its telemetry).
        let telemetry = format!("lib/log/{user}");
        for sub in ["conf", "lib/db", "lib/socket", "spool", "sock", &telemetry] {
            std::fs::create_dir_all(d.join(sub)).expect("mkdir");
        }
        let sasldb = d.join("conf/sasldb2");
        let mut pw = Command::new(root.join("usr/sbin/saslpasswd2"))
            .env("LD_LIBRARY_PATH", &libs)
            .arg("-f")
            .arg(&sasldb)
            .args(["-p", "-c", "-u", domain, local])
            .stdin(Stdio::piped())
            .spawn()
            .expect("saslpasswd2");
        {
            use std::io::Write;
            let mut stdin = pw.stdin.take().expect("stdin");
            stdin.write_all(password.as_bytes()).expect("the password");
        }
        assert!(
            pw.wait().expect("saslpasswd2").success(),
            "saslpasswd2 failed"
        );
        // Cyrus will not serve as root: as root, its files go to nobody.
        let (cyrus_user, cyrus_group) = if running_as_root() {
            let st = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(d)
                .status()
                .expect("chown");
            assert!(st.success(), "chown -R nobody:nogroup failed");
            ("nobody".to_string(), "nogroup".to_string())
        } else {
            (id("-un"), id("-gn"))
        };
        let suppress = if suppress.is_empty() {
            String::new()
        } else {
            format!("suppress_capabilities: {suppress}\n")
        };
        let conf = d.join("conf/imapd.conf");
        std::fs::write(
            &conf,
            format!(
                "configdirectory: {lib}\n\
                 defaultpartition: default\n\
                 partition-default: {spool}\n\
                 altnamespace: no\n\
                 unixhierarchysep: no\n\
                 virtdomains: userid\n\
                 defaultdomain: localhost\n\
                 admins: cyrus\n\
                 allowplaintext: yes\n\
                 sasl_pwcheck_method: auxprop\n\
                 sasl_auxprop_plugin: sasldb\n\
                 sasl_sasldb_path: {sasldb}\n\
                 sasl_mech_list: PLAIN\n\
                 autocreate_quota: 0\n\
                 idlesocket: {sock}/idle\n\
                 notifysocket: {sock}/notify\n\
                 lmtpsocket: {sock}/lmtp\n\
                 cyrus_user: {cyrus_user}\n\
                 cyrus_group: {cyrus_group}\n\
                 {suppress}",
                lib = d.join("lib").display(),
                spool = d.join("spool").display(),
                sasldb = sasldb.display(),
                sock = d.join("sock").display(),
            ),
        )
        .expect("write imapd.conf");
        let port = free_port();
        let c = conf.display();
        let b = bin.display();
        let cyrus_conf = d.join("conf/cyrus.conf");
        std::fs::write(
            &cyrus_conf,
            format!(
                "START {{\n  recover cmd=\"{b}/ctl_cyrusdb -r -C {c}\"\n}}\n\
                 SERVICES {{\n  imap cmd=\"{b}/imapd -C {c}\" listen=\"127.0.0.1:{port}\" prefork=0\n}}\n\
                 EVENTS {{\n}}\n\
                 DAEMON {{\n  idled cmd=\"{b}/idled -C {c}\"\n}}\n"
            ),
        )
        .expect("write cyrus.conf");
        let mut cmd = Command::new(bin.join("master"));
        // A process group of its own: at shutdown the master signals its whole
        // group, which would otherwise hold every other test's servers too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.env("LD_LIBRARY_PATH", &libs)
            .arg("-D")
            .arg("-C")
            .arg(&conf)
            .arg("-M")
            .arg(&cyrus_conf)
            .arg("-p")
            .arg(d.join("master.pid"));
        let server = NodeServer::spawn("cyrus master", cmd, port, d.join("master.log"));
        Cyrus {
            server,
            telemetry: d.join(telemetry),
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// The user's sessions as imapd recorded them (what was sent, what was
    /// answered), one file after another.
    pub fn log(&self) -> String {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&self.telemetry)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cyrus {
    /// SIGTERM first: the master then stops the imapd processes it started.
    fn drop(&mut self) {
        let pid = self.server.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.server.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn running_as_root() -> bool {
    id("-u") == "0"
}

/// `id ARG`, trimmed.
fn id(arg: &str) -> String {
    let out = Command::new("id").arg(arg).output().expect("id");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
