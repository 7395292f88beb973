//! Only the writer's new text counts: a letter's body is split into what
//! they wrote now, the signature under it, and the mail they quote or forward.
//! Subjects lose their reply prefixes and ticket tags.
//!
//! The lines that start quoted mail, the clients' footers and the closing
//! phrases are data: `lexicon/quote-starts.txt`, `mobile-footers.txt`,
//! `closings.txt`, `reply-prefixes.txt`.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::words::{self, folded_words, phrase_at};

/// A body, split.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parts {
    /// What the writer wrote now, greeting to closing.
    pub new: String,
    /// The closing line and what follows it (name, position, phone).
    pub signature: String,
    /// Quoted and forwarded mail.
    pub quoted: String,
}

/// A list of whole-line regular expressions, case ignored.
fn line_set(list: &str) -> RegexSet {
    let lines: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| format!("(?i)^(?:{l})$"))
        .collect();
    RegexSet::new(lines).expect("the line lists are valid regular expressions")
}

static QUOTE_STARTS: LazyLock<RegexSet> =
    LazyLock::new(|| line_set(include_str!("lexicon/quote-starts.txt")));
static FOOTERS: LazyLock<RegexSet> =
    LazyLock::new(|| line_set(include_str!("lexicon/mobile-footers.txt")));
words::phrase_list!(CLOSINGS, "closings");

/// A line that starts quoted or forwarded mail («-----Original Message-----»,
/// «Пн, 5 дек. 2026 г. в 10:00, Desk <desk@school.ru>:»).
pub fn is_quote_start(line: &str) -> bool {
    QUOTE_STARTS.is_match(line.trim())
}

/// A closing line: starts with a closing phrase and says little else.
fn is_closing(line: &str) -> bool {
    let w = folded_words(line);
    w.len() <= 8
        && CLOSINGS
            .iter()
            .any(|p| phrase_at(&w, 0, p) && w.len() <= p.len() + 4)
}

/// Split a decoded body.
pub fn split(body: &str) -> Parts {
    let mut parts = Parts::default();
    let lines: Vec<&str> = body.lines().collect();
    // Where quoted mail starts: the first quote-start line, or the first run
    // of `>` lines that is not followed by more new text.
    let quote_line = |l: &str| l.trim().is_empty() || l.trim().starts_with('>');
    // Lines from here on are all quoted (or blank).
    let quoted_tail = lines
        .iter()
        .rposition(|l| !quote_line(l))
        .map_or(0, |i| i + 1);
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        if is_quote_start(t) || (t.starts_with('>') && i >= quoted_tail) {
            end = i;
            break;
        }
    }
    parts.quoted = lines[end..].join("\n");
    let mut own: Vec<&str> = lines[..end]
        .iter()
        .filter(|l| !l.trim_start().starts_with('>'))
        .filter(|l| !FOOTERS.is_match(l.trim()))
        .copied()
        .collect();
    while own.last().is_some_and(|l| l.trim().is_empty()) {
        own.pop();
    }
    // The signature: from a `-- ` line, or from a closing line in the last
    // lines of the letter (with at most six lines after it).
    let sig = own
        .iter()
        .position(|l| l.trim_end() == "--" || l.trim_end() == "-- ")
        .or_else(|| {
            // A closing with nothing before it is the letter itself
            // («Спасибо, всё работает!»), not its signature.
            let from = own.len().saturating_sub(7);
            (from..own.len())
                .find(|&i| is_closing(own[i]) && own[..i].iter().any(|l| !l.trim().is_empty()))
        });
    match sig {
        Some(at) => {
            parts.signature = own[at..].join("\n").trim().to_string();
            parts.new = own[..at].join("\n").trim().to_string();
        }
        None => parts.new = own.join("\n").trim().to_string(),
    }
    parts
}

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\[\s*заявка\s*#\s*(\d{1,12})\s*\]").expect("tag regex"));
words::word_set!(REPLY_PREFIXES, "reply-prefixes");

/// N from `[Заявка #N]` in a subject.
pub fn ticket_tag(subject: &str) -> Option<u64> {
    TAG.captures(subject)?.get(1)?.as_str().parse().ok()
}

/// The subject's prefixes (`Re:`, `Fwd[2]:`, `Ответ:`), in order, and what is left.
fn prefixes(subject: &str) -> (Vec<String>, &str) {
    static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^\s*(\p{L}{1,10})\s*(?:\[\d+\]|\(\d+\))?\s*:").expect("prefix regex")
    });
    let mut rest = subject;
    let mut found = Vec::new();
    while let Some(c) = PREFIX.captures(rest) {
        let word = words::fold(&c[1]);
        if !REPLY_PREFIXES.contains(&word) {
            break;
        }
        found.push(word);
        rest = &rest[c[0].len()..];
    }
    (found, rest)
}

/// Whether the subject says the letter answers or forwards another.
pub fn has_reply_prefix(subject: &str) -> bool {
    !prefixes(subject).0.is_empty()
}

/// The subject without reply prefixes and ticket tags, spaces squeezed.
pub fn clean_subject(subject: &str) -> String {
    let untagged = TAG.replace_all(subject, " ");
    let mut rest: &str = &untagged;
    loop {
        let (found, after) = prefixes(rest);
        if found.is_empty() {
            break;
        }
        rest = after;
    }
    rest.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_text_signature_and_quote() {
        let p = split(
            "Здравствуйте!\nНе открывается дневник.\n\nС уважением,\nИванова Анна\n\
             Отправлено с iPhone\n\nПн, 5 дек. 2026 г. в 10:00, Desk <desk@school.ru>:\n> Ваша заявка",
        );
        assert_eq!(p.new, "Здравствуйте!\nНе открывается дневник.");
        assert_eq!(p.signature, "С уважением,\nИванова Анна");
        assert!(p.quoted.starts_with("Пн, 5 дек."), "{p:?}");
    }

    #[test]
    fn interleaved_quotes_keep_the_answers() {
        let p = split("> Укажите класс\n5А\n> Укажите ФИО\nПетрова Мария\n");
        assert_eq!(p.new, "5А\nПетрова Мария");
        assert_eq!(p.quoted, "");
    }

    #[test]
    fn a_long_thank_you_line_is_not_a_closing() {
        let p = split(
            "Спасибо, что ответили, но пароль так и не пришёл на почту, помогите\nпожалуйста",
        );
        assert_eq!(p.signature, "");
    }

    #[test]
    fn a_letter_that_is_only_thanks_is_not_a_signature() {
        let p = split("Спасибо большое, всё работает!\n\nФролова А.В.\n");
        assert_eq!(p.new, "Спасибо большое, всё работает!\n\nФролова А.В.");
        assert_eq!(p.signature, "");
    }

    #[test]
    fn subjects() {
        assert_eq!(ticket_tag("Re: [Заявка #42] дневник"), Some(42));
        assert_eq!(
            clean_subject("RE: Fwd[2]: Ответ: [Заявка #42]  Не  входит"),
            "Не входит"
        );
        assert!(has_reply_prefix("Re: вопрос"));
        assert!(!has_reply_prefix("Реестр: вопрос"));
        assert_eq!(clean_subject("Вопрос: оценки"), "Вопрос: оценки");
    }
}
