//! The class: a number 1–11 and a letter, in the spellings people use (`5А`,
//! `5 А класс`, `5-а`, `5 «А»`, `11Б класс`, `7 б класса`, Latin `5A`,
//! `класс 9В`, «в пятом «Б» классе»), normalised to digits and an upper-case
//! Cyrillic letter. A bare number («в 10 классе») is not a class: the school
//! has several classes of a year.
//!
//! Dates, times and marks are not classes: the number must stand alone (not
//! inside a date, a time or a longer number), and a letter written apart from
//! it counts only next to the word «класс».

use std::collections::HashMap;
use std::sync::LazyLock;

use super::words::{self, Kind, Token, tokens};

/// Class letters (`lexicon/class-letters.txt`): as written → upper-case Cyrillic.
static LETTERS: LazyLock<HashMap<String, char>> = LazyLock::new(|| {
    include_str!("lexicon/class-letters.txt")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let written = it.next()?;
            let cyr = it.next().unwrap_or(written).chars().next()?;
            Some((written.to_string(), cyr))
        })
        .flat_map(|(w, c)| {
            let mut v = vec![(w.clone(), c)];
            if c.to_string() == w {
                v.push((c.to_lowercase().to_string(), c));
            }
            v
        })
        .collect()
});

/// Ordinals (`lexicon/class-ordinals.txt`): start of the word → number.
static ORDINALS: LazyLock<Vec<(String, u32)>> = LazyLock::new(|| {
    words::entries(include_str!("lexicon/class-ordinals.txt"))
        .iter()
        .filter_map(|e| {
            let (stem, n) = e.split_once(' ')?;
            Some((stem.to_string(), n.trim().parse().ok()?))
        })
        .collect()
});

fn is_class_word(t: &Token<'_>) -> bool {
    t.is_word() && (t.folded.starts_with("класс") || t.folded == "кл")
}

/// The class letter a word is: one letter, or a letter's spoken name («бэ»).
fn letter_of(t: &Token<'_>) -> Option<char> {
    if !t.is_word() {
        return None;
    }
    LETTERS
        .get(t.text)
        .or_else(|| LETTERS.get(t.folded.as_str()))
        .copied()
}

/// A lower-case letter written apart after a number is a class letter when
/// it is one of the letters most classes have (а–д), and, if it is also a
/// word («а», «в»), when nothing follows it in the sentence («10 а,», «7 в.»;
/// not «5 а у других», «в 5 в школе»; «5 м от школы» is metres).
fn apart_letter_is_class(t: &Token<'_>, ends: bool) -> bool {
    match t.folded.as_str() {
        "б" | "г" | "д" => true,
        "а" | "в" => ends,
        _ => false,
    }
}

/// Ordinal endings written after the digits («7-ой», «5-й», «10-го»).
const ORDINAL_ENDINGS: &[&str] = &["й", "ой", "ый", "ий", "го", "ого", "м", "ом", "ая"];

/// Whether the token at `i` is a number that stands alone: not inside a
/// date, a time, a fraction or a longer number.
fn stands_alone(t: &[Token<'_>], i: usize, text: &str) -> bool {
    let joined = |a: &Token<'_>, b: &Token<'_>| a.end == b.start;
    let sticky = |m: &Token<'_>| matches!(m.text, "." | ":" | "/" | "," | "\\");
    if i >= 2 && joined(&t[i - 1], &t[i]) && sticky(&t[i - 1]) && t[i - 2].kind == Kind::Number {
        return false;
    }
    if i + 2 < t.len()
        && joined(&t[i], &t[i + 1])
        && sticky(&t[i + 1])
        && t[i + 2].kind == Kind::Number
    {
        return false;
    }
    // A word glued before the digits (`A52`, `№5`) makes it a name or a count.
    if i >= 1 && joined(&t[i - 1], &t[i]) && (t[i - 1].is_word() || t[i - 1].is("№")) {
        return false;
    }
    text.get(t[i].start..t[i].end).is_some()
}

/// Classes in a text, in order, normalised (`5А`).
pub fn find_all(text: &str) -> Vec<String> {
    let t = tokens(text);
    let mut found = Vec::new();
    for i in 0..t.len() {
        let number = match t[i].kind {
            Kind::Number => match t[i].text.parse::<u32>() {
                Ok(n @ 1..=11) if stands_alone(&t, i, text) => n,
                _ => continue,
            },
            Kind::Word => match ORDINALS
                .iter()
                .find(|(s, _)| t[i].folded.starts_with(s.as_str()))
            {
                Some(&(_, n)) => n,
                None => continue,
            },
            Kind::Mark => continue,
        };
        let ordinal = t[i].kind == Kind::Word;
        // After the digits: an ordinal ending («7-ой г»), then `-`, opening
        // quotes or brackets, then the letter.
        let mut j = i + 1;
        if !ordinal
            && t.get(j).is_some_and(|m| m.is("-"))
            && t.get(j + 1)
                .is_some_and(|e| ORDINAL_ENDINGS.contains(&e.folded.as_str()))
        {
            j += 2;
        }
        let mut apart = false;
        while j < t.len() && matches!(t[j].text, "-" | "–" | "«" | "\"" | "'" | "(" | "“" | "„")
        {
            apart |= t[j].start != t[j - 1].end;
            j += 1;
        }
        let Some(letter) = t.get(j).and_then(letter_of) else {
            continue;
        };
        let spelled = t[j].text.chars().count() > 1;
        apart |= t[j].start != t[j - 1].end;
        let mut k = j + 1;
        while k < t.len() && matches!(t[k].text, "»" | "\"" | "'" | ")" | "”") {
            k += 1;
        }
        // The letter must end the word: `5ая` is not «5 А».
        if t.get(j + 1)
            .is_some_and(|n| n.is_word() && n.start == t[j].end)
        {
            continue;
        }
        let class_after = t.get(k).is_some_and(is_class_word);
        let class_before = i >= 1 && is_class_word(&t[i - 1]);
        // Nothing more of the sentence after the letter: a mark or a line end.
        let ends = t.get(k).is_none_or(|n| {
            n.kind == Kind::Mark
                || text
                    .get(t[k - 1].end..n.start)
                    .is_some_and(|g| g.contains('\n'))
        });
        let sure = if ordinal {
            class_after || spelled
        } else {
            // Glued, hyphenated or quoted letters are a class; a letter
            // written apart when it is no word of its own, or upper case, or
            // ends the sentence, or stands next to «класс».
            let upper = t[j].text.chars().all(char::is_uppercase);
            !apart
                || j > i + 1
                || class_after
                || class_before
                || upper
                || spelled
                || apart_letter_is_class(&t[j], ends)
        };
        if sure {
            found.push(format!("{number}{letter}"));
        }
    }
    found
}

/// The writer's class in a text: the first one it names.
pub fn find(text: &str) -> Option<String> {
    find_all(text).into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let cases = [
            ("мой сын из 5А", Some("5А")),
            ("ученица 5 «а» класса", Some("5А")),
            ("класс 9в", Some("9В")),
            ("11-б", Some("11Б")),
            ("в 7 б классе", Some("7Б")),
            ("(10 В)", Some("10В")),
            ("Latin 5A here", Some("5А")),
            ("в пятом «Б» классе", Some("5Б")),
            ("в пятом классе", None),
            ("в 10 классе", None),
            ("поставили 5 а у других 3", None),
            ("с 5.11 по 12.11", None),
            ("в 10:30", None),
            ("телефон Samsung A52", None),
            ("урок 5ая", None),
            ("это миша из 7 в. у меня", Some("7В")),
            ("кузин никита 11 а. приложение", Some("11А")),
            ("из 8 б не могу зайти", Some("8Б")),
            ("я Белов Максим 7-ой г. У меня", Some("7Г")),
            ("она учится в шестом бэ классе", Some("6Б")),
            ("это настя из седьмого гэ точка", Some("7Г")),
            ("у дочки четвёртый гэ класс", Some("4Г")),
            ("в 5 в школе", None),
            ("12А", None),
        ];
        for (text, want) in cases {
            assert_eq!(find(text).as_deref(), want, "{text}");
        }
    }

    #[test]
    fn several() {
        assert_eq!(find_all("в 7а и 7б"), ["7А", "7Б"]);
    }
}
