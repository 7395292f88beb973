//! The class: a number 1–11 with an optional letter, in every spelling
//! people use (`5А`, `5 А`, `5-а`, `5 «А»`, `5"а"`, `11Б класс`,
//! `7 б класса`, Latin `5A`, `класс 9В`, `(10 В)`, «в пятом классе»),
//! normalised to digits + upper-case Cyrillic letter.
//!
//! Dates, times, grades («поставили 5»), phone numbers and counts
//! («2 четверть», «8-х классов») are not classes: a bare number counts only
//! next to the word «класс» in the singular, and a number is never read out
//! of a longer run of digits, a date or a time.

use std::sync::LazyLock;

use regex::Regex;

use super::{fold, fold_into, is_letter};

/// A candidate found in the text, with how sure we are.
#[derive(Clone, Debug, PartialEq)]
struct Candidate {
    class: String,
    strength: u8,
    pos: usize,
}

/// The Cyrillic letter a class letter stands for (Latin look-alikes
/// mapped), or `None` when the character cannot be a class letter.
fn class_letter(c: char) -> Option<char> {
    let up = match c {
        'A' | 'a' => 'А',
        'B' => 'В',
        'b' => 'Б',
        'C' | 'c' => 'С',
        'E' | 'e' => 'Е',
        'H' => 'Н',
        'K' | 'k' => 'К',
        'M' | 'm' => 'М',
        'O' | 'o' => 'О',
        'P' | 'p' => 'Р',
        'T' => 'Т',
        'X' | 'x' => 'Х',
        'ё' | 'Ё' => return None,
        c if ('а'..='я').contains(&c) || ('А'..='Я').contains(&c) => {
            c.to_uppercase().next().unwrap_or(c)
        }
        _ => return None,
    };
    if matches!(up, 'Й' | 'Ъ' | 'Ы' | 'Ь' | 'Щ' | 'Ц' | 'Ч' | 'Ш') {
        return None;
    }
    Some(up)
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '«' | '"' | '“' | '„' | '\'' | '‘' | '`')
}

fn is_close_quote(c: char) -> bool {
    matches!(c, '»' | '"' | '”' | '\'' | '’' | '`' | '“')
}

/// The word after position `i` (skipping spaces, quotes, brackets and
/// dashes), folded.
fn word_after(chars: &[char], mut i: usize) -> String {
    while i < chars.len()
        && (chars[i].is_whitespace()
            || is_close_quote(chars[i])
            || matches!(chars[i], ')' | '-' | '–' | '—' | ':'))
    {
        i += 1;
    }
    let n = chars[i..]
        .iter()
        .take_while(|c| is_letter(**c) || **c == '.')
        .take(24)
        .count();
    fold_chars(&chars[i..i + n])
}

/// `chars` folded (see [`fold`]) into one new string.
fn fold_chars(chars: &[char]) -> String {
    let mut out = String::with_capacity(chars.len() * 2);
    for c in chars {
        fold_into(c.encode_utf8(&mut [0; 4]), &mut out);
    }
    out
}

/// The words before position `i` (nearest first), folded.
fn words_before(chars: &[char], i: usize, n: usize) -> Vec<String> {
    // Within 60 characters; a word is a run of letters and dots, read
    // backwards so that only the `n` nearest are folded.
    let window = &chars[i.saturating_sub(60)..i];
    let in_word = |c: char| is_letter(c) || c == '.';
    let mut ws = Vec::with_capacity(n);
    let mut end = window.len();
    while ws.len() < n {
        while end > 0 && !in_word(window[end - 1]) {
            end -= 1;
        }
        if end == 0 {
            break;
        }
        let mut start = end;
        while start > 0 && in_word(window[start - 1]) {
            start -= 1;
        }
        let mut w = fold_chars(&window[start..end]);
        w.truncate(w.trim_end_matches('.').len());
        ws.push(w);
        end = start;
    }
    ws
}

/// «класс», «класса», «классе», «кл.», «классу»… in the singular.
fn is_class_word_singular(w: &str) -> bool {
    let w = w.trim_end_matches('.');
    matches!(
        w,
        "класс"
            | "класса"
            | "классе"
            | "классу"
            | "классом"
            | "кл"
            | "клас"
            | "класа"
            | "класе"
    )
}

fn is_class_word_plural(w: &str) -> bool {
    let w = w.trim_end_matches('.');
    matches!(w, "классов" | "классы" | "классах" | "классам" | "классами")
}

/// Ordinal endings written after a hyphen: «5-й», «8-х», «5-го», «5-м».
fn is_ordinal_suffix(s: &str) -> bool {
    matches!(
        s,
        "й" | "м"
            | "х"
            | "е"
            | "я"
            | "ю"
            | "го"
            | "ом"
            | "ый"
            | "ой"
            | "ий"
            | "ая"
            | "ое"
            | "ых"
            | "им"
            | "ым"
            | "ому"
            | "ого"
    )
}

fn student_word_before(before: &[String]) -> bool {
    before.first().is_some_and(|w| {
        matches!(
            w.as_str(),
            "из" | "в"
                | "ученик"
                | "ученица"
                | "ученика"
                | "ученицы"
                | "учусь"
                | "учится"
                | "руководитель"
        )
    })
}

/// Scan text for class candidates.
fn candidates(text: &str) -> Vec<Candidate> {
    // Every candidate starts with a digit.
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let chars: Vec<char> = text.chars().take(100_000).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        // One or two digits, no leading zero, 1–11.
        let digits = &chars[start..i];
        if digits.len() > 2 || digits[0] == '0' {
            continue;
        }
        let num = digits
            .iter()
            .fold(0, |n, d| n * 10 + d.to_digit(10).unwrap_or(0));
        if !(1..=11).contains(&num) {
            continue;
        }
        // Not part of a number, date, time, phone or school number.
        if let Some(&p) = start.checked_sub(1).and_then(|k| chars.get(k))
            && (p.is_alphanumeric()
                || matches!(
                    p,
                    '.' | ',' | ':' | '/' | '+' | '№' | '#' | '-' | '_' | '*' | '='
                ))
        {
            continue;
        }
        if chars[start.saturating_sub(3)..start]
            .iter()
            .any(|c| matches!(c, '№' | '#'))
        {
            continue;
        }
        if let Some(&n) = chars.get(i)
            && matches!(n, '.' | ',' | ':' | '/' | '%' | '*' | '×' | 'x')
            && chars.get(i + 1).is_some_and(|c| c.is_ascii_digit())
        {
            continue;
        }
        let before = words_before(&chars, start, 3);
        let class_before = before.first().is_some_and(|w| is_class_word_singular(w))
            || before.get(1).is_some_and(|w| is_class_word_singular(w))
                && before
                    .first()
                    .is_some_and(|w| w == "в" || w == "номер" || w == "это");
        let label_before = {
            // «Класс: 5А» / «Класс - 5 А» at the start of a line.
            // Look back at most 40 characters: a label is short, and a
            // long line full of digits must not cost quadratic time.
            let window = start.saturating_sub(40);
            let line_start = chars[window..start]
                .iter()
                .rposition(|c| *c == '\n')
                .map_or(window, |p| window + p + 1);
            let head = &chars[line_start..start];
            // Only a head that starts with «к» can be a label: fold no other.
            head.iter()
                .find(|c| !c.is_whitespace())
                .is_some_and(|c| matches!(c, 'к' | 'К'))
                && {
                    let h = fold_chars(head);
                    let h = h.trim();
                    h.starts_with("класс") && h.len() < 40 || h.starts_with("кл.") && h.len() < 20
                }
        };

        // What follows the number: separator, quotes, a letter?
        let mut j = i;
        let mut spaces = 0;
        let mut hyphen = false;
        while j < chars.len() && j - i < 4 {
            match chars[j] {
                ' ' | '\u{a0}' => spaces += 1,
                '-' | '–' | '—' => hyphen = true,
                _ => break,
            }
            j += 1;
        }
        let mut quoted = false;
        if j < chars.len() && is_open_quote(chars[j]) {
            quoted = true;
            j += 1;
        }
        // The run of letters right after.
        let letters_end = {
            let mut k = j;
            while k < chars.len() && is_letter(chars[k]) {
                k += 1;
            }
            k
        };
        let run_len = letters_end - j;
        // The run of letters, folded once for the tests below.
        let run = fold_chars(&chars[j..letters_end]);
        let mut lettered: Option<(char, bool)> = None; // (letter, was upper)
        let mut after = letters_end;
        if run_len == 1 {
            let c = chars[j];
            let closes = !quoted || chars.get(letters_end).is_some_and(|c| is_close_quote(*c));
            if closes {
                if quoted {
                    after += 1;
                }
                // «5-й», «в 10м классе»: an ordinal ending, not a letter.
                let ordinal_glued = !hyphen
                    && spaces == 0
                    && matches!(c, 'м' | 'х' | 'й' | 'ю' | 'я')
                    && is_class_word_singular(&word_after(&chars, letters_end));
                if (hyphen && is_ordinal_suffix(&run) || ordinal_glued) && !c.is_uppercase() {
                    lettered = None;
                } else if let Some(l) = class_letter(c) {
                    lettered = Some((l, c.is_uppercase()));
                }
            }
        } else if hyphen && run_len <= 3 && is_ordinal_suffix(&run) {
            // «5-го класса», «8-х классов»: an ordinal; the word after decides.
            after = letters_end;
        }
        let next_word = if lettered.is_none() && run_len > 1 && !(hyphen && is_ordinal_suffix(&run))
        {
            run
        } else {
            word_after(&chars, after)
        };
        let class_after = is_class_word_singular(&next_word);
        let plural_after = is_class_word_plural(&next_word);
        let class_ctx = class_before || class_after || label_before;

        if let Some((letter, upper)) = lettered {
            if plural_after {
                continue;
            }
            let adjacent = spaces == 0;
            let latin = chars[j].is_ascii_alphabetic();
            // «1С» is the accounting program, «4G»/«3D» are not classes.
            let strength = if class_ctx {
                3
            } else if quoted {
                2
            } else if adjacent
                && !(num == 1 && letter == 'С' && !class_ctx)
                && (upper || !hyphen || !latin)
            {
                if latin && !upper && !hyphen { 1 } else { 2 }
            } else if spaces > 0 && upper && !latin {
                // «6 В» with a capital: a class letter, not a preposition.
                1
            } else if spaces > 0 && student_word_before(&before) && {
                // Lower-case «б», «г», «д» after «из», «в», «ученик»; «а»
                // only when nothing follows it («из 8 а,»); prepositions
                // («в», «с», «к»…) never without «класс».
                let ends = chars
                    .get(after)
                    .is_none_or(|c| matches!(c, ',' | '.' | ')' | '\n' | ';' | '!' | '?'));
                !matches!(letter, 'В' | 'И' | 'С' | 'К' | 'О' | 'У' | 'Я' | 'А')
                    || letter == 'А' && ends
            } {
                1
            } else {
                0
            };
            if strength > 0 {
                out.push(Candidate {
                    class: format!("{num}{letter}"),
                    strength,
                    pos: start,
                });
                i = after.max(i);
                continue;
            }
        }
        // A bare number next to «класс».
        if (class_after || (label_before || class_before) && run_len == 0) && !plural_after {
            out.push(Candidate {
                class: num.to_string(),
                strength: 1,
                pos: start,
            });
        }
    }
    out
}

static ORDINAL_CLASS: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern that compiles.
    Regex::new(r#"(?:^|[^а-яёА-ЯЁa-zA-Z])(перв|втор|трет|четверт|пят|шест|седьм|восьм|девят|десят|одиннадцат)(?:ый|ой|ий|ого|ом|ая|ую|ье|ьего|ьем|ий|ем|его|ому|ьему)\s+(?:[«"'(]?\s*([а-я])\s*[»"')]?\s+)?(класс|класса|классе|классу)(?:[^а-яёА-ЯЁa-zA-Z]|$)|(?:^|[^а-яёА-ЯЁa-zA-Z])(перво|второ|третье|четверто|пяти|шести|седьмо|восьми|девяти|десяти|одиннадцати)классни"#).expect("valid regex")
});

fn ordinal_number(stem: &str) -> Option<u32> {
    Some(match stem {
        "перв" | "перво" => 1,
        "втор" | "второ" => 2,
        "трет" | "третье" => 3,
        "четверт" | "четверто" => 4,
        "пят" | "пяти" => 5,
        "шест" | "шести" => 6,
        "седьм" | "седьмо" => 7,
        "восьм" | "восьми" => 8,
        "девят" | "девяти" => 9,
        "десят" | "десяти" => 10,
        "одиннадцат" | "одиннадцати" => 11,
        _ => return None,
    })
}

/// «6-й класс, буква В», «5 класс (литера А)»: a letter named in words
/// shortly after a bare number, in the folded text that follows it.
static NAMED_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern that compiles.
    Regex::new(
        r#"^[^.!?\n]{0,24}?(?:^|[^а-яa-z])(?:буква|литера|лит\.)\s*[-–:]?\s*[«"'(]?\s*([а-яa-z])\s*[»"')]?(?:[^а-яa-z]|$)"#,
    )
    .expect("valid regex")
});

fn named_letter(after: &str) -> Option<char> {
    let head: String = after.chars().take(60).collect();
    let f = fold(&head);
    let c = NAMED_LETTER.captures(&f)?.get(1)?.as_str().chars().next()?;
    class_letter(c)
}

/// The writer's class from the letter's own text, normalised.
pub fn find(text: &str) -> Option<String> {
    let mut cands = candidates(text);
    // The folded text serves the ordinal spelling («в пятом классе»),
    // which needs the word «класс»: fold only a text that has it.
    let folded = if text.contains("ласс") || text.contains("ЛАСС") {
        fold(text)
    } else {
        String::new()
    };
    // The fast search first; the capturing one only over its match.
    let ordinal = folded
        .contains("класс")
        .then(|| ORDINAL_CLASS.find(&folded))
        .flatten()
        .and_then(|m| {
            ORDINAL_CLASS
                .captures(&folded[m.range()])
                .map(|c| (m.end(), c))
        });
    let mut ordinal_end = folded.len();
    if let Some((end, c)) = ordinal {
        let stem = c.get(1).or_else(|| c.get(4)).map(|m| m.as_str());
        // «в пятом «Б» классе»: the letter between the ordinal and «классе».
        let letter = c.get(2).map(|m| m.as_str().to_uppercase());
        if let Some(n) = stem.and_then(ordinal_number) {
            ordinal_end = end;
            cands.push(Candidate {
                class: format!("{n}{}", letter.as_deref().unwrap_or("")),
                strength: if letter.is_some() { 3 } else { 1 },
                pos: usize::MAX,
            });
        }
    }
    // A labelled or «класс»-marked lettered class first, then any lettered
    // one, then a bare number; earliest within a tier.
    let lettered = |c: &&Candidate| c.class.chars().any(|ch| !ch.is_ascii_digit());
    if let Some(c) = cands
        .iter()
        .filter(lettered)
        .filter(|c| c.strength >= 3)
        .min_by_key(|c| c.pos)
    {
        return Some(c.class.clone());
    }
    if let Some(c) = cands
        .iter()
        .filter(lettered)
        .min_by_key(|c| (std::cmp::Reverse(c.strength.min(2)), c.pos))
    {
        return Some(c.class.clone());
    }
    let bare = cands.iter().min_by_key(|c| c.pos)?;
    // A bare number may have its letter spelt out after it.
    let after = if bare.pos == usize::MAX {
        folded.get(ordinal_end..).unwrap_or_default()
    } else {
        let digits = bare.class.len();
        text.char_indices()
            .nth(bare.pos + digits)
            .map_or("", |(i, _)| &text[i..])
    };
    Some(match named_letter(after) {
        Some(l) => format!("{}{l}", bare.class),
        None => bare.class.clone(),
    })
}

/// A class in the subject: only the unmistakable spellings.
pub fn find_in_subject(subject: &str) -> Option<String> {
    candidates(subject)
        .into_iter()
        .find(|c| c.strength >= 2)
        .map(|c| c.class)
}

#[cfg(test)]
mod tests {
    use super::{find, words_before};

    #[test]
    fn nearest_words_first() {
        let chars: Vec<char> = "Ученица кл. ... Школы №5, ДОЧЬ в 7".chars().collect();
        let at = chars.len() - 1;
        assert_eq!(words_before(&chars, at, 3), vec!["в", "дочь", "школы"]);
        assert_eq!(
            words_before(&chars, at, 5),
            vec!["в", "дочь", "школы", "", "кл"]
        );
        assert!(words_before(&chars, 0, 3).is_empty());
    }

    #[test]
    fn spellings() {
        for (t, want) in [
            ("ученица 6 В класса", "6В"),
            ("мама ученика 5А", "5А"),
            ("5-а класс", "5А"),
            ("ученика 1 «Г» класса", "1Г"),
            ("ученицы 3 «В» класса", "3В"),
            ("класс 5\"а\"", "5А"),
            ("Ученик 11 класса", "11"),
            ("Дочь в 7 б классе", "7Б"),
            ("У дочери (5A класс)", "5А"),
            ("Класс: 9В", "9В"),
            ("Класс - 5 а", "5А"),
            ("сын (10 В) не может", "10В"),
            ("это Даша из 8 б, я", "8Б"),
            ("сын учится в пятом классе", "5"),
            ("сын учится в пятом «Б» классе", "5Б"),
            ("дочь в седьмом \"в\" классе", "7В"),
            ("в 5-м классе", "5"),
            ("11Б класс", "11Б"),
            ("сын в 10м классе", "10"),
            ("Шустов, сын в 8А.", "8А"),
            ("за 2 четверть в 7Б классе: в 7А всё работает", "7Б"),
            ("сын учится в 6-й класс, буква В.", "6В"),
            ("ученица 9 класса (литера «а»)", "9А"),
            ("дочь в седьмом классе, буква Г", "7Г"),
        ] {
            assert_eq!(find(t).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn not_classes() {
        for t in [
            "поставили «2» по литературе за 12.03",
            "учителей 8-х классов на следующую неделю (с 15.04)",
            "в четверг собрание в 18:00",
            "стоит 3, а учитель говорит, что ставила 5",
            "звоните +7 912 345-67-89 или 8 800 100-20-30",
            "Гимназия № 5, 2 четверть, 3 урока, в 2 раза",
            "поставили 5 в журнал",
            "нет сети 4G, программа 1С",
            "в 5 раз больше, буква «Ж» не печатается",
        ] {
            assert_eq!(find(t), None, "{t}");
        }
    }
}
