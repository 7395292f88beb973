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
    Address, Encoding, Header, HeaderName, HeaderValue, Message, MessagePart, MimeHeaders, PartType,
};

use super::Request;

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
        .or_else(|| first_addr(last.sender.and_then(HeaderValue::as_address)))
        .map(|(name, addr)| (name, addr.to_string()));
    let (name, addr) = match from {
        Some((name, addr)) => (name, Some(addr)),
        None => (None, None),
    };
    let return_path = last.return_path.and_then(|f| return_path(msg, f));
    h.null_return_path = return_path.as_deref().is_some_and(str::is_empty);
    h.sender = addr
        .map(|a| clean_address(&a))
        .filter(|a| !a.is_empty())
        .or_else(|| return_path.filter(|a| !a.is_empty()));

    h.sender_name = name
        .map(|n| repair_header(msg, HeaderName::From, &n))
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

fn first_addr<'a>(a: Option<&'a Address<'a>>) -> Option<(Option<String>, &'a str)> {
    let a = a?;
    let addr = a.iter().find(|x| x.address.is_some())?;
    Some((
        addr.name.as_deref().map(str::to_string),
        addr.address.as_deref()?,
    ))
}

/// Return-Path address: `Some("")` for `<>`, `None` when the field is
/// not UTF-8.
fn return_path(msg: &Message<'_>, field: &Header<'_>) -> Option<String> {
    let raw = msg
        .raw_message
        .get(field.offset_start as usize..field.offset_end as usize)?;
    let v = std::str::from_utf8(raw)
        .ok()?
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    Some(clean_address(v))
}

fn clean_address(a: &str) -> String {
    a.trim()
        .trim_matches(|c| c == '<' || c == '>' || c == '"' || c == '\'')
        .trim()
        .to_lowercase()
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
/// words) is decoded again from its bytes as the best Cyrillic candidate.
fn repair_header(msg: &Message<'_>, name: HeaderName<'_>, decoded: &str) -> String {
    if !decoded.contains("\u{FFFD}") {
        return decoded.to_string();
    }
    let root = msg.root_part();
    let Some(hdr) = root.headers.iter().find(|h| h.name == name) else {
        return decoded.to_string();
    };
    let raw = msg.raw_message();
    let Some(bytes) = raw.get(hdr.offset_start as usize..hdr.offset_end as usize) else {
        return decoded.to_string();
    };
    let text = best_decoding(bytes, None).0;
    let text = normalize_space(&text);
    if name == HeaderName::From {
        // The display name is what comes before the address.
        let before = text.split('<').next().unwrap_or_default();
        return before.trim().trim_matches('"').trim().to_string();
    }
    text
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
}

/// Bodies larger than this are not repaired or converted whole.
const MAX_PART_BYTES: usize = 2 * 1024 * 1024;

/// Decode the body text of a letter.
pub fn body(msg: &Message<'_>) -> Body {
    let mut out = Body {
        has_attachments: msg.attachment_count() > 0,
        ..Body::default()
    };
    for id in msg.text_body.iter().take(16) {
        let Some(part) = msg.parts.get(*id as usize) else {
            continue;
        };
        let t = part_text(msg, part);
        if !t.trim().is_empty() {
            if !out.text.is_empty() {
                out.text.push('\n');
            }
            out.text.push_str(&t);
        }
    }
    // A letter with only an HTML body mail-parser did not list as text.
    if out.text.trim().is_empty() {
        for id in msg.html_body.iter().take(16) {
            if let Some(part) = msg.parts.get(*id as usize) {
                out.text.push_str(&part_text(msg, part));
            }
        }
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
    out.text = normalize_text(&out.text);
    out.attached = normalize_text(&out.attached);
    out
}

fn part_text(msg: &Message<'_>, part: &MessagePart<'_>) -> String {
    match &part.body {
        PartType::Text(t) => repair_part(msg, part, t).into_owned(),
        PartType::Html(h) => html_to_text(&repair_part(msg, part, h)),
        _ => String::new(),
    }
}

/// Charsets that are often declared wrongly for Russian text.
fn is_cyrillic_single_byte(cs: &str) -> bool {
    matches!(
        cs.to_ascii_lowercase().as_str(),
        "koi8-r"
            | "koi8-u"
            | "koi8r"
            | "windows-1251"
            | "cp1251"
            | "win-1251"
            | "x-cp1251"
            | "iso-8859-5"
            | "ibm866"
            | "cp866"
            | "x-mac-cyrillic"
    )
}

/// Re-decode a text part from its bytes when mail-parser's decoding looks
/// wrong (U+FFFD, or a single-byte Cyrillic charset that may be the wrong
/// one, or no charset at all for 8-bit text).
fn repair_part<'a>(msg: &Message<'_>, part: &MessagePart<'_>, decoded: &'a str) -> Cow<'a, str> {
    let declared = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(|s| s.trim().to_string());
    // Searched for as a string: a `char` pattern scans for U+FFFD's last
    // byte, which Cyrillic text is full of («н» is D0 BD).
    let replaced = decoded.contains("\u{FFFD}");
    let suspicious = replaced
        || declared.as_deref().is_none_or(is_cyrillic_single_byte)
        || declared
            .as_deref()
            .is_some_and(|c| c.eq_ignore_ascii_case("us-ascii"));
    if !suspicious || decoded.is_ascii() && !replaced {
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
    let (best, best_score) = best_decoding(&bytes, declared.as_deref());
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

/// How much a text reads like Russian: common lower-case letters after
/// lower-case letters score, upper case inside words, box-drawing and
/// replacement characters cost. Mojibake of one Cyrillic single-byte
/// charset read as another is mostly upper case and scores low.
pub fn russian_score(s: &str) -> i64 {
    let mut score = 0i64;
    let mut prev_lower = false;
    for c in s.chars().take(200_000) {
        match c {
            'а'..='я' | 'ё' => {
                let w = match c {
                    'о' | 'е' | 'а' | 'и' | 'н' | 'т' | 'с' | 'р' | 'в' | 'л' => 3,
                    'к' | 'м' | 'д' | 'п' | 'у' | 'я' | 'ы' | 'ь' | 'г' | 'з' | 'б' | 'ч' => {
                        2
                    }
                    'ъ' | 'э' | 'ф' | 'щ' | 'ё' => 0,
                    _ => 1,
                };
                score += w + if prev_lower { 1 } else { 0 };
                prev_lower = true;
            }
            'А'..='Я' | 'Ё' => {
                score -= if prev_lower { 4 } else { 1 };
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
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Line ends to `\n`, no-break and odd spaces to a space, invisible
/// characters dropped, trailing blanks trimmed.
pub fn normalize_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 1);
    for line in s.split('\n') {
        // A CR before the LF is dropped like any control character; taken
        // off first, it leaves most lines of a CRLF text with nothing to
        // change.
        let line = line.strip_suffix('\r').unwrap_or(line);
        let start = out.len();
        // Runs of ordinary characters are copied whole; a line with
        // nothing to change (most lines) is, with no character decoding.
        let mut run = 0;
        if needs_normalizing(line.as_bytes()) {
            for (i, c) in line.char_indices() {
                let replace = match c {
                    '\r' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}' => None,
                    '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{2002}' | '\u{2003}'
                    | '\t' => Some(' '),
                    c if c.is_control() => None,
                    _ => continue,
                };
                out.push_str(&line[run..i]);
                out.extend(replace);
                run = i + c.len_utf8();
            }
        }
        out.push_str(&line[run..]);
        let kept = out[start..].trim_end().len();
        out.truncate(start + kept);
        out.push('\n');
    }
    out
}

/// Whether `normalize_text` would change anything in `line` but its
/// trailing blanks: a control character, or one of the spaces and
/// invisible characters it replaces (found by their UTF-8 bytes: C1
/// controls, U+00A0 and U+00AD after C2; U+2002…U+200D and U+202F after
/// E2 80; U+FEFF as EF BB BF).
fn needs_normalizing(line: &[u8]) -> bool {
    // First a branch-free look, 16 bytes at a time, for any byte that can
    // start one (most lines have none); then the exact test.
    let may_start = |b: u8| b < 0x20 || b == 0x7F || b == 0xC2 || b == 0xE2 || b == 0xEF;
    if !line
        .chunks(16)
        .any(|chunk| chunk.iter().fold(false, |any, &b| any | may_start(b)))
    {
        return false;
    }
    line.iter().enumerate().any(|(i, &b)| match b {
        0x00..=0x1F | 0x7F => true,
        0xC2 => line
            .get(i + 1)
            .is_some_and(|&n| matches!(n, 0x80..=0x9F | 0xA0 | 0xAD)),
        0xE2 => {
            line.get(i + 1) == Some(&0x80)
                && line
                    .get(i + 2)
                    .is_some_and(|&n| matches!(n, 0x82 | 0x83 | 0x87 | 0x89 | 0x8B..=0x8D | 0xAF))
        }
        0xEF => line.get(i + 1) == Some(&0xBB) && line.get(i + 2) == Some(&0xBF),
        _ => false,
    })
}

/// HTML → plain text: block elements and `<br>` become line breaks,
/// entities are decoded, `<blockquote>` content becomes `> ` lines, head,
/// style and script are dropped.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut quote_depth = 0usize;
    let mut skip_depth = 0usize; // inside head/style/script/title
    let mut at_line_start = true;
    let mut pending_space = false;
    let bytes = html.as_bytes();
    let mut i = 0;

    let newline = |out: &mut String, at_line_start: &mut bool, pending_space: &mut bool| {
        out.push('\n');
        *at_line_start = true;
        *pending_space = false;
    };

    while i < bytes.len() {
        let b = bytes[i];
        if b == b'<' {
            // Comment
            if html[i..].starts_with("<!--") {
                match html[i + 4..].find("-->") {
                    Some(p) => i = i + 4 + p + 3,
                    None => i = bytes.len(),
                }
                continue;
            }
            let Some(close) = html[i..].find('>') else {
                break;
            };
            let tag = &html[i + 1..i + close];
            i += close + 1;
            let closing = tag.starts_with('/');
            let name: String = tag
                .trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
                .take(16)
                .collect::<String>()
                .to_ascii_lowercase();
            match name.as_str() {
                "head" | "style" | "script" | "title" => {
                    if closing {
                        skip_depth = skip_depth.saturating_sub(1);
                    } else if !tag.ends_with('/') {
                        skip_depth += 1;
                    }
                }
                "blockquote" => {
                    if closing {
                        quote_depth = quote_depth.saturating_sub(1);
                    } else {
                        quote_depth += 1;
                    }
                    newline(&mut out, &mut at_line_start, &mut pending_space);
                }
                "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6"
                | "table" | "ul" | "ol" | "hr" | "pre" | "dd" | "dt" | "o:p" | "section"
                | "article" | "header" | "footer" => {
                    if name == "o:p" {
                        continue;
                    }
                    if name == "br" || !at_line_start || closing {
                        newline(&mut out, &mut at_line_start, &mut pending_space);
                    }
                }
                "td" | "th" => pending_space = true,
                _ => {}
            }
            continue;
        }
        // Text run up to the next tag.
        let end = html[i..].find('<').map_or(bytes.len(), |p| i + p);
        if skip_depth == 0 {
            let run = &html[i..end];
            let decoded = decode_entities(run);
            for c in decoded.chars() {
                if c.is_whitespace() && c != '\u{00A0}' {
                    pending_space = !at_line_start;
                    continue;
                }
                if at_line_start {
                    for _ in 0..quote_depth.min(8) {
                        out.push_str("> ");
                    }
                    at_line_start = false;
                } else if pending_space {
                    out.push(' ');
                }
                pending_space = false;
                out.push(if c == '\u{00A0}' { ' ' } else { c });
            }
        }
        i = end;
    }
    out
}

/// Decode HTML entities (`&nbsp;`, `&laquo;`, `&#171;`, `&#xAB;`…).
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p..];
        let end = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        match end {
            Some(e) if e > 1 => {
                let token = &after[..=e];
                let mut tmp = String::new();
                mail_parser::decoders::html::add_html_token(&mut tmp, token.as_bytes(), false);
                out.push_str(&tmp);
                rest = &after[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_blocks_and_entities() {
        let t = html_to_text(
            "<html><head><style>p{}</style></head><body><div>Добрый день!<br><br>1&nbsp;&laquo;Г&raquo; класс</div><p>a</p><p>b</p><blockquote>old</blockquote></body></html>",
        );
        assert!(t.contains("Добрый день!\n\n1 «Г» класс"), "{t:?}");
        assert!(t.contains("\na\n"), "{t:?}");
        assert!(t.contains("> old"), "{t:?}");
        assert!(!t.contains("p{}"));
    }

    #[test]
    fn cyrillic_candidates() {
        let text = "Здравствуйте, не могу войти в дневник";
        let cp = encoding_rs::WINDOWS_1251.encode(text).0;
        let koi = encoding_rs::KOI8_R.encode(text).0;
        assert_eq!(best_decoding(&cp, None).0, text);
        assert_eq!(best_decoding(&koi, None).0, text);
        // Mislabelled: KOI8-R bytes declared windows-1251.
        assert_eq!(best_decoding(&koi, Some("windows-1251")).0, text);
        assert_eq!(best_decoding(&cp, Some("koi8-r")).0, text);
    }

    /// The shortcut that skips re-decoding: right readings pass, both
    /// mojibakes of a mislabelled letter do not.
    #[test]
    fn right_reading_is_trusted_mojibake_is_not() {
        let text = "Здравствуйте, у дочки не открывается электронный дневник с телефона.";
        assert!(reads_as_russian(text));
        let cp = encoding_rs::WINDOWS_1251.encode(text).0;
        let koi = encoding_rs::KOI8_R.encode(text).0;
        let koi_as_cp = encoding_rs::WINDOWS_1251.decode(&koi).0;
        let cp_as_koi = encoding_rs::KOI8_R.decode(&cp).0;
        assert!(!reads_as_russian(&koi_as_cp), "{koi_as_cp}");
        assert!(!reads_as_russian(&cp_as_koi), "{cp_as_koi}");
        // Too little Cyrillic to tell: the full comparison runs.
        assert!(!reads_as_russian("Да"));
    }

    #[test]
    fn normalize_spaces_invisibles_and_line_ends() {
        assert_eq!(
            normalize_text("a\u{00A0}b\t c\r\n\u{200B}d \u{0007} \nЁж\u{00AD}ик"),
            "a b  c\nd\nЁжик\n"
        );
        assert_eq!(normalize_text(""), "\n");
    }

    #[test]
    fn lines_with_nothing_to_change_are_told_by_their_bytes() {
        // Every character normalize_text changes marks its line…
        for c in [
            '\r', '\t', '\u{0007}', '\u{007F}', '\u{0085}', '\u{00A0}', '\u{00AD}', '\u{2002}',
            '\u{2003}', '\u{2007}', '\u{2009}', '\u{200B}', '\u{200C}', '\u{200D}', '\u{202F}',
            '\u{FEFF}',
        ] {
            let line = format!("Не могу{c}войти");
            assert!(needs_normalizing(line.as_bytes()), "{:?}", c);
            assert_ne!(normalize_text(&line), format!("{line}\n"));
        }
        // …and a line of other characters, neighbours of those in UTF-8
        // included, comes out as it went in.
        for line in [
            "Иванова «Мария» — 5А, №12… ё",
            "\u{00A1}\u{00AC}\u{2001}\u{2010}\u{2030}\u{FEFE}\u{FFFD} x",
        ] {
            assert!(!needs_normalizing(line.as_bytes()), "{line}");
            assert_eq!(normalize_text(line), format!("{line}\n"));
        }
    }

    #[test]
    fn header_block_stops_at_blank_line() {
        assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_block(b"A: b\n\nbody"), b"A: b\n");
    }
}
