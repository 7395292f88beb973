//! A desk on the embedded Maildir pipeline: a Maildir inbox, a `.eml` outbox and
//! a state store in a temporary folder, the example config's school and
//! timetable, and the real binary run with `run --once --now …`. For tests of the
//! decisions that need no mail server.

use std::path::{Path, PathBuf};
use std::process::Output;

use super::home::Home;

/// One desk: its home ([`Home::maildir`]) and the letters delivered to it.
pub struct MaildirDesk {
    home: Home,
    delivered: usize,
}

/// A mail the desk wrote to its outbox.
#[derive(Debug, Clone)]
pub struct Sent {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub message_id: String,
    pub reply_to: Option<String>,
    pub raw: Vec<u8>,
    pub attachments: usize,
}

impl Sent {
    pub fn parse(raw: &[u8]) -> Sent {
        let m = mail_parser::MessageParser::default()
            .parse(raw)
            .expect("the desk wrote a parsable mail");
        let to = m
            .header_raw("X-Envelope-To")
            .unwrap_or("")
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Sent {
            to,
            subject: m.subject().unwrap_or("").to_string(),
            body: m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            message_id: m.message_id().unwrap_or("").to_string(),
            reply_to: m
                .reply_to()
                .and_then(|r| r.first())
                .and_then(|a| a.address())
                .map(str::to_string),
            attachments: m.attachment_count(),
            raw: raw.to_vec(),
        }
    }

    /// The mail's kind from our Message-ID (`duty-desk.N.KIND.…`); an addition
    /// is a forward that says so.
    pub fn kind(&self) -> &str {
        match self.message_id.split('.').nth(2).unwrap_or("") {
            "forward" if self.body.contains("Дополнение к заявке") => "addition",
            k => k,
        }
    }
}

impl MaildirDesk {
    /// A desk with the example's school and timetable; `mailbox_extra` goes into
    /// `[mailbox]`, and each `(key, value)` of `limits` replaces or adds a
    /// `[limits]` key.
    pub fn new(mailbox_extra: &str, limits: &[(&str, &str)]) -> MaildirDesk {
        MaildirDesk {
            home: Home::maildir(mailbox_extra, limits),
            delivered: 0,
        }
    }

    pub fn dir(&self) -> &Path {
        self.home.dir()
    }

    /// Edits the config's text.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        self.home.edit_config(edit);
    }

    /// Specialists answer the requester directly (`[school] answers = "direct"`).
    pub fn answers_direct(self) -> MaildirDesk {
        self.home
            .edit_config(|t| t.replace("answers = \"via_desk\"", "answers = \"direct\""));
        self
    }

    pub fn config(&self) -> &Path {
        &self.home.config
    }

    /// Drops a letter into the inbox's `new/`.
    pub fn deliver(&mut self, raw: &[u8]) {
        self.delivered += 1;
        let name = format!("{:05}.letter", self.delivered);
        std::fs::write(self.home.dir().join("inbox/new").join(name), raw).expect("deliver");
    }

    /// `duty-desk run --once --now NOW`; panics (with its log) if it fails.
    pub fn run_once(&self, now: &str) -> Output {
        let out = self.cli(&["run", "--once", "--now", now]);
        assert!(
            out.status.success(),
            "run --once failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Any subcommand with this desk's config.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.home
            .command(args)
            .env("RUST_LOG", "info")
            .output()
            .expect("run duty-desk")
    }

    /// Every mail the desk wrote so far, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        let dir = self.home.dir().join("outbox");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| Sent::parse(&std::fs::read(p).expect("read outbox file")))
            .collect()
    }

    /// The mails written to `address` (compared case-insensitively).
    pub fn sent_to(&self, address: &str) -> Vec<Sent> {
        self.sent()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
            .collect()
    }

    /// How many letters were filed in `folder` (`Processed`, `Unreadable`, …).
    pub fn filed(&self, folder: &str) -> usize {
        let base = self
            .home
            .dir()
            .join("inbox")
            .join(format!(".duty-desk.{folder}"));
        ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(base.join(s)).ok())
            .map(|d| d.flatten().count())
            .sum()
    }

    /// `duty-desk status` output.
    pub fn status(&self) -> String {
        let out = self.cli(&["status"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// A plain-text letter in UTF-8 with the given extra header lines.
pub fn letter(
    from: &str,
    subject: &str,
    message_id: &str,
    headers: &[&str],
    body: &str,
) -> Vec<u8> {
    let mut s = String::new();
    for h in headers {
        s.push_str(h);
        s.push_str("\r\n");
    }
    s.push_str(&format!(
        "From: {from}\r\nTo: uvk-mtl@mail.ru\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
         Date: Thu, 09 Sep 2021 08:20:00 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ));
    s.push_str(&body.replace('\n', "\r\n"));
    s.push_str("\r\n");
    s.into_bytes()
}
