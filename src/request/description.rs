//! The problem, in the writer's own new text: what is left once the
//! greeting, the name/class/role line, pleas («помогите, пожалуйста»),
//! thanks, attachment notes («скриншот во вложении») and the signature are
//! set aside. A subject that states a problem («Не приходит код для
//! входа») counts; a bare «Ошибка», «Вопрос», «Помогите» does not. In a
//! reply, the quoted original may supply the problem when the new text
//! only adds the name or class.

use std::sync::LazyLock;

use super::names_data::{FEMALE_SET, MALE_SET};
use super::{Stems, WordSet, char_at, fold, fold_into, letter_len};

/// Words that carry no problem: function words, greetings, pleas,
/// identity words (who is writing, the class), school subjects after a
/// title («учитель математики»).
static FILLER: LazyLock<WordSet> = LazyLock::new(|| {
    [
        // function words
        "и",
        "в",
        "во",
        "на",
        "я",
        "с",
        "со",
        "что",
        "как",
        "а",
        "то",
        "все",
        "всё",
        "она",
        "он",
        "так",
        "его",
        "но",
        "да",
        "ты",
        "к",
        "у",
        "же",
        "вы",
        "за",
        "бы",
        "по",
        "только",
        "ее",
        "её",
        "мне",
        "было",
        "вот",
        "от",
        "меня",
        "еще",
        "ещё",
        "о",
        "из",
        "ему",
        "теперь",
        "когда",
        "даже",
        "ну",
        "ли",
        "если",
        "уже",
        "или",
        "быть",
        "был",
        "была",
        "были",
        "него",
        "до",
        "вас",
        "нибудь",
        "уж",
        "вам",
        "ведь",
        "там",
        "потом",
        "себя",
        "ей",
        "они",
        "тут",
        "где",
        "есть",
        "ней",
        "для",
        "мы",
        "тебя",
        "их",
        "чем",
        "сам",
        "чтоб",
        "без",
        "будто",
        "чего",
        "тоже",
        "себе",
        "под",
        "будет",
        "ж",
        "тогда",
        "кто",
        "этот",
        "того",
        "потому",
        "этого",
        "какой",
        "ним",
        "здесь",
        "этом",
        "один",
        "почти",
        "мой",
        "моя",
        "мои",
        "моего",
        "моей",
        "моему",
        "моим",
        "тем",
        "чтобы",
        "нее",
        "сейчас",
        "куда",
        "зачем",
        "всех",
        "при",
        "об",
        "хоть",
        "после",
        "над",
        "тот",
        "через",
        "эти",
        "нас",
        "про",
        "всего",
        "них",
        "эту",
        "свою",
        "этой",
        "перед",
        "том",
        "такой",
        "им",
        "всю",
        "между",
        "это",
        "эта",
        "наш",
        "наша",
        "наше",
        "наши",
        "нашего",
        "нашей",
        "ваш",
        "ваша",
        "ваше",
        "ваши",
        "вашего",
        "вашей",
        "который",
        "которая",
        "которые",
        "также",
        "очень",
        "просто",
        "вообще",
        "либо",
        "итак",
        "однако",
        // greetings, pleas, thanks, notes
        "здравствуйте",
        "здравствуй",
        "здрасте",
        "добрый",
        "доброе",
        "доброго",
        "день",
        "вечер",
        "утро",
        "дня",
        "вечера",
        "привет",
        "приветствую",
        "спасибо",
        "заранее",
        "благодарю",
        "благодарна",
        "благодарен",
        "уважением",
        "помогите",
        "помогите!",
        "помочь",
        "помощь",
        "прошу",
        "просим",
        "пожалуйста",
        "срочно",
        "скриншот",
        "скриншоты",
        "скрин",
        "скрины",
        "вложении",
        "вложение",
        "вложения",
        "приложении",
        "прикладываю",
        "прилагаю",
        "прикрепляю",
        "прикрепила",
        "прикрепил",
        "приложила",
        "приложил",
        "фото",
        "фотографию",
        "делать",
        "разберитесь",
        "разобраться",
        "ответа",
        "ответ",
        "жду",
        "ждем",
        "ждём",
        "обращаюсь",
        "пишу",
        "пишем",
        "пересылаю",
        "письмо",
        "дополняю",
        "уточняю",
        "подскажите",
        "сообщение",
        "уважаемые",
        "уважаемый",
        "уважаемая",
        "коллеги",
        "вопрос",
        "вопросу",
        "проблема",
        "проблемой",
        "ошибка",
        "обращение",
        "заявка",
        "элжур",
        "элжура",
        "элжуре",
        "техподдержка",
        "поддержка",
        "служба",
        "добрый",
        "извините",
        "простите",
        "надеюсь",
        "понимание",
        "оперативность",
        "хорошего",
        "всего",
        "доброго",
        // identity
        "мама",
        "папа",
        "мать",
        "отец",
        "бабушка",
        "дедушка",
        "опекун",
        "законный",
        "законная",
        "представитель",
        "родитель",
        "родительница",
        "ученик",
        "ученица",
        "ученика",
        "ученицы",
        "учащийся",
        "учащаяся",
        "обучающийся",
        "обучающаяся",
        "сын",
        "сына",
        "дочь",
        "дочери",
        "дочка",
        "дочки",
        "ребенок",
        "ребёнок",
        "ребенка",
        "ребёнка",
        "внук",
        "внука",
        "внучка",
        "внучки",
        "класс",
        "класса",
        "классе",
        "классный",
        "классная",
        "руководитель",
        "руководителя",
        "учитель",
        "учительница",
        "заместитель",
        "директора",
        "директор",
        "зам",
        "завуч",
        "педагог",
        "преподаватель",
        "администратор",
        "учусь",
        "учится",
        "зовут",
        "обращается",
        "фио",
        "являюсь",
        "школы",
        "школа",
        "гимназии",
        "лицея",
        "моб",
        "тел",
        "телефон",
        "математики",
        "биологии",
        "физики",
        "химии",
        "истории",
        "литературы",
        "русского",
        "языка",
        "английского",
        "информатики",
        "географии",
        "обществознания",
        "физкультуры",
        "музыки",
        "технологии",
        "начальных",
        "классов",
        "увр",
    ]
    .into_iter()
    .collect()
});

const STRONG_STEMS: &[&str] = &[
    "ошибк",
    "ошибочн",
    "проблем",
    "забыл",
    "пропал",
    "пропад",
    "исчез",
    "неправильн",
    "неверн",
    "сброс",
    "восстанов",
    "сломал",
    "зависа",
    "вылета",
    "недоступ",
    "заблокир",
    "блокир",
    "сбой",
    "глюч",
    "вместо",
    "невозможн",
    "перестал",
    "перестает",
    "неактивн",
];

const STRONG: u8 = 1;
const WEAK: u8 = 2;
const CONTACT: u8 = 4;

/// The marker stems, one look-up for all three kinds.
static MARKERS: LazyLock<Stems> = LazyLock::new(|| {
    Stems::tagged(&[
        (STRONG_STEMS, STRONG),
        (WEAK_STEMS, WEAK),
        (CONTACT_STEMS, CONTACT),
    ])
});

/// Words that say something is wrong (negations, errors, losses) or
/// something is wanted or happening to the system, and words asking to be
/// contacted: the tags of the folded word `w`.
fn markers(w: &str) -> u8 {
    let words = match w {
        "не" | "нет" | "ни" | "нельзя" | "почему" | "никак" | "невозможно" | "ничего" => {
            STRONG
        }
        "как" | "где" | "можно" | "нужно" | "надо" => WEAK,
        _ => 0,
    };
    words | MARKERS.tags(w)
}

const WEAK_STEMS: &[&str] = &[
    "нужн",
    "хочу",
    "хотим",
    "хотела",
    "хотел",
    "исправ",
    "измен",
    "удал",
    "добав",
    "привяз",
    "отвяз",
    "подключ",
    "выда",
    "получ",
    "отображ",
    "приход",
    "войти",
    "зайти",
    "вход",
    "открыва",
    "загруж",
    "сохран",
    "выстав",
    "поменя",
    "перенес",
    "поправ",
    "пишет",
    "показыва",
    "стоит",
    "висит",
    "постав",
    "пуст",
    "долг",
    "задолж",
];

const CONTACT_STEMS: &[&str] = &[
    "связат",
    "свяжит",
    "свяжем",
    "перезвон",
    "позвон",
    "созвон",
    "дозвон",
];

/// `f` is the folded word.
fn is_name_like(f: &str) -> bool {
    FEMALE_SET.contains(f)
        || MALE_SET.contains(f)
        || [
            "ова", "ева", "ов", "ев", "ина", "ин", "ский", "ская", "енко", "овна", "евна", "ович",
            "евич", "ична",
        ]
        .iter()
        .any(|e| f.ends_with(e))
}

/// What one pass over the words of a sentence finds.
#[derive(Default)]
struct Content {
    /// Words that carry content.
    words: usize,
    /// A strong and a weak problem marker.
    strong: bool,
    weak: bool,
    /// A word asking to be contacted («свяжитесь», «перезвоните»).
    contact: bool,
}

/// The words of a sentence that carry content, and the markers in it.
fn content(sentence: &str) -> Content {
    let mut c = Content::default();
    let mut first = true;
    let mut w = String::new();
    for raw in words(sentence) {
        let is_first = first;
        first = false;
        w.clear();
        fold_into(raw, &mut w);
        let m = markers(&w);
        c.strong |= m & STRONG != 0;
        c.weak |= m & WEAK != 0;
        c.contact |= m & CONTACT != 0;
        let len = raw.chars().count();
        if len < 3 || FILLER.contains(w.as_str()) {
            continue;
        }
        let capital = raw.chars().next().is_some_and(char::is_uppercase);
        if len <= 5 && raw.chars().all(|c| !c.is_lowercase()) {
            continue; // УВР, МАОУ, ЭлЖур-like abbreviations
        }
        if capital
            && (!is_first || is_name_like(&w))
            && raw.chars().any(|c| ('а'..='я').contains(&c))
        {
            continue; // names
        }
        c.words += 1;
    }
    c
}

/// The runs of letters and hyphens in `s`, without hyphens at their
/// ends, none empty. Read by bytes (see `letter_len`).
fn words(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut i = 0;
    // Whether the character at byte `i` (a character boundary) is part of
    // a word, and its length.
    let at = move |i: usize| match letter_len(s, i) {
        0 if b[i] == b'-' => (true, 1),
        0 => (false, char_at(s, i).map_or(1, char::len_utf8)),
        n => (true, n),
    };
    std::iter::from_fn(move || {
        loop {
            while i < b.len() {
                let (part, n) = at(i);
                if part {
                    break;
                }
                i += n;
            }
            if i >= b.len() {
                return None;
            }
            let start = i;
            while i < b.len() {
                let (part, n) = at(i);
                if !part {
                    break;
                }
                i += n;
            }
            let w = s[start..i].trim_matches('-');
            if !w.is_empty() {
                return Some(w);
            }
        }
    })
}

fn states_problem(sentence: &str) -> bool {
    // A sentence in capitals reads like one in lower case.
    let lowered;
    let sentence = if sentence.chars().any(char::is_lowercase) {
        sentence
    } else {
        lowered = sentence.to_lowercase();
        &lowered
    };
    let c = content(sentence);
    // «Можно с вами связаться?», «Перезвоните мне»: asking to be
    // contacted says nothing yet about what is wrong — when the request is
    // short; a longer sentence goes on to the problem.
    if !c.strong && c.contact && sentence.split_whitespace().count() <= 8 {
        return false;
    }
    let n = c.words;
    n >= 4 || n >= 2 && (c.strong || c.weak) || n >= 1 && c.strong && sentence.contains('?')
}

fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.lines() {
        // The ends of sentences (. ! ? ; …) found by their bytes: ASCII
        // bytes and the lead byte of «…» always start a character.
        let b = line.as_bytes();
        let (mut start, mut i) = (0, 0);
        while i < b.len() {
            let end = match b[i] {
                b'.' | b'!' | b'?' | b';' => i + 1,
                0xE2 if b[i..].starts_with("…".as_bytes()) => i + 3,
                _ => {
                    i += 1;
                    continue;
                }
            };
            let next = line[end..].chars().next();
            if next.is_none_or(|n| n.is_whitespace() || n == ')' || n == '»' || n == '"') {
                let s = line[start..end].trim();
                if !s.is_empty() {
                    out.push(s);
                }
                start = end;
            }
            i = end;
        }
        let s = line[start..].trim();
        if !s.is_empty() {
            out.push(s);
        }
    }
    out
}

/// Our own boilerplate quoted back at us: never the writer's problem.
fn is_our_boilerplate(s: &str) -> bool {
    let f = fold(s);
    [
        "укажите",
        "для обработки",
        "служба поддержки",
        "техподдержка",
        "заявк",
        "ваше обращение",
        "ваш запрос",
        "специалист",
        "ответим",
        "поддержки элжур",
        "не отвечайте",
        "автоматическ",
        "номер обращения",
        "недостающ",
        "принят",
        "передан",
    ]
    .iter()
    .any(|p| f.contains(p))
}

const MAX_CHARS: usize = 1000;

static GREETING: LazyLock<regex::Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern that compiles.
    regex::Regex::new(r"(?i)^(?:здравствуйте|здрасте|добрый\s+(?:день|вечер)|доброе\s+утро|привет|приветствую)[\s,.!]*")
        .expect("valid regex")
});

/// «Здравствуйте, у сына …» → «у сына …».
fn strip_greeting(s: &str) -> &str {
    match GREETING.find(s) {
        Some(m) if m.end() < s.len() => &s[m.end()..],
        _ => s,
    }
}

/// The description of the problem, or `None` when the letter has none.
///
/// `gives_fields` says the new text names the writer or the class: only
/// then is a reply taken to complete its quoted original.
pub fn find(
    new_text: &str,
    subject: &str,
    quoted: &str,
    is_reply: bool,
    gives_fields: bool,
) -> Option<String> {
    let picked: Vec<&str> = sentences(new_text)
        .into_iter()
        .filter(|s| states_problem(s))
        .map(strip_greeting)
        .collect();
    if !picked.is_empty() {
        return Some(cap(&picked.join(" ")));
    }
    if subject_states_problem(subject) {
        return Some(cap(subject.trim()));
    }
    if is_reply && gives_fields {
        let picked: Vec<&str> = sentences(quoted)
            .into_iter()
            .filter(|s| !is_our_boilerplate(s) && states_problem(s))
            .collect();
        if !picked.is_empty() {
            return Some(cap(&picked.join(" ")));
        }
    }
    None
}

/// Whether a subject, cleaned of `Re:` and tags, states a problem.
pub fn subject_states_problem(subject: &str) -> bool {
    let c = content(subject);
    c.words >= 2 && c.strong
}

fn cap(s: &str) -> String {
    match s.char_indices().nth(MAX_CHARS) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::is_letter;

    #[test]
    fn words_agree_with_splitting_on_characters() {
        for s in [
            "",
            "Не могу зайти в дневник, пишет «Ошибка авторизации».",
            "-кто-то- -- 5-й класс, e-mail: x@y.ru; Ӂук Ǆ ΣΑΣ 日本 ok-",
            "Ёлки—палки…\u{00A0}что-то\tне так!!!",
        ] {
            let want: Vec<&str> = s
                .split(|c: char| !(is_letter(c) || c == '-'))
                .map(|w| w.trim_matches('-'))
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(words(s).collect::<Vec<_>>(), want, "{s}");
        }
    }

    #[test]
    fn identity_lines_are_not_problems() {
        for t in [
            "Добрый день.\nМельникова Ксения Олеговна, мама Мельниковой Софии, 9А.\nСкриншот во вложении.",
            "Здравствуйте, Гусев Павел Андреевич, 9Б",
            "Муравьёва Ольга Константиновна, учитель биологии.",
            "Заместитель директора по УВР Белова Татьяна Сергеевна.",
            "Помогите, пожалуйста! Что делать?",
            "Кузнецова Ирина, 4В. Как можно с вами связаться?",
            "Перезвоните мне, пожалуйста, Лаптев Игорь, 6А.",
        ] {
            assert_eq!(find(t, "ЭлЖур", "", false, true), None, "{t}");
        }
    }

    #[test]
    fn problems_are_found() {
        assert!(
            find(
                "Не могу зайти в дневник, пишет неверный пароль.",
                "",
                "",
                false,
                true
            )
            .is_some()
        );
        assert!(
            find(
                "Здравствуйте.",
                "Не приходит код для входа",
                "",
                false,
                true
            )
            .is_some()
        );
        assert!(find("Здравствуйте.", "Ошибка", "", false, true).is_none());
        // Asking to be called back about a named failure is a problem.
        assert!(
            find(
                "Не могу до вас дозвониться, пароль не подходит.",
                "",
                "",
                false,
                true
            )
            .is_some()
        );
        assert!(find("Как установить приложение на телефон?", "", "", false, true).is_some());
        // A thank-you reply does not revive the quoted answer.
        assert!(
            find(
                "Спасибо, всё заработало!",
                "Re: x",
                "Пароль сброшен, попробуйте войти снова.",
                true,
                false
            )
            .is_none()
        );
        assert!(find("Иванова Мария, 5А", "Re: x", "Здравствуйте! Для обработки обращения укажите, пожалуйста, ФИО и класс.\nУ сына не открывается дневник, пишет ошибку.", true, true).is_some());
        assert!(
            find(
                "Иванова Мария, 5А",
                "Re: x",
                "Здравствуйте! Для обработки обращения укажите, пожалуйста, ФИО и класс ребёнка.",
                true,
                true
            )
            .is_none()
        );
    }
}
