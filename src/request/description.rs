//! The description a specialist reads: every sentence of the problem as the
//! writer put it, across line breaks, without the greeting, field labels
//! («Проблема:»), lines that only give the fields or a position, sentences
//! that say nothing of the problem («Заранее благодарю», «Пишу с папиной
//! почты»), or the signature (split off already, see [`super::text`]).
//!
//! Lists: `lexicon/greetings.txt`, `description-labels.txt`,
//! `field-labels.txt`, `staff-titles.txt`, `courtesy-words.txt`,
//! `intro-words.txt`, `vague-lemmas.txt`, `desk-phrases.txt`,
//! `abbreviations.txt`, `bare-verbs.txt`, `journal-words.txt`.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::class;
use super::morph;
use super::text;
use super::words::{self, Token, folded_words, phrase_at, tokens};

words::phrase_list!(GREETINGS, "greetings");
words::phrase_list!(DESCRIPTION_LABELS, "description-labels");
words::phrase_list!(FIELD_LABELS, "field-labels");
words::phrase_list!(STAFF_TITLES, "staff-titles");
words::word_set!(COURTESY, "courtesy-words");
words::word_set!(INTRO, "intro-words");
words::word_set!(VAGUE, "vague-lemmas");
words::word_set!(NO_NEWS, "no-news-words");
words::phrase_list!(DESK_PHRASES, "desk-phrases");
words::word_set!(ABBREVIATIONS, "abbreviations");
words::word_set!(BARE_VERBS, "bare-verbs");
words::word_set!(JOURNAL_WORDS, "journal-words");

/// The longest description kept, in characters.
const MAX_CHARS: usize = 4000;

/// A label phrase at the start of `s` followed by a colon or dash: the byte
/// offset after it.
fn label_end(s: &str, labels: &[Vec<String>]) -> Option<usize> {
    // Dots between a label's letters do not count («Ф.И.О. родителя —»).
    let t: Vec<Token<'_>> = tokens(s).into_iter().filter(|t| !t.is(".")).collect();
    let w: Vec<&str> = t.iter().map(|t| t.folded.as_str()).collect();
    let longest = labels
        .iter()
        .filter(|l| w.len() > l.len() && w[..l.len()].iter().zip(l.iter()).all(|(a, b)| a == b))
        .filter(|l| matches!(w[l.len()], ":" | "-" | "—" | "–"))
        .map(Vec::len)
        .max()?;
    Some(t[longest].end)
}

/// A greeting at the start of `s`: the byte offset after it and the marks
/// after it («Здравствуйте!», «Уважаемая Анна Петровна,»).
fn greeting_end(s: &str) -> Option<usize> {
    let t = tokens(s);
    let w: Vec<String> = t.iter().map(|t| t.folded.clone()).collect();
    let n = GREETINGS
        .iter()
        .filter(|g| phrase_at(&w, 0, g))
        .map(Vec::len)
        .max()?;
    let mut end = t[n - 1].end;
    let mut i = n;
    if w[0].starts_with("уважаем") {
        while i < t.len() && t[i].is_word() && t[i].is_capitalised() {
            i += 1;
        }
        end = t[i - 1].end;
    }
    while i < t.len() && matches!(t[i].text, "!" | "," | "." | ")" | "-" | "—") {
        end = t[i].end;
        i += 1;
    }
    Some(end)
}

/// Whether a line only gives a field («ФИО: …», «Класс: 5А») or a position
/// («заместитель директора по ВР», «Учитель английского языка»).
fn only_fields(line: &str) -> bool {
    if label_end(line, &FIELD_LABELS).is_some() {
        return true;
    }
    let w = folded_words(line);
    STAFF_TITLES.iter().any(|t| phrase_at(&w, 0, t)) && says_nothing(line)
}

/// Whether a word of a sentence is a name: capitalised inside the
/// sentence, or a first name, surname or patronymic by the dictionary.
fn is_name(t: &Token<'_>, first: bool) -> bool {
    // In a letter written in capitals only the dictionary tells a name.
    let shouting = t.text.chars().filter(|c| c.is_alphabetic()).count() > 1
        && t.text.chars().all(|c| !c.is_lowercase());
    t.is_capitalised()
        && (!(first || shouting)
            || morph::parse(&t.folded)
                .iter()
                .any(|r| r.has("Name") || r.has("Surn") || r.has("Patr")))
}

/// Whether word `i`, written in lower case, is a name: the dictionary
/// knows it only as a name, or as a name among other things beside a word it
/// knows only as a name («это зайцев тимур 6а»).
fn lower_case_name(words: &[&Token<'_>], i: usize) -> bool {
    let readings = |t: &Token<'_>| morph::parse(&t.folded);
    let name = |r: &morph::Reading| r.has("Name") || r.has("Surn") || r.has("Patr");
    let only_name = |t: &Token<'_>| {
        let r = readings(t);
        !r.is_empty() && r.iter().all(name)
    };
    let t = words[i];
    if t.is_capitalised() || !readings(t).iter().any(name) {
        return false;
    }
    only_name(t)
        || (i > 0 && only_name(words[i - 1]))
        || words.get(i + 1).is_some_and(|n| only_name(n))
}

/// Whether word `j` goes on a position named before it: «по» and the word
/// after it, or a word the dictionary reads in the genitive.
fn in_title(folded: &[String], j: usize) -> bool {
    let w = folded[j].as_str();
    w == "по"
        || (j > 0 && folded[j - 1] == "по")
        || morph::parse(w).iter().any(|r| {
            r.has("gent")
                && (r.has("NOUN") || r.has("ADJF"))
                && !r.has("Name")
                && !r.has("Surn")
                && !r.has("Patr")
        })
}

/// What a sentence says of the problem.
fn said(sentence: &str) -> Said {
    let t = tokens(sentence);
    let classes = class::find_all(sentence).len();
    let mut first = true;
    let mut other = 0;
    let (mut bare, mut thing) = (false, false);
    let words: Vec<&Token<'_>> = t.iter().filter(|t| t.is_word()).collect();
    // Words of a position («учитель истории», «зам. директора по УВР»).
    let folded: Vec<String> = words.iter().map(|t| t.folded.clone()).collect();
    // A position in any case («Директору школы», «от учителя»).
    let readings: Vec<Vec<morph::Reading>> = folded.iter().map(|w| morph::parse(w)).collect();
    let lemmas: Vec<String> = folded
        .iter()
        .zip(&readings)
        .map(|(w, r)| r.first().map_or_else(|| w.clone(), |r| r.lemma.clone()))
        .collect();
    let mut titled = vec![false; folded.len()];
    for at in 0..folded.len() {
        if let Some(n) = STAFF_TITLES
            .iter()
            .filter(|p| phrase_at(&folded, at, p) || phrase_at(&lemmas, at, p))
            .map(Vec::len)
            .max()
        {
            titled[at..at + n].iter_mut().for_each(|x| *x = true);
            // What follows the title names its subject or field: words in
            // the genitive («учитель начальных классов») and «по …»
            // («зам. директора по УВР»).
            let mut j = at + n;
            while j < folded.len() && (in_title(&folded, j)) {
                titled[j] = true;
                j += 1;
            }
        }
    }
    let mut word_no = 0;
    for (i, tok) in t.iter().enumerate() {
        if !tok.is_word() {
            continue;
        }
        word_no += 1;
        if titled[word_no - 1] {
            first = false;
            continue;
        }
        // A capitalised first word before a name is a surname the
        // dictionary does not know («Лебедь Оксана Викторовна, 2Б», «Кириллова
        // А.П.»).
        if first
            && tok.is_capitalised()
            && words.get(1).is_some_and(|n| {
                n.is_capitalised() && (is_name(n, true) || n.text.chars().count() == 1)
            })
        {
            first = false;
            continue;
        }
        let known = COURTESY.contains(&tok.folded)
            || INTRO.contains(&tok.folded)
            || VAGUE.contains(&tok.folded)
            || NO_NEWS.contains(&tok.folded)
            || readings[word_no - 1]
                .iter()
                .any(|r| VAGUE.contains(&r.lemma) || INTRO.contains(&r.lemma) || NO_NEWS.contains(&r.lemma))
            || is_name(tok, first)
            || lower_case_name(&words, word_no - 1)
            // A number alone: a phone, a room, hours («с 8 до 14»).
            || tok.text.chars().all(|c| c.is_ascii_digit())
            // A class («4В», or its letter in «5 А»).
            || (classes > 0 && class::find(tok.text).is_some())
            // A class letter («5 А»).
            || (classes > 0 && tok.text.chars().count() == 1 && i > 0);
        first = false;
        let of = |list: &HashSet<String>| {
            readings[word_no - 1]
                .iter()
                .any(|r| list.contains(&r.lemma))
        };
        if of(&BARE_VERBS) {
            bare = true;
        } else if of(&JOURNAL_WORDS) {
            thing = true;
        }
        if !known {
            other += 1;
        }
    }
    match other {
        0 => Said::Nothing,
        // «Помогите, не работает.»: only that something fails.
        1 if bare && !thing => Said::OnlyFails,
        _ => Said::Problem,
    }
}

/// What a sentence says of the problem.
#[derive(Clone, Copy, PartialEq)]
enum Said {
    /// Nothing at all.
    Nothing,
    /// Only that something fails, not what.
    OnlyFails,
    /// Something of it.
    Problem,
}

/// Whether a sentence says nothing of the problem: only greetings, thanks,
/// who writes, names and a class.
pub fn says_nothing(sentence: &str) -> bool {
    said(sentence) == Said::Nothing
}

/// The sentences of a line, each with its closing marks.
pub fn sentences(line: &str) -> Vec<&str> {
    static END: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"[.!?…]+[»”)]?\s+").expect("sentence end regex"));
    let mut out = Vec::new();
    let mut start = 0;
    for m in END.find_iter(line) {
        // «зам. директора», «Е. В. Ткаченко»: a shortening's dot.
        let before = &line[start..m.start()];
        let word: String = before
            .chars()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // An initial goes on when the next word is in lower case
        // («Т.В. от учителя …»).
        let next_lower = line[m.end()..]
            .chars()
            .next()
            .is_some_and(char::is_lowercase);
        let shortened = m.as_str().starts_with(". ")
            && (ABBREVIATIONS.contains(&words::fold(&word))
                || (word.chars().count() == 1
                    && word.chars().all(char::is_uppercase)
                    && next_lower));
        if shortened && !word.is_empty() {
            continue;
        }
        out.push(line[start..m.end()].trim());
        start = m.end();
    }
    out.push(line[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// The problem's sentences in `lines`.
fn problem_sentences<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut kept = Vec::new();
    let mut only_fails = true;
    for line in lines {
        let line = line.trim();
        if line.is_empty() || only_fields(line) {
            continue;
        }
        for s in sentences(line) {
            let mut s = s;
            if let Some(end) = greeting_end(s) {
                s = s[end..].trim();
            }
            if let Some(end) = label_end(s, &DESCRIPTION_LABELS) {
                s = s[end..].trim();
            }
            match said(s) {
                _ if s.is_empty() => {}
                Said::Nothing => {}
                Said::OnlyFails => kept.push(s.to_string()),
                Said::Problem => {
                    only_fails = false;
                    kept.push(s.to_string());
                }
            }
        }
    }
    // Only that something fails says nothing; beside what fails it is
    // part of the problem («Это не журнал. Ничего не открывается.»).
    if only_fails {
        kept.clear();
    }
    kept
}

/// A line of the desk's own letters, or of a mail header, quoted back.
fn is_desk_line(line: &str) -> bool {
    let header = [
        "от",
        "кому",
        "тема",
        "дата",
        "отправлено",
        "from",
        "to",
        "subject",
        "date",
        "sent",
    ];
    let t = tokens(line);
    let w = folded_words(line);
    (t.len() >= 2 && header.contains(&t[0].folded.as_str()) && t[1].is(":"))
        || (0..w.len()).any(|i| DESK_PHRASES.iter().any(|p| phrase_at(&w, i, p)))
}

fn joined(sentences: &[String]) -> String {
    static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("spaces regex"));
    let all = sentences.join(" ");
    let text = SPACES.replace_all(&all, " ");
    text.trim().chars().take(MAX_CHARS).collect()
}

/// The description from the writer's new text; or else from `quoted` (what
/// a reply that gives only the fields quotes: the problem it answers for,
/// told in full), without the desk's own words; or else from the subject.
/// `None` when none states a problem.
pub fn find(new: &str, subject: &str, quoted: &str) -> Option<String> {
    let kept = problem_sentences(new.lines());
    if !kept.is_empty() {
        return Some(joined(&kept));
    }
    let quoted_lines = quoted
        .lines()
        .map(|l| l.trim_start_matches(|c: char| c == '>' || c.is_whitespace()))
        .filter(|l| !is_desk_line(l) && !text::is_quote_start(l));
    let kept = problem_sentences(quoted_lines);
    if !kept.is_empty() {
        return Some(joined(&kept));
    }
    let subject = problem_sentences(std::iter::once(subject));
    (!subject.is_empty()).then(|| joined(&subject))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_problem_without_label_greeting_or_fields() {
        let d = find(
            "Здравствуйте!\nПроблема: со вчерашнего дня не открывается дневник сына,\n\
             после входа белый экран. Пробовали с телефона — то же.\nИванова Мария, 5А",
            "",
            "",
        );
        assert_eq!(
            d.as_deref(),
            Some(
                "со вчерашнего дня не открывается дневник сына, после входа белый экран. \
                 Пробовали с телефона — то же."
            )
        );
    }

    #[test]
    fn sentences_that_say_nothing_are_left_out() {
        let d = find(
            "Коллеги, добрый день!\nЯ пишу с папиной почты, я Орехова Лиза, 4В класс.\n\
             Не видно оценок по английскому. Заранее благодарю Вас за помощь.\n\
             Извините, если пишу не туда.\nучитель английского языка",
            "",
            "",
        );
        assert_eq!(d.as_deref(), Some("Не видно оценок по английскому."));
    }

    #[test]
    fn positions_headings_and_shortenings_are_no_problem() {
        let d = find(
            "Директору школы Костиной Т.В. от учителя математики Хабибуллиной Л.Ф.\n\
             Прошу сбросить пароль. Ткаченко Е.В., зам. директора по ВР\n\
             Ответ прошу направить мне на этот адрес.",
            "",
            "",
        );
        assert_eq!(d.as_deref(), Some("Прошу сбросить пароль."));
        assert_eq!(
            sentences("Ткаченко Е.В., зам. директора по ВР. Не вижу 5 А. Класс"),
            [
                "Ткаченко Е.В., зам. директора по ВР.",
                "Не вижу 5 А.",
                "Класс"
            ]
        );
        // A position's words end where the problem starts.
        assert!(find("Учитель музыки не видит журнал.", "", "").is_some());
    }

    #[test]
    fn a_label_inside_a_line() {
        let d = find(
            "Сын учится в 2 «Д». Повторю проблему: белая страница.",
            "",
            "",
        );
        assert_eq!(d.as_deref(), Some("белая страница."));
    }

    #[test]
    fn nothing_stated() {
        assert_eq!(
            find(
                "Помогите, пожалуйста, срочно!\nПетрова Анна, 5Б",
                "Помогите",
                ""
            ),
            None
        );
        assert_eq!(find("ФИО: Петрова Анна\nКласс: 5Б", "Вопрос", ""), None);
        for vague in [
            "У нас проблема с электронным дневником, помогите пожалуйста.",
            "Прошу связаться со мной по поводу электронного журнала.",
            "Проблема на скриншоте во вложении, помогите разобраться.",
            "Я на месте с 8 до 14, каб. 305.",
            "Помогите, ничего не получается у обоих.",
            "это Третьяков Лёша из 9А, пишу с маминого ящика.",
            "это зайцев тимур 6а. помогите пожалуйста очень надо",
            "Здравствуйте, помогите, не работает.",
            "ничего не открывается!!!",
            "Прошу помочь маме ученицы 7А Ворониной Ксении, она сама позвонит и всё расскажет.",
            "У меня снова та же проблема, что и в прошлый раз. Сделайте, пожалуйста, что-нибудь, уже надоело.",
            "Не работает!!! Помогите срочно, завтра уже поздно будет.",
        ] {
            assert_eq!(find(vague, "Журнал", ""), None, "{vague}");
        }
        assert!(find("У нас не работает электронный дневник.", "", "").is_some());
        assert!(find("Не получается войти в дневник.", "", "").is_some());
        assert!(find("Не работает приложение.", "", "").is_some());
        assert!(find("Не открываются оценки.", "", "").is_some());
        assert!(find("Снова та же ошибка при входе, что и в прошлый раз.", "", "").is_some());
        assert_eq!(
            find("Петрова Анна, 5Б", "Не приходит код входа", "").as_deref(),
            Some("Не приходит код входа")
        );
    }

    #[test]
    fn the_desks_own_question_quoted_is_no_problem() {
        let quoted = "-----Original Message-----\nFrom: desk@school.ru\nSent: Tuesday, October 20, 2026 9:02 AM\n\
                      Subject: Re:\n\nЗдравствуйте! Укажите, пожалуйста, ФИО, класс и опишите, в чём заключается проблема.";
        assert_eq!(find("Ковалёв Дмитрий, 9 «А»", "", quoted), None);
    }

    #[test]
    fn a_reply_with_fields_takes_the_problem_it_quotes() {
        let quoted = "От: Служба поддержки <s@x.ru>\n> Укажите, пожалуйста, класс.\n\
                      > Не открывается дневник, белый экран.";
        assert_eq!(
            find("Петрова Анна, 5Б", "", quoted).as_deref(),
            Some("Не открывается дневник, белый экран.")
        );
        // The quoted letter tells the problem in full; the subject only
        // names it.
        let quoted = "> Здравствуйте! Укажите, пожалуйста, ФИО и класс.\n> Ваше письмо:\n\
                      >> Не могу войти через Госуслуги, возвращает на страницу входа.";
        assert_eq!(
            find(
                "Климова Евгения Вадимовна\n1Б",
                "Re: Re: не могу войти",
                quoted
            )
            .as_deref(),
            Some("Не могу войти через Госуслуги, возвращает на страницу входа.")
        );
    }
}
