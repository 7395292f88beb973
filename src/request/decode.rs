//! From raw bytes to text: headers, the readable body, charset repair and
//! HTML → text.
//!
//! mail-parser does the MIME work. Two things it leaves to us:
//! * a body whose charset is missing or wrong (windows-1251 sent as
//!   `us-ascii`, KOI8-R labelled windows-1251…) comes out as U+FFFD or as
//!   mojibake; we decode the part's bytes again with each Cyrillic
//!   candidate and keep the one that reads most like Russian;
//! * its HTML → text glues block elements together; ours turns `<br>`,
//!   `<p>`, `<div>`… into line breaks and `<blockquote>` into `> ` lines.

use std::borrow::Cow;
use std::sync::LazyLock;

use mail_parser::{
    Addr, Address, Encoding, Header, HeaderName, HeaderValue, Message, MessagePart, MimeHeaders,
    PartType,
};

use super::Request;
pub use super::html::html_to_text;

/// The header fields of a letter, decoded.
#[derive(Clone, Debug, Default)]
pub struct Headers {
    pub sender: Option<String>,
    pub sender_name: Option<String>,
    pub message_id: Option<String>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub subject: String,
    pub date: Option<chrono::DateTime<chrono::FixedOffset>>,
    pub ticket_tag: Option<u64>,
    /// Return-Path present and empty (`<>`): a bounce.
    pub null_return_path: bool,
}

impl Headers {
    pub(crate) fn fill(self, req: &mut Request) {
        req.sender = self.sender;
        req.sender_name = self.sender_name;
        req.message_id = self.message_id;
        req.in_reply_to = self.in_reply_to;
        req.references = self.references;
        req.subject = self.subject;
        req.date = self.date;
        req.ticket_tag = self.ticket_tag;
    }
}

/// The parser `understand` reads letters with: mail-parser parsing only
/// the header fields we read (MIME, From, Sender, Subject, Date and the
/// message ids) and skipping every other field: `Received`, `To`, `Cc`,
/// `DKIM-Signature` and the rest are only passed over (no copy, no UTF-8
/// check). They stay in `Message::headers` with their offsets, so a field
/// read by name (`Return-Path`, the robot rules' fields) is read from the
/// raw bytes, not with `header_raw`, which finds no value for them.
pub fn parser() -> &'static mail_parser::MessageParser {
    static PARSER: LazyLock<mail_parser::MessageParser> = LazyLock::new(|| {
        mail_parser::MessageParser::new()
            .with_mime_headers()
            .with_message_ids()
            .header_address(HeaderName::From)
            .header_address(HeaderName::Sender)
            .header_text(HeaderName::Subject)
            .header_date(HeaderName::Date)
            .default_header_ignore()
    });
    &PARSER
}

/// The header block of a raw letter (up to the first empty line), at most
/// 256 KiB: what a too-large letter is judged by.
pub fn header_block(raw: &[u8]) -> &[u8] {
    let limit = raw.len().min(256 * 1024);
    let head = &raw[..limit];
    let mut end = head.len();
    for i in 0..head.len() {
        if head[i] == b'\n' {
            let rest = &head[i + 1..];
            if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
                end = i + 1;
                break;
            }
        }
    }
    &head[..end]
}

/// The last occurrence of each top-level header field [`headers`] reads,
/// found in one pass: what mail-parser's accessors (`Message::from`,
/// `subject`, `header_raw`…) would each find with a reverse scan of its
/// own over every field.
#[derive(Default)]
struct LastFields<'m, 'x> {
    from: Option<&'m HeaderValue<'x>>,
    sender: Option<&'m HeaderValue<'x>>,
    return_path: Option<&'m Header<'x>>,
    message_id: Option<&'m HeaderValue<'x>>,
    in_reply_to: Option<&'m HeaderValue<'x>>,
    references: Option<&'m HeaderValue<'x>>,
    subject: Option<&'m HeaderValue<'x>>,
    date: Option<&'m HeaderValue<'x>>,
}

impl<'m, 'x> LastFields<'m, 'x> {
    fn of(msg: &'m Message<'x>) -> Self {
        let mut last = LastFields::default();
        for f in msg.headers() {
            let v = Some(&f.value);
            match f.name {
                HeaderName::From => last.from = v,
                HeaderName::Sender => last.sender = v,
                HeaderName::ReturnPath => last.return_path = Some(f),
                HeaderName::MessageId => last.message_id = v,
                HeaderName::InReplyTo => last.in_reply_to = v,
                HeaderName::References => last.references = v,
                HeaderName::Subject => last.subject = v,
                HeaderName::Date => last.date = v,
                _ => {}
            }
        }
        last
    }
}

/// Decode the header fields we use.
pub fn headers(msg: &Message<'_>) -> Headers {
    let mut h = Headers::default();
    let last = LastFields::of(msg);

    let from = first_addr(last.from.and_then(HeaderValue::as_address))
        .or_else(|| first_addr(last.sender.and_then(HeaderValue::as_address)));
    let (name, addr) = match from {
        Some((name, addr)) => (name, Some(addr)),
        None => (None, None),
    };
    let return_path = last.return_path.and_then(|f| return_path(msg, f));
    h.null_return_path = return_path.is_some_and(|a| address_core(a).is_empty());
    h.sender = addr
        .map(clean_address)
        .filter(|a| !a.is_empty())
        .or_else(|| return_path.map(clean_address).filter(|a| !a.is_empty()));

    h.sender_name = name
        .map(|n| repair_header(msg, HeaderName::From, n))
        .map(|n| clean_display_name(&n))
        .filter(|n| !n.is_empty());

    h.message_id = last
        .message_id
        .and_then(HeaderValue::as_text)
        .map(strip_id)
        .filter(|s| !s.is_empty());
    h.in_reply_to = last.in_reply_to.map(ids).unwrap_or_default();
    h.references = last.references.map(ids).unwrap_or_default();
    h.subject = last
        .subject
        .and_then(HeaderValue::as_text)
        .map(|s| repair_header(msg, HeaderName::Subject, s))
        .map(|s| normalize_space(&s))
        .unwrap_or_default();
    h.date = last
        .date
        .and_then(HeaderValue::as_datetime)
        .and_then(to_chrono);
    h.ticket_tag = super::text::ticket_tag(&h.subject);
    h
}

/// The display name and address of the first entry with an address, in
/// a list or in groups (walked here: `Address::iter` boxes its iterator).
fn first_addr<'a>(a: Option<&'a Address<'a>>) -> Option<(Option<&'a str>, &'a str)> {
    let has_address = |x: &&Addr<'_>| x.address.is_some();
    let addr = match a? {
        Address::List(list) => list.iter().find(has_address),
        Address::Group(groups) => groups
            .iter()
            .flat_map(|g| g.addresses.iter())
            .find(has_address),
    }?;
    Some((addr.name.as_deref(), addr.address.as_deref()?))
}

/// Return-Path's address as written, without its angle brackets (`""`
/// for `<>`); `None` when the field is not UTF-8.
fn return_path<'m>(msg: &'m Message<'_>, field: &Header<'_>) -> Option<&'m str> {
    let raw = msg
        .raw_message
        .get(field.offset_start as usize..field.offset_end as usize)?;
    let v = std::str::from_utf8(raw)
        .ok()?
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    Some(v)
}

/// An address without the blanks, brackets and quotes around it.
fn address_core(a: &str) -> &str {
    a.trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '"' || c == '\'')
        .trim()
}

/// An address as [`Headers::sender`] holds it: its core, lower case.
fn clean_address(a: &str) -> String {
    address_core(a).to_lowercase()
}

fn clean_display_name(n: &str) -> String {
    normalize_space(
        n.trim()
            .trim_matches(|c: char| c == '"' || c == '\'' || c.is_whitespace()),
    )
}

fn strip_id(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let mut out: Vec<String> = match v {
        HeaderValue::Text(t) => vec![strip_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| strip_id(t)).collect(),
        _ => Vec::new(),
    };
    out.retain(|s| !s.is_empty());
    out.truncate(100);
    out
}

fn to_chrono(d: &mail_parser::DateTime) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    use chrono::TimeZone;
    let secs =
        (d.tz_hour as i32 * 3600 + d.tz_minute as i32 * 60) * if d.tz_before_gmt { -1 } else { 1 };
    let tz = chrono::FixedOffset::east_opt(secs)?;
    let date = chrono::NaiveDate::from_ymd_opt(d.year as i32, d.month as u32, d.day as u32)?;
    let time = chrono::NaiveTime::from_hms_opt(d.hour as u32, d.minute as u32, d.second as u32)?;
    tz.from_local_datetime(&date.and_time(time)).single()
}

/// A header that mail-parser decoded with U+FFFD (raw 8-bit, no encoded
/// words) is decoded again from its bytes as the best Cyrillic candidate;
/// any other is returned as it is.
fn repair_header<'a>(msg: &Message<'_>, name: HeaderName<'_>, decoded: &'a str) -> Cow<'a, str> {
    if !has_replacement_char(decoded) {
        return Cow::Borrowed(decoded);
    }
    let root = msg.root_part();
    let Some(hdr) = root.headers.iter().find(|h| h.name == name) else {
        return Cow::Borrowed(decoded);
    };
    let raw = msg.raw_message();
    let Some(bytes) = raw.get(hdr.offset_start as usize..hdr.offset_end as usize) else {
        return Cow::Borrowed(decoded);
    };
    let text = best_decoding(bytes, None).0;
    let text = normalize_space(&text);
    if name == HeaderName::From {
        // The display name is what comes before the address.
        let before = text.split('<').next().unwrap_or_default();
        return Cow::Owned(before.trim().trim_matches('"').trim().to_string());
    }
    Cow::Owned(text)
}

/// Whether `s` holds U+FFFD, the mark of a failed decoding. Its UTF-8
/// (EF BF BD) is first looked for by its first byte, which Cyrillic text
/// hardly ever has (a `char` pattern scans for the last byte, BD, which
/// Cyrillic text is full of: «н» is D0 BD).
fn has_replacement_char(s: &str) -> bool {
    let has_ef = s.as_bytes().iter().fold(false, |any, &b| any | (b == 0xEF));
    has_ef && s.contains("\u{FFFD}")
}

/// The readable content of a letter.
#[derive(Clone, Debug, Default)]
pub struct Body {
    /// The letter's own text bodies, decoded, as plain text.
    pub text: String,
    /// Text of attached letters (message/rfc822): forwarded material.
    pub attached: String,
    /// Whether there are attachments (screenshots…).
    pub has_attachments: bool,
    /// Whether the letter links to the web: an address in its text, or a
    /// link in its HTML that the text no longer shows.
    pub has_links: bool,
}

/// Bodies larger than this are not repaired or converted whole.
const MAX_PART_BYTES: usize = 2 * 1024 * 1024;

/// Decode the body text of a letter.
pub fn body(msg: &Message<'_>) -> Body {
    let mut out = Body {
        has_attachments: msg.attachment_count() > 0,
        ..Body::default()
    };
    // The text parts are joined by line breaks and normalized; as
    // `normalize_text` works line by line, each part is normalized
    // straight into the text instead, with no joined copy.
    let mut any_text = false;
    for id in msg.text_body.iter().take(16) {
        let Some(part) = msg.parts.get(*id as usize) else {
            continue;
        };
        let t = part_text(msg, part);
        if !t.trim().is_empty() {
            normalize_text_into(&t, &mut out.text);
            any_text = true;
        }
    }
    // A letter with only an HTML body mail-parser did not list as text:
    // its parts are joined with nothing between them.
    if !any_text {
        let mut html = String::new();
        for id in msg.html_body.iter().take(16) {
            if let Some(part) = msg.parts.get(*id as usize) {
                html.push_str(&part_text(msg, part));
            }
        }
        normalize_text_into(&html, &mut out.text);
    }
    for id in msg.attachments.iter().take(16) {
        if let Some(MessagePart {
            body: PartType::Message(inner),
            ..
        }) = msg.parts.get(*id as usize)
        {
            let inner_body = body(inner);
            if !out.attached.is_empty() {
                out.attached.push('\n');
            }
            out.attached.push_str(&inner_body.text);
        }
    }
    out.attached = normalize_text(&out.attached);
    let web = |t: &str| t.contains("http://") || t.contains("https://") || t.contains("www.");
    out.has_links = web(&out.text)
        || msg.parts.iter().take(64).any(|p| match &p.body {
            PartType::Html(h) => web(&h.to_lowercase()),
            _ => false,
        });
    out
}

/// A text part's text, repaired; an HTML part's, as plain text.
fn part_text<'m>(msg: &Message<'_>, part: &'m MessagePart<'_>) -> Cow<'m, str> {
    match &part.body {
        PartType::Text(t) => repair_part(msg, part, t),
        PartType::Html(h) => Cow::Owned(html_to_text(&repair_part(msg, part, h))),
        _ => Cow::Borrowed(""),
    }
}

/// Charsets that are often declared wrongly for Russian text.
const CYRILLIC_SINGLE_BYTE: &[&str] = &[
    "koi8-r",
    "koi8-u",
    "koi8r",
    "windows-1251",
    "cp1251",
    "win-1251",
    "x-cp1251",
    "iso-8859-5",
    "ibm866",
    "cp866",
    "x-mac-cyrillic",
];

/// Whether a charset is one of [`CYRILLIC_SINGLE_BYTE`], in any case.
fn is_cyrillic_single_byte(cs: &str) -> bool {
    CYRILLIC_SINGLE_BYTE
        .iter()
        .any(|name| cs.eq_ignore_ascii_case(name))
}

/// Re-decode a text part from its bytes when mail-parser's decoding looks
/// wrong (U+FFFD, or a single-byte Cyrillic charset that may be the wrong
/// one, or no charset at all for 8-bit text).
fn repair_part<'a>(msg: &Message<'_>, part: &MessagePart<'_>, decoded: &'a str) -> Cow<'a, str> {
    // ASCII text holds no U+FFFD and reads the same in every candidate.
    if decoded.is_ascii() {
        return Cow::Borrowed(decoded);
    }
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::trim);
    let replaced = has_replacement_char(decoded);
    let suspicious = replaced
        || declared.is_none_or(is_cyrillic_single_byte)
        || declared.is_some_and(|c| c.eq_ignore_ascii_case("us-ascii"));
    if !suspicious {
        return Cow::Borrowed(decoded);
    }
    // Read with the right single-byte charset, Russian is nearly all
    // lower case; read with the wrong one (KOI8-R as windows-1251 or the
    // other way round) the cases swap. A text that already reads right
    // need not be decoded three more times.
    if !replaced && reads_as_russian(decoded) {
        return Cow::Borrowed(decoded);
    }
    let raw = msg.raw_message();
    let (start, end) = (part.offset_body as usize, part.offset_end as usize);
    if end <= start || end - start > MAX_PART_BYTES {
        return Cow::Borrowed(decoded);
    }
    let Some(bytes) = raw.get(start..end) else {
        return Cow::Borrowed(decoded);
    };
    let bytes: Cow<'_, [u8]> = match part.encoding {
        Encoding::QuotedPrintable => {
            match mail_parser::decoders::quoted_printable::quoted_printable_decode(bytes) {
                Some(b) => Cow::Owned(b),
                None => return Cow::Borrowed(decoded),
            }
        }
        Encoding::Base64 => match mail_parser::decoders::base64::base64_decode(bytes) {
            Some(b) => Cow::Owned(b),
            None => return Cow::Borrowed(decoded),
        },
        Encoding::None => Cow::Borrowed(bytes),
    };
    let (best, best_score) = best_decoding(&bytes, declared);
    if best_score > russian_score(decoded) {
        Cow::Owned(best)
    } else {
        Cow::Borrowed(decoded)
    }
}

/// Decode `bytes` as UTF-8 (when valid), the declared charset, windows-1251
/// and KOI8-R, and return the reading that scores best as Russian.
pub fn best_decoding(bytes: &[u8], declared: Option<&str>) -> (String, i64) {
    let mut candidates: Vec<String> = Vec::with_capacity(4);
    if let Ok(s) = std::str::from_utf8(bytes) {
        // Valid UTF-8 with non-ASCII in it is almost never an accident.
        let s = s.to_string();
        let score = russian_score(&s) + 1_000;
        return (s, score);
    }
    if let Some(enc) = declared.and_then(|d| encoding_rs::Encoding::for_label(d.as_bytes())) {
        candidates.push(enc.decode_without_bom_handling(bytes).0.into_owned());
    }
    for enc in [encoding_rs::WINDOWS_1251, encoding_rs::KOI8_R] {
        candidates.push(enc.decode_without_bom_handling(bytes).0.into_owned());
    }
    let mut best = (String::new(), i64::MIN);
    for c in candidates {
        let s = russian_score(&c);
        if s > best.1 {
            best = (c, s);
        }
    }
    best
}

/// Cyrillic text in which lower-case letters outnumber capitals four to
/// one: the shape of Russian prose, never of its single-byte mojibake.
fn reads_as_russian(s: &str) -> bool {
    let (mut lower, mut upper) = (0usize, 0usize);
    for c in s.chars() {
        match c {
            'а'..='я' | 'ё' => lower += 1,
            'А'..='Я' | 'Ё' => upper += 1,
            _ => {}
        }
    }
    lower >= 20 && lower >= 4 * upper
}

/// How much a text reads like Russian: its letters, of either case, by how
/// common they are in Russian, weighed most; then its shape: a lower-case
/// letter after another scores, a capital after a lower-case letter inside
/// a word costs; box-drawing and replacement characters cost. Mojibake of
/// one Cyrillic single-byte charset read as another has the cases swapped
/// and the letters of a scrambled alphabet, so even a text in capitals
/// («ОПЯТЬ НЕТ ОЦЕНОК») scores above its lower-case mojibake.
pub fn russian_score(s: &str) -> i64 {
    let common = |c: char| match c {
        'о' | 'е' | 'а' | 'и' | 'н' | 'т' | 'с' | 'р' | 'в' | 'л' => 18,
        'к' | 'м' | 'д' | 'п' | 'у' | 'я' | 'ы' | 'ь' | 'г' | 'з' | 'б' | 'ч' => 12,
        'ъ' | 'э' | 'ф' | 'щ' | 'ё' => 0,
        _ => 6,
    };
    let mut score = 0i64;
    let mut prev_lower = false;
    for c in s.chars().take(200_000) {
        match c {
            'а'..='я' | 'ё' => {
                score += common(c) + if prev_lower { 1 } else { 0 };
                prev_lower = true;
            }
            'А'..='Я' | 'Ё' => {
                let lower = c.to_lowercase().next().unwrap_or(c);
                score += common(lower) - if prev_lower { 4 } else { 1 };
                prev_lower = false;
            }
            '\u{FFFD}' => {
                score -= 10;
                prev_lower = false;
            }
            '\u{2500}'..='\u{259F}' | '\u{00A0}'..='\u{00BF}' => {
                score -= 3;
                prev_lower = false;
            }
            _ => prev_lower = false,
        }
    }
    score
}

/// Collapse runs of white space to one space, none at either end
/// (headers, subjects).
pub(crate) fn normalize_space(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Line ends to `\n`, no-break and odd spaces to a space, invisible
/// characters dropped, trailing blanks trimmed: every line of `s`
/// (between `\n`s) comes out ended by `\n`.
pub fn normalize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    normalize_text_into(s, &mut out);
    out
}

/// [`normalize_text`] of `s`, added to `out`. Since it works line by
/// line, the text of parts joined by `\n` is that of each part in turn.
fn normalize_text_into(s: &str, out: &mut String) {
    for line in s.split('\n') {
        let start = out.len();
        for c in line.chars() {
            match c {
                '\t' | '\u{A0}' | '\u{2002}' | '\u{2003}' | '\u{2007}' | '\u{2009}'
                | '\u{202F}' => out.push(' '),
                // Controls (a CRLF's CR among them), soft hyphens, zero-width
                // spaces and joiners, byte-order marks.
                '\u{0}'..='\u{1F}'
                | '\u{7F}'..='\u{9F}'
                | '\u{AD}'
                | '\u{200B}'..='\u{200D}'
                | '\u{FEFF}' => {}
                c => out.push(c),
            }
        }
        end_line(out, start);
    }
}

/// Ends the line that begins at `line_start` in `out`: trailing blanks
/// trimmed, `\n` added.
fn end_line(out: &mut String, line_start: usize) {
    let kept = out[line_start..].trim_end().len();
    out.truncate(line_start + kept);
    out.push('\n');
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
