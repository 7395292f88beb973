//! Only the new text counts: split a body into what the writer wrote now,
//! their signature, and the quoted or forwarded earlier letters.

use std::sync::LazyLock;

use regex::Regex;

use super::pattern::{self, FirstsPattern, LinePattern, LineStart};

/// A body split into its pieces.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Parts {
    /// What the writer wrote now, without quotes, signature and phone
    /// footers.
    pub new: String,
    /// The signature block (after `-- ` or «С уважением»): it may carry
    /// the writer's name.
    pub signature: String,
    /// Quoted (`>`) lines and everything from the first quote header on
    /// (Outlook «От:/Отправлено:», «… написал(а):», forwarded messages).
    pub quoted: String,
}

fn re(p: &str) -> Regex {
    // Invariant: every pattern in this module is a literal that compiles.
    Regex::new(p).expect("valid regex")
}

/// Separator lines that open a quoted or forwarded letter. The heads are
/// those of the words: [`may_be_separator`] skips the decoration before
/// them (`-----`, `==`, `__`, `**`).
static SEPARATOR: FirstsPattern = FirstsPattern::new(
    &[
        "original",
        "исходное",
        "пересылаемое",
        "пересланное",
        "forwarded",
        "переадресованное",
        "перенаправленное",
        "begin",
        "начало",
        "конец",
        "reply",
        "ответное",
    ],
    || {
        re(
            r"(?i)^\s*(?:[-_=*]{2,}\s*)?(?:original message|исходное сообщение|исходное письмо|пересылаемое сообщение|пересланное сообщение|пересланное письмо|forwarded message|forwarded e-?mail|переадресованное сообщение|перенаправленное сообщение|begin forwarded message|начало переадресованного сообщения|начало пересылаемого сообщения|конец пересылаемого сообщения|reply message|ответное сообщение)\s*:?\s*(?:[-_=*]{2,})?\s*$",
        )
    },
);

/// [`SEPARATOR`]'s phrases, in lower case (a blank stands for itself),
/// `e-?mail` written out both ways: [`separator`] reads them.
const SEPARATOR_PHRASES: &[&str] = &[
    "original message",
    "исходное сообщение",
    "исходное письмо",
    "пересылаемое сообщение",
    "пересланное сообщение",
    "пересланное письмо",
    "forwarded message",
    "forwarded e-mail",
    "forwarded email",
    "переадресованное сообщение",
    "перенаправленное сообщение",
    "begin forwarded message",
    "начало переадресованного сообщения",
    "начало пересылаемого сообщения",
    "конец пересылаемого сообщения",
    "reply message",
    "ответное сообщение",
];

/// The length of the decoration (`-`, `_`, `=`, `*`) `text` opens with.
fn decoration(text: &str) -> usize {
    text.bytes()
        .take_while(|b| matches!(b, b'-' | b'_' | b'=' | b'*'))
        .count()
}

/// Whether [`SEPARATOR`] matches `text`, read without the regex engine:
/// decoration (two or more) and blanks, a phrase, blanks, a colon, blanks,
/// decoration (two or more) and blanks, each but the phrase optional.
/// `None` when only the regex can tell (see [`pattern::starts_with_word`]).
fn separator(text: &str) -> Option<bool> {
    let text = text.trim_start();
    let text = match decoration(text) {
        0 => text,
        // One sign is no decoration, and no phrase opens with it.
        1 => return Some(false),
        // The decoration is ASCII, so the phrase starts on a character
        // boundary.
        n => text[n..].trim_start(),
    };
    let mut sure = true;
    for phrase in SEPARATOR_PHRASES {
        match pattern::starts_with_word(text, phrase) {
            Some(true) => {
                // The phrase is its own length in the text (ASCII, а..я).
                let rest = text[phrase.len()..].trim_start();
                let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
                let after = match decoration(rest) {
                    0 => rest,
                    1 => continue,
                    n => &rest[n..],
                };
                if after.trim_start().is_empty() {
                    return Some(true);
                }
            }
            Some(false) => {}
            None => sure = false,
        }
    }
    sure.then_some(false)
}

/// Whether [`SEPARATOR`] matches `text`: [`separator`], or the regex
/// where that cannot tell.
fn is_separator(text: &str) -> bool {
    separator(text).unwrap_or_else(|| SEPARATOR.pattern.regex.is_match(text))
}

/// Whether a line may be a separator: its words open with a head of
/// [`SEPARATOR`] after the decoration (`-`, `_`, `=`, `*`) and blanks. A
/// signature's `--` has no words and never reaches the regex engine.
fn may_be_separator(start: &LineStart) -> bool {
    let text = start.text();
    let decoration = decoration(text);
    if decoration == 0 {
        return SEPARATOR.may_open(start);
    }
    // The decoration is ASCII, so the words start on a character boundary.
    SEPARATOR.may_open(&LineStart::new(&text[decoration..]))
}

/// A line of a quoted header block («От: …», «Тема: …»): an optional
/// `*`, one of `words`, blanks, an optional `*`, blanks and a colon, then
/// (when `value`) something that is not blank after blanks. Its regex
/// ([`header_regex`]) is made of the same words; [`header_line`] reads it
/// without the regex engine.
struct HeaderLine {
    /// The heads and the regex.
    pattern: FirstsPattern,
    words: &'static [&'static str],
    value: bool,
}

/// The regex of a [`HeaderLine`] with `words` and `value`, the words in
/// their order.
fn header_regex(words: &[&str], value: bool) -> Regex {
    let words: Vec<String> = words.iter().map(|w| regex::escape(w)).collect();
    let value = if value { r"\s*\S" } else { "" };
    re(&format!(
        r"(?i)^\s*\*?(?:{})\s*\*?\s*:{value}",
        words.join("|")
    ))
}

/// `From:`-like line of an Outlook / mail client header block. «от» and
/// «to» are heads only with what may follow them (a blank, `*`, `:`):
/// «Отправлено с iPhone» and «Today» are no header.
static HDR_FROM: HeaderLine = HeaderLine {
    pattern: FirstsPattern::new(
        &[
            "*",
            "от ",
            "от*",
            "от:",
            "отправитель",
            "from",
            "кому",
            "to ",
            "to*",
            "to:",
        ],
        || header_regex(HDR_FROM.words, HDR_FROM.value),
    ),
    words: &["от", "from", "отправитель", "кому", "to"],
    value: true,
};
/// Other lines of such a header block.
static HDR_OTHER: HeaderLine = HeaderLine {
    pattern: FirstsPattern::new(
        &[
            "*",
            "кому",
            "to ",
            "to*",
            "to:",
            "тема",
            "subject",
            "копия",
            "cc",
            "от ",
            "от*",
            "от:",
            "from",
        ],
        || header_regex(HDR_OTHER.words, HDR_OTHER.value),
    ),
    words: &["кому", "to", "тема", "subject", "копия", "cc", "от", "from"],
    value: false,
};
/// The date line of such a header block.
static HDR_DATE: HeaderLine = HeaderLine {
    pattern: FirstsPattern::new(
        &["*", "отправлено", "sent", "дата", "date"],
        || header_regex(HDR_DATE.words, HDR_DATE.value),
    ),
    words: &["отправлено", "sent", "дата", "date"],
    value: true,
};

/// Whether the [`HeaderLine`] with `words` and `value` matches `text`,
/// read without the regex engine.
/// `None` when only the regex can tell (see [`pattern::starts_with_word`]).
fn header_line(text: &str, words: &[&str], value: bool) -> Option<bool> {
    let text = text.trim_start();
    // The words open with letters: a `*` must be the optional one.
    let text = text.strip_prefix('*').unwrap_or(text);
    let mut sure = true;
    for word in words {
        match pattern::starts_with_word(text, word) {
            Some(true) => {
                // The word is its own length in the text (ASCII, а..я).
                let rest = text[word.len()..].trim_start();
                let rest = rest.strip_prefix('*').unwrap_or(rest).trim_start();
                if let Some(after) = rest.strip_prefix(':')
                    && (!value || !after.trim_start().is_empty())
                {
                    return Some(true);
                }
            }
            Some(false) => {}
            None => sure = false,
        }
    }
    sure.then_some(false)
}

/// Whether `header` matches the line `start` reads: its heads first, then
/// [`header_line`], then the regex where that cannot tell.
fn is_header(start: &LineStart, header: &HeaderLine) -> bool {
    header.pattern.may_open(start)
        && header_line(start.text(), header.words, header.value)
            .unwrap_or_else(|| header.pattern.pattern.regex.is_match(start.text()))
}

/// «… написал(а):», «… пишет:», «… wrote:».
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:написал|написала|написал\(а\)|написали|пишет|писал|писала|писал\(а\)|wrote|пише)\s*:?\s*$",
    )
});
/// [`ATTRIBUTION`]'s verbs as a line may end with them, in lower case:
/// «писал» stands for «написал» too, as the regex is not anchored at the
/// start, but «писали» is no verb of it (see [`ends_with_verb`]).
const ATTRIBUTION_TAILS: &[&str] = &[
    "писал",
    "писала",
    "писал(а)",
    "написали",
    "пишет",
    "пише",
    "wrote",
];
/// A line that ends with `:` after a date/time and an address or «от»:
/// mail.ru's «Понедельник, 11 марта 2024, 18:42 +03:00 от X <x@y>:».
static DATED_ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[0-9]{1,2}:[0-9]{2}.*(?:@|(?:^|[^а-яёА-ЯЁa-zA-Z])(?:от|from)(?:[^а-яёА-ЯЁa-zA-Z]|$)).*:\s*$",
    )
});

/// Whether `text` is an attribution: [`ATTRIBUTION`] or
/// [`DATED_ATTRIBUTION`] matches it. The first is read by
/// [`ends_with_verb`] (the regex asked only where that cannot tell), the
/// second asked only when the text has a time of day: most lines that end
/// with a colon («У нас такая проблема:») end with no verb and have none.
fn is_attribution(text: &str) -> bool {
    ends_with_verb(text).unwrap_or_else(|| ATTRIBUTION.is_match(text))
        || (has_clock(text) && DATED_ATTRIBUTION.is_match(text))
}

/// Whether [`ATTRIBUTION`] matches `text`, read without the regex engine:
/// the text ends, before its blanks, a colon and blanks, with one of
/// [`ATTRIBUTION_TAILS`]. `None` when only the regex can tell (see
/// [`pattern::ends_with_word`]).
fn ends_with_verb(text: &str) -> Option<bool> {
    let text = text.trim_end();
    let text = text.strip_suffix(':').unwrap_or(text).trim_end();
    let mut sure = true;
    for tail in ATTRIBUTION_TAILS {
        match pattern::ends_with_word(text, tail) {
            Some(true) => return Some(true),
            Some(false) => {}
            None => sure = false,
        }
    }
    sure.then_some(false)
}

/// Whether `text` has a time of day as [`DATED_ATTRIBUTION`] reads one
/// (an ASCII digit, a colon, two digits): else that regex does not match.
fn has_clock(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0].is_ascii_digit() && w[1] == b':' && w[2].is_ascii_digit() && w[3].is_ascii_digit()
    })
}

/// Phone and web-mail footers: the line is dropped. «--» is a head only
/// with what may follow it (a blank, «о», «s»): a signature's `--` is no
/// footer.
static FOOTER: FirstsPattern = FirstsPattern::new(
    &[
        "отправлен",
        "sent",
        "послано",
        "получено",
        "создано",
        "написано",
        "get outlook for",
        "скачайте",
        "загрузите",
        "download",
        "-- ",
        "--о",
        "--s",
    ],
    || {
        re(
            r"(?i)^\s*(?:отправлено|отправлена|sent|послано|получено|создано|написано)\s+(?:с|со|из|from|via|через)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$|^\s*(?:get outlook for|скачайте|загрузите|download)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$|^\s*--\s*(?:отправлено|sent)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$",
        )
    },
);

/// [`FOOTER`]'s words, in lower case (a blank stands for itself), for
/// [`footer`]: a verb and a preposition («Отправлено с …»), a phrase of
/// its own («Скачайте …»), or `--` and a verb («-- Отправлено …»).
const FOOTER_VERBS: &[&str] = &[
    "отправлено",
    "отправлена",
    "sent",
    "послано",
    "получено",
    "создано",
    "написано",
];
const FOOTER_PREPOSITIONS: &[&str] = &["с", "со", "из", "from", "via", "через"];
const FOOTER_OPENINGS: &[&str] = &["get outlook for", "скачайте", "загрузите", "download"];
const FOOTER_DASHED_VERBS: &[&str] = &["отправлено", "sent"];

/// Whether [`FOOTER`] matches `text`, read without the regex engine. `None`
/// when only the regex can tell (see [`pattern::starts_with_word`]).
fn footer(text: &str) -> Option<bool> {
    let text = text.trim_start();
    let mut sure = true;
    // Whether `rest`, after a footer's words, is its end: nothing, or a
    // character no letter of `[а-яёА-ЯЁa-zA-Z]` and at most 60 more.
    let ends = |rest: &str, sure: &mut bool| {
        let mut chars = rest.chars();
        match chars.next().map(pattern::is_class_letter) {
            None => true,
            Some(Some(true)) => false,
            Some(Some(false)) => {
                let more = chars.as_str();
                // `.` takes no line feed.
                !more.contains('\n') && more.chars().count() <= 60
            }
            Some(None) => {
                *sure = false;
                false
            }
        }
    };
    for verb in FOOTER_VERBS {
        match pattern::starts_with_word(text, verb) {
            Some(true) => {}
            Some(false) => continue,
            None => {
                sure = false;
                continue;
            }
        }
        // The verb is its own length in the text (ASCII, а..я), and the
        // blanks after it (at least one) are all those `\s+` takes.
        let rest = &text[verb.len()..];
        let words = rest.trim_start();
        if words.len() == rest.len() {
            continue;
        }
        for preposition in FOOTER_PREPOSITIONS {
            match pattern::starts_with_word(words, preposition) {
                Some(true) if ends(&words[preposition.len()..], &mut sure) => return Some(true),
                Some(_) => {}
                None => sure = false,
            }
        }
    }
    for opening in FOOTER_OPENINGS {
        match pattern::starts_with_word(text, opening) {
            // The opening is its own length in the text (ASCII, а..я).
            Some(true) if ends(&text[opening.len()..], &mut sure) => return Some(true),
            Some(_) => {}
            None => sure = false,
        }
    }
    if let Some(dashed) = text.strip_prefix("--") {
        let dashed = dashed.trim_start();
        for verb in FOOTER_DASHED_VERBS {
            match pattern::starts_with_word(dashed, verb) {
                Some(true) if ends(&dashed[verb.len()..], &mut sure) => return Some(true),
                Some(_) => {}
                None => sure = false,
            }
        }
    }
    sure.then_some(false)
}

/// Whether [`FOOTER`] matches the line `start` reads: its heads first,
/// then [`footer`], then the regex where that cannot tell.
fn is_footer(start: &LineStart) -> bool {
    FOOTER.may_open(start)
        && footer(start.text()).unwrap_or_else(|| FOOTER.pattern.regex.is_match(start.text()))
}

/// «С уважением», «Best regards»…: the rest is a signature.
static CLOSING: FirstsPattern = FirstsPattern::new(
    &[
        "с ",
        "всего ",
        "заранее ",
        "best regards",
        "kind regards",
        "regards",
        "respectfully",
    ],
    || {
        re(
            r"(?i)^\s*(?:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(?:доброго|хорошего)|с\s+благодарностью|заранее\s+(?:спасибо|благодарю|благодарна|благодарен)|best regards|kind regards|regards|respectfully)(?:[\s,.!:;-]+|$)",
        )
    },
);

/// [`CLOSING`]'s phrases in its order, each as its words (a blank inside a
/// word stands for itself, blanks between words for any blanks), for
/// [`closing_end`].
const CLOSING_PHRASES: &[&[&str]] = &[
    &["с", "уважением"],
    &["с", "наилучшими", "пожеланиями"],
    &["всего", "доброго"],
    &["всего", "хорошего"],
    &["с", "благодарностью"],
    &["заранее", "спасибо"],
    &["заранее", "благодарю"],
    &["заранее", "благодарна"],
    &["заранее", "благодарен"],
    &["best regards"],
    &["kind regards"],
    &["regards"],
    &["respectfully"],
];

/// Where [`CLOSING`]'s match in `text` ends, read without the regex engine:
/// a phrase, then the blanks and signs `,.!:;-` after it (at least one, or
/// the text's end). `Some(None)` for no match, `None` when only the regex
/// can tell (see [`pattern::starts_with_word`]).
fn closing_end(text: &str) -> Option<Option<usize>> {
    let body = text.trim_start();
    for words in CLOSING_PHRASES {
        // The first phrase that matches is the regex's (leftmost-first),
        // so one the reader cannot tell leaves the answer to the regex.
        let Some(end) = pattern::phrase_at(body, words)? else {
            continue;
        };
        let rest = &body[end..];
        let after = rest.trim_start_matches(|c: char| {
            c.is_whitespace() || matches!(c, ',' | '.' | '!' | ':' | ';' | '-')
        });
        if rest.is_empty() || after.len() < rest.len() {
            return Some(Some(text.len() - after.len()));
        }
    }
    Some(None)
}

/// Where [`CLOSING`]'s match in the line `start` reads ends (in its text
/// after the blanks): its heads first, then [`closing_end`], then the regex
/// where that cannot tell.
fn closing_in(start: &LineStart) -> Option<usize> {
    if !CLOSING.may_open(start) {
        return None;
    }
    let text = start.text();
    closing_end(text).unwrap_or_else(|| CLOSING.pattern.regex.find(text).map(|m| m.end()))
}

/// A line of the body, as it came and without the blanks around it.
#[derive(Clone, Copy)]
struct Line<'t> {
    raw: &'t str,
    trimmed: &'t str,
}

impl<'t> Line<'t> {
    fn new(raw: &'t str) -> Self {
        Line {
            raw,
            trimmed: raw.trim(),
        }
    }
}

/// Whether `a` and `b` together have fewer than `n` characters. Their
/// bytes are as many or more: the characters are counted only when the
/// bytes are not fewer.
fn fewer_chars(a: &str, b: &str, n: usize) -> bool {
    a.len() + b.len() < n || a.chars().count() + b.chars().count() < n
}

/// Does the body contain a quote header at the line `start` reads
/// (trimmed)? `next` is the line after it and `after` the lines after that.
fn quote_header_at<'t>(
    start: &LineStart<'t>,
    next: Option<Line<'t>>,
    after: &std::str::Lines<'t>,
) -> bool {
    let line = start.text();
    if line.is_empty() {
        return false;
    }
    if may_be_separator(start) && is_separator(line) {
        return true;
    }
    if line.len() >= 10 && line.bytes().all(|b| b == b'_') {
        return true;
    }
    if is_header(start, &HDR_FROM) {
        // An Outlook header block: another header line within the next
        // few lines.
        // A person's own form («От: …, Тема: …») has no date line; demand
        // one, or three header lines in a row.
        let block = next.map(|l| l.raw).into_iter().chain(after.clone()).take(5);
        if block
            .clone()
            .any(|l| is_header(&LineStart::new(l), &HDR_DATE))
            || block
                .filter(|l| is_header(&LineStart::new(l), &HDR_OTHER))
                .count()
                >= 2
        {
            return true;
        }
    }
    if line.ends_with(':') && fewer_chars(line, "", 300) && is_attribution(line) {
        return true;
    }
    // Attribution wrapped over two lines.
    if let Some(next) = next.map(|l| l.trimmed)
        && !next.is_empty()
        && next.ends_with(':')
        && fewer_chars(line, next, 300)
        && after.clone().next().is_none_or(|l| {
            let t = l.trim();
            t.is_empty() || t.starts_with('>')
        })
        && (line.contains('@') || next.contains('@') || line.contains(',') || {
            let l = line.to_lowercase();
            l.contains("написал") || l.contains("wrote") || l.contains("пишет")
        })
    {
        let mut joined = String::with_capacity(line.len() + 1 + next.len());
        joined.push_str(line);
        joined.push(' ');
        joined.push_str(next);
        if is_attribution(&joined) {
            return true;
        }
    }
    false
}

/// Split a decoded body into new text, signature and quoted material.
pub fn split(body: &str) -> Parts {
    let mut parts = Parts {
        new: String::with_capacity(body.len() + 1),
        ..Parts::default()
    };
    let mut in_signature = false;
    // The signature's lines that are not blank.
    let mut signature_lines = 0;
    let mut lines = body.lines();
    // The line after the one being read: a quote header may go on in it.
    let mut next = lines.next().map(Line::new);
    while let Some(Line {
        raw: line,
        trimmed: t,
    }) = next
    {
        next = lines.next().map(Line::new);
        if t.starts_with('>') {
            parts.quoted.push_str(t.trim_start_matches(['>', ' ']));
            parts.quoted.push('\n');
            continue;
        }
        // The line's start is read once for all the patterns below.
        let start = LineStart::new(t);
        if quote_header_at(&start, next, &lines) {
            let rest = next.map(|l| l.raw).into_iter().chain(lines);
            for l in std::iter::once(line).chain(rest) {
                parts.quoted.push_str(l.trim_start_matches(['>', ' ']));
                parts.quoted.push('\n');
            }
            break;
        }
        if is_footer(&start) {
            continue;
        }
        if !in_signature {
            if t == "--" || line.starts_with("-- ") && t.len() <= 3 || t == "—" || t == "__" {
                in_signature = true;
                continue;
            }
            // A closing is a short line; «Заранее спасибо, у нас такая
            // проблема: …» goes on with the letter.
            let closing = match fewer_chars(t, "", 81) {
                true => closing_in(&start),
                false => None,
            };
            if let Some(end) = closing {
                in_signature = true;
                let rest = &start.text()[end..];
                parts.signature.push_str(rest);
                parts.signature.push('\n');
                signature_lines += usize::from(!rest.is_empty());
                continue;
            }
        }
        // A long line is prose, not a signature: the writer went on.
        if in_signature && !fewer_chars(t, "", 121) {
            in_signature = false;
        }
        if in_signature {
            parts.signature.push_str(t);
            parts.signature.push('\n');
            signature_lines += usize::from(!t.is_empty());
        } else {
            parts.new.push_str(line);
            parts.new.push('\n');
        }
    }
    // A "signature" that runs on for many lines was not one: the writer
    // went on after «С уважением» (rare) — give the text back. (Each line
    // pushed there is trimmed and has no line break, so the count is that
    // of its lines that are not blank.)
    if signature_lines > 8 {
        parts.new.push_str(&parts.signature);
        parts.signature.clear();
    }
    parts
}

static REPLY_PREFIX: FirstsPattern = FirstsPattern::new(
    &[
        "re",
        "на",
        "ответ",
        "aw",
        "sv",
        "rv",
        "fw",
        "пересл",
        "пересы",
    ],
    || {
        re(
            r"(?i)^\s*(?:(?:re|на|ответ|aw|sv|rv)\s*(?:\[[0-9]+\])?\s*:|(?:fwd?|fw|пересл|пересылка|пересылаемое)\s*:)",
        )
    },
);
static FWD_PREFIX: LinePattern = LinePattern {
    opens: &["fw", "пересл", "пересы"],
    regex: LazyLock::new(|| re(r"(?i)^\s*(?:fwd?|fw|пересл|пересылка)\s*:")),
};
/// «[Заявка #N]», the tag our replies carry in their subject.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\[\s*заявка\s*(?:№|#|N)\s*([0-9]{1,18})\s*\]"));

/// N from «[Заявка #N]» in a subject.
pub fn ticket_tag(subject: &str) -> Option<u64> {
    // The tag opens with a bracket; most subjects have none.
    if !subject.contains('[') {
        return None;
    }
    // The tag's only ASCII digits are its number (at most 18 of them, so
    // it fits): a plain search, many times cheaper than a capturing one.
    let tag = TAG.find(subject)?;
    tag.as_str()
        .bytes()
        .filter(u8::is_ascii_digit)
        .try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
}

/// The words of [`REPLY_PREFIX`] in its order, in lower case, with what
/// each says: whether a count in brackets may follow it («Re[2]:») and
/// whether it forwards rather than answers ([`FWD_PREFIX`]'s words).
const PREFIX_WORDS: &[(&str, Prefix)] = &[
    ("re", Prefix::COUNTED_REPLY),
    ("на", Prefix::COUNTED_REPLY),
    ("ответ", Prefix::COUNTED_REPLY),
    ("aw", Prefix::COUNTED_REPLY),
    ("sv", Prefix::COUNTED_REPLY),
    ("rv", Prefix::COUNTED_REPLY),
    ("fwd", Prefix::FORWARD),
    ("fw", Prefix::FORWARD),
    ("пересл", Prefix::FORWARD),
    ("пересылка", Prefix::FORWARD),
    ("пересылаемое", Prefix::REPLY),
];

/// What a word of [`PREFIX_WORDS`] says.
#[derive(Clone, Copy)]
struct Prefix {
    /// A count in brackets may follow the word.
    counted: bool,
    /// The word forwards a letter ([`FWD_PREFIX`] matches it).
    forward: bool,
}

impl Prefix {
    const COUNTED_REPLY: Prefix = Prefix {
        counted: true,
        forward: false,
    };
    const FORWARD: Prefix = Prefix {
        counted: false,
        forward: true,
    };
    const REPLY: Prefix = Prefix {
        counted: false,
        forward: false,
    };
}

/// What [`REPLY_PREFIX`] finds at the start of a subject, read without the
/// regex engine (`None` when only the regex can tell: see
/// [`pattern::starts_with_word`]): `Some(None)` for no prefix, else where
/// the prefix ends (after its colon) and whether it forwards. Out of
/// line: `clean_subject` and `has_reply_prefix` both run it for every
/// letter, and share one copy of its code.
#[inline(never)]
fn reply_prefix(s: &str) -> Option<Option<(usize, bool)>> {
    // Most subjects open with no head of the pattern.
    let start = LineStart::new(s);
    if !REPLY_PREFIX.may_open(&start) {
        return Some(None);
    }
    let text = start.text();
    for &(word, prefix) in PREFIX_WORDS {
        if !pattern::starts_with_word(text, word)? {
            continue;
        }
        // The words are ASCII or а..я, their own length in the text.
        let mut rest = text[word.len()..].trim_start();
        if prefix.counted
            && let Some(count) = rest.strip_prefix('[')
        {
            let digits = count.bytes().take_while(u8::is_ascii_digit).count();
            if let Some(after) = count[digits..].strip_prefix(']').filter(|_| digits > 0) {
                rest = after.trim_start();
            }
        }
        if rest.starts_with(':') {
            return Some(Some((s.len() - rest.len() + 1, prefix.forward)));
        }
    }
    Some(None)
}

/// Whether a subject starts with `Re:` (or a translation of it).
pub fn has_reply_prefix(subject: &str) -> bool {
    match reply_prefix(subject) {
        Some(found) => found.is_some_and(|(_, forward)| !forward),
        None => REPLY_PREFIX.pattern.regex.is_match(subject) && !FWD_PREFIX.is_match(subject),
    }
}

/// A subject without `Re:`/`Fwd:` prefixes and the ticket tag.
pub fn clean_subject(subject: &str) -> String {
    // The tag opens with a bracket; most subjects have none.
    let untagged = match subject.contains('[') {
        true => TAG.replace_all(subject, " "),
        false => std::borrow::Cow::Borrowed(subject),
    };
    let mut s: &str = &untagged;
    for _ in 0..10 {
        let end = match reply_prefix(s) {
            Some(found) => found.map(|(end, _)| end),
            None => REPLY_PREFIX.pattern.regex.find(s).map(|m| m.end()),
        };
        match end {
            Some(end) => s = &s[end..],
            None => break,
        }
    }
    super::decode::normalize_space(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outlook_block_is_quoted() {
        let p = split(
            "Добрый день.\nПроблема.\n\nС уважением,\nБелова Т.С.\n\nОт: Техподдержка [mailto:x@y]\nОтправлено: 11 апреля 2024 г. 17:05\nКому: Белова\nТема: Re: x\n\nСтарый текст\n",
        );
        assert_eq!(p.new.trim(), "Добрый день.\nПроблема.");
        assert_eq!(p.signature.trim(), "Белова Т.С.");
        assert!(p.quoted.contains("Старый текст"));
    }

    #[test]
    fn attribution_and_gt_lines() {
        let p = split("Новое.\n\n14.03.2024 16:20, Техподдержка ЭлЖур пишет:\n> old\n");
        assert_eq!(p.new.trim(), "Новое.");
        assert!(p.quoted.contains("old"));
        let p = split(
            "Ответ\n\nпт, 15 мар. 2024 г. в 10:12, Техподдержка <\nsupport@x.ru>:\n\n> old\n",
        );
        assert_eq!(p.new.trim(), "Ответ");
    }

    #[test]
    fn footers_and_dash_signature() {
        let p = split("Текст\n\nОтправлено с iPhone\n");
        assert_eq!(p.new.trim(), "Текст");
        let p = split("Текст\n-- \nДаниил\n");
        assert_eq!(p.new.trim(), "Текст");
        assert_eq!(p.signature.trim(), "Даниил");
    }

    /// A line a pattern matches opens with one of its heads, and the set
    /// of the heads' first characters lets it through: see
    /// `pattern::tests::assert_firsts_cover` and `assert_heads_cover`. Each
    /// pattern's lines cover its alternatives.
    #[test]
    fn line_patterns_open_with_their_heads() {
        let firsts: [(&FirstsPattern, &[&str]); 6] = [
            (
                &HDR_FROM.pattern,
                &[
                    "От: Иван",
                    "From: x@y.ru",
                    "Отправитель: a",
                    "Кому: b",
                    "To: c",
                    "*From:* x",
                    "*От:* Техподдержка",
                    "От : Иван",
                    "to\t: c",
                    "ОТ*: x",
                ],
            ),
            (
                &HDR_OTHER.pattern,
                &[
                    "Кому: b",
                    "To: c",
                    "to :",
                    "TO*:",
                    "Тема: x",
                    "Subject: y",
                    "Копия: z",
                    "CC: w",
                    "От: Иван",
                    "от :",
                    "От*:",
                    "From: x@y.ru",
                    "*Subject:* y",
                ],
            ),
            (
                &HDR_DATE.pattern,
                &[
                    "Отправлено: 11 апреля 2024 г. 17:05",
                    "Sent: Monday",
                    "Дата: 1",
                    "Date : 2",
                    "*Sent:* x",
                ],
            ),
            (
                &FOOTER,
                &[
                    "Отправлено с iPhone",
                    "Отправлена из Почты Mail.ru",
                    "Sent from my iPhone",
                    "Послано с телефона",
                    "Получено через Яндекс",
                    "Создано с помощью",
                    "Написано с iPad",
                    "Get Outlook for Android",
                    "Скачайте приложение",
                    "Загрузите Почту",
                    "Download the app",
                    "-- Отправлено из мобильной Почты",
                    "--sent via app",
                    "--Отправлено из Почты",
                    "--\tsent",
                    "Отправлено со смартфона",
                ],
            ),
            (
                &CLOSING,
                &[
                    "С уважением, Иван",
                    "С\tнаилучшими пожеланиями",
                    "Всего доброго",
                    "Всего хорошего!",
                    "С благодарностью",
                    "Заранее спасибо",
                    "Заранее благодарю",
                    "заранее благодарна",
                    "Заранее благодарен",
                    "Best regards",
                    "Kind regards,",
                    "Regards",
                    "Respectfully",
                ],
            ),
            (
                &REPLY_PREFIX,
                &[
                    "Re: x",
                    "На: x",
                    "Ответ: x",
                    "AW: x",
                    "SV: x",
                    "RV: x",
                    "Re[2]: x",
                    "Fwd: x",
                    "FW: x",
                    "Пересл: x",
                    "Пересылка: x",
                    "Пересылаемое: x",
                ],
            ),
        ];
        for (pattern, lines) in firsts {
            crate::request::pattern::tests::assert_firsts_cover(pattern, lines);
        }
        let cases: [(&LinePattern, &[&str]); 1] = [(
            &FWD_PREFIX,
            &["Fwd: x", "Fw: x", "Пересл: x", "Пересылка: x"],
        )];
        for (pattern, lines) in cases {
            crate::request::pattern::tests::assert_heads_cover(pattern, lines);
        }
    }

    /// `may_be_separator` lets through every separator line, with or
    /// without its decoration.
    #[test]
    fn separators_pass_their_look() {
        crate::request::pattern::tests::assert_firsts_cover(&SEPARATOR, &["Original message"]);
        crate::request::pattern::tests::assert_covers(
            &SEPARATOR.pattern.regex,
            |line| may_be_separator(&LineStart::new(line)),
            &[
                "-----Original Message-----",
                "== Исходное сообщение ==",
                "__исходное письмо__",
                "Пересылаемое сообщение",
                "Пересланное сообщение:",
                "пересланное письмо",
                "---------- Forwarded message ---------",
                "** Forwarded e-mail **",
                "**\tForwarded email",
                "-_=* reply message",
                "Переадресованное сообщение",
                "Перенаправленное сообщение",
                "Begin forwarded message:",
                "Начало переадресованного сообщения:",
                "Начало пересылаемого сообщения",
                "Конец пересылаемого сообщения",
                "Reply message",
                "Ответное сообщение",
            ],
        );
        assert!(!may_be_separator(&LineStart::new("--")));
        assert!(!may_be_separator(&LineStart::new("-- Иван")));
    }

    /// `ends_with_verb` answers as `ATTRIBUTION` does wherever it answers
    /// (see `for_variations`), and `has_clock` lets through every line
    /// `DATED_ATTRIBUTION` matches, whatever character stands anywhere in
    /// the time.
    #[test]
    fn attributions_pass_their_looks() {
        let attributions: Vec<String> = [
            "написал",
            "написала",
            "написал(а)",
            "написали",
            "пишет",
            "писал",
            "писала",
            "писал(а)",
            "wrote",
            "пише",
        ]
        .iter()
        .flat_map(|verb| {
            [
                format!("Иван {verb}:"),
                format!("{verb}:"),
                format!("x {verb} : "),
                format!("x {verb}"),
                format!("x {verb}\u{a0}:\t"),
            ]
        })
        .collect();
        let attributions: Vec<&str> = attributions.iter().map(String::as_str).collect();
        for_variations(&attributions, |line| {
            if let Some(read) = ends_with_verb(line) {
                assert_eq!(read, ATTRIBUTION.is_match(line), "{line:?}");
            }
        });
        for line in &attributions {
            assert_eq!(ends_with_verb(line), Some(true), "{line:?}");
        }
        crate::request::pattern::tests::assert_covers(
            &DATED_ATTRIBUTION,
            has_clock,
            &[
                "1:05 от X <x@y>:",
                "Понедельник, 11 марта 2024, 18:42 +03:00 от X <x@y>:",
                "пт, 15 мар. 2024 г. в 10:12, Техподдержка <support@x.ru>:",
                "9:00 from x:",
            ],
        );
        assert_eq!(ends_with_verb("У нас такая проблема:"), Some(false));
        assert!(!has_clock("В 10 часов:"));
    }

    /// `reply_prefix` finds what `REPLY_PREFIX` finds, and tells forwards
    /// as `FWD_PREFIX` does, wherever it does not leave it to the regex:
    /// for subjects with each prefix word, counts, blanks and colons, and
    /// each of their first characters replaced by any of a wide set.
    #[test]
    fn reply_prefix_agrees_with_the_regexes() {
        let mut chars: Vec<char> = (' '..='~').chain('А'..='я').collect();
        chars.extend("ёЁ\t\u{a0}\u{2003}\u{212a}\u{17f}\u{1c80}\u{1c82}\u{1c83}\u{1c84}".chars());
        let mut subjects = vec![String::new(), "re".to_string(), "Fw d: x".to_string()];
        for (word, _) in PREFIX_WORDS {
            for form in [word.to_string(), word.to_uppercase()] {
                for tail in [
                    ": x", ":x", " : x", "[2]: x", " [12] :x", "[]: x", "[2] x", "[2]", "x: y",
                    "::", "",
                ] {
                    subjects.push(format!("{form}{tail}"));
                    subjects.push(format!(" \u{a0}{form}{tail}"));
                }
            }
        }
        for subject in &subjects {
            assert!(reply_prefix(subject).is_some(), "{subject:?}");
            let old: Vec<char> = subject.chars().collect();
            for at in 0..old.len().min(16) {
                for &c in &chars {
                    let mut new = old.clone();
                    new[at] = c;
                    let new: String = new.into_iter().collect();
                    if let Some(found) = reply_prefix(&new) {
                        let end = REPLY_PREFIX.pattern.regex.find(&new).map(|m| m.end());
                        assert_eq!(found.map(|(end, _)| end), end, "{new:?}");
                        if let Some((_, forward)) = found {
                            assert_eq!(forward, FWD_PREFIX.regex.is_match(&new), "{new:?}");
                        }
                    }
                }
            }
        }
    }

    /// Calls `f` with each of `lines` and its variations: in capitals, in
    /// small letters, with ё for е and е for ё, after blanks (a no-break
    /// space too), followed by blanks, signs or a word; and each of those
    /// with each of its first and last 16 characters replaced by each of a
    /// wide set of characters (with old Cyrillic letter forms, the Kelvin
    /// sign and the long s, which case-insensitive matching folds to
    /// letters).
    fn for_variations(lines: &[&str], mut f: impl FnMut(&str)) {
        let mut chars: Vec<char> = (' '..='~').chain('А'..='я').collect();
        chars.extend("ёЁ\t\u{a0}\u{2003}\u{212a}\u{17f}\u{1c80}\u{1c82}\u{1c83}\u{1c84}—«".chars());
        for line in lines {
            let mut forms = vec![
                line.to_string(),
                line.to_uppercase(),
                line.to_lowercase(),
                line.replace('е', "ё"),
                line.replace('ё', "е"),
                format!(" \u{a0}\t{line}"),
            ];
            for after in [
                " ",
                "\u{a0}",
                ",",
                "!",
                ":",
                " :",
                " -",
                "--",
                " x",
                "  Иван",
                "\n",
            ] {
                forms.push(format!("{line}{after}"));
            }
            for form in &forms {
                f(form);
                let old: Vec<char> = form.chars().collect();
                let n = old.len();
                for at in (0..n.min(16)).chain(n.saturating_sub(16).max(16)..n) {
                    for &c in &chars {
                        let mut new = old.clone();
                        new[at] = c;
                        let new: String = new.into_iter().collect();
                        f(&new);
                    }
                }
            }
        }
    }

    /// The readers of the lines (`separator`, `header_line`, `footer`,
    /// `closing_end`) answer as their regexes do wherever they answer, and
    /// they answer for the lines they are written for.
    #[test]
    fn line_readers_agree_with_the_regexes() {
        let separators = [
            "-----Original Message-----",
            "-------- Пересылаемое сообщение --------",
            "== Исходное сообщение ==",
            "__исходное письмо__",
            "Пересланное сообщение:",
            "пересланное письмо",
            "---------- Forwarded message ---------",
            "** Forwarded e-mail **",
            "**\tForwarded email",
            "-_=* reply message :**",
            "Переадресованное сообщение",
            "Перенаправленное сообщение",
            "Begin forwarded message:",
            "Начало переадресованного сообщения:",
            "Начало пересылаемого сообщения",
            "Конец пересылаемого сообщения",
            "Reply message",
            "Ответное сообщение",
            "-Original message-",
        ];
        for_variations(&separators, |line| {
            if let Some(read) = separator(line) {
                assert_eq!(read, SEPARATOR.pattern.regex.is_match(line), "{line:?}");
            }
        });
        let headers: [(&HeaderLine, &[&str]); 3] = [
            (
                &HDR_FROM,
                &[
                    "От: Иван",
                    "From: Бухгалтерия <buh@x.ru>",
                    "Отправитель: a",
                    "Кому: b",
                    "To: c",
                    "*From:* x",
                    "От : Иван",
                    "to\t*: c",
                    "От:",
                    "Отправитель:  ",
                ],
            ),
            (
                &HDR_OTHER,
                &[
                    "Кому: b",
                    "To:",
                    "TO*:",
                    "Тема: x",
                    "*Subject:* y",
                    "Копия: z",
                    "CC : w",
                    "от * :",
                    "From: x@y.ru",
                ],
            ),
            (
                &HDR_DATE,
                &[
                    "Отправлено: 20 мая 2024 г. 15:40",
                    "Sent: Monday, April 8, 2024 10:00 AM",
                    "Дата: 1",
                    "*Date* : 2",
                    "Отправлено:",
                ],
            ),
        ];
        for (header, lines) in headers {
            for_variations(lines, |line| {
                if let Some(read) = header_line(line, header.words, header.value) {
                    assert_eq!(
                        read,
                        header.pattern.pattern.regex.is_match(line),
                        "{line:?}"
                    );
                }
            });
        }
        let footers = [
            "Отправлено с iPhone",
            "Отправлено из мобильной Почты Mail.ru",
            "Отправлено из Яндекс Почты для мобильных",
            "Отправлена из Почты Mail.ru",
            "Sent from my iPhone",
            "Sent via app",
            "Послано с телефона",
            "Получено через Яндекс",
            "Создано со смартфона",
            "Написано с iPad",
            "Отправлено из",
            "Get Outlook for Android",
            "Скачайте приложение",
            "Загрузите",
            "Download the app",
            "-- Отправлено из мобильной Почты",
            "--sent via app",
            "Отправлено с iPhone, и это очень длинная строка, длиннее шестидесяти знаков",
        ];
        for_variations(&footers, |line| {
            if let Some(read) = footer(line) {
                assert_eq!(read, FOOTER.pattern.regex.is_match(line), "{line:?}");
            }
        });
        let closings = [
            "С уважением, Иван",
            "С уважением,",
            "С уважением",
            "С\tнаилучшими  пожеланиями!",
            "Всего доброго",
            "Всего хорошего!",
            "С благодарностью",
            "Заранее спасибо!",
            "Заранее благодарю",
            "заранее благодарна",
            "Заранее благодарен.",
            "Best regards, Ivan",
            "Kind regards,",
            "Regards",
            "Respectfully - x",
            "С уважением классный руководитель",
        ];
        for_variations(&closings, |line| {
            if let Some(read) = closing_end(line) {
                let end = CLOSING.pattern.regex.find(line).map(|m| m.end());
                assert_eq!(read, end, "{line:?}");
            }
        });
        // The lines the readers are for need no regex.
        for line in separators {
            assert_eq!(separator(line), Some(!line.starts_with("-O")), "{line:?}");
        }
        for (header, lines) in headers {
            for line in lines {
                assert!(
                    header_line(line, header.words, header.value).is_some(),
                    "{line:?}"
                );
            }
        }
        for line in &footers[..17] {
            assert_eq!(footer(line), Some(true), "{line:?}");
        }
        for line in closings {
            assert!(
                closing_end(line).is_some_and(|end| end.is_some()),
                "{line:?}"
            );
        }
    }

    #[test]
    fn subjects() {
        assert_eq!(
            clean_subject("RE: Re: [Заявка #12] Не приходит код"),
            "Не приходит код"
        );
        assert_eq!(ticket_tag("Re: Оценки [заявка № 42]"), Some(42));
        assert_eq!(ticket_tag("Re: [Заявка #1] принята"), Some(1));
        assert_eq!(ticket_tag("Заявка 42"), None);
        assert_eq!(
            ticket_tag("[x] 7 [ЗАЯВКА N 123456789012345678 ]"),
            Some(123_456_789_012_345_678)
        );
        assert_eq!(ticket_tag("[Заявка #1234567890123456789]"), None);
        assert!(has_reply_prefix("Re: x"));
        assert!(!has_reply_prefix("Fwd: x"));
    }
}
