//! Is this letter from a robot? RFC 3834 (automatic responses) and
//! RFC 5230 (Sieve vacation: whom not to answer), as DESIGN.md lists them.
//!
//! The rules only look at headers and the sender address, never at the
//! wording of the body: a person's letter must never be ignored, so a rule
//! here has to be one that a person's mail client does not trip.

use std::sync::LazyLock;

use mail_parser::{Message, MimeHeaders};
use regex::Regex;

use super::Context;
use super::decode::Headers;

/// Local parts that only robots use (RFC 5230 §4.6 and common practice).
fn robot_local_part(local: &str) -> Option<&'static str> {
    let l = local.to_ascii_lowercase();
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
        if l == *name {
            return Some(why);
        }
    }
    let compact: String = l.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    for p in [
        "noreply",
        "donotreply",
        "dontreply",
        "norespond",
        "noresponse",
    ] {
        if compact.starts_with(p) || compact.ends_with(p) {
            return Some("no-reply sender");
        }
    }
    if l.starts_with("owner-") || l.ends_with("-request") || l.ends_with("-owner") {
        return Some("list administrative sender");
    }
    if l.starts_with("bounce-") || l.starts_with("bounces-") || l.ends_with("-bounces") {
        return Some("bounce sender");
    }
    None
}

static AUTO_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern that compiles.
    Regex::new(
        r"(?i)^\s*(?:автоматический ответ|автоответ|automatic reply|auto-?reply|autoreply|out of office|нет на месте|undeliverable|undelivered mail returned to sender|delivery status notification|не доставлено|недоставленное сообщение|mail delivery failed|returned mail)\s*:",
    )
    .expect("valid regex")
});

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
        let name = field.name.as_str();
        if let Some(k) = FIELDS.iter().position(|f| f.eq_ignore_ascii_case(name))
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
}
