//! A Maildir inbox: the embedded default, so the pipeline runs without any server.
//!
//! Requests are the files in `new/` and `cur/`. A handled message is renamed into a
//! Maildir++ subfolder, `.duty-desk.Processed/cur/` etc. (what Dovecot shows as
//! `duty-desk/Processed`); nothing is ever deleted. Keys are
//! `maildir:{unique part of the file name}` (the part before `:2,…` flags), so a
//! mail client marking a message seen does not change its identity.
//!
//! Each message is returned once per opened mailbox: one the daemon leaves in place
//! (older than `start_from`, say) is not returned again until the mailbox is reopened,
//! so it cannot hold back newer ones.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::{Budget, Fetched, Folder, HEADER_MAX, MailboxError, MaildirSettings};

/// A Maildir opened as the request folder.
#[derive(Debug)]
pub struct MaildirMailbox {
    root: PathBuf,
    poll_interval: Duration,
    /// Where each returned key's file was found.
    located: HashMap<String, PathBuf>,
    /// Keys already returned in this session.
    returned: HashSet<String>,
}

impl MaildirMailbox {
    /// Maildir has no UIDs; the daemon sees one constant UIDVALIDITY.
    pub const UIDVALIDITY: u32 = 1;

    /// Opens (and creates, if needed) the Maildir and its `duty-desk` subfolders.
    pub fn open(s: &MaildirSettings) -> Result<Self, MailboxError> {
        let root = s.path.clone();
        make_maildir(&root)?;
        for f in Folder::ALL {
            let dir = folder_dir(&root, f);
            make_maildir(&dir)?;
            let marker = dir.join("maildirfolder");
            if !marker.exists() {
                std::fs::write(&marker, b"").map_err(|e| io(&marker, e))?;
            }
        }
        Ok(MaildirMailbox {
            root,
            poll_interval: s.poll_interval,
            located: HashMap::new(),
            returned: HashSet::new(),
        })
    }

    /// The folder a message of `folder` lands in (`<root>/.duty-desk.Processed`, …).
    pub fn folder_path(&self, folder: Folder) -> PathBuf {
        folder_dir(&self.root, folder)
    }

    /// See [`super::Mailbox::filed_count`]: files in `cur/` and `new/` of each folder.
    pub fn filed_count(&self) -> Result<u64, MailboxError> {
        let mut total = 0u64;
        for f in Folder::ALL {
            for sub in ["new", "cur"] {
                let dir = self.folder_path(f).join(sub);
                let entries = std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?;
                total += entries
                    .flatten()
                    .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                    .count() as u64;
            }
        }
        Ok(total)
    }

    /// Messages not yet returned, oldest (mtime, then name) first, as many as
    /// `budget` allows (see [`super::Mailbox::fetch_batch`]): the file sizes are
    /// looked at first, and a file over `max_message_size` is read only up to the
    /// end of its header block.
    pub fn fetch_new(&mut self, budget: &Budget) -> Result<Vec<Fetched>, MailboxError> {
        let mut found: Vec<(SystemTime, String, PathBuf, u64)> = Vec::new();
        for sub in ["new", "cur"] {
            let dir = self.root.join(sub);
            let entries = std::fs::read_dir(&dir).map_err(|e| io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| io(&dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let key = key_of(&name);
                if self.returned.contains(&key) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((mtime, name, entry.path(), meta.len()));
            }
        }
        found.sort();
        let n = budget.take(found.iter().map(|f| f.3));
        let mut out = Vec::new();
        for (mtime, name, path, _) in found.into_iter().take(n) {
            let Some(fetched) = self.read(&name, &path, mtime, budget)? else {
                continue;
            };
            self.returned.insert(fetched.key.clone());
            out.push(fetched);
        }
        Ok(out)
    }

    /// See [`super::Mailbox::fetch_keys`].
    pub fn fetch_keys(
        &mut self,
        keys: &[String],
        budget: &Budget,
    ) -> Result<Vec<Fetched>, MailboxError> {
        let mut out = Vec::new();
        for key in keys {
            let Some(unique) = key.strip_prefix("maildir:") else {
                continue;
            };
            let Some(path) = self.find(unique)? else {
                continue;
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mtime = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            if let Some(fetched) = self.read(&name, &path, mtime, budget)? {
                self.returned.insert(fetched.key.clone());
                out.push(fetched);
            }
        }
        Ok(out)
    }

    /// Reads one file: whole, or its header block only when it is over the budget's
    /// `max_message_size`. None when it is gone (moved away by someone else).
    fn read(
        &mut self,
        name: &str,
        path: &Path,
        mtime: SystemTime,
        budget: &Budget,
    ) -> Result<Option<Fetched>, MailboxError> {
        let opened = std::fs::File::open(path);
        let mut file = match opened {
            Ok(f) => f,
            // Moved away by someone else meanwhile: not ours to handle any more.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(path, e)),
        };
        let size = file.metadata().map_err(|e| io(path, e))?.len();
        let raw = if size > budget.max_message_size {
            read_header_block(&mut file).map_err(|e| io(path, e))?
        } else {
            let mut raw = Vec::with_capacity(size as usize);
            file.read_to_end(&mut raw).map_err(|e| io(path, e))?;
            raw
        };
        let key = key_of(name);
        self.located.insert(key.clone(), path.to_path_buf());
        Ok(Some(Fetched {
            key,
            uid: None,
            internal_date: Some(DateTime::<Utc>::from(mtime)),
            // A file that grew meanwhile is as large as what was read.
            size: size.max(raw.len() as u64),
            raw,
            refused: None,
        }))
    }

    /// Renames the message's file into `folder`'s `cur/`. Moving a message that is
    /// already there is a no-op.
    pub fn move_to(&mut self, fetched: &Fetched, folder: Folder) -> Result<(), MailboxError> {
        let stale = |reason: &str| MailboxError::Stale {
            key: fetched.key.clone(),
            reason: reason.to_string(),
        };
        let unique = fetched
            .key
            .strip_prefix("maildir:")
            .ok_or_else(|| stale("not a Maildir message key"))?;
        let source = match self.located.get(&fetched.key) {
            Some(p) if p.exists() => Some(p.clone()),
            _ => self.find(unique)?,
        };
        let dest_dir = self.folder_path(folder).join("cur");
        let Some(source) = source else {
            if find_in(&dest_dir, unique)?.is_some() {
                return Ok(());
            }
            return Err(stale("the file is no longer in new/ or cur/"));
        };
        let mut name = source
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| unique.to_string());
        if !name.contains(":2,") {
            name.push_str(":2,"); // files in cur/ carry an info suffix (Maildir spec)
        }
        let dest = dest_dir.join(name);
        std::fs::rename(&source, &dest).map_err(|e| io(&source, e))?;
        self.located.remove(&fetched.key);
        Ok(())
    }

    /// Sleeps `poll_interval`, at most `max_wait`.
    pub async fn wait_for_new(&mut self, max_wait: Duration) {
        tokio::time::sleep(self.poll_interval.min(max_wait)).await;
    }

    fn find(&self, unique: &str) -> Result<Option<PathBuf>, MailboxError> {
        for sub in ["new", "cur"] {
            if let Some(p) = find_in(&self.root.join(sub), unique)? {
                return Ok(Some(p));
            }
        }
        Ok(None)
    }
}

fn find_in(dir: &Path, unique: &str) -> Result<Option<PathBuf>, MailboxError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if key_of(&name) == format!("maildir:{unique}") {
            return Ok(Some(entry.path()));
        }
    }
    Ok(None)
}

/// The header block of a letter (up to and with the first empty line), read in
/// small steps and never more than [`HEADER_MAX`] bytes of it.
fn read_header_block(file: &mut std::fs::File) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        let from = head.len().saturating_sub(3);
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = blank_line_end(&head, from) {
            head.truncate(end);
            break;
        }
        if head.len() >= HEADER_MAX {
            head.truncate(HEADER_MAX);
            break;
        }
    }
    Ok(head)
}

/// Where the header block ends (just after its empty line), searching from `from`.
fn blank_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let at = i + p;
        let rest = &buf[at + 1..];
        if rest.starts_with(b"\n") {
            return Some(at + 2);
        }
        if rest.starts_with(b"\r\n") {
            return Some(at + 3);
        }
        i = at + 1;
    }
    None
}

fn key_of(file_name: &str) -> String {
    let unique = file_name.split(':').next().unwrap_or(file_name);
    format!("maildir:{unique}")
}

fn folder_dir(root: &Path, folder: Folder) -> PathBuf {
    root.join(format!(".{}.{}", Folder::PARENT, folder.leaf()))
}

fn make_maildir(dir: &Path) -> Result<(), MailboxError> {
    for sub in ["tmp", "new", "cur"] {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| io(&d, e))?;
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> MailboxError {
    MailboxError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(dir: &Path) -> MaildirSettings {
        MaildirSettings {
            path: dir.to_path_buf(),
            poll_interval: Duration::from_millis(10),
        }
    }

    #[test]
    fn reads_new_and_cur_moves_into_folders_and_never_deletes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mb = MaildirMailbox::open(&settings(tmp.path())).unwrap();
        std::fs::write(tmp.path().join("new/1000.a.host"), b"Subject: a\r\n\r\na").unwrap();
        std::fs::write(
            tmp.path().join("cur/1001.b.host:2,S"),
            b"Subject: b\r\n\r\nb",
        )
        .unwrap();
        let got = mb.fetch_new(&Budget::letters(10)).unwrap();
        let keys: Vec<&str> = got.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&"maildir:1000.a.host"));
        assert!(keys.contains(&"maildir:1001.b.host"));
        assert!(
            got.iter()
                .all(|f| f.internal_date.is_some() && f.uid.is_none())
        );
        // Returned once per session.
        assert!(mb.fetch_new(&Budget::letters(10)).unwrap().is_empty());

        let a = got.iter().find(|f| f.key.ends_with(".a.host")).unwrap();
        let b = got.iter().find(|f| f.key.ends_with(".b.host")).unwrap();
        mb.move_to(a, Folder::Processed).unwrap();
        mb.move_to(b, Folder::Waiting).unwrap();
        mb.move_to(a, Folder::Processed).unwrap(); // idempotent
        let processed = tmp.path().join(".duty-desk.Processed/cur/1000.a.host:2,");
        assert_eq!(std::fs::read(processed).unwrap(), b"Subject: a\r\n\r\na");
        assert!(
            tmp.path()
                .join(".duty-desk.Waiting/cur/1001.b.host:2,S")
                .exists()
        );
        assert!(
            tmp.path()
                .join(".duty-desk.Etiquette/maildirfolder")
                .exists()
        );
        assert_eq!(
            std::fs::read_dir(tmp.path().join("new")).unwrap().count(),
            0
        );

        // A new session sees nothing left but what arrives.
        let mut mb = MaildirMailbox::open(&settings(tmp.path())).unwrap();
        assert!(mb.fetch_new(&Budget::letters(10)).unwrap().is_empty());
    }

    #[test]
    fn limit_and_order_by_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mb = MaildirMailbox::open(&settings(tmp.path())).unwrap();
        for (i, name) in ["c", "a", "b"].iter().enumerate() {
            let p = tmp.path().join("new").join(name);
            std::fs::write(&p, name.as_bytes()).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        let first = mb.fetch_new(&Budget::letters(2)).unwrap();
        assert_eq!(
            first.iter().map(|f| f.raw.clone()).collect::<Vec<_>>(),
            [b"c", b"a"]
        );
        assert_eq!(first[0].internal_date.unwrap().timestamp(), 1_700_000_000);
        let rest = mb.fetch_new(&Budget::letters(2)).unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].raw, b"b");
    }

    #[test]
    fn batches_are_bounded_by_bytes_and_a_too_large_file_is_read_to_its_header_only() {
        let tmp = tempfile::tempdir().unwrap();
        let mut mb = MaildirMailbox::open(&settings(tmp.path())).unwrap();
        let big = {
            let mut v = b"Subject: big\r\nFrom: a@b.ru\r\n\r\n".to_vec();
            v.resize(5000, b'x');
            v
        };
        for (i, (name, raw)) in [
            ("a", b"Subject: a\r\n\r\naaaa".to_vec()),
            ("b", big.clone()),
            ("c", b"Subject: c\r\n\r\ncccc".to_vec()),
        ]
        .iter()
        .enumerate()
        {
            let p = tmp.path().join("new").join(name);
            std::fs::write(&p, raw).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + i as u64);
            std::fs::File::options()
                .write(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        // 40 bytes a batch: "a" (19) fits, the big one's header (31) would not.
        let budget = Budget {
            letters: 10,
            bytes: 40,
            max_message_size: 1000,
        };
        let first = mb.fetch_new(&budget).unwrap();
        assert_eq!(first.len(), 1);
        assert!(first[0].is_whole());
        let second = mb.fetch_new(&budget).unwrap();
        assert_eq!(second.len(), 1, "the big one's header alone, then c");
        assert_eq!(second[0].raw, b"Subject: big\r\nFrom: a@b.ru\r\n\r\n");
        assert_eq!(second[0].size, 5000);
        assert!(!second[0].is_whole());
        let third = mb.fetch_new(&budget).unwrap();
        assert_eq!(third[0].raw, b"Subject: c\r\n\r\ncccc");
        // A budget smaller than any letter still takes one.
        let mut mb = MaildirMailbox::open(&settings(tmp.path())).unwrap();
        let one = mb
            .fetch_new(&Budget {
                letters: 10,
                bytes: 1,
                max_message_size: u64::MAX,
            })
            .unwrap();
        assert_eq!(one.len(), 1);
        // A refused or skipped key is read again on request.
        let again = mb.fetch_keys(&["maildir:b".to_string()], &budget).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].size, 5000);
    }
}
