//! The `.eml` folder outbox: each message becomes one file, written to a hidden
//! temporary name and renamed into place, so a reader never sees half a message.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{MaildirOutboxSettings, SendError};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes outgoing mail as `.eml` files into a folder.
#[derive(Debug)]
pub struct MaildirOutbox {
    dir: PathBuf,
}

impl MaildirOutbox {
    /// Creates the folder if needed.
    pub fn new(s: &MaildirOutboxSettings) -> Result<Self, SendError> {
        std::fs::create_dir_all(&s.path).map_err(|e| io(&s.path, e))?;
        Ok(MaildirOutbox {
            dir: s.path.clone(),
        })
    }

    /// Writes one message; returns the file's path. The envelope goes in front as
    /// `Return-Path:` and `X-Envelope-To:` header lines (as a delivery agent adds
    /// them), the message bytes follow unchanged.
    pub fn send(
        &mut self,
        envelope_from: &str,
        to: &[String],
        raw: &[u8],
    ) -> Result<PathBuf, SendError> {
        for addr in std::iter::once(envelope_from).chain(to.iter().map(String::as_str)) {
            if addr.contains(['\r', '\n']) {
                return Err(SendError::InvalidAddress {
                    address: addr.to_string(),
                    reason: "contains a line break".into(),
                });
            }
        }
        let now = chrono::Utc::now();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let unique = format!(
            "{}-{}-{n}-{:08x}",
            now.format("%Y%m%dT%H%M%S%.6fZ"),
            std::process::id(),
            fastrand::u32(..)
        );
        let tmp = self.dir.join(format!(".{unique}.tmp"));
        let dest = self.dir.join(format!("{unique}.eml"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create_new(&tmp)?;
            write!(
                f,
                "Return-Path: <{envelope_from}>\r\nX-Envelope-To: {}\r\n",
                to.join(", ")
            )?;
            f.write_all(raw)?;
            f.sync_all()?;
            Ok(())
        };
        if let Err(e) = write() {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(&tmp, e));
        }
        std::fs::rename(&tmp, &dest).map_err(|e| io(&dest, e))?;
        Ok(dest)
    }
}

fn io(path: &Path, source: std::io::Error) -> SendError {
    SendError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_complete_eml_files_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let mut ob = MaildirOutbox::new(&MaildirOutboxSettings { path: dir.clone() }).unwrap();
        let a = ob
            .send(
                "support@school.test",
                &["a@x.test".into(), "b@x.test".into()],
                b"Subject: 1\r\n\r\nhi\r\n",
            )
            .unwrap();
        let b = ob
            .send(
                "support@school.test",
                &["c@x.test".into()],
                b"Subject: 2\r\n\r\nyo\r\n",
            )
            .unwrap();
        assert_ne!(a, b);
        let names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".eml") && !n.starts_with('.'))
        );
        let text = std::fs::read_to_string(a).unwrap();
        assert_eq!(
            text,
            "Return-Path: <support@school.test>\r\nX-Envelope-To: a@x.test, b@x.test\r\nSubject: 1\r\n\r\nhi\r\n"
        );
        let err = ob.send("x@y\r\nBcc: evil", &[], b"").unwrap_err();
        assert_eq!(err.blame(), super::super::Blame::Mail, "{err}");
    }
}
