//! A duty-desk on the Maildir pipeline (inbox and outbox as Maildirs, no server),
//! driven through the real binary: for tests of memory and of store failures.

use std::path::{Path, PathBuf};
use std::process::Output;

use duty_desk::store::Store;

use super::home::Home;

/// Thursday 2021-09-09 08:30 Moscow: Бамбуркин С.П. and Макаренко С.О. on duty.
pub const THU_0830: &str = "2021-09-09T08:30:00+03:00";
/// `max_message_size = "30MB"` of the example.
pub const LIMIT: usize = 30 * 1024 * 1024;

/// A temporary installation: inbox, outbox, store, config ([`Home::maildir`]).
pub struct Desk {
    home: Home,
}

impl Desk {
    pub fn new() -> Desk {
        Desk {
            home: Home::maildir("", &[]),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.home.path(rel)
    }

    pub fn deliver(&self, name: &str, raw: &[u8]) {
        std::fs::write(self.path("inbox/new").join(name), raw).expect("deliver");
    }

    /// `run --once` with the daemon's own debug lines (its log is the second value).
    pub fn run_once(&self) -> (Output, String) {
        self.run_once_under(&[])
    }

    /// [`run_once`](Self::run_once) started through `wrapper` (a command and its
    /// arguments that ends by running the rest, as `prlimit … --`).
    pub fn run_once_under(&self, wrapper: &[&str]) -> (Output, String) {
        let out = self
            .home
            .command_under(wrapper, &["run", "--once", "--now", THU_0830])
            .env("RUST_LOG", "duty_desk=debug")
            .output()
            .expect("run duty-desk");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        (out, log)
    }

    /// What `duty-desk status` prints.
    pub fn status(&self) -> String {
        self.home.status()
    }

    /// Files in `new/`+`cur/` of the inbox folder `folder` ("" for the inbox itself).
    pub fn count(&self, folder: &str) -> usize {
        let base = if folder.is_empty() {
            self.path("inbox")
        } else {
            self.path("inbox").join(format!(".duty-desk.{folder}"))
        };
        ["new", "cur"]
            .iter()
            .map(|s| {
                std::fs::read_dir(base.join(s))
                    .map(|d| d.count())
                    .unwrap_or(0)
            })
            .sum()
    }

    pub fn outbox(&self) -> usize {
        walk_files(&self.path("outbox")).len()
    }

    /// Bytes of the state store on disk (the database and its WAL).
    pub fn store_bytes(&self) -> u64 {
        walk_files(&self.path("state"))
            .iter()
            .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    pub fn store(&self) -> Store {
        Store::open(&self.home.state_path(), false).expect("open store")
    }
}

pub fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// The peak resident set the daemon logged at its end, in KiB.
pub fn peak_rss_kib(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("daemon: done"))
        .find_map(|l| {
            let v = l.split("peak_rss_kib=").nth(1)?;
            v.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no peak_rss_kib in the log:\n{log}"))
}

/// A parent's complete request with a scan attached, `size` bytes in all.
pub fn letter_with_scan(n: usize, size: usize) -> Vec<u8> {
    let mut raw = format!(
        "From: =?UTF-8?B?{name}?= <parent{n}@parents.test>\r\nTo: support@school.test\r\n\
         Subject: Scan {n}\r\nMessage-ID: <scan-{n}@client.test>\r\n\
         Date: Thu, 09 Sep 2021 08:20:00 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
         Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
         Здравствуйте! Не открывается электронный дневник, скан ошибки во вложении.\r\n\r\n\
         Иванова Мария Петровна, мама ученика 5А класса.\r\n\r\n--b\r\n\
         Content-Type: application/pdf; name=\"scan.pdf\"\r\n\
         Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n",
        name = "0JjQstCw0L3QvtCy0LAg0JzQsNGA0LjRjw==",
    )
    .into_bytes();
    let tail = b"\r\n--b--\r\n";
    let line =
        b"JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURlY29k\r\n";
    while raw.len() + line.len() + tail.len() <= size {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(tail);
    raw
}
