//! Who is writing: staff, a parent (or legal representative), a student,
//! or `None` when the letter does not say.
//!
//! Only how the writers present themselves counts: «я учитель»,
//! «классный руководитель 6В», «зам. директора» for staff; «мама»,
//! «законный представитель», «мой сын», «у дочки» for parents; «я
//! ученица», «учусь», «одноклассники» for students. A parent who writes
//! «учитель говорит» is not a teacher, so a staff title counts only when
//! it is the writer's own (after «я», at the head of a sentence followed by
//! a subject or a name, after the writer's name, or alone on a signature
//! line).

use std::sync::LazyLock;

use regex::Regex;

use super::{Role, fold};

fn re(p: &str) -> Regex {
    // Invariant: every pattern in this module is a literal that compiles.
    Regex::new(p).expect("valid regex")
}

const STAFF_TITLE: &str = r"(?:классн[а-яёa-z0-9_]*\s+руководител[а-яёa-z0-9_]*|кл\.?\s*руководител[а-яёa-z0-9_]*|кл\.\s*рук\.?|учител[а-яёa-z0-9_]*|преподавател[а-яёa-z0-9_]*|педагог[а-яёa-z0-9_]*|заместител[а-яёa-z0-9_]*\s+директора|зам\.?\s*директора|замдиректора|завуч[а-яёa-z0-9_]*|директор[а-яёa-z0-9_]*|администратор[а-яёa-z0-9_]*|секретар[а-яёa-z0-9_]*|воспитател[а-яёa-z0-9_]*|психолог[а-яёa-z0-9_]*|тьютор[а-яёa-z0-9_]*|библиотекар[а-яёa-z0-9_]*|методист[а-яёa-z0-9_]*|логопед[а-яёa-z0-9_]*|дефектолог[а-яёa-z0-9_]*)";

/// «я учитель», «я, классный руководитель», «являюсь классным
/// руководителем», «работаю учителем».
static STAFF_SELF: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:^|[^а-яёa-z])(?:я\s*[,—–-]?\s*{STAFF_TITLE}|(?:являюсь|работаю)\s+{STAFF_TITLE}|(?:детей|дети|ученики|учеников|ученикам|ученица|ученик|ученика|ученицы|родители|родителей)\s+моего\s+класса|в\s+моем\s+классе|мой\s+класс\s+[0-9]|у\s+меня\s+в\s+классе|веду\s+(?:уроки|урок|предмет|журнал)|мои\s+ученики|моих\s+учеников|моим\s+ученикам|я\s+как\s+{STAFF_TITLE}|(?:пишет|пишу|обращается|беспокоит|беспокоят|на\s+связи)\s*[,—–-]?\s*{STAFF_TITLE})"
    ))
});

/// A staff title at the head of a sentence or line, with what follows.
static STAFF_HEAD: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"(?:^|[.!?\n:]\s*|(?:здравствуйте|добрый\s+день|добрый\s+вечер|доброе\s+утро)[,!.]?\s*)({STAFF_TITLE})(?:\s+([^\s,.!?;:]+))?(?:\s+([^\s,.!?;:]+))?"
    ))
});

/// «Иванова Мария Петровна, учитель…» / «— учитель».
static STAFF_AFTER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    re(&format!(
        r"[А-ЯЁ][а-яё]+(?:\s+(?:[А-ЯЁ][а-яё]+|[А-ЯЁ]\.\s?[А-ЯЁ]\.?)){{0,2}}\s*[,—–-]\s*({STAFF_TITLE})"
    ))
});

/// Words that follow a title used of a third person («учитель говорит»).
fn third_person_verb(w: &str) -> bool {
    let w = fold(w);
    [
        "говор",
        "сказал",
        "ставит",
        "постав",
        "выстав",
        "написал",
        "уверя",
        "ответил",
        "не",
        "ничего",
        "прислал",
        "обещал",
        "объяснил",
        "может",
        "видит",
        "подтверд",
        "сообщ",
        "попрос",
        "жалу",
        "отправ",
        "дал",
        "дала",
        "велел",
        "требует",
        "посоветовал",
        "рекомендовал",
        "утвержда",
        "считает",
        "исправ",
        "забыл",
        "перенес",
        "переслал",
    ]
    .iter()
    .any(|p| w.starts_with(p))
}

/// Any staff title at all: most letters have none, and then the costlier
/// patterns need not run.
static ANY_TITLE: LazyLock<Regex> = LazyLock::new(|| re(STAFF_TITLE));

/// `text` is the writer's own text, `f` its folded form, `seen` what
/// [`CUES`] found in it.
fn staff(text: &str, f: &str, seen: &regex::SetMatches) -> bool {
    if !seen.matched(Cue::AnyTitle as usize) {
        return false;
    }
    if seen.matched(Cue::StaffSelf as usize) {
        return true;
    }
    // The fast search finds the spots; captures run only over each one.
    let heads: Vec<(usize, regex::Captures<'_>)> = STAFF_HEAD
        .find_iter(f)
        .filter_map(|m| STAFF_HEAD.captures(&f[m.range()]).map(|c| (m.start(), c)))
        .collect();
    for (offset, c) in heads {
        let title = c.get(1).map_or("", |m| m.as_str());
        // A verb after the title in the same sentence: a third person
        // («Учитель математики Иванова поставила…»).
        let end = c.get(0).map_or(0, |m| m.end());
        let title_start = offset + c.get(1).map_or(0, |m| m.start());
        // Offsets of the folded text match the original for Cyrillic and
        // ASCII; `get` keeps an odd character from ever splitting one.
        let original = text
            .get(title_start..)
            .or_else(|| f.get(title_start..))
            .unwrap_or_default();
        let rest: String = original
            .chars()
            .take_while(|ch| !matches!(ch, '.' | '!' | '?' | '\n' | ','))
            .collect();
        if rest.split_whitespace().skip(1).take(7).any(|w| {
            super::name::verbish(w) || w.chars().all(char::is_lowercase) && third_person_verb(w)
        }) {
            let _ = end;
            continue;
        }
        let next = c.get(2).map(|m| m.as_str());
        let next2 = c.get(3).map(|m| m.as_str());
        // Dative/genitive titles («учителю», «учителя») are third persons.
        if title.ends_with("ю")
            || title.ends_with("ем")
            || title.starts_with("учител") && (title.ends_with('я') || title.ends_with("ей"))
            || title.ends_with("ям")
            || title.ends_with("ами")
            || title.ends_with("ах")
        {
            continue;
        }
        match next {
            None => return true,
            Some(n) if third_person_verb(n) => continue,
            Some(n) => {
                // A subject («математики»), «по УВР», a class, a name:
                // a self-presentation.
                let subj = n.ends_with("ики")
                    || n.ends_with("ии")
                    || n.ends_with("ого")
                    || n.ends_with("ых")
                    || n.ends_with("ры")
                    || n.ends_with("ы")
                    || n == "по"
                    || n.chars().next().is_some_and(|c| c.is_ascii_digit())
                    || n == "начальных"
                    || n == "гимназии"
                    || n == "школы";
                let verb_after = next2.is_some_and(third_person_verb);
                if subj && !verb_after {
                    return true;
                }
            }
        }
    }
    // Name followed by a title: use the original case.
    if STAFF_AFTER_NAME
        .find_iter(text)
        .any(|m| !fold(m.as_str()).trim_end().ends_with('ю'))
    {
        return true;
    }
    // A signature line that is only a title: «учитель математики».
    text.lines().any(|l| {
        // Short lines only: count words before folding or matching.
        let words = l.split_whitespace().count();
        if !(1..=6).contains(&words) {
            return false;
        }
        let l = fold(l.trim());
        ANY_TITLE.is_match(&l)
            && STAFF_HEAD
                .captures(&l)
                .and_then(|c| c.get(1))
                .is_some_and(|m| m.start() == 0 && !m.as_str().ends_with('ю'))
            && !l.split_whitespace().any(third_person_verb)
            && !l.contains('?')
    })
}

static PARENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^а-яёa-z])(?:я\s*[,—–-]?\s*(?:мама|мать|папа|отец|бабушка|дедушка|опекун[а-яёa-z0-9_]*|родитель|родительница|мачеха|отчим|тетя|дядя|законн[а-яёa-z0-9_]+\s+представител[а-яёa-z0-9_]+)|(?:мама|мать|папа|отец|бабушка|дедушка|опекун[а-яёa-z0-9_]*|родитель|законн[а-яёa-z0-9_]+\s+представител[а-яёa-z0-9_]+|мамой|папой|матерью|отцом)\s+(?:ученик[а-яёa-z0-9_]*|ученицы|учащ[а-яёa-z0-9_]+|ребенка|обучающ[а-яёa-z0-9_]+)|законн[а-яёa-z0-9_]+\s+представител[а-яёa-z0-9_]+|(?:мой|моего|моему|моим|моем|наш|нашего|нашему|у|у\s+моего|у\s+моей|у\s+нашего|у\s+нашей|моя|моей|мою|наша|нашей)\s+(?:сын[а-яёa-z0-9_]*|доч[а-яёa-z0-9_]*|ребен[а-яёa-z0-9_]*|ребён[а-яёa-z0-9_]*|внук[а-яёa-z0-9_]*|внучк[а-яёa-z0-9_]*|детей|дети)|(?:сын|дочь|дочка|ребенок|внук|внучка)\s+(?:учится|обучается|ходит|в\s+[0-9])|(?:сыну|дочери|дочке|ребенку|внуку|внучке)\s+(?:поставили|выставили|не\s|пришл|нужн|поставил|выдали)|(?:у\s+)?(?:сына|дочери|дочки|ребенка)\s*[,(]|(?:сын|дочь|дочка|ребенок)\s*[,—–-]?\s*(?:ученик|ученица)|(?:родительск[а-яёa-z0-9_]+)\s+(?:аккаунт[а-яёa-z0-9_]*|доступ[а-яёa-z0-9_]*|учетн[а-яёa-z0-9_]*|профил[а-яёa-z0-9_]*|кабинет[а-яёa-z0-9_]*|логин[а-яёa-z0-9_]*|пароль))",
    )
});

/// A son, a daughter, a child of the writer's: «дневник сына», «сыну
/// поставили», «у дочки». Students and staff do not write these.
static KIN: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^а-яёa-z])(?:сын|сына|сыну|сыном|сыне|сынок|сыночек|сынишка|сыночка|дочь|дочери|дочерью|дочка|дочки|дочке|дочку|дочкой|доча|дочурка|ребенок|ребенка|ребенку|ребенком|ребенке|внук|внука|внуку|внучка|внучки|внучке|внучку)(?:[^а-яёa-z]|$)",
    )
});

/// «мама Даши», «папа Петрова Ильи»: a parent title before a name.
static PARENT_OF_NAMED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i:мама|папа|мать|отец|бабушка|дедушка|опекун)\s*[-–—:]?\s*[А-ЯЁ][а-яё]+")
});

/// A signature line «Мама», «Папа Ильи», or a label «ФИО родителя».
static PARENT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?m)^\s*(?:мама|папа|мать|отец|бабушка|дедушка|опекун)(?:\s+[а-я]+){0,3}\s*[.!]?\s*$|(?:фио|ф\.\s*и\.\s*о\.?)\s+(?:родителя|законного\s+представителя|заявителя-родителя)",
    )
});

static PARENT_SELF_SIGNED: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?:^|[^а-яёa-z])(?:мама|папа|мать|отец|бабушка|дедушка|опекун|родитель)(?:[^а-яёa-z]|$)")
});

static STUDENT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?:^|[^а-яёa-z])(?:я\s*[,—–-]?\s*(?:ученик|ученица|учащийся|учащаяся|обучающийся|обучающаяся|школьник|школьница|студент[а-яёa-z0-9_]*)(?:[^а-яёa-z]|$)|учусь|я\s+из\s+[0-9]|это\s+[а-я]+\s+из\s+[0-9]|одноклассни[а-яёa-z0-9_]*|однокласснице|одноклассниц[а-яёa-z0-9_]*|мой\s+классный\s+руководитель|моему\s+классному|моя\s+классная|нашему\s+классному|наш\s+классный\s+руководитель|наша\s+классная|мне\s+(?:поставили|выставили|поставил|поставила)|моих\s+оценок|мои\s+оценки|(?:ученик|ученица|учащийся|учащаяся)\s+(?:[0-9]|[а-я]*\s*класса|школы|гимназии)|я\s+[а-я]+(?:\s+[а-я]+)?\s+из\s+[0-9]|я\s*,?\s+[а-я]+(?:\s+[а-я]+){0,2}\s*[,—–-]\s*(?:ученик|ученица|учащийся|учащаяся|обучающийся|обучающаяся|школьник|школьница)(?:[^а-яёa-z]|$)|я\s*,?\s+[а-я]+(?:\s+[а-я]+){0,2}\s*,\s*(?:ученик[а-яёa-z0-9_]*\s+)?[0-9]{1,2}\s*[-–«\x22]?\s*[а-я]?\s*[»\x22]?\s*(?:класс|кл\.|[,.!]|$))",
    )
});

/// The patterns that run over the folded text, in one pass: each letter
/// is scanned once for all of them rather than once per pattern (the
/// automata of separate scans do not stay in the CPU cache together).
#[derive(Clone, Copy)]
enum Cue {
    AnyTitle,
    StaffSelf,
    Parent,
    Kin,
    ParentLine,
    Student,
    ParentSelfSigned,
}

static CUES: LazyLock<regex::RegexSet> = LazyLock::new(|| {
    // Invariant: the same patterns as the statics, which compile; the
    // order is that of `Cue`.
    regex::RegexSetBuilder::new([
        ANY_TITLE.as_str(),
        STAFF_SELF.as_str(),
        PARENT.as_str(),
        KIN.as_str(),
        PARENT_LINE.as_str(),
        STUDENT.as_str(),
        PARENT_SELF_SIGNED.as_str(),
    ])
    .build()
    .expect("valid regex set")
});

/// The writer's role from their own text (new text and signature).
pub fn detect(text: &str) -> Option<Role> {
    let f = fold(text);
    let seen = CUES.matches(&f);
    if staff(text, &f, &seen) {
        return Some(Role::Staff);
    }
    // The set's answers first: the pattern over the original text runs
    // only when they say nothing.
    let parent = seen.matched(Cue::Parent as usize)
        || seen.matched(Cue::Kin as usize)
        || seen.matched(Cue::ParentLine as usize)
        || PARENT_OF_NAMED.is_match(text);
    let student = seen.matched(Cue::Student as usize);
    match (parent, student) {
        (true, _) => Some(Role::Parent),
        (false, true) => Some(Role::Student),
        (false, false) => {
            if seen.matched(Cue::ParentSelfSigned as usize)
                && !f.contains("мама сказала")
                && !f.contains("папа сказал")
            {
                Some(Role::Parent)
            } else {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        for (t, want) in [
            (
                "Добрый день, я классный руководитель 6В. Не получается",
                Some(Role::Staff),
            ),
            (
                "Я учитель математики, Кравцова Елена Николаевна.",
                Some(Role::Staff),
            ),
            (
                "Муравьёва Ольга Константиновна, учитель биологии. Не",
                Some(Role::Staff),
            ),
            (
                "Заместитель директора по УВР Белова Татьяна Сергеевна.",
                Some(Role::Staff),
            ),
            ("Я мама Петрова Ильи", Some(Role::Parent)),
            (
                "бабушка и законный представитель ученика",
                Some(Role::Parent),
            ),
            ("Сын учится в 11Б классе.", Some(Role::Parent)),
            ("У дочки, ученицы 7 б класса", Some(Role::Parent)),
            (
                "У дочери (5A класс) стоит 3, а учитель говорит, что ставила 5",
                Some(Role::Parent),
            ),
            ("Шустов Денис Олегович, сын в 8А.", Some(Role::Parent)),
            ("Здравствуйте я ученица 6 В класса.", Some(Role::Student)),
            ("Ученик 11 класса Тимофеев Егор.", Some(Role::Student)),
            ("у одноклассников оно отображается", Some(Role::Student)),
            (
                "привет, это Даша из 8 б, я забыла пароль",
                Some(Role::Student),
            ),
            ("Здравствуйте, Гусев Павел Андреевич, 9Б", None),
            ("Не приходят уведомления о новых оценках", None),
            ("у моего сына Кириллова Максима (4А)", Some(Role::Parent)),
            ("Ребёнок в 3А.", Some(Role::Parent)),
            (
                "Я Саша Иванов, 8 В класс. Не могу войти",
                Some(Role::Student),
            ),
            (
                "Я, Соколова Алина, ученица. Тест не открывается",
                Some(Role::Student),
            ),
            ("Я, Ершова Вера, мама, дочь в 3Б", Some(Role::Parent)),
        ] {
            assert_eq!(detect(t), want, "{t}");
        }
    }
}
