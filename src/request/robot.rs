//! Is this letter from a robot? RFC 3834 (automatic responses) and RFC 5230
//! (Sieve vacation: whom not to answer), as DESIGN.md lists them.
//!
//! The rules look at headers and the sender address only, never at the
//! wording of the body: a person's letter must never be ignored, so a rule
//! here is one that a person's mail client does not trip. The sender and
//! subject rules are data: `lexicon/robot-senders.txt`, `robot-subjects.txt`.

use std::sync::LazyLock;

use mail_parser::{Message, MimeHeaders};

use super::Context;
use super::decode::Headers;
use super::words;

static SENDERS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/robot-senders.txt")));
static SUBJECTS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/robot-subjects.txt")));

/// Whether a local part matches an entry of `robot-senders.txt`.
fn sender_matches(local: &str, entry: &str) -> bool {
    let squeezed: String = local
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .collect();
    let (bare, start, end) = match (entry.strip_prefix('*'), entry.strip_suffix('*')) {
        (Some(e), _) => (e, false, true),
        (_, Some(e)) => (e, true, false),
        _ => (entry, false, false),
    };
    let against = |s: &str| match (start, end) {
        (true, _) => s.starts_with(bare),
        (_, true) => s.ends_with(bare),
        _ => s == bare,
    };
    against(local) || (!bare.contains('-') && against(&squeezed))
}

/// The last value of a top-level header field, as text.
fn field<'m>(msg: &'m Message<'_>, name: &str) -> Option<&'m str> {
    let f = msg
        .headers()
        .iter()
        .rev()
        .find(|f| f.name.as_str().eq_ignore_ascii_case(name))?;
    let raw = msg
        .raw_message
        .get(f.offset_start as usize..f.offset_end as usize)?;
    std::str::from_utf8(raw).ok().map(str::trim)
}

/// Why the letter is a robot's, or `None` for a person's letter.
pub fn check(msg: &Message<'_>, h: &Headers, ctx: &Context) -> Option<String> {
    if let Some(v) = field(msg, "Auto-Submitted") {
        let kw = v
            .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
            .next()
            .unwrap_or_default();
        if !kw.is_empty() && !kw.eq_ignore_ascii_case("no") {
            return Some(format!("Auto-Submitted: {}", kw.to_ascii_lowercase()));
        }
    }
    if let Some(v) = field(msg, "Precedence") {
        let v = v.to_ascii_lowercase();
        if ["bulk", "junk", "list"].contains(&v.as_str()) {
            return Some(format!("Precedence: {v}"));
        }
    }
    if field(msg, "List-Id").is_some() {
        return Some("List-Id header (mailing list)".to_string());
    }
    for name in [
        "X-Autoreply",
        "X-Autorespond",
        "X-Autoresponder",
        "X-Auto-Reply",
    ] {
        if let Some(v) = field(msg, name)
            && !v.eq_ignore_ascii_case("no")
            && !v.eq_ignore_ascii_case("false")
        {
            return Some(format!("{name} header"));
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
        let local = sender.split('@').next().unwrap_or_default().to_lowercase();
        if SENDERS.iter().any(|e| sender_matches(&local, e)) {
            return Some(format!("robot sender {local}@…"));
        }
    }
    let subject = words::fold(h.subject.trim());
    // «Автоматический ответ: Re: …», or the phrase alone.
    if SUBJECTS.iter().any(|p| {
        subject
            .strip_prefix(p.as_str())
            .is_some_and(|r| r.trim().is_empty() || r.trim_start().starts_with(':'))
    }) {
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
        let person = "From: Anna <anna@mail.ru>\r\nSubject: Пароль\r\n";
        let cases = [
            ("Auto-Submitted: auto-replied\r\n", true),
            ("Auto-Submitted: no\r\n", false),
            ("Precedence: bulk\r\n", true),
            ("PRECEDENCE: Junk\r\n", true),
            ("Precedence: first-class\r\n", false),
            ("List-Id: <x.y>\r\n", true),
            ("X-Autoreply: yes\r\n", true),
            ("X-Autoreply: no\r\n", false),
            ("Return-Path: <>\r\n", true),
            ("Return-Path: <anna@mail.ru>\r\n", false),
        ];
        for (fields, robot) in cases {
            let raw = format!("{fields}{person}\r\nтекст\r\n");
            assert_eq!(run(&raw).is_some(), robot, "{fields}");
        }
    }

    #[test]
    fn senders_and_subjects() {
        let cases = [
            ("MAILER-DAEMON@mx.ru", "Привет", true),
            ("no-reply@elschool.ru", "Привет", true),
            ("No_Reply@elschool.ru", "Привет", true),
            ("news-bounces@list.ru", "Привет", true),
            ("owner-parents@list.ru", "Привет", true),
            ("support@school.test", "Привет", true),
            ("noreplyanna@mail.ru", "Привет", true),
            ("anna.bounce@mail.ru", "Привет", false),
            ("postmasterova@mail.ru", "Привет", false),
            ("anna@mail.ru", "Автоответ: в отпуске", true),
            ("anna@mail.ru", "Автоответ не пришёл", false),
            ("anna@mail.ru", "Автоматический ответ", true),
            ("anna@mail.ru", "Re: Undeliverable", false),
        ];
        for (from, subject, robot) in cases {
            let raw = format!("From: <{from}>\r\nSubject: {subject}\r\n\r\nтекст\r\n");
            assert_eq!(run(&raw).is_some(), robot, "{from} / {subject}");
        }
    }
}
