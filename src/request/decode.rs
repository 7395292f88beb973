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
/// The letters are counted by their UTF-8, with no decoding: а…п are
/// D0 B0…BF, р…я D1 80…8F, ё D1 91; А…Я are D0 90…AF, Ё D0 81 (D0 and
/// D1 only ever lead a character, so each pair is one).
fn reads_as_russian(s: &str) -> bool {
    let bytes = s.as_bytes();
    // Each byte beside the one after it (a letter's two bytes).
    let leads = bytes
        .get(..bytes.len().saturating_sub(1))
        .unwrap_or_default();
    let nexts = bytes.get(1..).unwrap_or_default();
    let (mut lower, mut upper) = (0usize, 0usize);
    // Counted with `&` and `|`, not branches, in blocks short enough for
    // 16-bit counts: the loop runs on SIMD lanes, eight at a time.
    for (leads, nexts) in leads
        .chunks(u16::MAX as usize)
        .zip(nexts.chunks(u16::MAX as usize))
    {
        let (mut block_lower, mut block_upper) = (0u16, 0u16);
        for (&lead, &next) in leads.iter().zip(nexts) {
            let is_lower = ((lead == 0xD0) & (next >= 0xB0))
                | ((lead == 0xD1) & ((next <= 0x8F) | (next == 0x91)));
            let is_upper = (lead == 0xD0) & ((0x90..=0xAF).contains(&next) | (next == 0x81));
            block_lower += u16::from(is_lower);
            block_upper += u16::from(is_upper);
        }
        lower += usize::from(block_lower);
        upper += usize::from(block_upper);
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
/// (headers, subjects): the words of `str::split_whitespace` joined by
/// spaces, found by their bytes.
pub(crate) fn normalize_space(s: &str) -> String {
    if is_space_normal(s) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    // Where the word being read began, if one is.
    let mut word_start = None;
    let mut i = 0;
    while i < s.len() {
        let blank = whitespace_len_at(s, i);
        if blank == 0 {
            word_start.get_or_insert(i);
            i += 1;
            continue;
        }
        if let Some(start) = word_start.take() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(&s[start..i]);
        }
        i += blank;
    }
    if let Some(start) = word_start {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&s[start..]);
    }
    out
}

/// Whether `normalize_space` would leave `s` as it is, told by its bytes
/// with no branch per byte: no space at either end, no two in a row, and
/// no other white space (none of its bytes: 09…0D, nor C2, E1, E2, E3,
/// which lead U+0085, U+00A0, U+1680, U+2000…U+205F and U+3000, but also
/// «, » or —, which then take the long way).
fn is_space_normal(s: &str) -> bool {
    let b = s.as_bytes();
    let odd = |x: u8| (x.wrapping_sub(0x09) < 5) | (x == 0xC2) | (x.wrapping_sub(0xE1) < 3);
    let any_odd = b.iter().fold(false, |any, &x| any | odd(x));
    let next = b.get(1..).unwrap_or_default();
    let two_spaces = b
        .iter()
        .zip(next)
        .fold(false, |any, (&x, &y)| any | ((x == b' ') & (y == b' ')));
    !any_odd && !two_spaces && b.first() != Some(&b' ') && b.last() != Some(&b' ')
}

/// The length in bytes of the white space character (`char::is_whitespace`)
/// that starts at byte `i` of `s`, or 0 when none does. Only ASCII blanks
/// and the lead bytes C2, E1, E2 and E3 can start one (U+0085, U+00A0,
/// U+1680, U+2000…U+205F, U+3000); a word's other bytes are passed over
/// without decoding. A 0 also stands at every byte inside a character, so
/// white space always ends on a character boundary.
fn whitespace_len_at(s: &str, i: usize) -> usize {
    match s.as_bytes().get(i) {
        Some(b' ' | b'\t'..=b'\r') => 1,
        Some(0xC2 | 0xE1 | 0xE2 | 0xE3) => s
            .get(i..)
            .and_then(|rest| rest.chars().next())
            .filter(|c| c.is_whitespace())
            .map_or(0, char::len_utf8),
        _ => 0,
    }
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
    let bytes = s.as_bytes();
    out.reserve(s.len() + 1);
    // Where the current line begins in `out`, and how far `s` is copied.
    let mut line_start = out.len();
    let mut copied = 0;
    let mut i = 0;
    // Runs of ordinary characters are copied whole, found by their bytes
    // with no character decoding. Each index `i` a slice of `s` ends at
    // is that of an ASCII byte or of a lead byte (C2, E2, EF): a
    // character boundary.
    loop {
        i = next_to_check(bytes, i);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        // A line ends; its CR, if any, is dropped with the LF.
        let line_end = match b {
            b'\n' => 1,
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => 2,
            _ => 0,
        };
        if line_end > 0 {
            out.push_str(&s[copied..i]);
            end_line(out, line_start);
            line_start = out.len();
            i += line_end;
            copied = i;
            continue;
        }
        match change_at(bytes, i) {
            Some((len, replacement)) => {
                out.push_str(&s[copied..i]);
                out.extend(replacement);
                i += len;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&s[copied..]);
    end_line(out, line_start);
}

/// Ends the line that begins at `line_start` in `out`: trailing blanks
/// trimmed, `\n` added.
fn end_line(out: &mut String, line_start: usize) {
    let kept = out[line_start..].trim_end().len();
    out.truncate(line_start + kept);
    out.push('\n');
}

/// Whether byte `b` can start a character that [`normalize_text`]
/// changes, or a line break: a control character, or the lead byte of
/// one of the spaces and invisible characters it replaces.
fn may_change(b: u8) -> bool {
    // `|`, not `||`: no branches, so that a chunk of bytes is tested at
    // once (SIMD).
    (b < 0x20) | (b == 0x7F) | (b == 0xC2) | (b == 0xE2) | (b == 0xEF)
}

/// The index of the first byte from `i` on that [`may_change`], or the
/// length of `bytes`. Most of a text has none: it is looked through 16
/// bytes at a time, with no branch inside, up to the first 16 that hold
/// one.
fn next_to_check(bytes: &[u8], mut i: usize) -> usize {
    while let Some(chunk) = bytes.get(i..i + 16) {
        if chunk.iter().fold(false, |any, &b| any | may_change(b)) {
            break;
        }
        i += 16;
    }
    let rest = bytes.get(i..).unwrap_or_default();
    rest.iter()
        .position(|&b| may_change(b))
        .map_or(bytes.len(), |p| i + p)
}

/// What [`normalize_text`] does with the character that starts at byte
/// `i` (a line break aside): `None` when it is kept, else its length in
/// bytes and what takes its place (a space, or nothing). By their UTF-8:
/// C1 controls, U+00A0 and U+00AD after C2; U+2002…U+200D and U+202F
/// after E2 80; U+FEFF as EF BB BF.
fn change_at(bytes: &[u8], i: usize) -> Option<(usize, Option<char>)> {
    let at = |k: usize| bytes.get(i + k).copied();
    match at(0)? {
        b'\t' => Some((1, Some(' '))),
        // `\r` among them: a CRLF line end loses its CR.
        0x00..=0x1F | 0x7F => Some((1, None)),
        0xC2 => match at(1)? {
            0xA0 => Some((2, Some(' '))),
            0x80..=0x9F | 0xAD => Some((2, None)),
            _ => None,
        },
        0xE2 if at(1) == Some(0x80) => match at(2)? {
            0x82 | 0x83 | 0x87 | 0x89 | 0xAF => Some((3, Some(' '))),
            0x8B..=0x8D => Some((3, None)),
            _ => None,
        },
        0xEF if at(1) == Some(0xBB) && at(2) == Some(0xBF) => Some((3, None)),
        _ => None,
    }
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
            let mut name_buf = [0u8; 16];
            let name = tag_name(tag, &mut name_buf);
            match name {
                b"head" | b"style" | b"script" | b"title" => {
                    if closing {
                        skip_depth = skip_depth.saturating_sub(1);
                    } else if !tag.ends_with('/') {
                        skip_depth += 1;
                    }
                }
                b"blockquote" => {
                    if closing {
                        quote_depth = quote_depth.saturating_sub(1);
                    } else {
                        quote_depth += 1;
                    }
                    newline(&mut out, &mut at_line_start, &mut pending_space);
                }
                b"br" | b"p" | b"div" | b"tr" | b"li" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5"
                | b"h6" | b"table" | b"ul" | b"ol" | b"hr" | b"pre" | b"dd" | b"dt" | b"o:p"
                | b"section" | b"article" | b"header" | b"footer" => {
                    if name == b"o:p" {
                        continue;
                    }
                    if name == b"br" || !at_line_start || closing {
                        newline(&mut out, &mut at_line_start, &mut pending_space);
                    }
                }
                b"td" | b"th" => pending_space = true,
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

/// The name of an HTML tag (what follows `<` or `</`: ASCII letters,
/// digits and `:`, at most 16), lower case, written into `buf`.
fn tag_name<'b>(tag: &str, buf: &'b mut [u8; 16]) -> &'b [u8] {
    let name = tag
        .trim_start_matches('/')
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || b == b':');
    let mut len = 0;
    for (slot, b) in buf.iter_mut().zip(name) {
        *slot = b.to_ascii_lowercase();
        len += 1;
    }
    &buf[..len]
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
                mail_parser::decoders::html::add_html_token(&mut out, token.as_bytes(), false);
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

    /// The characters `normalize_text` changes, as it first defined them,
    /// one character at a time: `None` to keep, else what replaces it.
    fn old_change(c: char) -> Option<Option<char>> {
        match c {
            '\r' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{FEFF}' | '\u{00AD}' => Some(None),
            '\u{00A0}' | '\u{2007}' | '\u{202F}' | '\u{2009}' | '\u{2002}' | '\u{2003}' | '\t' => {
                Some(Some(' '))
            }
            c if c.is_control() => Some(None),
            _ => None,
        }
    }

    /// `normalize_text` as first written: line by line, character by
    /// character.
    fn old_normalize_text(s: &str) -> String {
        let mut out = String::new();
        for line in s.split('\n') {
            let start = out.len();
            for c in line.chars() {
                match old_change(c) {
                    None => out.push(c),
                    Some(replacement) => out.extend(replacement),
                }
            }
            let kept = out[start..].trim_end().len();
            out.truncate(start + kept);
            out.push('\n');
        }
        out
    }

    /// Strings made of pieces that `normalize_text` and `normalize_space`
    /// treat each in its own way, in many orders and at many offsets
    /// from a 16-byte boundary.
    fn mixed_texts() -> Vec<String> {
        let pieces = [
            "Не могу войти",
            "abc",
            " ",
            "  ",
            "\r\n",
            "\n",
            "\r",
            "\t",
            "\u{00A0}",
            "\u{00AD}",
            "\u{0085}",
            "\u{2003}",
            "\u{200B}",
            "\u{2028}",
            "\u{3000}",
            "\u{1680}",
            "\u{FEFF}",
            "\u{FEFE}",
            "\u{2010}",
            "«ё»",
            "\u{0007}",
            "\u{007F}",
            "x\u{00A1}",
        ];
        let mut texts: Vec<String> = pieces.iter().map(|p| p.to_string()).collect();
        // A small linear congruential generator: the same texts every run.
        let mut state: u32 = 12345;
        for _ in 0..3000 {
            let mut t = String::new();
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            for _ in 0..(state >> 16) % 12 {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                t.push_str(pieces[(state >> 16) as usize % pieces.len()]);
            }
            texts.push(t);
        }
        texts
    }

    #[test]
    fn changed_characters_are_told_by_their_bytes() {
        // Every character, as `change_at` reads its UTF-8, is changed as
        // the character-by-character definition says; the bytes that
        // start a changed character are all ones `next_to_check` stops at.
        let mut buf = [0u8; 4];
        for c in (0..=0x10FFFF)
            .filter_map(char::from_u32)
            .filter(|&c| c != '\n')
        {
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let want = old_change(c).map(|replacement| (c.len_utf8(), replacement));
            assert_eq!(change_at(bytes, 0), want, "{c:?}");
            if want.is_some() {
                assert!(may_change(bytes[0]), "{c:?}");
            }
        }
    }

    #[test]
    fn normalize_text_agrees_with_its_char_by_char_definition() {
        for t in mixed_texts() {
            assert_eq!(normalize_text(&t), old_normalize_text(&t), "{t:?}");
        }
        // Parts joined by a line break normalize as each part in turn.
        let texts = mixed_texts();
        for pair in texts.windows(2).take(500) {
            let mut parts = String::new();
            normalize_text_into(&pair[0], &mut parts);
            normalize_text_into(&pair[1], &mut parts);
            let joined = format!("{}\n{}", pair[0], pair[1]);
            assert_eq!(parts, normalize_text(&joined), "{joined:?}");
        }
    }

    #[test]
    fn normalize_space_agrees_with_split_whitespace() {
        let old = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let s = format!("{c}a{c}{c}б {c}");
            assert_eq!(normalize_space(&s), old(&s), "{c:?}");
        }
        for t in mixed_texts() {
            assert_eq!(normalize_space(&t), old(&t), "{t:?}");
        }
    }

    #[test]
    fn russian_letters_are_counted_by_their_bytes() {
        let old = |s: &str| {
            let (mut lower, mut upper) = (0usize, 0usize);
            for c in s.chars() {
                match c {
                    'а'..='я' | 'ё' => lower += 1,
                    'А'..='Я' | 'Ё' => upper += 1,
                    _ => {}
                }
            }
            lower >= 20 && lower >= 4 * upper
        };
        // Each character of the Cyrillic block and its neighbours counts as
        // a lower-case letter (20 of it alone), as a capital (against 20
        // lower-case «о») or not at all, as it did.
        for c in (0x300..=0x600).filter_map(char::from_u32) {
            let alone = c.to_string().repeat(20);
            assert_eq!(reads_as_russian(&alone), old(&alone), "{c:?}");
            let against = format!("{}{}", "о".repeat(20), c.to_string().repeat(6));
            assert_eq!(reads_as_russian(&against), old(&against), "{c:?}");
        }
    }

    #[test]
    fn tag_names() {
        let mut buf = [0u8; 16];
        assert_eq!(tag_name("/DIV class=x", &mut buf), b"div");
        assert_eq!(tag_name("o:p", &mut buf), b"o:p");
        assert_eq!(tag_name("br/", &mut buf), b"br");
        assert_eq!(tag_name("Дiv", &mut buf), b"");
        assert_eq!(
            tag_name("abcdefghijklmnopqrstuvwxyz", &mut buf),
            b"abcdefghijklmnop"
        );
        assert!(is_cyrillic_single_byte("Windows-1251"));
        assert!(!is_cyrillic_single_byte("utf-8"));
    }

    #[test]
    fn header_block_stops_at_blank_line() {
        assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n");
        assert_eq!(header_block(b"A: b\n\nbody"), b"A: b\n");
    }
}
