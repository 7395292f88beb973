//! Is this letter from a robot? RFC 3834 (automatic responses) and
//! RFC 5230 (Sieve vacation: whom not to answer), as DESIGN.md lists them.
//!
//! The rules only look at headers and the sender address, never at the
//! wording of the body: a person's letter must never be ignored, so a rule
//! here has to be one that a person's mail client does not trip.

use std::sync::LazyLock;

use mail_parser::{HeaderName, Message, MimeHeaders};
use regex::Regex;

use super::Context;
use super::decode::Headers;
use super::pattern::LinePattern;

/// Local parts that only robots use (RFC 5230 §4.6 and common practice).
/// Read in place, any ASCII case, with no lower-cased copy.
fn robot_local_part(local: &str) -> Option<&'static str> {
    let exact: &[(&str, &str)] = &[
        ("mailer-daemon", "MAILER-DAEMON sender"),
        ("mailerdaemon", "MAILER-DAEMON sender"),
        ("postmaster", "postmaster sender"),
        ("listserv", "list server sender"),
        ("majordomo", "list server sender"),
        ("mailman", "list server sender"),
        ("bounce", "bounce sender"),
        ("bounces", "bounce sender"),
    ];
    for (name, why) in exact {
        if local.eq_ignore_ascii_case(name) {
            return Some(why);
        }
    }
    // The local part with only its ASCII letters and digits, lower case:
    // «no-reply», «No_Reply» and «noreply» all read «noreply». Only its
    // first and last few are compared, so only those are kept.
    let compact = || {
        local
            .bytes()
            .filter(u8::is_ascii_alphanumeric)
            .map(|b| b.to_ascii_lowercase())
    };
    let mut head = [0u8; NO_REPLY_LONGEST];
    let head = fill(&mut head, compact());
    let mut tail = [0u8; NO_REPLY_LONGEST];
    let tail = fill(&mut tail, compact().rev());
    tail.reverse();
    for p in NO_REPLY {
        if head.starts_with(p.as_bytes()) || tail.ends_with(p.as_bytes()) {
            return Some("no-reply sender");
        }
    }
    let starts = |p: &str| starts_with_ignore_ascii_case(local, p);
    let ends = |p: &str| ends_with_ignore_ascii_case(local, p);
    if starts("owner-") || ends("-request") || ends("-owner") {
        return Some("list administrative sender");
    }
    if starts("bounce-") || starts("bounces-") || ends("-bounces") {
        return Some("bounce sender");
    }
    None
}

/// What a no-reply sender's local part begins or ends with, once only its
/// letters and digits are kept.
const NO_REPLY: [&str; 5] = [
    "noreply",
    "donotreply",
    "dontreply",
    "norespond",
    "noresponse",
];

/// The length of the longest of [`NO_REPLY`].
const NO_REPLY_LONGEST: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < NO_REPLY.len() {
        if NO_REPLY[i].len() > longest {
            longest = NO_REPLY[i].len();
        }
        i += 1;
    }
    longest
};

/// `buf` filled from `bytes` as far as either goes; the part filled.
fn fill(buf: &mut [u8], bytes: impl Iterator<Item = u8>) -> &mut [u8] {
    let mut len = 0;
    for (slot, b) in buf.iter_mut().zip(bytes) {
        *slot = b;
        len += 1;
    }
    &mut buf[..len]
}

/// Whether `s` starts with `prefix`, ASCII letters in any case.
fn starts_with_ignore_ascii_case(s: &str, prefix: &str) -> bool {
    s.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether `s` ends with `suffix`, ASCII letters in any case.
fn ends_with_ignore_ascii_case(s: &str, suffix: &str) -> bool {
    s.len() >= suffix.len()
        && s.as_bytes()[s.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// The subjects of automatic replies and delivery reports: one of these
/// phrases (any case, white space around it), then a colon.
const AUTO_SUBJECT_PHRASES: &[&str] = &[
    "автоматический ответ",
    "автоответ",
    "automatic reply",
    "auto-reply",
    "autoreply",
    "out of office",
    "нет на месте",
    "undeliverable",
    "undelivered mail returned to sender",
    "delivery status notification",
    "не доставлено",
    "недоставленное сообщение",
    "mail delivery failed",
    "returned mail",
];

/// The phrases are also the heads of the pattern: a subject that opens
/// with none of them («Re:», «Не приходит код») skips the regex engine.
static AUTO_SUBJECT: LinePattern = LinePattern {
    opens: AUTO_SUBJECT_PHRASES,
    regex: LazyLock::new(|| {
        let phrases: Vec<String> = AUTO_SUBJECT_PHRASES
            .iter()
            .map(|p| regex::escape(p))
            .collect();
        let phrases = phrases.join("|");
        // Invariant: escaped literals between fixed syntax, so this compiles.
        Regex::new(&format!(r"(?i)^\s*(?:{phrases})\s*:")).expect("valid regex")
    }),
};

/// The header fields the rules read, by name (any case), and where each
/// stands in that list.
const AUTO_SUBMITTED: usize = 0;
const PRECEDENCE: usize = 1;
const LIST_ID: usize = 2;
/// The autoresponders' own fields, from here to the end.
const AUTOREPLY: usize = 3;
const FIELDS: [&str; 7] = [
    "Auto-Submitted",
    "Precedence",
    "List-Id",
    "X-Autoreply",
    "X-Autorespond",
    "X-Autoresponder",
    "X-Auto-Reply",
];

/// Why the letter is a robot's, or `None` for a person's letter.
pub fn check(msg: &Message<'_>, h: &Headers, ctx: &Context) -> Option<String> {
    // One pass over the top-level header, last to first, so that each
    // field's last occurrence counts (as `Message::header_raw` does);
    // `None` inside: present, but not UTF-8.
    let mut seen: [Option<Option<&str>>; FIELDS.len()] = [None; FIELDS.len()];
    for field in msg.headers().iter().rev() {
        // mail-parser knows two of the fields by name; the others come as
        // `Other`, which is all that needs comparing.
        let k = match &field.name {
            HeaderName::AutoSubmitted => Some(AUTO_SUBMITTED),
            HeaderName::ListId => Some(LIST_ID),
            HeaderName::Other(name) => FIELDS.iter().position(|f| f.eq_ignore_ascii_case(name)),
            _ => None,
        };
        if let Some(k) = k
            && seen[k].is_none()
        {
            let raw = msg
                .raw_message
                .get(field.offset_start as usize..field.offset_end as usize)
                .unwrap_or_default();
            seen[k] = Some(std::str::from_utf8(raw).ok());
        }
    }
    let value = |k: usize| seen[k].flatten();
    if let Some(v) = value(AUTO_SUBMITTED) {
        let v = v.trim();
        let kw = v
            .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        if !kw.is_empty() && !kw.eq_ignore_ascii_case("no") {
            return Some(format!("Auto-Submitted: {}", kw.to_ascii_lowercase()));
        }
    }
    if let Some(v) = value(PRECEDENCE) {
        let v = v.trim();
        if ["bulk", "junk", "list"]
            .iter()
            .any(|p| v.eq_ignore_ascii_case(p))
        {
            return Some(format!("Precedence: {}", v.to_ascii_lowercase()));
        }
    }
    if seen[LIST_ID].is_some() {
        return Some("List-Id header (mailing list)".to_string());
    }
    for (k, name) in FIELDS.iter().enumerate().skip(AUTOREPLY) {
        if let Some(v) = value(k) {
            let v = v.trim();
            if !v.eq_ignore_ascii_case("no") && !v.eq_ignore_ascii_case("false") {
                return Some(format!("{name} header"));
            }
        }
    }
    if h.null_return_path {
        return Some("empty Return-Path (bounce)".to_string());
    }
    if msg.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    }) {
        return Some("multipart/report (delivery or read report)".to_string());
    }
    if let Some(sender) = h.sender.as_deref() {
        if ctx.is_own(sender) {
            return Some(format!("sent from our own address {sender}"));
        }
        let local = sender.split('@').next().unwrap_or_default();
        if let Some(why) = robot_local_part(local) {
            return Some(why.to_string());
        }
    }
    if AUTO_SUBJECT.is_match(&h.subject) {
        return Some("automatic reply subject".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(raw: &str) -> Option<String> {
        let msg = mail_parser::MessageParser::default()
            .parse(raw.as_bytes())
            .expect("test message parses");
        let h = super::super::decode::headers(&msg);
        let ctx = Context {
            own_addresses: vec!["support@school.test".into()],
            ..Context::default()
        };
        check(&msg, &h, &ctx)
    }

    #[test]
    fn rules() {
        // (header fields, whether the letter is a robot's)
        let cases = [
            ("Auto-Submitted: auto-replied\r\n", true),
            ("Auto-Submitted: no\r\n", false),
            ("Precedence: bulk\r\n", true),
            ("PRECEDENCE: Junk\r\n", true),
            ("List-Id: <x.y>\r\n", true),
            ("Return-Path: <>\r\n", true),
            ("x-autoreply: yes\r\n", true),
            ("X-Autoreply: no\r\n", false),
            ("Subject: Автоматический ответ: Re: x\r\n", true),
            (
                "Precedence: normal\r\nSubject: Не работает автоответ\r\n",
                false,
            ),
            // The last occurrence of a field counts.
            (
                "Auto-Submitted: auto-generated\r\nAuto-Submitted: no\r\n",
                false,
            ),
            (
                "Auto-Submitted: no\r\nAuto-Submitted: auto-generated\r\n",
                true,
            ),
        ];
        for (fields, robot) in cases {
            let raw = format!("From: a@b.ru\r\n{fields}\r\nx");
            assert_eq!(run(&raw).is_some(), robot, "{fields}");
        }
        for (from, robot) in [
            ("MAILER-DAEMON@x.ru", true),
            ("no-reply@x.ru", true),
            ("support@school.test", true),
            ("noreen@b.ru", false),
        ] {
            let raw = format!("From: {from}\r\n\r\nx");
            assert_eq!(run(&raw).is_some(), robot, "{from}");
        }
    }

    /// The old regex, written out whole, and the phrase list with its
    /// heads give the same answer; every subject the pattern matches opens
    /// with one of its heads.
    #[test]
    fn auto_subject_heads_agree_with_the_regex() {
        let old = Regex::new(
            r"(?i)^\s*(?:автоматический ответ|автоответ|automatic reply|auto-?reply|autoreply|out of office|нет на месте|undeliverable|undelivered mail returned to sender|delivery status notification|не доставлено|недоставленное сообщение|mail delivery failed|returned mail)\s*:",
        )
        .expect("valid regex");
        let mut subjects = vec![
            String::new(),
            "Re: Автоответ: x".to_string(),
            "Fwd:".to_string(),
            "Вопрос по дневнику".to_string(),
            "  \u{3000}AUTO-REPLY \t: away".to_string(),
            "Auto\u{212A}eply:".to_string(),
            "Out of office:Re: x".to_string(),
            "out of office".to_string(),
            "Не работает: дневник".to_string(),
            "АВТОМАТИЧЕСКИЙ ОТВЕТ : Re: оценки".to_string(),
            "Delivery Status Notification (Failure)".to_string(),
            "auto reply: x".to_string(),
        ];
        for phrase in AUTO_SUBJECT_PHRASES {
            subjects.push(format!("{phrase}: x"));
            subjects.push(format!(" {}:", phrase.to_uppercase()));
            subjects.push(format!("{phrase} :"));
            subjects.push(format!("Re: {phrase}: x"));
        }
        for s in &subjects {
            assert_eq!(AUTO_SUBJECT.is_match(s), old.is_match(s), "{s:?}");
        }
        let matching: Vec<String> = AUTO_SUBJECT_PHRASES
            .iter()
            .map(|p| format!("{p}: x"))
            .collect();
        let matching: Vec<&str> = matching.iter().map(String::as_str).collect();
        crate::request::pattern::tests::assert_heads_cover(&AUTO_SUBJECT, &matching);
    }

    #[test]
    fn robot_local_parts() {
        for (local, why) in [
            ("MAILER-DAEMON", Some("MAILER-DAEMON sender")),
            ("Bounces", Some("bounce sender")),
            ("no_reply", Some("no-reply sender")),
            ("shop.NoReply", Some("no-reply sender")),
            ("do-not-reply", Some("no-reply sender")),
            ("noreen", None),
            ("Owner-list", Some("list administrative sender")),
            ("school-REQUEST", Some("list administrative sender")),
            ("bounces-123", Some("bounce sender")),
            ("list-bounces", Some("bounce sender")),
            ("noreply.школа", Some("no-reply sender")),
            ("ноreply", None),
            ("ivanova", None),
            ("", None),
        ] {
            assert_eq!(robot_local_part(local), why, "{local}");
        }
    }
}
