//! Complaints about a specialist: a letter about a person's conduct (rudeness,
//! a refusal, not answering) that names one of the desk's specialists — by
//! their surname in any grammatical case («на Бамбуркина», «Бухеру»,
//! «с Войтенко») or by their address. A technical problem that only mentions a
//! specialist («Бухер В.В. посоветовал переустановить приложение, но оно не
//! отвечает») is not a complaint. Pure.
//!
//! The rules are data: [`CONDUCT`] (words about conduct that make a complaint
//! wherever in the sentence the person is named), [`SILENCE`] (not answering:
//! a complaint only when said of the person, not of a program), [`THINGS`]
//! (what a program-side «не отвечает» is said of) and [`CASE_ENDINGS`] (how a
//! surname ending declines).

/// Stems of words about a person's conduct: a sentence that names a
/// specialist and holds one of these is a complaint about them.
pub const CONDUCT: &[&str] = &[
    "груб",
    "нагруб",
    "хам",
    "нахам",
    "оскорб",
    "накричал",
    "наорал",
    "кричал",
    "жалоб",
    "пожаловат",
    "жалуюсь",
    "некорректн",
    "непрофессионал",
    "неуважит",
    "неуважен",
    "издевал",
    "унизил",
    "унижа",
    "бестактн",
    "пренебрежит",
    "отказал",
    "отказыва",
    "отказался",
    "отказалась",
    "отмахнул",
];

/// Not answering: a complaint when said of the person named just before.
pub const SILENCE: &[&[&str]] = &[
    &["не", "отвечает"],
    &["не", "ответил"],
    &["не", "ответила"],
    &["не", "отвечают"],
    &["не", "реагирует"],
    &["игнорирует"],
    &["проигнорировал"],
    &["проигнорировала"],
    &["молчит"],
];

/// What a program-side «не отвечает» is said of: between the person and the
/// words, one of these makes it a technical problem.
pub const THINGS: &[&str] = &[
    "приложен",
    "сайт",
    "журнал",
    "дневник",
    "страниц",
    "сервер",
    "систем",
    "программ",
    "кнопк",
    "телефон",
    "госуслуг",
    "браузер",
    "оно",
];

/// How many words before «не отвечает» the person (or a thing) is looked for.
const SILENCE_REACH: usize = 5;

/// Surname endings and the endings of their other cases, longest first; a
/// surname that ends otherwise in a consonant takes [`CONSONANT_ENDINGS`], one
/// that ends otherwise in a vowel does not decline (Войтенко, Мальченко).
pub const CASE_ENDINGS: &[(&str, &[&str])] = &[
    ("ова", &["ову", "овой", "овою"]),
    ("ева", &["еву", "евой", "евою"]),
    ("ина", &["ину", "иной", "иною"]),
    ("ая", &["ой", "ую"]),
    ("ий", &["ого", "ому", "им", "ом"]),
    ("ой", &["ого", "ому", "ым", "ом"]),
    ("ь", &["я", "ю", "ем", "е"]),
];

/// The other cases of a surname ending in a consonant.
pub const CONSONANT_ENDINGS: &[&str] = &["а", "у", "ом", "ым", "е"];

/// One person a letter may be about.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    /// As the config writes it: "Бухер В.В." (the first word is the surname).
    pub name: &'a str,
    pub email: &'a str,
}

fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

/// The words of a text, lower case, with ё as е; sentences split on . ! ? and
/// line breaks (an initial like «В.» does not end one: it is one letter).
fn sentences(text: &str) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<Vec<String>>| {
        if !word.is_empty() {
            if let Some(s) = out.last_mut() {
                s.push(fold(word));
            }
            word.clear();
        }
    };
    for c in text.chars() {
        if c.is_alphabetic() || (c == '-' && !word.is_empty()) {
            word.push(c);
            continue;
        }
        let initial = word.chars().count() == 1;
        flush(&mut word, &mut out);
        if matches!(c, '!' | '?' | '\n') || (c == '.' && !initial) {
            out.push(Vec::new());
        }
    }
    flush(&mut word, &mut out);
    out.retain(|s| !s.is_empty());
    out
}

/// Every form of a surname (lower case), the nominative first.
pub fn surname_forms(surname: &str) -> Vec<String> {
    let s = fold(surname);
    let mut forms = vec![s.clone()];
    if let Some((ending, others)) = CASE_ENDINGS.iter().find(|(e, _)| s.ends_with(e)) {
        let stem = &s[..s.len() - ending.len()];
        forms.extend(others.iter().map(|o| format!("{stem}{o}")));
    } else if s.chars().last().is_some_and(|c| !"аеёиоуыэюя".contains(c)) {
        forms.extend(CONSONANT_ENDINGS.iter().map(|e| format!("{s}{e}")));
    }
    forms
}

fn has_stem(word: &str, stems: &[&str]) -> bool {
    stems.iter().any(|s| word.starts_with(s))
}

/// Which of `people` the text complains about (the first named in a complaining
/// sentence), if any.
pub fn about(text: &str, people: &[Person<'_>]) -> Option<usize> {
    let lower = fold(text);
    let forms: Vec<Vec<String>> = people
        .iter()
        .map(|p| surname_forms(p.name.split_whitespace().next().unwrap_or("")))
        .collect();
    let named = |w: &str| forms.iter().position(|f| f.iter().any(|x| x == w));
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
        let conduct = words.iter().any(|w| has_stem(w, CONDUCT));
        if conduct && let Some((_, p)) = mentions.first() {
            return Some(*p);
        }
        for at in 0..words.len() {
            let silence = SILENCE.iter().any(|phrase| {
                words.len() >= at + phrase.len()
                    && phrase.iter().zip(&words[at..]).all(|(a, b)| a == b)
            });
            if !silence {
                continue;
            }
            // The nearest of a person or a thing before the words decides.
            let from = at.saturating_sub(SILENCE_REACH);
            for back in (from..at).rev() {
                if let Some(p) = named(&words[back]) {
                    return Some(p);
                }
                if has_stem(&words[back], THINGS) {
                    break;
                }
            }
        }
    }
    // Named by address only: a conduct word anywhere makes it a complaint.
    let all: Vec<String> = sentences(text).into_iter().flatten().collect();
    if all.iter().any(|w| has_stem(w, CONDUCT)) {
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
    fn surnames_decline_by_their_ending() {
        assert_eq!(
            surname_forms("Бамбуркин"),
            [
                "бамбуркин",
                "бамбуркина",
                "бамбуркину",
                "бамбуркином",
                "бамбуркиным",
                "бамбуркине"
            ]
        );
        assert!(surname_forms("Бухер").contains(&"бухером".to_string()));
        assert_eq!(surname_forms("Войтенко"), ["войтенко"]);
        assert_eq!(
            surname_forms("Костина"),
            ["костина", "костину", "костиной", "костиною"]
        );
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
