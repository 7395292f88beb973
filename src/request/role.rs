//! Who wrote: a member of staff, a parent or a student — by how they present
//! themselves. Staff are also known by their address (the config's staff
//! addresses and domains, decided in `understand`).
//!
//! In order, the first that holds decides:
//! 1. staff: a position (`lexicon/staff-titles.txt`) in the signature, after
//!    «я» or a verb of writing («Пишет социальный педагог …»), or on a short
//!    line without a verb («Ткаченко Е.В., зам. директора по ВР»); or what
//!    only staff say of their work (`staff-phrases.txt`, «журнал 9Б»), unless
//!    the writer calls themselves a parent («я мама»);
//! 2. a student's own words (`student-phrases.txt`: «я учусь», «с маминой почты»);
//! 3. a parent: a parent's or child's word (`parent-words.txt`: «мама», «сын»);
//! 4. a student's weaker signs (`student-hints.txt`: «у меня в дневнике»).

use std::sync::LazyLock;

use super::Role;
use super::class;
use super::description;
use super::morph;
use super::words::{self, folded_words, has_phrase, phrase_at, tokens};

words::phrase_list!(STAFF_TITLES, "staff-titles");
words::phrase_list!(STAFF_PHRASES, "staff-phrases");
words::word_set!(PARENT_WORDS, "parent-words");
words::phrase_list!(STUDENT_PHRASES, "student-phrases");
words::phrase_list!(STUDENT_HINTS, "student-hints");

/// A text's folded words with hyphenated words split («педагог-библиотекарь»
/// is «педагог» «библиотекарь»), as positions are compared.
fn title_words(text: &str) -> Vec<String> {
    folded_words(text)
        .iter()
        .flat_map(|w| w.split('-').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Words by their likeliest dictionary form, as positions in any case are
/// compared («педагогу-психологу» is «педагог-психолог»).
fn lemmas(words: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|w| {
            morph::parse(w)
                .first()
                .map_or_else(|| w.clone(), |r| words::fold(&r.lemma))
        })
        .collect()
}

/// The positions with hyphenated words split, as text is compared.
static STAFF_TITLE_WORDS: LazyLock<Vec<Vec<String>>> = LazyLock::new(|| {
    STAFF_TITLES
        .iter()
        .map(|t| {
            t.iter()
                .flat_map(|w| w.split('-').map(str::to_string))
                .collect()
        })
        .collect()
});

/// The positions by dictionary form.
static STAFF_TITLE_LEMMAS: LazyLock<Vec<Vec<String>>> =
    LazyLock::new(|| STAFF_TITLE_WORDS.iter().map(|t| lemmas(t)).collect());

/// Whether a position stands at `at`, in `words` as written or in their
/// dictionary forms `lemmas`.
fn title_at(words: &[String], lemmas: &[String], at: usize) -> bool {
    STAFF_TITLE_WORDS.iter().any(|t| phrase_at(words, at, t))
        || STAFF_TITLE_LEMMAS.iter().any(|t| phrase_at(lemmas, at, t))
}

/// Whether the likeliest reading of a word is a verb.
fn is_verb(word: &str) -> bool {
    morph::parse(word)
        .first()
        .is_some_and(|r| r.has("VERB") || r.has("INFN"))
}

/// Whether the text presents its writer as staff by a position.
fn presents_staff(new: &str, signature: &str) -> bool {
    let sig = title_words(signature);
    let sig_lemmas = lemmas(&sig);
    if (0..sig.len()).any(|i| title_at(&sig, &sig_lemmas, i)) {
        return true;
    }
    let writing = ["я", "пишет", "пишу", "обращается", "обращаюсь", "беспокоит"];
    // Each line, and each sentence of a longer line that also gives a name
    // («Дьячков Роман Алексеевич, учитель физической культуры.»): two
    // capitalised words after the first, as a full name has.
    let units = new.lines().flat_map(|line| {
        let sentences = description::sentences(line);
        let more = sentences.len() > 1;
        std::iter::once(line).chain(
            sentences
                .into_iter()
                .filter(move |s| more && names_someone(s)),
        )
    });
    for line in units {
        let w = title_words(line);
        // «от учителя математики Хабибуллиной Л.Ф.»: a letter's heading
        // says whom it is from.
        if w.len() >= 2
            && w[0] == "от"
            && morph::parse(&w[1])
                .iter()
                .any(|r| STAFF_TITLES.iter().any(|t| t.len() == 1 && t[0] == r.lemma))
        {
            return true;
        }
        let w_lemmas = lemmas(&w);
        let titled: Vec<usize> = (0..w.len())
            .filter(|&i| title_at(&w, &w_lemmas, i))
            .collect();
        if titled.is_empty() {
            continue;
        }
        // «я, Петрова А.А., классный руководитель», «Пишет социальный педагог»;
        // «это сорокина вера павловна учитель …», with a name between: the
        // position as the writer names themself, in the nominative («я
        // приходила в кабинет администратора» is someone else's).
        // «помочь мне, Тупицыной Алле Сергеевне, педагогу-психологу»: in
        // the dative after «мне».
        let nominative = |at: usize| morph::parse(&w[at]).iter().any(|r| r.has("nomn"));
        let dative = |at: usize| morph::parse(&w[at]).iter().any(|r| r.has("datv"));
        if titled.iter().any(|&at| {
            (at.saturating_sub(5)..at).any(|j| {
                (writing.contains(&w[j].as_str()) || (w[j] == "это" && at - j >= 3))
                    && nominative(at)
                    || w[j] == "мне" && dative(at)
            })
        }) {
            return true;
        }
        let short = w.len() <= 8;
        // «Наш классный руководитель Иванова А.А.» is someone else.
        let others = ["наш", "наша", "наши", "нашего", "нашей", "его", "ее", "их"];
        let parent = w
            .iter()
            .any(|x| PARENT_WORDS.contains(x) || others.contains(&x.as_str()));
        if short && !parent && !w.iter().any(|x| is_verb(x)) {
            return true;
        }
    }
    false
}

/// «журнал 9Б», «в журнале по музыке у 2А»: a class's journal is a
/// teacher's (a parent writes of their child's diary).
fn names_a_class_journal(text: &str) -> bool {
    let t = tokens(text);
    t.iter().enumerate().any(|(i, x)| {
        if !x.is_word() || !x.folded.starts_with("журнал") {
            return false;
        }
        // The next four words, on the same line.
        let next: Vec<_> = t[i + 1..]
            .iter()
            .take_while(|n| !text[x.end..n.start].contains('\n'))
            .take(6)
            .collect();
        let (Some(first), Some(last)) = (next.first(), next.last()) else {
            return false;
        };
        !next.iter().any(|n| PARENT_WORDS.contains(&n.folded))
            && class::find(&text[first.start..last.end]).is_some()
    })
}

/// «Я, Соколова Алина, ученица.», «Громов Степан, ученик 8 Б.»: a sentence
/// where the writer (or a full name) is called a student in the nominative
/// and no parent's or child's word stands.
fn presents_student(text: &str) -> bool {
    const STUDENT: [&str; 5] = ["ученик", "ученица", "учащийся", "учащаяся", "обучающийся"];
    // Without «я», a parent's word anywhere makes the student someone else
    // («Ученица 2Б Соловьёва Мила. … Мама»).
    let parent_anywhere = title_words(text).iter().any(|x| PARENT_WORDS.contains(x));
    text.lines().flat_map(description::sentences).any(|s| {
        let w = title_words(s);
        w.iter().any(|x| STUDENT.contains(&x.as_str()))
            && !w.iter().any(|x| PARENT_WORDS.contains(x))
            && (w.iter().any(|x| x == "я") || (names_someone(s) && !parent_anywhere))
    })
}

/// Two capitalised words after a sentence's first: a full name.
fn names_someone(s: &str) -> bool {
    tokens(s)
        .iter()
        .filter(|t| t.is_word())
        .skip(1)
        .filter(|t| t.is_capitalised())
        .count()
        >= 2
}

/// The role the writer's own text shows, if any.
pub fn detect(new: &str, signature: &str) -> Option<Role> {
    let own = format!("{new}\n{signature}");
    let w = folded_words(&own);
    let self_parent = w
        .windows(2)
        .any(|p| p[0] == "я" && PARENT_WORDS.contains(&p[1]));
    let staff = presents_staff(new, signature)
        || has_phrase(&w, &STAFF_PHRASES)
        || names_a_class_journal(&own);
    if staff && !self_parent {
        return Some(Role::Staff);
    }
    if has_phrase(&w, &STUDENT_PHRASES) || presents_student(&own) {
        return Some(Role::Student);
    }
    if w.iter().any(|x| PARENT_WORDS.contains(x)) {
        return Some(Role::Parent);
    }
    has_phrase(&w, &STUDENT_HINTS).then_some(Role::Student)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        let staff = Some(Role::Staff);
        let cases = [
            ("Я учитель математики, не могу выставить оценки", "", staff),
            (
                "Директору школы Костиной Т.В.\nот учителя математики Хабибуллиной Лилии Фаритовны\nПрошу сбросить пароль",
                "",
                staff,
            ),
            (
                "здравствуйте это сорокина вера павловна учитель начальных классов точка у меня не сохраняются отметки",
                "",
                staff,
            ),
            (
                "Это учитель не выставил оценки сыну",
                "",
                Some(Role::Parent),
            ),
            (
                "Заведующая библиотекой Королёва Нина Аркадьевна.\nМне необходим доступ",
                "",
                staff,
            ),
            (
                "не могу",
                "С уважением,\nучитель истории Петрова А.А.",
                staff,
            ),
            (
                "Прошу сформировать логины.\nТкаченко Е.В., зам. директора по ВР",
                "",
                staff,
            ),
            (
                "Не входит.\nАлександрова Вера Николаевна,\nпедагог-библиотекарь",
                "",
                staff,
            ),
            (
                "Пишет социальный педагог Ермакова Л.П.\nНужен доступ",
                "",
                staff,
            ),
            ("Прошу разблокировать журнал 9Б", "", staff),
            (
                "Классный руководитель не отвечает, у сына нет оценок",
                "",
                Some(Role::Parent),
            ),
            (
                "Учитель сказал написать вам. У сына не видно оценок",
                "",
                Some(Role::Parent),
            ),
            ("Я мама ученика 5А", "", Some(Role::Parent)),
            (
                "Прошу помочь мне, Тупицыной Алле Сергеевне, педагогу-психологу. Не могу прикрепить файл.",
                "",
                staff,
            ),
            (
                "Не могу открыть журнал с телефона.\nДорофеева Ю.С., нач. классы",
                "",
                staff,
            ),
            (
                "Я дважды приходила в кабинет администратора, но там было закрыто. Нужен логин для дочери.",
                "",
                Some(Role::Parent),
            ),
            ("я учусь в 7Б, не вижу оценок", "", Some(Role::Student)),
            ("пишу с маминой почты", "", Some(Role::Student)),
            ("у меня в дневнике нет оценок", "", Some(Role::Student)),
            ("не работает дневник", "", None),
            (
                "Добрый день.\nДьячков Роман Алексеевич, учитель физической культуры. При открытии КТП ошибка.",
                "",
                staff,
            ),
            (
                "Здравствуйте! Кабинет 214, учитель Громова. У сына двойка.",
                "",
                Some(Role::Parent),
            ),
            ("Наш классный руководитель Иванова А.А.", "", None),
            (
                "Я, Соколова Алина, ученица. Тест не открывается.",
                "",
                Some(Role::Student),
            ),
            (
                "Блин, не могу зайти. Громов Степан, ученик 8 Б.",
                "",
                Some(Role::Student),
            ),
            (
                "Мой сын, ученик 5А Петров Иван, не может войти",
                "",
                Some(Role::Parent),
            ),
            (
                "Ф.И.О. родителя — Гончарова Валентина Ивановна",
                "",
                Some(Role::Parent),
            ),
        ];
        for (new, sig, want) in cases {
            assert_eq!(detect(new, sig), want, "{new} / {sig}");
        }
    }
}
