//! Complaints about a specialist: a letter about a person's conduct (rudeness,
//! a refusal, not answering) that names one of the desk's specialists — by
//! their surname in any grammatical case («на Бамбуркина», «Бухеру»,
//! «с Войтенко»), told by the morphological dictionary ([`super::morph`]), or
//! by their address. A technical problem that only mentions a specialist
//! («Бухер В.В. посоветовал переустановить приложение, но оно не отвечает»)
//! is not a complaint. Pure.
//!
//! The rules are data: `lexicon/conduct-stems.txt` (words about conduct that
//! make a complaint wherever in the sentence the person is named),
//! `silence-phrases.txt` (not answering: a complaint only when said of the
//! person, not of a program) and `silence-things.txt` (what a program-side
//! «не отвечает» is said of).

use std::sync::LazyLock;

use super::morph;
use super::words::{self, Token, fold, tokens};

static CONDUCT: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/conduct-stems.txt")));
words::phrase_list!(SILENCE, "silence-phrases");
static THINGS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/silence-things.txt")));

/// How many words before «не отвечает» the person (or a thing) is looked for.
const SILENCE_REACH: usize = 5;

/// One person a letter may be about.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// As the config writes it: "Бухер В.В." (the first word is the surname).
    pub name: &'a str,
    pub email: &'a str,
}

/// The folded words of a text by sentence: sentences end at `!`, `?`, a line
/// break, or a `.` that does not follow an initial («В.» is one letter).
fn sentences(text: &str) -> Vec<Vec<String>> {
    let t = tokens(text);
    let mut out = vec![Vec::new()];
    for (i, tok) in t.iter().enumerate() {
        let line_break = i > 0 && text[t[i - 1].end..tok.start].contains('\n');
        if line_break {
            out.push(Vec::new());
        }
        if tok.is_word() {
            if let Some(s) = out.last_mut() {
                s.push(tok.folded.clone());
            }
            continue;
        }
        let initial = |p: &Token<'_>| p.is_word() && p.text.chars().count() == 1;
        let after_initial = i > 0 && initial(&t[i - 1]);
        if tok.is("!") || tok.is("?") || (tok.is(".") && !after_initial) {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Whether `word` is `surname` (folded, nominative) in some case: the same
/// word, or a word the dictionary reads as a form of the same surname
/// («бамбуркина», «бухеру», «костиной»; «войтенко» does not decline). A
/// surname the dictionary does not know as one is read as a noun, as it
/// declines like one («Бухер»).
pub fn names_surname(word: &str, surname: &str) -> bool {
    if word == surname {
        return true;
    }
    let readings = morph::parse(surname);
    let kind = if readings.iter().any(|r| r.has("Surn")) {
        "Surn"
    } else {
        "NOUN"
    };
    let own: Vec<String> = readings
        .iter()
        .filter(|r| r.has(kind))
        .map(|r| fold(&r.lemma))
        .collect();
    morph::parse(word)
        .iter()
        .filter(|r| r.has(kind))
        .any(|r| own.contains(&fold(&r.lemma)))
}

fn has_stem(word: &str, stems: &[String]) -> bool {
    stems.iter().any(|s| word.starts_with(s.as_str()))
}

/// Which of `people` the text complains about (the first named in a complaining
/// sentence), if any.
pub fn about(text: &str, people: &[Person<'_>]) -> Option<usize> {
    let lower = fold(text);
    let surnames: Vec<String> = people
        .iter()
        .map(|p| fold(p.name.split_whitespace().next().unwrap_or("")))
        .collect();
    let named = |w: &str| surnames.iter().position(|s| names_surname(w, s));
    let by_address = |i: usize| {
        let e = fold(people[i].email);
        !e.is_empty() && lower.contains(&e)
    };
    for words in sentences(text) {
        // Who this sentence names (by surname), and where.
        let mentions: Vec<(usize, usize)> = words
            .iter()
            .enumerate()
            .filter_map(|(at, w)| named(w).map(|p| (at, p)))
            .collect();
        let conduct = words.iter().any(|w| has_stem(w, &CONDUCT));
        if conduct && let Some((_, p)) = mentions.first() {
            return Some(*p);
        }
        for at in 0..words.len() {
            let silence = SILENCE.iter().any(|p| words::phrase_at(&words, at, p));
            if !silence {
                continue;
            }
            // The nearest of a person or a thing before the words decides.
            let from = at.saturating_sub(SILENCE_REACH);
            for back in (from..at).rev() {
                if let Some(p) = named(&words[back]) {
                    return Some(p);
                }
                if has_stem(&words[back], &THINGS) {
                    break;
                }
            }
        }
    }
    // Named by address only: a conduct word anywhere makes it a complaint.
    let all: Vec<String> = sentences(text).into_iter().flatten().collect();
    if all.iter().any(|w| has_stem(w, &CONDUCT)) {
        return (0..people.len()).find(|&i| by_address(i));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEOPLE: [Person<'static>; 4] = [
        Person {
            name: "Бамбуркин С.П.",
            email: "bamburkin@example.org",
        },
        Person {
            name: "Бухер В.В.",
            email: "bukher@example.org",
        },
        Person {
            name: "Войтенко Л.А.",
            email: "voitenko@example.org",
        },
        Person {
            name: "Костина Т.В.",
            email: "kostina@example.org",
        },
    ];

    #[test]
    fn surnames_are_told_in_any_case() {
        for (word, surname) in [
            ("бамбуркина", "бамбуркин"),
            ("бамбуркину", "бамбуркин"),
            ("бамбуркиным", "бамбуркин"),
            ("бамбуркине", "бамбуркин"),
            ("бухером", "бухер"),
            ("бухеру", "бухер"),
            ("войтенко", "войтенко"),
            ("костину", "костина"),
            ("костиной", "костина"),
        ] {
            assert!(names_surname(word, surname), "{word} {surname}");
        }
        for (word, surname) in [
            ("бухгалтер", "бухер"),
            ("бамбук", "бамбуркин"),
            ("костюм", "костина"),
            ("войти", "войтенко"),
            ("козел", "козлов"),
        ] {
            assert!(!names_surname(word, surname), "{word} {surname}");
        }
    }

    #[test]
    fn conduct_about_a_named_specialist_in_any_case_is_a_complaint() {
        for (text, who) in [
            ("Хочу пожаловаться на Бамбуркина С.П.", 0),
            ("Бухер В.В. грубо разговаривал со мной по телефону.", 1),
            ("Бухеру я писала три раза, он мне нахамил.", 1),
            ("Ваш специалист Войтенко отказалась помочь.", 2),
            ("Заместитель директора Костиной Т.В. была некорректна.", 3),
            ("БАМБУРКИН накричал на моего сына!", 0),
            ("Бамбуркин С.П. уже неделю не отвечает на мои письма.", 0),
            ("Писала Бухеру, но он игнорирует.", 1),
        ] {
            assert_eq!(about(text, &PEOPLE), Some(who), "{text}");
        }
    }

    #[test]
    fn a_technical_problem_that_names_a_specialist_is_not_a_complaint() {
        for text in [
            "Бухер В.В. посоветовал переустановить приложение, но приложение не отвечает.",
            "Бамбуркин С.П. сказал, что пароль сброшен. Дневник не открывается.",
            "Войтенко Л.А. просила написать сюда: не приходят уведомления.",
            "Приложение не отвечает, ошибка 500.",
            "Сотрудник был груб со мной.",
            "Бухер В.В. помог, спасибо! А сайт не отвечает.",
        ] {
            assert_eq!(about(text, &PEOPLE), None, "{text}");
        }
    }

    #[test]
    fn the_address_names_the_specialist_too() {
        assert_eq!(
            about(
                "Специалист с адреса BUKHER@example.org мне нагрубил.",
                &PEOPLE
            ),
            Some(1)
        );
        assert_eq!(
            about("Пишу на bukher@example.org, пароль не подходит.", &PEOPLE),
            None
        );
    }
}
