//! Only the new text counts: split a body into what the writer wrote now,
//! their signature, and the quoted or forwarded earlier letters.

use std::sync::LazyLock;

use regex::Regex;

use super::pattern::LinePattern;

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

/// Separator lines that open a quoted or forwarded letter.
static SEPARATOR: LinePattern = LinePattern {
    opens: &[
        "-",
        "_",
        "=",
        "*",
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
    regex: LazyLock::new(|| {
        re(
            r"(?i)^\s*(?:[-_=*]{2,}\s*)?(?:original message|исходное сообщение|исходное письмо|пересылаемое сообщение|пересланное сообщение|пересланное письмо|forwarded message|forwarded e-?mail|переадресованное сообщение|перенаправленное сообщение|begin forwarded message|начало переадресованного сообщения|начало пересылаемого сообщения|конец пересылаемого сообщения|reply message|ответное сообщение)\s*:?\s*(?:[-_=*]{2,})?\s*$",
        )
    }),
};

/// `From:`-like line of an Outlook / mail client header block.
static HDR_FROM: LinePattern = LinePattern {
    opens: &["*", "от", "from", "кому", "to"],
    regex: LazyLock::new(|| re(r"(?i)^\s*\*?(?:от|from|отправитель|кому|to)\s*\*?\s*:\s*\S")),
};
static HDR_OTHER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*\*?(?:кому|to|тема|subject|копия|cc|от|from)\s*\*?\s*:"));
static HDR_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)^\s*\*?(?:отправлено|sent|дата|date)\s*\*?\s*:\s*\S"));

/// «… написал(а):», «… пишет:», «… wrote:».
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)(?:написал|написала|написал\(а\)|написали|пишет|писал|писала|писал\(а\)|wrote|пише)\s*:?\s*$",
    )
});
/// A line that ends with `:` after a date/time and an address or «от»:
/// mail.ru's «Понедельник, 11 марта 2024, 18:42 +03:00 от X <x@y>:».
static DATED_ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)[0-9]{1,2}:[0-9]{2}.*(?:@|(?:^|[^а-яёА-ЯЁa-zA-Z])(?:от|from)(?:[^а-яёА-ЯЁa-zA-Z]|$)).*:\s*$",
    )
});

/// Phone and web-mail footers: the line is dropped.
static FOOTER: LinePattern = LinePattern {
    opens: &[
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
        "--",
    ],
    regex: LazyLock::new(|| {
        re(
            r"(?i)^\s*(?:отправлено|отправлена|sent|послано|получено|создано|написано)\s+(?:с|со|из|from|via|через)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$|^\s*(?:get outlook for|скачайте|загрузите|download)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$|^\s*--\s*(?:отправлено|sent)(?:[^а-яёА-ЯЁa-zA-Z].{0,60})?$",
        )
    }),
};

/// «С уважением», «Best regards»…: the rest is a signature.
static CLOSING: LinePattern = LinePattern {
    opens: &[
        "с ",
        "всего ",
        "заранее ",
        "best regards",
        "kind regards",
        "regards",
        "respectfully",
    ],
    regex: LazyLock::new(|| {
        re(
            r"(?i)^\s*(?:с\s+уважением|с\s+наилучшими\s+пожеланиями|всего\s+(?:доброго|хорошего)|с\s+благодарностью|заранее\s+(?:спасибо|благодарю|благодарна|благодарен)|best regards|kind regards|regards|respectfully)(?:[\s,.!:;-]+|$)",
        )
    }),
};

/// Does the body contain a quote header at line `i`?
fn quote_header_at(lines: &[&str], i: usize) -> bool {
    let line = lines[i].trim();
    if line.is_empty() {
        return false;
    }
    if SEPARATOR.is_match(line) {
        return true;
    }
    if line.chars().all(|c| c == '_') && line.len() >= 10 {
        return true;
    }
    if HDR_FROM.is_match(line) {
        // An Outlook header block: another header line within the next
        // few lines.
        // A person's own form («От: …, Тема: …») has no date line; demand
        // one, or three header lines in a row.
        let next = lines.iter().skip(i + 1).take(5);
        let dated = next.clone().any(|l| HDR_DATE.is_match(l));
        let others = next.filter(|l| HDR_OTHER.is_match(l)).count();
        if dated || others >= 2 {
            return true;
        }
    }
    let char_len = line.chars().count();
    if char_len < 300 && line.ends_with(':') {
        if ATTRIBUTION.is_match(line) {
            return true;
        }
        if DATED_ATTRIBUTION.is_match(line) {
            return true;
        }
    }
    // Attribution wrapped over two lines.
    if let Some(next) = lines.get(i + 1) {
        let next = next.trim();
        if !next.is_empty() && next.ends_with(':') && char_len + next.chars().count() < 300 {
            let joined = format!("{line} {next}");
            if (ATTRIBUTION.is_match(&joined) || DATED_ATTRIBUTION.is_match(&joined))
                && (line.contains('@') || next.contains('@') || line.contains(',') || {
                    let l = line.to_lowercase();
                    l.contains("написал") || l.contains("wrote") || l.contains("пишет")
                })
                && lines.get(i + 2).is_none_or(|l| {
                    let t = l.trim();
                    t.is_empty() || t.starts_with('>')
                })
            {
                return true;
            }
        }
    }
    false
}

/// Split a decoded body into new text, signature and quoted material.
pub fn split(body: &str) -> Parts {
    let lines: Vec<&str> = body.lines().collect();
    let mut parts = Parts {
        new: String::with_capacity(body.len() + 1),
        ..Parts::default()
    };
    let mut in_signature = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let t = line.trim();
        if t.starts_with('>') {
            parts.quoted.push_str(t.trim_start_matches(['>', ' ']));
            parts.quoted.push('\n');
            i += 1;
            continue;
        }
        if quote_header_at(&lines, i) {
            for l in &lines[i..] {
                parts.quoted.push_str(l.trim_start_matches(['>', ' ']));
                parts.quoted.push('\n');
            }
            break;
        }
        if FOOTER.is_match(t) {
            i += 1;
            continue;
        }
        if !in_signature {
            if t == "--" || line.starts_with("-- ") && t.len() <= 3 || t == "—" || t == "__" {
                in_signature = true;
                i += 1;
                continue;
            }
            // A closing is a short line; «Заранее спасибо, у нас такая
            // проблема: …» goes on with the letter.
            if let Some(m) = CLOSING.find(t).filter(|_| t.chars().count() <= 80) {
                in_signature = true;
                parts.signature.push_str(&t[m.end()..]);
                parts.signature.push('\n');
                i += 1;
                continue;
            }
        }
        // A long line is prose, not a signature: the writer went on.
        if in_signature && t.chars().count() > 120 {
            in_signature = false;
        }
        if in_signature {
            parts.signature.push_str(t);
            parts.signature.push('\n');
        } else {
            parts.new.push_str(line);
            parts.new.push('\n');
        }
        i += 1;
    }
    // A "signature" that runs on for many lines was not one: the writer
    // went on after «С уважением» (rare) — give the text back.
    if parts
        .signature
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count()
        > 8
    {
        parts.new.push_str(&parts.signature);
        parts.signature.clear();
    }
    parts
}

static REPLY_PREFIX: LinePattern = LinePattern {
    opens: &[
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
    regex: LazyLock::new(|| {
        re(
            r"(?i)^\s*(?:(?:re|на|ответ|aw|sv|rv)\s*(?:\[[0-9]+\])?\s*:|(?:fwd?|fw|пересл|пересылка|пересылаемое)\s*:)",
        )
    }),
};
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

/// Whether a subject starts with `Re:` (or a translation of it).
pub fn has_reply_prefix(subject: &str) -> bool {
    REPLY_PREFIX.is_match(subject) && !FWD_PREFIX.is_match(subject)
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
        match REPLY_PREFIX.find(s) {
            Some(m) => s = &s[m.end()..],
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

    /// A line a pattern matches opens with one of its heads: see
    /// `pattern::tests::assert_heads_cover`. Each pattern's lines cover its
    /// alternatives.
    #[test]
    fn line_patterns_open_with_their_heads() {
        let cases: [(&LinePattern, &[&str]); 6] = [
            (
                &SEPARATOR,
                &[
                    "-----Original Message-----",
                    "== Исходное сообщение ==",
                    "__исходное письмо__",
                    "Пересылаемое сообщение",
                    "Пересланное сообщение:",
                    "пересланное письмо",
                    "---------- Forwarded message ---------",
                    "** Forwarded e-mail **",
                    "Переадресованное сообщение",
                    "Перенаправленное сообщение",
                    "Begin forwarded message:",
                    "Начало переадресованного сообщения:",
                    "Начало пересылаемого сообщения",
                    "Конец пересылаемого сообщения",
                    "Reply message",
                    "Ответное сообщение",
                ],
            ),
            (
                &HDR_FROM,
                &[
                    "От: Иван",
                    "From: x@y.ru",
                    "Отправитель: a",
                    "Кому: b",
                    "To: c",
                    "*From:* x",
                    "*От:* Техподдержка",
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
            (
                &FWD_PREFIX,
                &["Fwd: x", "Fw: x", "Пересл: x", "Пересылка: x"],
            ),
        ];
        for (pattern, lines) in cases {
            crate::request::pattern::tests::assert_heads_cover(pattern, lines);
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
