//! The problem, in the writer's own new text: what is left once the
//! greeting, the name/class/role line, pleas («помогите, пожалуйста»),
//! thanks, attachment notes («скриншот во вложении») and the signature are
//! set aside. A subject that states a problem («Не приходит код для
//! входа») counts; a bare «Ошибка», «Вопрос», «Помогите» does not. In a
//! reply, the quoted original may supply the problem when the new text
//! only adds the name or class.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::names_data::{FEMALE_SET, MALE_SET};
use super::{Stems, WordHash, char_at, fold_into, letter_len};

/// Words that carry no problem: function words, greetings, pleas,
/// identity words (who is writing, the class), school subjects after a
/// title («учитель математики»).
const FILLER_WORDS: &[&str] = &[
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
];

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
/// A [`FILLER_WORDS`] word (a flag of [`LEXICON`] only, never of a stem).
const FILLER: u8 = 8;

/// Whole words that say something is wrong (negations, «нельзя»,
/// «почему»…): strong markers besides [`STRONG_STEMS`].
const STRONG_WORDS: &[&str] = &[
    "не",
    "нет",
    "ни",
    "нельзя",
    "почему",
    "никак",
    "невозможно",
    "ничего",
];

/// Whole words that ask how or where, or say something is needed: weak
/// markers besides [`WEAK_STEMS`].
const WEAK_WORDS: &[&str] = &["как", "где", "можно", "нужно", "надо"];

/// The marker stems, one look-up for all three kinds.
static MARKERS: LazyLock<Stems> = LazyLock::new(|| {
    Stems::tagged(&[
        (STRONG_STEMS, STRONG),
        (WEAK_STEMS, WEAK),
        (CONTACT_STEMS, CONTACT),
    ])
});

/// Every whole word of the lists above ([`FILLER_WORDS`], [`STRONG_WORDS`],
/// [`WEAK_WORDS`]) with all its flags, the tags of the marker stems it
/// starts with included: for these words one look-up answers everything
/// [`flags`] tells.
static LEXICON: LazyLock<HashMap<&'static str, u8, WordHash>> = LazyLock::new(|| {
    let mut table = HashMap::default();
    for (words, flag) in [
        (FILLER_WORDS, FILLER),
        (STRONG_WORDS, STRONG),
        (WEAK_WORDS, WEAK),
    ] {
        for &w in words {
            *table.entry(w).or_insert_with(|| MARKERS.tags(w)) |= flag;
        }
    }
    table
});

/// What the folded word `w` says: whether it is filler ([`FILLER`]), and
/// its markers — something is wrong ([`STRONG`]), something is wanted or
/// happening to the system ([`WEAK`]), the writer asks to be contacted
/// ([`CONTACT`]).
fn flags(w: &str) -> u8 {
    match LEXICON.get(w) {
        Some(&f) => f,
        None => MARKERS.tags(w),
    }
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
    [
        "ова", "ева", "ов", "ев", "ина", "ин", "ский", "ская", "енко", "овна", "евна", "ович",
        "евич", "ична",
    ]
    .iter()
    .any(|e| f.ends_with(e))
        || FEMALE_SET.contains(f)
        || MALE_SET.contains(f)
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
/// `folded` is a buffer for the folded words, kept between calls.
fn content(sentence: &str, folded: &mut String) -> Content {
    let mut c = Content::default();
    let mut first = true;
    for raw in words(sentence) {
        let is_first = first;
        first = false;
        folded.clear();
        let shape = Shape::read(raw, folded);
        let w = folded.as_str();
        let f = flags(w);
        c.strong |= f & STRONG != 0;
        c.weak |= f & WEAK != 0;
        c.contact |= f & CONTACT != 0;
        if shape.chars < 3 || f & FILLER != 0 {
            continue;
        }
        if shape.chars <= 5 && !shape.lower {
            continue; // УВР, МАОУ, ЭлЖур-like abbreviations
        }
        if shape.capital && (!is_first || is_name_like(w)) && shape.russian_lower {
            continue; // names
        }
        c.words += 1;
    }
    c
}

/// The case of a word's letters, as [`content`] asks about them.
#[derive(Debug, PartialEq)]
struct Shape {
    /// Its length in characters.
    chars: usize,
    /// Its first character is upper case.
    capital: bool,
    /// One of its characters is lower case.
    lower: bool,
    /// One of its characters is a lower-case letter `а`..`я` (not `ё`).
    russian_lower: bool,
}

impl Shape {
    /// The shape of `word`, and `word` folded (as [`fold_into`] would)
    /// appended to `folded`: one pass over its bytes. ASCII and the Russian
    /// alphabet are told by their bytes (a Cyrillic letter is two bytes,
    /// lead 0xD0 or 0xD1); any other character is decoded and asked.
    fn read(word: &str, folded: &mut String) -> Shape {
        let mut shape = Shape {
            chars: 0,
            capital: false,
            lower: false,
            russian_lower: false,
        };
        let b = word.as_bytes();
        // `i` and `run` (the start of the bytes not yet copied to `folded`)
        // only ever step over whole characters.
        let (mut i, mut run) = (0, 0);
        while i < b.len() {
            let x = b[i];
            let y = b.get(i + 1).copied().unwrap_or(0);
            // The character's length, whether it is upper / lower case, and
            // what it folds to when that is not itself.
            let (n, upper, folds_to) = match (x, y) {
                (b'a'..=b'z', _) => {
                    shape.lower = true;
                    (1, false, None)
                }
                (b'A'..=b'Z', _) => (1, true, Some(char::from(x + 32))),
                (0x00..=0x7F, _) => (1, false, None),
                // а..п, р..я
                (0xD0, 0xB0..=0xBF) | (0xD1, 0x80..=0x8F) => {
                    shape.lower = true;
                    shape.russian_lower = true;
                    (2, false, None)
                }
                // А..П → а..п, Р..Я → р..я: U+0410.. → U+0430..
                (0xD0, 0x90..=0xAF) => (2, true, char::from_u32(0x430 + u32::from(y - 0x90))),
                (0xD0, 0x81) => (2, true, Some('е')),
                (0xD1, 0x91) => {
                    shape.lower = true;
                    (2, false, Some('е'))
                }
                _ => {
                    let c = char_at(word, i).unwrap_or(' ');
                    let n = c.len_utf8();
                    shape.lower |= c.is_lowercase();
                    shape.russian_lower |= ('а'..='я').contains(&c);
                    if shape.chars == 0 {
                        shape.capital = c.is_uppercase();
                    }
                    shape.chars += 1;
                    folded.push_str(&word[run..i]);
                    folded.extend(c.to_lowercase());
                    i += n;
                    run = i;
                    continue;
                }
            };
            if shape.chars == 0 {
                shape.capital = upper;
            }
            shape.chars += 1;
            if let Some(f) = folds_to {
                folded.push_str(&word[run..i]);
                folded.push(f);
                run = i + n;
            }
            i += n;
        }
        folded.push_str(&word[run..]);
        shape
    }
}

/// The runs of letters and hyphens in `s`, without hyphens at their
/// ends, none empty. Read by bytes: a word starts at a letter and ends
/// after the last letter of its run.
fn words(s: &str) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let n = letter_at(s, i);
            if n == 0 {
                // Not a letter (a hyphen here is one before a word's first
                // letter, or a run of hyphens alone): skip the character.
                i += if b[i] < 0x80 {
                    1
                } else {
                    char_at(s, i).map_or(1, char::len_utf8)
                };
                continue;
            }
            let start = i;
            i += n;
            let mut end = i;
            while i < b.len() {
                match letter_at(s, i) {
                    0 if b[i] == b'-' => i += 1,
                    0 => break,
                    n => {
                        i += n;
                        end = i;
                    }
                }
            }
            return Some(&s[start..end]);
        }
        None
    })
}

/// [`letter_len`] with its two common cases, ASCII and Cyrillic, decided
/// here without a call.
#[inline]
fn letter_at(s: &str, i: usize) -> usize {
    match s.as_bytes().get(i) {
        Some(x) if x.is_ascii_alphabetic() => 1,
        Some(0xD0 | 0xD1) => 2,
        Some(x) if x.is_ascii() => 0,
        _ => letter_len(s, i),
    }
}

/// Whether `sentence` states a problem. `folded` is a buffer for
/// [`content`], kept between calls.
fn states_problem(sentence: &str, folded: &mut String) -> bool {
    // A sentence in capitals reads like one in lower case.
    let lowered;
    let sentence = if sentence.chars().any(char::is_lowercase) {
        sentence
    } else {
        lowered = sentence.to_lowercase();
        &lowered
    };
    let c = content(sentence, folded);
    // «Можно с вами связаться?», «Перезвоните мне»: asking to be
    // contacted says nothing yet about what is wrong — when the request is
    // short; a longer sentence goes on to the problem.
    if !c.strong && c.contact && sentence.split_whitespace().count() <= 8 {
        return false;
    }
    let n = c.words;
    n >= 4 || n >= 2 && (c.strong || c.weak) || n >= 1 && c.strong && sentence.contains('?')
}

/// Bytes that may end a sentence: `. ! ? ;` and the lead byte of «…».
const SENTENCE_END: [bool; 256] = {
    let mut t = [false; 256];
    t[b'.' as usize] = true;
    t[b'!' as usize] = true;
    t[b'?' as usize] = true;
    t[b';' as usize] = true;
    t[0xE2] = true;
    t
};

/// The sentences of `text`, trimmed, none empty: a line ends one, and so
/// does `. ! ? ; …` before a space, `)`, `»`, `"` or the line's end.
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    text.lines().flat_map(|line| {
        // The ends of sentences found by their bytes: ASCII bytes and the
        // lead byte of «…» always start a character.
        let b = line.as_bytes();
        let (mut start, mut i) = (0, 0);
        std::iter::from_fn(move || {
            while start <= b.len() {
                let Some(at) = b[i..].iter().position(|&x| SENTENCE_END[usize::from(x)]) else {
                    // The rest of the line.
                    let s = line[start..].trim();
                    start = b.len() + 1;
                    if s.is_empty() {
                        return None;
                    }
                    return Some(s);
                };
                i += at;
                let end = match b[i] {
                    0xE2 if b[i..].starts_with("…".as_bytes()) => i + 3,
                    0xE2 => {
                        i += 1;
                        continue;
                    }
                    _ => i + 1,
                };
                i = end;
                let next = line[end..].chars().next();
                if next.is_none_or(|n| n.is_whitespace() || n == ')' || n == '»' || n == '"') {
                    let s = line[start..end].trim();
                    start = end;
                    if !s.is_empty() {
                        return Some(s);
                    }
                }
            }
            None
        })
    })
}

/// Our own boilerplate quoted back at us: never the writer's problem.
/// `folded` is a buffer, kept between calls.
fn is_our_boilerplate(s: &str, folded: &mut String) -> bool {
    folded.clear();
    fold_into(s, folded);
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
    .any(|p| folded.contains(p))
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
    let mut folded = String::new();
    let mut picked = Picked::default();
    for s in sentences(new_text) {
        if states_problem(s, &mut folded) {
            picked.push(strip_greeting(s));
        }
    }
    if let Some(d) = picked.description() {
        return Some(d);
    }
    if subject_states_problem(subject) {
        return Some(cap(subject.trim().to_string()));
    }
    if is_reply && gives_fields {
        let mut picked = Picked::default();
        let mut boilerplate = String::new();
        for s in sentences(quoted) {
            if !is_our_boilerplate(s, &mut boilerplate) && states_problem(s, &mut folded) {
                picked.push(s);
            }
        }
        return picked.description();
    }
    None
}

/// The sentences picked for the description, joined by spaces.
#[derive(Default)]
struct Picked {
    text: String,
    any: bool,
}

impl Picked {
    fn push(&mut self, sentence: &str) {
        if self.any {
            self.text.push(' ');
        }
        self.text.push_str(sentence);
        self.any = true;
    }

    /// The description made of them, or `None` when none was picked.
    fn description(self) -> Option<String> {
        self.any.then(|| cap(self.text))
    }
}

/// Whether a subject, cleaned of `Re:` and tags, states a problem.
pub fn subject_states_problem(subject: &str) -> bool {
    let c = content(subject, &mut String::new());
    c.words >= 2 && c.strong
}

/// `s` cut to [`MAX_CHARS`] characters, with «…» when it was longer.
fn cap(mut s: String) -> String {
    // No more characters than bytes: a short text needs no count.
    if s.len() <= MAX_CHARS {
        return s;
    }
    if let Some((i, _)) = s.char_indices().nth(MAX_CHARS) {
        s.truncate(i);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{WordSet, fold, is_letter};

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

    /// Words to try the look-ups on: every listed word and stem, each
    /// with an ending, and the words of some letters.
    fn sample_words() -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for list in [
            FILLER_WORDS,
            STRONG_WORDS,
            WEAK_WORDS,
            STRONG_STEMS,
            WEAK_STEMS,
            CONTACT_STEMS,
        ] {
            for w in list {
                out.push(w.to_string());
                out.push(format!("{w}ами"));
                let mut chars: Vec<char> = w.chars().collect();
                chars.pop();
                out.push(chars.into_iter().collect());
            }
        }
        let text = "Здравствуйте! Не могу зайти в дневник сына, пишет ошибку; \
                    прошу перезвонить. Пароль не подходит, куда обращаться? \
                    Кузнецова Ирина, 4В. ЭлЖур, МАОУ, УВР, кто-то, ok-";
        out.extend(words(text).map(fold));
        out.extend(["", "a", "ё", "ъ"].map(String::from));
        out
    }

    #[test]
    fn flags_agree_with_the_lists() {
        // The definition: a filler word is listed; a marker is a listed
        // whole word or starts with a listed stem.
        let filler: WordSet = FILLER_WORDS.iter().copied().collect();
        let stems = |list: &[&str], w: &str| list.iter().any(|s| w.starts_with(s));
        for w in sample_words() {
            let mut want = 0;
            if filler.contains(w.as_str()) {
                want |= FILLER;
            }
            if STRONG_WORDS.contains(&w.as_str()) || stems(STRONG_STEMS, &w) {
                want |= STRONG;
            }
            if WEAK_WORDS.contains(&w.as_str()) || stems(WEAK_STEMS, &w) {
                want |= WEAK;
            }
            if stems(CONTACT_STEMS, &w) {
                want |= CONTACT;
            }
            assert_eq!(flags(&w), want, "{w}");
        }
    }

    #[test]
    fn shape_agrees_with_the_character_tests() {
        let mut words: Vec<String> = sample_words();
        // Every character up to U+0600 and some beyond, alone, after a
        // capital and after a small letter.
        for c in (0..0x600u32)
            .chain(0x1C80..0x1C90)
            .chain([0x130, 0x1E9E, 0x10400])
        {
            let Some(c) = char::from_u32(c) else { continue };
            words.extend([format!("{c}"), format!("Ж{c}-а"), format!("ж{c}Ё")]);
        }
        for w in words {
            let mut folded = String::from("x");
            let shape = Shape::read(&w, &mut folded);
            let want = Shape {
                chars: w.chars().count(),
                capital: w.chars().next().is_some_and(char::is_uppercase),
                lower: w.chars().any(char::is_lowercase),
                russian_lower: w.chars().any(|c| ('а'..='я').contains(&c)),
            };
            assert_eq!(shape, want, "{w}");
            assert_eq!(folded, format!("x{}", fold(&w)), "{w}");
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
