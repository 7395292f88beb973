//! Understanding one raw letter: who wrote, their role, name, class and
//! problem, and what the daemon should do with it.
//!
//! Everything here is pure: bytes in, [`Request`] out, no I/O, no clock.
//! The steps, each in its own file:
//!
//! * [`decode`]: MIME parsing (mail-parser) with charset repair for
//!   mislabelled or undeclared windows-1251 / KOI8-R text, HTML → text;
//! * [`robot`]: RFC 3834 / RFC 5230 rules that tell automatic mail apart;
//! * [`text`]: only the new text counts — quotes, forwards and signatures
//!   are split off;
//! * [`intent`]: thanks, congratulations, advertising — letters that ask nothing;
//! * [`role`], [`name`], [`class`], [`description`]: the fields;
//! * [`etiquette`]: rule 5 of the regulation;
//! * [`complaint`]: whether a letter complains about one of the desk's
//!   specialists (the router asks, with the timetable's names).
//!
//! They share one tokenizer and the word lists ([`words`], the lists in
//! `lexicon/*.txt`), and the Russian morphological dictionary ([`morph`]).
//!
//! [`understand`] never panics and works in time and memory bounded by the
//! size limit of the [`Context`] (bodies are also capped before the
//! heuristics run).

pub mod class;
pub mod complaint;
pub mod decode;
pub mod description;
pub mod etiquette;
pub mod html;
pub mod intent;
pub mod morph;
pub mod name;
pub mod robot;
pub mod role;
pub mod text;
pub mod topic;
pub mod translit;
pub mod words;

pub use text::Parts;

use serde::{Deserialize, Serialize};

/// What `understand` needs to know about the installation.
#[derive(Clone, Debug)]
pub struct Context {
    /// Our own mailbox addresses (letters from them are loops → ignore).
    pub own_addresses: Vec<String>,
    /// Mail domains of the school's staff (`example.org`).
    pub staff_domains: Vec<String>,
    /// Individual staff addresses.
    pub staff_addresses: Vec<String>,
    /// Letters larger than this (bytes) are refused without being parsed.
    pub max_message_size: usize,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            own_addresses: Vec::new(),
            staff_domains: Vec::new(),
            staff_addresses: Vec::new(),
            max_message_size: 30 * 1024 * 1024,
        }
    }
}

impl Context {
    fn is_own(&self, addr: &str) -> bool {
        self.own_addresses
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(addr))
    }

    fn is_staff(&self, addr: &str) -> bool {
        if self
            .staff_addresses
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(addr))
        {
            return true;
        }
        let Some((_, domain)) = addr.rsplit_once('@') else {
            return false;
        };
        self.staff_domains.iter().any(|d| {
            let d = d.trim().trim_start_matches('@');
            !d.is_empty() && domain.eq_ignore_ascii_case(d)
        })
    }
}

/// Who wrote the letter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Staff,
    Parent,
    Student,
}

/// What to do with the letter (see DESIGN.md, "Decisions on one message").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Forward,
    Ask,
    Ignore,
    Etiquette,
}

/// A required field of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    FullName,
    Class,
    Description,
}

/// One letter, understood.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// Bare lower-case address from From (or Sender / Return-Path).
    pub sender: Option<String>,
    /// From display name, decoded.
    pub sender_name: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To ids without angle brackets.
    pub in_reply_to: Vec<String>,
    /// References ids without angle brackets.
    pub references: Vec<String>,
    /// Decoded subject.
    pub subject: String,
    pub date: Option<chrono::DateTime<chrono::FixedOffset>>,
    /// N from "[Заявка #N]" in the subject.
    pub ticket_tag: Option<u64>,
    pub role: Option<Role>,
    pub full_name: Option<String>,
    pub class: Option<String>,
    pub description: Option<String>,
    pub verdict: Verdict,
    /// Why this verdict, for logs and the inspect output.
    pub reason: String,
    pub missing: Vec<Field>,
    /// The new text of the letter (quotes and signature removed), for the
    /// forward to the specialist. Empty for ignored letters.
    pub new_text: String,
    /// Size of the raw letter in bytes.
    pub size: usize,
}

impl Request {
    /// The object `duty-desk inspect` prints for one file (DESIGN.md).
    pub fn inspect_json(&self, file: &str) -> serde_json::Value {
        serde_json::json!({
            "file": file,
            "verdict": self.verdict,
            "reason": self.reason,
            "role": self.role,
            "full_name": self.full_name,
            "class": self.class,
            "description": self.description,
            "missing": self.missing,
        })
    }
}

/// The required fields that are absent, in the contract's order.
///
/// `class` is required of parents and students, and when the role is
/// unknown; staff need none.
pub fn missing_fields(
    role: Option<Role>,
    full_name: Option<&str>,
    class: Option<&str>,
    description: Option<&str>,
) -> Vec<Field> {
    let blank = |s: Option<&str>| s.is_none_or(|s| s.trim().is_empty());
    let mut out = Vec::new();
    if blank(full_name) {
        out.push(Field::FullName);
    }
    if role != Some(Role::Staff) && blank(class) {
        out.push(Field::Class);
    }
    if blank(description) {
        out.push(Field::Description);
    }
    out
}

/// Text longer than this (characters of decoded body) is cut before the
/// heuristics run: requests are short, and this bounds the time.
const MAX_TEXT_CHARS: usize = 64 * 1024;

/// Understand one raw letter. Never panics; bounded time and memory.
///
/// mail-parser 0.11 has a `debug_assert!` that malformed nesting can trip
/// (found by fuzzing; harmless in release builds): a panic while parsing
/// sets the letter aside as unreadable ([`parse`]). A panic anywhere else
/// is a bug of ours; so that it cannot bring the daemon down either, it is
/// caught too, and the reason says so: [`PANICKED`] (the tests look for it).
pub fn understand(raw: &[u8], ctx: &Context) -> Request {
    understand_sized(raw, raw.len(), ctx)
}

/// [`understand`] for a letter of `full_size` bytes of which `raw` may be only
/// the header block: what the mailbox reads of a letter over
/// `max_message_size` (it never reads such a letter whole). A letter over the
/// limit is judged by its headers alone: a robot's has the reason
/// "robot: …", anyone else's "too large: …" (verdict `Ignore` either way);
/// `size` is `full_size`.
pub fn understand_sized(raw: &[u8], full_size: usize, ctx: &Context) -> Request {
    let full_size = full_size.max(raw.len());
    match std::panic::catch_unwind(|| understand_inner(raw, full_size, ctx)) {
        Ok(req) => req,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let mut req = Request::empty(full_size);
            req.reason = format!("unreadable: {PANICKED} ({what})");
            req
        }
    }
}

/// What the reason of a letter whose understanding panicked (a bug) says.
pub const PANICKED: &str = "understanding panicked";

/// mail-parser's parse of `raw`, `None` when it finds no message or panics.
fn parse(raw: &[u8]) -> Result<Option<mail_parser::Message<'_>>, ()> {
    std::panic::catch_unwind(|| decode::parser().parse(raw)).map_err(|_| ())
}

impl Request {
    /// A request with nothing found in it yet (verdict `Ignore`, no reason):
    /// what `understand` fills in, and a stand-in where a decision needs a
    /// request but has no letter.
    pub fn empty(size: usize) -> Request {
        Request {
            sender: None,
            sender_name: None,
            message_id: None,
            in_reply_to: Vec::new(),
            references: Vec::new(),
            subject: String::new(),
            date: None,
            ticket_tag: None,
            role: None,
            full_name: None,
            class: None,
            description: None,
            verdict: Verdict::Ignore,
            reason: String::new(),
            missing: Vec::new(),
            new_text: String::new(),
            size,
        }
    }
}

fn understand_inner(raw: &[u8], full_size: usize, ctx: &Context) -> Request {
    let mut req = Request::empty(full_size);

    if full_size > ctx.max_message_size {
        // Read only the header block, never the whole letter.
        let head = decode::header_block(raw);
        let mut robot = None;
        if let Some(msg) = decode::parser().parse_headers(head) {
            let h = decode::headers(&msg);
            robot = robot::check(&msg, &h, ctx);
            h.fill(&mut req);
        }
        req.reason = match robot {
            // A robot gets no answer, not even "too large".
            Some(why) => format!("robot: {why}"),
            None => format!(
                "too large: {full_size} bytes exceeds the limit of {} bytes",
                ctx.max_message_size
            ),
        };
        return req;
    }

    let msg = match parse(raw) {
        Ok(Some(msg)) => msg,
        Ok(None) => {
            req.reason = "unreadable: not a mail message".to_string();
            return req;
        }
        Err(()) => {
            req.reason = "unreadable: the MIME parser gave up on this letter".to_string();
            return req;
        }
    };
    let h = decode::headers(&msg);
    let robot = robot::check(&msg, &h, ctx);
    h.fill(&mut req);

    if let Some(why) = robot {
        req.reason = format!("robot: {why}");
        return req;
    }

    let body = decode::body(&msg);
    let parts = text::split(cap_chars(&body.text, MAX_TEXT_CHARS));
    let subject = text::clean_subject(cap_chars(&req.subject, 1000));
    let is_reply = req.is_reply();

    // Etiquette reads what this writer wrote now, never what they quote.
    let rude = etiquette::check_all(&[&parts.new, &parts.signature, &subject]);

    let staff_by_address = req.sender.as_deref().is_some_and(|s| ctx.is_staff(s));
    req.role = if staff_by_address {
        Some(Role::Staff)
    } else {
        role::detect(&parts.new, &parts.signature)
    };
    // A reply's subject is the desk's own («Re: [Заявка #1] Лебедева А.С.,
    // 5А: …»): the name in it is no one's word about themselves.
    let name_subject = if is_reply { "" } else { subject.as_str() };
    req.full_name = name::find(&parts, name_subject, req.sender_name.as_deref(), req.role);
    req.class = if req.role == Some(Role::Staff) {
        None
    } else {
        class::find(&format!("{}\n{}", parts.new, parts.signature))
            .or_else(|| class::find(&subject))
    };
    let gives_fields = req.full_name.is_some() || req.class.is_some();
    let quoted = if is_reply && gives_fields {
        format!(
            "{}\n{}",
            parts.quoted,
            cap_chars(&body.attached, MAX_TEXT_CHARS)
        )
    } else {
        String::new()
    };
    req.description = description::find(&parts.new, &subject, &quoted);
    req.new_text = parts.new.trim().to_string();

    req.missing = missing_fields(
        req.role,
        req.full_name.as_deref(),
        req.class.as_deref(),
        req.description.as_deref(),
    );

    if let Some(why) = rude {
        req.verdict = Verdict::Etiquette;
        req.reason = format!("etiquette: {why}");
    } else if let Some(why) =
        intent::not_a_request(&parts.new, &subject, &body.text, body.has_links)
    {
        req.verdict = Verdict::Ignore;
        req.reason = format!("not a request: {why}");
    } else if req.sender.is_none() {
        req.verdict = Verdict::Ignore;
        req.reason = "no sender address to answer".to_string();
    } else if req.missing.is_empty() {
        req.verdict = Verdict::Forward;
        req.reason = "complete".to_string();
    } else {
        req.verdict = Verdict::Ask;
        let names: Vec<&str> = req
            .missing
            .iter()
            .map(|f| match f {
                Field::FullName => "full_name",
                Field::Class => "class",
                Field::Description => "description",
            })
            .collect();
        req.reason = format!("missing: {}", names.join(", "));
    }
    req
}

impl Request {
    /// Whether the letter answers an earlier one (headers or subject).
    pub fn is_reply(&self) -> bool {
        !self.in_reply_to.is_empty()
            || !self.references.is_empty()
            || self.ticket_tag.is_some()
            || text::has_reply_prefix(&self.subject)
    }
}

/// The longest prefix of `s` with at most `max` characters.
fn cap_chars(s: &str, max: usize) -> &str {
    // No more characters than bytes: a short text needs no count.
    if s.len() <= max {
        return s;
    }
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_order_and_staff_class() {
        assert_eq!(
            missing_fields(None, None, None, None),
            vec![Field::FullName, Field::Class, Field::Description]
        );
        assert_eq!(
            missing_fields(Some(Role::Staff), Some("Бухер В.В."), None, Some("x")),
            vec![]
        );
        assert_eq!(
            missing_fields(Some(Role::Parent), Some("Бухер В.В."), None, Some("x")),
            vec![Field::Class]
        );
    }

    #[test]
    fn garbage_gets_a_decision() {
        let ctx = Context::default();
        for raw in [&b""[..], b"\0\0\0", b"From:\r\n\r\n", b"\xff\xfe"] {
            let r = understand(raw, &ctx);
            assert!(!r.reason.is_empty());
            assert!(!r.reason.contains(PANICKED), "{raw:?}: {}", r.reason);
        }
    }

    /// Inputs built to hit quadratic paths: each must finish (a hang here
    /// is the bug; no timing is asserted).
    #[test]
    fn pathological_bodies_finish() {
        let ctx = Context::default();
        let bodies = [
            "1 ".repeat(100_000),
            "дура ".repeat(30_000),
            "Иванова Мария 5 ".repeat(15_000),
            "> ".repeat(100_000),
            "От: x\n".repeat(30_000),
            "<!--".repeat(50_000),
            "((((".repeat(30_000) + " Иванова Мария Петровна",
            "а".repeat(300_000),
        ];
        for (i, b) in bodies.iter().enumerate() {
            let raw = format!(
                "From: a@b.ru\r\nSubject: {}\r\n\r\n{b}",
                "5А ".repeat(i * 1000)
            );
            let r = understand(raw.as_bytes(), &ctx);
            assert!(!r.reason.is_empty());
            assert!(!r.reason.contains(PANICKED), "body {i}: {}", r.reason);
            let html = format!("From: a@b.ru\r\nContent-Type: text/html\r\n\r\n{b}");
            let r = understand(html.as_bytes(), &ctx);
            assert!(!r.reason.is_empty());
            assert!(!r.reason.contains(PANICKED), "html body {i}: {}", r.reason);
        }
    }

    #[test]
    fn too_large_is_refused_from_headers_only() {
        let ctx = Context {
            max_message_size: 1000,
            ..Context::default()
        };
        let mut raw = b"From: A <a@b.ru>\r\nSubject: big\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 5000));
        let r = understand(&raw, &ctx);
        assert_eq!(r.verdict, Verdict::Ignore);
        assert!(r.reason.starts_with("too large"));
        assert_eq!(r.sender.as_deref(), Some("a@b.ru"));
    }

    #[test]
    fn too_large_is_judged_by_the_header_block_the_mailbox_read() {
        let ctx = Context {
            max_message_size: 1000,
            ..Context::default()
        };
        let head = b"From: A <a@b.ru>\r\nSubject: scan\r\n\r\n";
        let r = understand_sized(head, 100 * 1024 * 1024, &ctx);
        assert_eq!(r.verdict, Verdict::Ignore);
        assert_eq!(
            r.reason,
            "too large: 104857600 bytes exceeds the limit of 1000 bytes"
        );
        assert_eq!(r.size, 100 * 1024 * 1024);
        assert_eq!(r.sender.as_deref(), Some("a@b.ru"));
        // A robot's too-large letter is a robot's: no "too large" answer for it.
        let robot = b"From: MAILER-DAEMON@mx.ru\r\nSubject: Undelivered\r\n\r\n";
        let r = understand_sized(robot, 5000, &ctx);
        assert!(r.reason.starts_with("robot: "), "{}", r.reason);
        let auto = b"From: a@b.ru\r\nAuto-Submitted: auto-replied\r\nSubject: x\r\n\r\n";
        let r = understand_sized(auto, 5000, &ctx);
        assert_eq!(r.reason, "robot: Auto-Submitted: auto-replied");
        // Within the limit, understand_sized is understand.
        let small = b"From: a@b.ru\r\nSubject: x\r\n\r\ntext";
        assert_eq!(
            understand_sized(small, small.len(), &ctx),
            understand(small, &ctx)
        );
    }
}
