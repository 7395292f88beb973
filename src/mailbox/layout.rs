//! Where the desk's folders sit in an IMAP server's own hierarchy.
//!
//! Servers differ: Dovecot's default is a "/" (or ".") hierarchy at the top level,
//! Cyrus's classic layout and Courier keep every personal folder under "INBOX."
//! and refuse a top-level name, Yandex separates levels with "|". The server says
//! its separator in the answer to `LIST "" ""` and its personal namespace in
//! the answer to `NAMESPACE` (RFC 2342); a server without NAMESPACE that refuses a
//! top-level CREATE is tried once more under `INBOX<separator>`.
//!
//! The parent folder is, in this order: `folder_prefix` from the config (levels
//! written with "/" whatever the server's separator), else `duty-desk` inside the
//! personal namespace. A folder of an installation made before the layout was
//! learned (`duty-desk/Processed` as one top-level name on a server whose
//! separator is not "/") is kept when it exists and the new name does not.
//!
//! Names here are Unicode; they go out in modified UTF-7 ([`super::utf7`]).

use std::collections::{HashMap, HashSet};

use super::Folder;

/// The separator assumed when the server names none (a flat namespace): the
/// desk's folders are then single names like `duty-desk/Processed`.
pub const FALLBACK_SEPARATOR: &str = "/";

/// A personal namespace from a NAMESPACE answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    /// `""`, `"INBOX."`, … (decoded from modified UTF-7).
    pub prefix: String,
    /// None for a flat namespace (NIL).
    pub separator: Option<String>,
}

/// The first personal namespace of an untagged `NAMESPACE` answer
/// (`* NAMESPACE (("INBOX." ".")) NIL NIL`); None when there is none (NIL) or
/// the line cannot be read.
pub fn parse_namespace(line: &str) -> Option<Namespace> {
    let rest = line.trim_start().strip_prefix('*')?.trim_start();
    let rest = strip_word(rest, "NAMESPACE")?.trim_start();
    // The personal namespaces: `((prefix sep)(prefix sep)…)` or NIL.
    let rest = rest.strip_prefix('(')?.trim_start();
    let rest = rest.strip_prefix('(')?;
    let (prefix, rest) = string(rest)?;
    let (separator, _) = nstring(rest.trim_start())?;
    Some(Namespace {
        prefix: super::utf7::decode(&prefix).unwrap_or(prefix),
        separator,
    })
}

fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    head.eq_ignore_ascii_case(word).then(|| &s[word.len()..])
}

/// A quoted string (or a literal already inlined by the reader) at the start.
fn string(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let body = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, &body[i + 1..])),
            _ => out.push(c),
        }
    }
    None
}

/// A quoted string or NIL.
fn nstring(s: &str) -> Option<(Option<String>, &str)> {
    if let Some(rest) = strip_word(s, "NIL") {
        return Some((None, rest));
    }
    string(s).map(|(v, rest)| (Some(v), rest))
}

/// The full names of the desk's folders on one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    separator: String,
    parent: String,
    names: HashMap<Folder, String>,
    /// Chosen by the admin (`folder_prefix`): never moved elsewhere by a fallback.
    by_hand: bool,
}

impl Layout {
    /// The layout under `separator` (None: flat), with the personal namespace
    /// `prefix` (e.g. `INBOX.`) and the admin's `folder_prefix` (levels split by
    /// "/"). An error when a level of `folder_prefix` holds the separator itself or
    /// is empty.
    pub fn plan(
        separator: Option<&str>,
        prefix: &str,
        folder_prefix: Option<&str>,
    ) -> Result<Layout, String> {
        let sep = separator
            .filter(|s| !s.is_empty())
            .unwrap_or(FALLBACK_SEPARATOR)
            .to_string();
        let parent = match folder_prefix.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => {
                let levels: Vec<&str> = p.trim_matches('/').split('/').collect();
                for l in &levels {
                    if l.is_empty() {
                        return Err(format!("folder_prefix {p:?} has an empty level"));
                    }
                    if sep != "/" && l.contains(sep.as_str()) {
                        return Err(format!(
                            "folder_prefix {p:?}: {l:?} holds the server's hierarchy separator {sep:?}; write levels with \"/\""
                        ));
                    }
                }
                levels.join(&sep)
            }
            None => format!("{prefix}{}", Folder::PARENT),
        };
        let names = Folder::ALL
            .iter()
            .map(|f| (*f, format!("{parent}{sep}{}", f.leaf())))
            .collect();
        Ok(Layout {
            separator: sep,
            parent,
            names,
            by_hand: folder_prefix.is_some_and(|p| !p.trim().is_empty()),
        })
    }

    /// The same layout under the personal namespace `INBOX<separator>`: what is
    /// tried when the server refuses a top-level folder. None when the admin chose
    /// the parent, or the names already sit under INBOX.
    pub fn under_inbox(&self) -> Option<Layout> {
        let prefix = format!("INBOX{}", self.separator);
        if self.by_hand || self.parent.starts_with(&prefix) {
            return None;
        }
        Layout::plan(Some(&self.separator), &prefix, None).ok()
    }

    /// Keeps the folders an earlier installation made as single top-level names
    /// (`duty-desk/Processed` on a "." server) where the new name does not exist.
    /// `existing` holds the server's folder names, decoded.
    pub fn reuse_existing(&mut self, existing: &HashSet<String>) {
        if self.by_hand {
            return;
        }
        for f in Folder::ALL {
            let legacy = f.path("/");
            let name = &self.names[&f];
            if !existing.contains(name) && existing.contains(&legacy) {
                self.names.insert(f, legacy);
            }
        }
    }

    pub fn separator(&self) -> &str {
        &self.separator
    }

    /// The parent folder (created first: some servers want it to exist).
    pub fn parent(&self) -> &str {
        &self.parent
    }

    /// The full name of `folder` (Unicode).
    pub fn name(&self, folder: Folder) -> &str {
        &self.names[&folder]
    }

    /// Every folder to make, the parent first (a parent that legacy names made
    /// unnecessary is still made: it is cheap and harmless).
    pub fn wanted(&self) -> Vec<String> {
        let mut v = vec![self.parent.clone()];
        v.extend(Folder::ALL.iter().map(|f| self.names[f].clone()));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(line: &str) -> Option<(String, Option<String>)> {
        parse_namespace(line).map(|n| (n.prefix, n.separator))
    }

    #[test]
    fn namespace_answers_of_real_servers() {
        // Dovecot default, Courier / Cyrus classic, a flat one, none, garbage.
        assert_eq!(
            ns(r#"* NAMESPACE (("" "/")) NIL NIL"#),
            Some(("".into(), Some("/".into())))
        );
        assert_eq!(
            ns(r##"* NAMESPACE (("INBOX." ".")) NIL (("#shared." "."))"##),
            Some(("INBOX.".into(), Some(".".into())))
        );
        assert_eq!(
            ns(r#"* namespace (("" NIL)) NIL NIL"#),
            Some(("".into(), None))
        );
        assert_eq!(
            ns(r#"* NAMESPACE (("" "\\")) NIL NIL"#).unwrap().1.unwrap(),
            "\\"
        );
        assert_eq!(ns("* NAMESPACE NIL NIL NIL"), None);
        assert_eq!(ns("* NAMESPACE ((\"unterminated"), None);
        assert_eq!(ns("* LIST () \"/\" INBOX"), None);
    }

    #[test]
    fn folders_follow_separator_and_namespace() {
        let dot = Layout::plan(Some("."), "", None).unwrap();
        assert_eq!(dot.name(Folder::Processed), "duty-desk.Processed");
        assert_eq!(dot.parent(), "duty-desk");
        let inbox = Layout::plan(Some("."), "INBOX.", None).unwrap();
        assert_eq!(inbox.name(Folder::Processed), "INBOX.duty-desk.Processed");
        assert_eq!(inbox.parent(), "INBOX.duty-desk");
        let bar = Layout::plan(Some("|"), "", None).unwrap();
        assert_eq!(bar.name(Folder::Waiting), "duty-desk|Waiting");
        let flat = Layout::plan(None, "", None).unwrap();
        assert_eq!(flat.name(Folder::Ignored), "duty-desk/Ignored");
        assert_eq!(inbox.wanted().len(), 6);
    }

    #[test]
    fn fallback_under_inbox_once() {
        let top = Layout::plan(Some("."), "", None).unwrap();
        let under = top.under_inbox().unwrap();
        assert_eq!(under.name(Folder::Etiquette), "INBOX.duty-desk.Etiquette");
        assert_eq!(under.under_inbox(), None);
        let hand = Layout::plan(Some("."), "", Some("Заявки")).unwrap();
        assert_eq!(hand.under_inbox(), None);
    }

    #[test]
    fn folder_prefix_by_hand() {
        let l = Layout::plan(Some("."), "INBOX.", Some("INBOX/Заявки")).unwrap();
        assert_eq!(l.name(Folder::Processed), "INBOX.Заявки.Processed");
        let l = Layout::plan(Some("/"), "", Some("Заявки/")).unwrap();
        assert_eq!(l.name(Folder::Processed), "Заявки/Processed");
        assert!(Layout::plan(Some("."), "", Some("a.b")).is_err());
        assert!(Layout::plan(Some("."), "", Some("a//b")).is_err());
    }

    #[test]
    fn an_earlier_installation_keeps_its_folders() {
        let mut l = Layout::plan(Some("."), "", None).unwrap();
        let existing: HashSet<String> = ["duty-desk/Processed", "duty-desk/Waiting", "INBOX"]
            .into_iter()
            .map(String::from)
            .collect();
        l.reuse_existing(&existing);
        assert_eq!(l.name(Folder::Processed), "duty-desk/Processed");
        assert_eq!(l.name(Folder::Waiting), "duty-desk/Waiting");
        assert_eq!(l.name(Folder::Ignored), "duty-desk.Ignored");
        // Where the new name exists, it wins.
        let mut l = Layout::plan(Some("."), "", None).unwrap();
        let both: HashSet<String> = ["duty-desk/Processed", "duty-desk.Processed"]
            .into_iter()
            .map(String::from)
            .collect();
        l.reuse_existing(&both);
        assert_eq!(l.name(Folder::Processed), "duty-desk.Processed");
    }
}
