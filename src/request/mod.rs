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
//! * [`role`], [`name`], [`class`], [`description`]: the fields;
//! * [`crate::etiquette`]: rule 5 of the regulation;
//! * [`complaint`]: whether a letter complains about one of the desk's
//!   specialists (the router asks, with the timetable's names);
//! * `tokens`: the words, numbers and marks of a text, one pass, for the
//!   steps that read word by word (role so far) instead of running
//!   patterns; `lexicon`: word lists and stems looked up once per word by
//!   its first eight bytes (role's cues, description's markers, name's
//!   word lists);
//!   `WordSet` and `fold` here are the shared word tools.
//!
//! [`understand`] never panics and works in time and memory bounded by the
//! size limit of the [`Context`] (bodies are also capped before the
//! heuristics run).

pub mod class;
pub mod complaint;
pub mod decode;
pub mod description;
mod lexicon;
pub mod name;
mod names_data;
mod pattern;
pub mod robot;
pub mod role;
pub mod text;
mod tokens;

use std::borrow::Cow;

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
    // What `s.trim().is_empty()` says, reading from the start only: a
    // field found is seldom blank, and its first character tells.
    let blank = |s: Option<&str>| s.is_none_or(|s| s.chars().all(char::is_whitespace));
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
            req.ticket_tag = text::ticket_tag(&req.subject);
        }
        req.reason = match robot {
            // A robot gets no answer, not even "too large".
            Some(why) => joined("robot: ", &why),
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
    req.ticket_tag = text::ticket_tag(&req.subject);

    if let Some(why) = robot {
        req.reason = joined("robot: ", &why);
        return req;
    }

    let body = decode::body(&msg);
    let body_text = cap_chars(&body.text, MAX_TEXT_CHARS);
    let parts = text::split(body_text);
    let quoted = if body.attached.is_empty() {
        Cow::Borrowed(parts.quoted.as_str())
    } else {
        let attached = cap_chars(&body.attached, MAX_TEXT_CHARS);
        let mut both = String::with_capacity(parts.quoted.len() + 1 + attached.len());
        both.push_str(&parts.quoted);
        both.push('\n');
        both.push_str(attached);
        Cow::Owned(both)
    };

    let subject = text::clean_subject(cap_chars(&req.subject, 1000));
    // Asked here, right after `clean_subject`, whose code for reading a
    // subject's prefixes it shares (and finds still in the cache).
    let is_reply = req.is_reply();

    // What this writer wrote now, tokenised and folded once for role and
    // etiquette.
    let mut own = String::with_capacity(parts.new.len() + 1 + parts.signature.len());
    own.push_str(&parts.new);
    own.push('\n');
    own.push_str(&parts.signature);
    let own_tokens = tokens::tokenize(&own);

    // Etiquette looks at what this writer wrote now: new text, signature
    // and subject, never at the letters they quote. The fold of `own` is
    // that of the new text and the signature with a line break between.
    let mut folded = String::with_capacity(own.len() + subject.len() + 2);
    folded.push_str(own_tokens.folded());
    folded.push('\n');
    fold_into(&subject, &mut folded);
    folded.push('\n');
    let rude =
        crate::etiquette::check_all_folded(&[&parts.new, &parts.signature, &subject], &folded);

    let staff_by_address = req.sender.as_deref().is_some_and(|s| ctx.is_staff(s));
    let role = if staff_by_address {
        Some(Role::Staff)
    } else {
        role::detect_in(&own_tokens)
    };
    req.role = role;
    req.full_name = name::find(&parts, req.sender_name.as_deref(), role);
    req.class = class::find_folded(&own, || Cow::Borrowed(own_tokens.folded()))
        .or_else(|| class::find_in_subject(&subject));
    let gives_fields = req.full_name.is_some() || req.class.is_some();
    req.description = description::find(&parts.new, &subject, &quoted, is_reply, gives_fields);
    req.new_text = trimmed(parts.new);

    req.missing = missing_fields(
        req.role,
        req.full_name.as_deref(),
        req.class.as_deref(),
        req.description.as_deref(),
    );

    if let Some(why) = rude {
        req.verdict = Verdict::Etiquette;
        req.reason = joined("etiquette: ", &why);
    } else if req.sender.is_none() {
        req.verdict = Verdict::Ignore;
        req.reason = "no sender address to answer".to_string();
    } else if req.missing.is_empty() {
        req.verdict = Verdict::Forward;
        req.reason = "complete".to_string();
    } else {
        req.verdict = Verdict::Ask;
        // Built by hand, not with `format!` and `join`: most letters end
        // here, and the formatting machinery is a lot of code to fetch for
        // a few words.
        let mut reason = String::with_capacity(40);
        reason.push_str("missing: ");
        for (i, f) in req.missing.iter().enumerate() {
            if i > 0 {
                reason.push_str(", ");
            }
            reason.push_str(match f {
                Field::FullName => "full_name",
                Field::Class => "class",
                Field::Description => "description",
            });
        }
        req.reason = reason;
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

/// `a` then `b` in a new string: what `format!("{a}{b}")` gives, without
/// the formatting machinery's code, which is a lot to fetch for a reason.
fn joined(a: &str, b: &str) -> String {
    let mut s = String::with_capacity(a.len() + b.len());
    s.push_str(a);
    s.push_str(b);
    s
}

/// `s` without the blanks around it, trimmed in place: no copy.
fn trimmed(mut s: String) -> String {
    s.truncate(s.trim_end().len());
    // Most texts start with their first word.
    if s.starts_with(char::is_whitespace) {
        let blanks = s.len() - s.trim_start().len();
        s.drain(..blanks);
    }
    s
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

/// Lower case with `ё` folded to `е`: the form every matcher here uses.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// [`fold`] appended to `out`, for loops that fold word after word into
/// one buffer instead of allocating for each.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    // Read as bytes: ASCII and the Russian alphabet (two bytes, lead
    // 0xD0 or 0xD1) are folded without decoding characters; any other
    // character is decoded and lower-cased. Runs that stay as they are
    // (most of a letter) are copied whole. `i` and `run` only ever step
    // over whole characters, so they are always character boundaries.
    out.reserve(s.len());
    let b = s.as_bytes();
    let (mut i, mut run) = (0, 0);
    while i < b.len() {
        let x = b[i];
        let (n, folded) = if x < 0x80 {
            (1, x.is_ascii_uppercase().then(|| char::from(x + 32)))
        } else {
            let y = b.get(i + 1).copied().unwrap_or(0);
            match (x, y) {
                // а..п, р..я: as they are.
                (0xD0, 0xB0..=0xBF) | (0xD1, 0x80..=0x8F) => (2, None),
                // А..П → а..п, Р..Я → р..я: U+0410.. → U+0430..
                (0xD0, 0x90..=0xAF) => (2, char::from_u32(0x430 + u32::from(y - 0x90))),
                // Ё, ё → е
                (0xD0, 0x81) | (0xD1, 0x91) => (2, Some('е')),
                _ => {
                    let c = s[i..].chars().next().unwrap_or(' ');
                    let n = c.len_utf8();
                    if !folds_to_itself(c) {
                        out.push_str(&s[run..i]);
                        out.extend(c.to_lowercase());
                        run = i + n;
                    }
                    i += n;
                    continue;
                }
            }
        };
        if let Some(f) = folded {
            out.push_str(&s[run..i]);
            out.push(f);
            run = i + n;
        }
        i += n;
    }
    out.push_str(&s[run..]);
}

/// Whether `lead`, `next`, the first two bytes of a character of a
/// `str`, are a lower-case Russian letter а..я (U+0430..U+044F, not ё):
/// D0 B0..D0 BF or D1 80..D1 8F, read as one number, between which valid
/// UTF-8 has no other pair. No branch: in Russian text the lead bytes
/// alternate unpredictably.
#[inline(always)]
pub(crate) fn is_russian_lower(lead: u8, next: u8) -> bool {
    u16::from_be_bytes([lead, next]).wrapping_sub(0xD0B0) < 0xE0
}

/// How many letters а..я open `b` (bytes of a `str` from a character
/// boundary), two bytes each: the run the word readers pass over with
/// nothing to fold or class.
#[inline(always)]
pub(crate) fn russian_lower_run(b: &[u8]) -> usize {
    let (pairs, _) = b.as_chunks::<2>();
    pairs
        .iter()
        .take_while(|&&[lead, next]| is_russian_lower(lead, next))
        .count()
}

/// A character [`fold`] leaves as it is: lower-case Cyrillic other than
/// `ё`, ASCII other than capitals, and the common signs
/// ([`is_common_sign`]). (Not every such character: the rest are
/// lower-cased, which leaves them as they are.)
#[inline]
pub(crate) fn folds_to_itself(c: char) -> bool {
    ('а'..='я').contains(&c) || c.is_ascii() && !c.is_ascii_uppercase() || is_common_sign(c)
}

/// A character of the Latin-1 signs (U+0080..U+00BF: «, », the no-break
/// space, §, °) or of the general punctuation (U+2000..U+206F: dashes,
/// quotes, the ellipsis, spaces): the non-ASCII characters Russian text is
/// full of, each its own lower case, and all but ª, µ and º no letters.
#[inline]
fn is_common_sign(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{BF}' | '\u{2000}'..='\u{206F}')
}

/// A capital Cyrillic letter of the Russian alphabet.
#[inline]
pub(crate) fn is_cyr_upper(c: char) -> bool {
    ('А'..='Я').contains(&c) || c == 'Ё'
}

/// A lower-case Cyrillic letter of the Russian alphabet.
#[inline]
pub(crate) fn is_cyr_lower(c: char) -> bool {
    ('а'..='я').contains(&c) || c == 'ё'
}

/// A set of words (folded). The words are short and come from our own
/// lists, so a simple multiplicative hash serves, cheaper per lookup than
/// the default SipHash (which guards against inputs chosen to collide:
/// only the lists' words are ever stored).
pub(crate) type WordSet = std::collections::HashSet<&'static str, WordHash>;

/// Builds [`WordHasher`]s for [`WordSet`].
pub(crate) type WordHash = std::hash::BuildHasherDefault<WordHasher>;

/// The multiply-rotate hash of rustc's FxHasher, eight bytes at a time.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The offset in U+0400..U+047F (the Cyrillic characters written with
/// lead byte 0xD0 or 0xD1) of the character whose two UTF-8 bytes are
/// `lead` and `next`: an index into a table of that block, read without
/// a branch on which lead byte it is.
#[inline]
pub(crate) fn cyrillic_offset(lead: u8, next: u8) -> usize {
    (usize::from(lead & 1) << 6) | usize::from(next & 0x3F)
}

/// The character at byte `i` of `text`, if any (`i` a character
/// boundary: the byte-reading loops here only step over whole characters).
pub(crate) fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|r| r.chars().next())
}

/// The length in bytes of the letter ([`is_letter`]) at byte `i` of
/// `text`, or 0 when there is none. ASCII and Cyrillic (lead byte 0xD0 or
/// 0xD1: U+0400..U+047F, all letters) are told by their first byte.
pub(crate) fn letter_len(text: &str, i: usize) -> usize {
    match text.as_bytes().get(i) {
        Some(x) if x.is_ascii_alphabetic() => 1,
        Some(0xD0 | 0xD1) => 2,
        Some(&x) if x >= 0x80 => char_at(text, i)
            .filter(|&c| is_letter(c))
            .map_or(0, char::len_utf8),
        _ => 0,
    }
}

/// `char::is_alphabetic` with fast paths for ASCII, the common signs
/// ([`is_common_sign`]) and Cyrillic.
#[inline]
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else if is_common_sign(c) {
        matches!(c, 'ª' | 'µ' | 'º')
    } else {
        ('\u{0400}'..='\u{0481}').contains(&c)
            || ('\u{048A}'..='\u{04FF}').contains(&c)
            || c.is_alphabetic()
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

    /// The common signs are told at once: no letters but three, as
    /// `char::is_alphabetic` says, and each folds to itself.
    #[test]
    fn common_signs_are_told_at_once() {
        for c in ('\u{80}'..='\u{BF}').chain('\u{2000}'..='\u{206F}') {
            assert!(is_common_sign(c), "{c:?}");
            assert_eq!(is_letter(c), c.is_alphabetic(), "{c:?}");
            assert!(folds_to_itself(c), "{c:?}");
            assert_eq!(c.to_lowercase().to_string(), c.to_string(), "{c:?}");
        }
        assert!(!is_common_sign('\u{7F}') && !is_common_sign('À') && !is_common_sign('№'));
    }

    #[test]
    fn trimmed_in_place_is_str_trim() {
        for s in [
            "",
            " ",
            "\n\t ",
            "a",
            "  Илья \n",
            "\u{a0}x y\u{2003}",
            "x\n\n",
        ] {
            assert_eq!(trimmed(s.to_string()), s.trim(), "{s:?}");
        }
    }

    #[test]
    fn russian_lower_is_a_to_ya_only() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let (lead, next) = (bytes[0], bytes.get(1).copied().unwrap_or(0));
            assert_eq!(
                is_russian_lower(lead, next),
                ('а'..='я').contains(&c),
                "{c:?}"
            );
        }
        assert_eq!(russian_lower_run("приветЁж".as_bytes()), 6);
        assert_eq!(russian_lower_run("ая".as_bytes()), 2);
        assert_eq!(russian_lower_run("a".as_bytes()), 0);
    }

    #[test]
    fn fold_agrees_with_its_definition_on_every_character() {
        // The definition, character by character.
        fn reference(s: &str) -> String {
            s.chars()
                .flat_map(|c| match c {
                    'ё' | 'Ё' => vec!['е'],
                    'А'..='Я' => vec![char::from_u32(c as u32 + 32).unwrap_or(c)],
                    _ if c.is_ascii() => vec![c.to_ascii_lowercase()],
                    _ => c.to_lowercase().collect(),
                })
                .collect()
        }
        let all: String = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
        let mut out = String::from("x");
        fold_into(&all, &mut out);
        assert_eq!(out, format!("x{}", reference(&all)));
        for w in ["", "Ё", "ЁЖ", "аЯ", "İstanbul", "ΣΑΣ", "мир", "Z"] {
            assert_eq!(fold(w), reference(w), "{w}");
        }
    }

    #[test]
    fn fold_lowers_and_drops_yo() {
        let mut out = String::from(">");
        fold_into("Ёлка ЁЖ, Школа № 5 — OK ΣΑΣ ǅ ё", &mut out);
        assert_eq!(out, ">елка еж, школа № 5 — ok σασ ǆ е");
        assert_eq!(fold(""), "");
        assert_eq!(fold("уже так"), "уже так");
    }

    #[test]
    fn word_set_finds_its_words_only() {
        let set: WordSet = ["иванова", "мария", "а", "длинноесловоизсписка"]
            .into_iter()
            .collect();
        for w in ["иванова", "мария", "а", "длинноесловоизсписка"]
        {
            assert!(set.contains(w), "{w}");
        }
        for w in ["иванов", "марияа", "", "б", "длинноесловоизспискаа"]
        {
            assert!(!set.contains(w), "{w}");
        }
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
