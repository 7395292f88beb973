//! The problem, in the writer's own new text: what is left once the
//! greeting, the name/class/role line, pleas («помогите, пожалуйста»),
//! thanks, attachment notes («скриншот во вложении») and the signature are
//! set aside. A subject that states a problem («Не приходит код для
//! входа») counts; a bare «Ошибка», «Вопрос», «Помогите» does not. In a
//! reply, the quoted original may supply the problem when the new text
//! only adds the name or class.

use std::sync::LazyLock;

use super::lexicon::{Entry, Lexicon, key};
use super::names_data::{FEMALE_SET, MALE_SET};
use super::pattern::LinePattern;
use super::{char_at, cyrillic_offset, fold_into, is_letter};

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

/// The flags of a word ([`flags`]): a strong marker ([`STRONG_WORDS`],
/// [`STRONG_STEMS`]), a weak one, a request to be contacted
/// ([`CONTACT_STEMS`]), a filler word ([`FILLER_WORDS`]).
const STRONG: u8 = 1;
const WEAK: u8 = 2;
const CONTACT: u8 = 4;
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

/// Every listed word and stem with its flags, found by the first eight
/// bytes of a word: one look-up per word answers everything [`flags`]
/// tells.
static LEXICON: LazyLock<Lexicon<u8>> = LazyLock::new(|| {
    let lists = [
        (FILLER_WORDS, false, FILLER),
        (STRONG_WORDS, false, STRONG),
        (WEAK_WORDS, false, WEAK),
        (STRONG_STEMS, true, STRONG),
        (WEAK_STEMS, true, WEAK),
        (CONTACT_STEMS, true, CONTACT),
    ];
    Lexicon::new(lists.into_iter().flat_map(|(list, stem, flag)| {
        list.iter().map(move |&text| Entry {
            text,
            stem,
            value: flag,
        })
    }))
});

/// What the folded word `w` says: whether it is filler ([`FILLER`]), and
/// its markers — something is wrong ([`STRONG`]), something is wanted or
/// happening to the system ([`WEAK`]), the writer asks to be contacted
/// ([`CONTACT`]).
#[cfg(test)]
fn flags(w: &str) -> u8 {
    LEXICON.get(w)
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
    /// The flags of all its words ([`flags`]), of which the markers
    /// count: a strong and a weak problem marker, a word asking to be
    /// contacted («свяжитесь», «перезвоните»).
    markers: u8,
}

impl Content {
    /// A word says something is wrong.
    fn strong(&self) -> bool {
        self.markers & STRONG != 0
    }

    /// A word says something is wanted or happening to the system.
    fn weak(&self) -> bool {
        self.markers & WEAK != 0
    }

    /// A word asks to be contacted.
    fn contact(&self) -> bool {
        self.markers & CONTACT != 0
    }

    /// Counts in one word of the sentence: `word`, the last that `words`
    /// read, and whether it is the sentence's first.
    #[inline(always)]
    fn add(&mut self, words: &Words, shape: &Shape, is_first: bool) {
        let w = words.folded();
        let f = words.lexicon.get_keyed(w, words.key);
        self.markers |= f;
        // The tests as bits, not branches: each word's answers differ.
        // Short words and filler carry nothing, nor do abbreviations
        // (УВР, МАОУ, ЭлЖур: five letters or fewer, none lower case).
        let carries = (shape.chars >= 3) & (f & FILLER == 0) & ((shape.chars > 5) | shape.lower);
        // A capitalised word with Russian small letters is a name, unless
        // it opens the sentence and does not look like one.
        let name =
            carries && shape.capital && shape.russian_lower && (!is_first || is_name_like(w));
        self.words += usize::from(carries & !name);
    }

    /// Whether the sentence `sentence`, whose words gave this, states a
    /// problem.
    fn states_problem(&self, sentence: &str) -> bool {
        // «Можно с вами связаться?», «Перезвоните мне»: asking to be
        // contacted says nothing yet about what is wrong — when the request
        // is short; a longer sentence goes on to the problem.
        if !self.strong() && self.contact() && sentence.split_whitespace().count() <= 8 {
            return false;
        }
        let n = self.words;
        n >= 4
            || n >= 2 && (self.strong() || self.weak())
            || n >= 1 && self.strong() && sentence.contains('?')
    }
}

/// The words of `text` that carry content, and the markers in it, all
/// read as one sentence. `folded` is a buffer for the folded words, kept
/// between calls.
fn content(text: &str, folded: &mut String) -> Content {
    let mut c = Content::default();
    let mut first = true;
    let mut words = Words::new(text, folded);
    while let Some(step) = words.step() {
        if let Step::Word(shape) = step {
            c.add(&words, &shape, first);
            first = false;
        }
    }
    c
}

/// What [`Words::step`] read.
enum Step {
    /// A word: its shape (the word itself is in [`Words::folded`]).
    Word(Shape),
    /// The end of a sentence, before this byte: a line ends, or `. ! ? ;
    /// …` comes before a space, `)`, `»`, `"` or the line's end.
    SentenceEnd(usize),
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

/// The words of a text — runs of letters and hyphens, without hyphens at
/// their ends — and the ends of its sentences ([`Step`]), read one after
/// another in one pass over its bytes: each word's [`Shape`], and the word
/// folded (as [`fold_into`] would) into a buffer. ASCII and Cyrillic (two bytes, lead 0xD0 or 0xD1: U+0400 to
/// U+047F, all letters, see [`CYRILLIC`]) are told by their bytes; any
/// other character is decoded and asked.
struct Words<'t, 'b> {
    text: &'t str,
    /// Where reading goes on: always a character boundary.
    at: usize,
    /// The last word read, when folding leaves it as the text has it
    /// (most words: no capital): read in place, not copied.
    unchanged: Option<&'t str>,
    /// The last word read, folded, when folding changes it: its first
    /// `folded_len` bytes, then [`PADDING`].
    folded: &'b mut String,
    folded_len: usize,
    /// The [`key`] of the last word read, folded.
    key: u64,
    /// [`CYRILLIC`] and [`LEXICON`], forced once for the whole text.
    cyrillic: &'static [(u8, char); 128],
    lexicon: &'static Lexicon<u8>,
}

/// Eight bytes after a word in the buffer of folded words, so that its
/// key is read by one load ([`masked_key`]). A folded word has no zero
/// byte.
const PADDING: &str = "\0\0\0\0\0\0\0\0";

impl<'t, 'b> Words<'t, 'b> {
    fn new(text: &'t str, folded: &'b mut String) -> Self {
        Words {
            text,
            at: 0,
            unchanged: None,
            folded,
            folded_len: 0,
            key: 0,
            cyrillic: &CYRILLIC,
            lexicon: &LEXICON,
        }
    }

    /// The last word read, folded.
    fn folded(&self) -> &str {
        match self.unchanged {
            Some(w) => w,
            None => self.folded.get(..self.folded_len).unwrap_or_default(),
        }
    }

    /// Reads on to the next word or sentence end; `None` at the end of
    /// the text.
    #[inline(always)]
    fn step(&mut self) -> Option<Step> {
        let (text, b) = (self.text, self.text.as_bytes());
        let cyrillic = self.cyrillic;
        // To the first letter (hyphens before it are not part of the word),
        // and whether it is upper case; or to the end of a sentence.
        let mut i = self.at;
        let capital = loop {
            // Most often one space between two words: a loop of its own,
            // one test a byte, and the match below once before a word.
            while b.get(i).is_some_and(|&x| GAP[usize::from(x)]) {
                i += 1;
            }
            let Some(&x) = b.get(i) else {
                self.at = i;
                return None;
            };
            match x {
                0xD0 | 0xD1 => break cyrillic[cyrillic_index(x, b, i)].0 & UPPER != 0,
                b'A'..=b'Z' => break true,
                b'a'..=b'z' => break false,
                b'\n' => {
                    self.at = i + 1;
                    return Some(Step::SentenceEnd(i));
                }
                b'.' | b'!' | b'?' | b';' if is_sentence_end(text, i + 1) => {
                    self.at = i + 1;
                    return Some(Step::SentenceEnd(i + 1));
                }
                0x00..=0x7F => i += 1,
                _ => match other_before_word(text, i) {
                    Before::SentenceEnd(end) => {
                        self.at = end;
                        return Some(Step::SentenceEnd(end));
                    }
                    Before::Letter(capital) => break capital,
                    Before::Skip(next) => i = next,
                },
            }
        };
        // The letters and hyphens from there. `run` is where the bytes not
        // yet copied to `folded` start; `chars` counts the characters read
        // and `hyphens` those of them that are hyphens after the last
        // letter, not part of the word.
        self.folded.clear();
        let start = i;
        let mut run = i;
        let (mut chars, mut hyphens, mut case) = (0, 0, 0);
        loop {
            // A run of Cyrillic letters that folding leaves as they are, the
            // most of the text: told by their bytes or a table look-up,
            // nothing copied.
            let from = i;
            loop {
                // а..я, most letters, told by their two bytes alone.
                let russian = super::russian_lower_run(b.get(i..).unwrap_or_default());
                i += 2 * russian;
                case |= u8::from(russian != 0) * (LOWER | RUSSIAN_LOWER);
                // Any other letter that folding leaves (ђ, є, і…).
                match b.get(i..i + 2) {
                    Some(&[lead @ (0xD0 | 0xD1), next])
                        if cyrillic[cyrillic_offset(lead, next)].0 & FOLDS == 0 =>
                    {
                        case |= cyrillic[cyrillic_offset(lead, next)].0;
                        i += 2;
                    }
                    _ => break,
                }
            }
            if i != from {
                // Letters: the hyphens before them are inside the word.
                chars += (i - from) / 2;
                hyphens = 0;
            }
            let Some(&x) = b.get(i) else {
                break;
            };
            match x {
                0xD0 | 0xD1 => {
                    // One that folding changes.
                    let (class, folds_to) = cyrillic[cyrillic_index(x, b, i)];
                    case |= class;
                    push_folded(self.folded, &text[run..i], folds_to);
                    i += 2;
                    run = i;
                }
                b'a'..=b'z' => {
                    case |= LOWER;
                    i += 1;
                }
                b'A'..=b'Z' => {
                    case |= UPPER;
                    push_folded(self.folded, &text[run..i], char::from(x + 32));
                    i += 1;
                    run = i;
                }
                b'-' => {
                    chars += 1;
                    hyphens += 1;
                    i += 1;
                    continue;
                }
                0x00..=0x7F => break,
                _ => {
                    let Some(c) = char_at(text, i).filter(|&c| is_letter(c)) else {
                        break;
                    };
                    case |= case_of(c);
                    push_folded_other(self.folded, &text[run..i], c);
                    i += c.len_utf8();
                    run = i;
                }
            }
            // A letter: the hyphens before it are inside the word.
            chars += 1;
            hyphens = 0;
        }
        let end = i - hyphens;
        if run == start {
            self.unchanged = Some(&text[start..end]);
            self.key = key_at(b, start, end - start);
        } else {
            self.unchanged = None;
            self.folded.push_str(&text[run..end]);
            self.folded_len = self.folded.len();
            self.folded.push_str(PADDING);
            // Padded: the buffer always has eight bytes.
            let head = self.folded.as_bytes().first_chunk::<8>();
            self.key = head.map_or(0, |&h| masked_key(h, self.folded_len));
        }
        self.at = i;
        Some(Step::Word(Shape {
            chars: chars - hyphens,
            capital,
            lower: case & LOWER != 0,
            russian_lower: case & RUSSIAN_LOWER != 0,
        }))
    }
}

/// The bytes [`Words::step`] passes over before a word: ASCII that is no
/// letter, no line break and none of `. ! ? ;`.
static GAP: [bool; 256] = {
    let mut table = [false; 256];
    let mut x = 0;
    while x < 0x80 {
        let c = x as u8;
        table[x] = !(c.is_ascii_alphabetic() || matches!(c, b'\n' | b'.' | b'!' | b'?' | b';'));
        x += 1;
    }
    table
};

/// The [`key`] of the `len` bytes of `b` from `start` (a word: `len` is
/// at least 1): eight bytes read at once and the word's kept, with no
/// branch on its length, when `b` has eight from `start`.
#[inline(always)]
fn key_at(b: &[u8], start: usize, len: usize) -> u64 {
    match b.get(start..).and_then(<[u8]>::first_chunk::<8>) {
        Some(&head) => masked_key(head, len),
        None => key_near_end(b, start, len),
    }
}

/// The [`key`] of a word of `len` bytes (at least 1) whose first eight
/// bytes, or its bytes and those after it, are `head`.
#[inline(always)]
fn masked_key(head: [u8; 8], len: usize) -> u64 {
    u64::from_le_bytes(head) & (u64::MAX >> (64 - 8 * len.clamp(1, 8)))
}

/// [`key_at`] for a word less than eight bytes from the end of `b`: once
/// a text at most, out of line.
#[inline(never)]
fn key_near_end(b: &[u8], start: usize, len: usize) -> u64 {
    key(b.get(start..start + len).unwrap_or_default())
}

/// Whether a sentence ends before byte `end` of `text` (after `. ! ? ;
/// …`): a space, `)`, `»`, `"` or the text's end follows.
fn is_sentence_end(text: &str, end: usize) -> bool {
    char_at(text, end).is_none_or(|n| n.is_whitespace() || matches!(n, ')' | '»' | '"'))
}

/// What a character that is neither ASCII nor Cyrillic is, before a
/// word ([`other_before_word`]).
enum Before {
    /// «…» ending a sentence, which ends before this byte.
    SentenceEnd(usize),
    /// A letter, upper case or not: the word starts there.
    Letter(bool),
    /// Anything else: reading goes on at this byte.
    Skip(usize),
}

/// [`Words::step`] on a character, at byte `i` of `text`, that is
/// neither ASCII nor Cyrillic, before a word (a dash, quotes, a
/// no-break space…): out of line, one copy for both callers of the step.
#[inline(never)]
fn other_before_word(text: &str, i: usize) -> Before {
    if text[i..].starts_with('…') && is_sentence_end(text, i + 3) {
        return Before::SentenceEnd(i + 3);
    }
    let c = char_at(text, i).unwrap_or(' ');
    if is_letter(c) {
        Before::Letter(c.is_uppercase())
    } else {
        Before::Skip(i + c.len_utf8())
    }
}

/// Adds to the folded word `folded` the text `run`, which folding leaves
/// as it is, then `c`, a letter folded.
#[inline(never)]
fn push_folded(folded: &mut String, run: &str, c: char) {
    // Most often the word's first letter, with no run before it.
    if !run.is_empty() {
        folded.push_str(run);
    }
    folded.push(c);
}

/// Adds to the folded word `folded` the text `run`, which folding leaves
/// as it is, then the letter `c` (neither ASCII nor Cyrillic) folded.
#[cold]
#[inline(never)]
fn push_folded_other(folded: &mut String, run: &str, c: char) {
    folded.push_str(run);
    folded.extend(c.to_lowercase());
}

/// The index in [`CYRILLIC`] of the letter whose lead byte `x` (0xD0 or
/// 0xD1) is at `b[i]`.
#[inline]
fn cyrillic_index(x: u8, b: &[u8], i: usize) -> usize {
    // Valid UTF-8: a continuation byte follows the lead byte.
    cyrillic_offset(x, b.get(i + 1).copied().unwrap_or(0x80))
}

/// Case bits of a character ([`case_of`], [`CYRILLIC`]).
const UPPER: u8 = 1;
const LOWER: u8 = 2;
/// A lower-case letter `а`..`я` (not `ё`).
const RUSSIAN_LOWER: u8 = 4;
/// [`fold_into`] changes the character.
const FOLDS: u8 = 8;

/// The case bits of `c`.
fn case_of(c: char) -> u8 {
    let mut bits = 0;
    if c.is_uppercase() {
        bits |= UPPER;
    }
    if c.is_lowercase() {
        bits |= LOWER;
    }
    if ('а'..='я').contains(&c) {
        bits |= RUSSIAN_LOWER;
    }
    bits
}

/// U+0400 to U+047F (the Cyrillic letters written with lead byte 0xD0 or
/// 0xD1), by their last six bits and the lead byte's last bit: the case
/// bits of each, [`FOLDS`] when folding changes it, and what it folds to.
static CYRILLIC: LazyLock<[(u8, char); 128]> = LazyLock::new(|| {
    let mut table = [(0, ' '); 128];
    for (k, entry) in table.iter_mut().enumerate() {
        // Invariant: U+0400..U+047F are all characters.
        let c = char::from_u32(0x400 + k as u32).unwrap_or(' ');
        // Each lowers to one character of the same block; `е` for `ё`.
        let folded = match c {
            'ё' | 'Ё' => 'е',
            _ => c.to_lowercase().next().unwrap_or(c),
        };
        let folds = if folded == c { 0 } else { FOLDS };
        *entry = (case_of(c) | folds, folded);
    }
    table
});

/// Whether `sentence` states a problem, read on its own. `folded` is a
/// buffer for [`content`], kept between calls.
fn states_problem(sentence: &str, folded: &mut String) -> bool {
    // A sentence in capitals reads like one in lower case.
    let lowered;
    let sentence = if sentence.chars().any(char::is_lowercase) {
        sentence
    } else {
        lowered = sentence.to_lowercase();
        &lowered
    };
    content(sentence, folded).states_problem(sentence)
}

/// The sentences of a text, read with their words in one pass over its
/// bytes ([`Words`]).
struct Sentences<'t, 'b> {
    words: Words<'t, 'b>,
}

impl<'t, 'b> Sentences<'t, 'b> {
    /// `folded` is a buffer for the folded words.
    fn new(text: &'t str, folded: &'b mut String) -> Self {
        Sentences {
            words: Words::new(text, folded),
        }
    }

    /// The next sentence that states a problem, trimmed (see
    /// [`states_problem`]); `None` when no more do.
    fn next_problem(&mut self) -> Option<&'t str> {
        loop {
            let s = self.next_sentence()?;
            // A sentence without words states nothing (lowering it makes no
            // letters: see the tests) and is not cut out of the text; one
            // with no lower-case letter is read again, lowered; any other
            // reads as its words did.
            if !s.words {
                continue;
            }
            let text = s.text(self.words.text);
            let states = if s.lower {
                s.content.states_problem(text)
            } else {
                states_problem(text, self.words.folded)
            };
            if states {
                return Some(text);
            }
        }
    }

    /// The next sentence; `None` at the end of the text.
    fn next_sentence(&mut self) -> Option<Sentence> {
        let text = self.words.text;
        let start = self.words.at;
        if start >= text.len() {
            return None;
        }
        let mut content = Content::default();
        let (mut words, mut lower) = (false, false);
        let end = loop {
            match self.words.step() {
                None => break text.len(),
                Some(Step::SentenceEnd(end)) => break end,
                Some(Step::Word(shape)) => {
                    content.add(&self.words, &shape, !words);
                    words = true;
                    lower |= shape.lower;
                }
            }
        };
        Some(Sentence {
            start,
            end,
            content,
            words,
            lower,
        })
    }
}

/// `s` without the white space at its ends, as [`str::trim`] gives it.
/// Most sentences start and end with ASCII or Cyrillic, told by their
/// bytes; `str::trim` is asked only when an end is another character.
fn trim(s: &str) -> &str {
    let b = s.as_bytes();
    let blank = |x: &u8| matches!(x, b'\t'..=b'\r' | b' ');
    let from = b.iter().position(|x| !blank(x)).unwrap_or(b.len());
    let to = b.iter().rposition(|x| !blank(x)).map_or(from, |i| i + 1);
    let plain_start = b
        .get(from)
        .is_none_or(|&x| x < 0x80 || x == 0xD0 || x == 0xD1);
    // The last character is ASCII, or its last byte follows lead 0xD0 or
    // 0xD1 (a continuation byte is never one).
    let plain_end =
        to == from || b[to - 1] < 0x80 || matches!(b.get(to.wrapping_sub(2)), Some(0xD0 | 0xD1));
    match s.get(from..to) {
        Some(t) if plain_start && plain_end => t,
        _ => s.trim(),
    }
}

/// One sentence as [`Sentences`] reads it.
struct Sentence {
    /// Where it starts and ends in the text.
    start: usize,
    end: usize,
    /// What its words say.
    content: Content,
    /// It has words; one of them has a lower-case letter.
    words: bool,
    lower: bool,
}

impl Sentence {
    /// Its text, trimmed (maybe empty), in `text`, the one it was read
    /// from.
    fn text<'t>(&self, text: &'t str) -> &'t str {
        text.get(self.start..self.end).map_or("", trim)
    }
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

static GREETING: LinePattern = LinePattern {
    opens: &["здра", "добр", "привет"],
    regex: LazyLock::new(|| {
        // Invariant: a literal pattern that compiles.
        regex::Regex::new(r"(?i)^(?:здравствуйте|здрасте|добрый\s+(?:день|вечер)|доброе\s+утро|привет|приветствую)[\s,.!]*")
            .expect("valid regex")
    }),
};

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
    // Room for most words and their padding, so that it seldom grows.
    let mut folded = String::with_capacity(64);
    let mut picked = Picked::default();
    let mut sentences = Sentences::new(new_text, &mut folded);
    while let Some(s) = sentences.next_problem() {
        picked.push(strip_greeting(s), new_text.len());
    }
    if let Some(d) = picked.description() {
        return Some(d);
    }
    if subject_states_problem(subject, &mut folded) {
        return Some(cap(subject.trim().to_string()));
    }
    if is_reply && gives_fields {
        let mut picked = Picked::default();
        let mut boilerplate = String::new();
        let mut sentences = Sentences::new(quoted, &mut folded);
        while let Some(s) = sentences.next_problem() {
            if !is_our_boilerplate(s, &mut boilerplate) {
                picked.push(s, quoted.len());
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
    /// Adds `sentence`, a part of a text `text_len` bytes long: the
    /// first makes room for about the whole text, so that the
    /// description seldom grows again.
    fn push(&mut self, sentence: &str, text_len: usize) {
        if self.any {
            self.text.push(' ');
        } else {
            self.text.reserve(text_len);
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
/// `folded` is a buffer for [`content`].
fn subject_states_problem(subject: &str, folded: &mut String) -> bool {
    let c = content(subject, folded);
    c.words >= 2 && c.strong()
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

    /// Every greeting the pattern strips opens with one of its heads.
    #[test]
    fn greetings_open_with_their_heads() {
        crate::request::pattern::tests::assert_heads_cover(
            &GREETING,
            &[
                "Здравствуйте, у сына",
                "Здрасте!",
                "Добрый день.",
                "Добрый  вечер",
                "Доброе утро,",
                "Привет",
                "Приветствую.",
            ],
        );
    }

    /// The words of `s` as [`Words`] reads them: folded, with their shapes.
    fn read(s: &str) -> Vec<(String, Shape)> {
        let mut folded = String::from("left over");
        let mut words = Words::new(s, &mut folded);
        let mut out = Vec::new();
        while let Some(step) = words.step() {
            if let Step::Word(shape) = step {
                // The key read at once is the word's.
                assert_eq!(words.key, key(words.folded().as_bytes()), "{s}");
                out.push((words.folded().to_string(), shape));
            }
        }
        out
    }

    /// The words of `s` by the definition: split on characters that are
    /// neither letters nor hyphens, hyphens trimmed, empty ones dropped;
    /// their shapes from the character tests.
    fn read_by_definition(s: &str) -> Vec<(String, Shape)> {
        s.split(|c: char| !(is_letter(c) || c == '-'))
            .map(|w| w.trim_matches('-'))
            .filter(|w| !w.is_empty())
            .map(|w| {
                let shape = Shape {
                    chars: w.chars().count(),
                    capital: w.chars().next().is_some_and(char::is_uppercase),
                    lower: w.chars().any(char::is_lowercase),
                    russian_lower: w.chars().any(|c| ('а'..='я').contains(&c)),
                };
                (fold(w), shape)
            })
            .collect()
    }

    #[test]
    fn words_agree_with_splitting_on_characters() {
        let mut texts: Vec<String> = [
            "",
            "Не могу зайти в дневник, пишет «Ошибка авторизации».",
            "-кто-то- -- 5-й класс, e-mail: x@y.ru; Ӂук Ǆ ΣΑΣ 日本 ok-",
            "Ёлки—палки…\u{00A0}что-то\tне так!!!",
            "- a-- --b--c-",
        ]
        .map(String::from)
        .to_vec();
        // Every character up to U+0600 and some beyond, alone, after a
        // capital and after a small letter, before and after hyphens.
        let all: Vec<char> = (0..0x600u32)
            .chain(0x1C80..0x1C90)
            .chain([0x130, 0x1E9E, 0x10400])
            .filter_map(char::from_u32)
            .collect();
        for c in &all {
            texts.push(format!("{c} Ж{c}-а ж{c}Ё -{c}- {c}{c}"));
        }
        texts.push(all.iter().collect());
        for s in texts {
            assert_eq!(read(&s), read_by_definition(&s), "{s}");
        }
    }

    /// [`is_russian_lower`](crate::request::is_russian_lower) tells а..я, and only them, among all
    /// characters of two bytes.
    #[test]
    fn russian_lower_by_bytes() {
        for c in ('\u{80}'..'\u{800}').chain(['ё', 'Ё', 'А', 'Я']) {
            let mut bytes = [0; 4];
            c.encode_utf8(&mut bytes);
            let [lead, next, ..] = bytes;
            assert_eq!(
                crate::request::is_russian_lower(lead, next),
                ('а'..='я').contains(&c),
                "{c}"
            );
            // The table says as much.
            if ('а'..='я').contains(&c) {
                let class = CYRILLIC[cyrillic_offset(lead, next)].0;
                assert_eq!(class, LOWER | RUSSIAN_LOWER, "{c}");
            }
        }
    }

    /// [`trim`] gives what `str::trim` gives, whatever the characters at
    /// the ends.
    #[test]
    fn trim_agrees_with_str_trim() {
        let chars = (0..0x3100u32)
            .chain([0xFEFF, 0x10400])
            .filter_map(char::from_u32);
        for c in chars {
            for s in [
                format!("{c}"),
                format!("{c}ж{c}"),
                format!(" {c}\t{c} x {c}\r\n"),
                format!("ж{c}"),
                format!("{c}ж"),
                format!("{c} ж {c}"),
            ] {
                assert_eq!(trim(&s), s.trim(), "{s:?}");
            }
        }
        for s in ["", " ", "\t\n", "ж", " ж ", "a", "\u{a0}ж\u{a0}"] {
            assert_eq!(trim(s), s.trim(), "{s:?}");
        }
    }

    /// The sentences of `text` by the definition: its lines, each cut
    /// after `. ! ? ; …` where a space, `)`, `»`, `"` or the line's end
    /// follows; trimmed, empty ones dropped.
    fn sentences_by_definition(text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        for line in text.lines() {
            let (mut start, mut i) = (0, 0);
            let chars: Vec<(usize, char)> = line.char_indices().collect();
            for (k, &(at, c)) in chars.iter().enumerate() {
                if at < i || !matches!(c, '.' | '!' | '?' | ';' | '…') {
                    continue;
                }
                let end = at + c.len_utf8();
                let next = chars.get(k + 1).map(|&(_, n)| n);
                if next.is_none_or(|n| n.is_whitespace() || matches!(n, ')' | '»' | '"')) {
                    out.push(line[start..end].trim());
                    start = end;
                }
                i = end;
            }
            out.push(line[start..].trim());
        }
        out.retain(|s| !s.is_empty());
        out
    }

    #[test]
    fn sentences_agree_with_splitting_lines() {
        for text in [
            "",
            "\n\n",
            "Здравствуйте! Не могу зайти.Пароль не подходит… Что делать?!\r\nСпасибо",
            "Сын (5А). Дочь «Ок!» и \"да.\" ...; ;; ? конец…\n  \n\t. x.y …z",
            "e.g. 3.14 т.е. ЭлЖур!!!\r\rА\r\nБ\n\r\nВ.\u{00A0}Г?\u{2028}Д",
        ] {
            let mut folded = String::new();
            let mut sentences = Sentences::new(text, &mut folded);
            let mut got = Vec::new();
            while let Some(s) = sentences.next_sentence() {
                let s = s.text(text);
                if !s.is_empty() {
                    got.push(s);
                }
            }
            assert_eq!(got, sentences_by_definition(text), "{text:?}");
        }
    }

    /// A sentence without letters is skipped unread: lowering it would not
    /// give it any.
    #[test]
    fn lowering_makes_no_letters() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            if !is_letter(c) {
                assert!(!c.to_lowercase().any(is_letter), "{c:?}");
            }
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
                out.push(format!("{w}ами"));
                // Every letter after it, and each of its beginnings.
                for c in ('а'..='я').chain(['ё', 'a', 'z', '-']) {
                    out.push(format!("{w}{c}"));
                }
                let chars: Vec<char> = w.chars().collect();
                for n in 0..=chars.len() {
                    out.push(chars[..n].iter().collect());
                }
            }
        }
        let text = "Здравствуйте! Не могу зайти в дневник сына, пишет ошибку; \
                    прошу перезвонить. Пароль не подходит, куда обращаться? \
                    Кузнецова Ирина, 4В. ЭлЖур, МАОУ, УВР, кто-то, ok-";
        out.extend(read(text).into_iter().map(|(w, _)| w));
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
