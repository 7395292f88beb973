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
//!
//! The cues are read word by word from one tokenisation of the text
//! ([`super::tokens`]), in one pass, with no regular expression: a
//! letter's role costs a few microseconds and leaves the CPU caches to the
//! steps after it.

use std::sync::LazyLock;

use super::lexicon::{Entry, Lexicon, Merge};
use super::tokens::{Tokens, tail_key, tokenize};
use super::words::{PARENT_WORDS, STUDENT_SELF, verbish};
use super::{Role, is_cyr_lower, is_cyr_upper};

/// Words that follow a title used of a third person («учитель говорит»);
/// `w` is folded.
fn third_person_verb(w: &str) -> bool {
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

/// A title at `i` opens a sentence or a line, or follows a greeting.
fn at_head(t: &Tokens<'_>, i: usize) -> bool {
    if i == 0 || t.line_start(i) || matches!(t.punct(i - 1), Some('.' | '!' | '?' | ':')) {
        return true;
    }
    let k = if t.punct(i - 1) == Some(',') {
        i - 1
    } else {
        i
    };
    let (w1, w2) = (
        k.checked_sub(1).map_or("", |j| t.word(j)),
        k.checked_sub(2).map_or("", |j| t.word(j)),
    );
    w1 == "здравствуйте"
        || w2 == "добрый" && matches!(w1, "день" | "вечер")
        || w2 == "доброе" && w1 == "утро"
}

/// The white-space-separated chunk of text from the token at `i`, cut at
/// any of `stops`: its end (exclusive).
fn chunk(t: &Tokens<'_>, i: usize, stops: &[char]) -> usize {
    let mut j = i + 1;
    while j < t.len() && t.glued(j) && !t.punct(j).is_some_and(|c| stops.contains(&c)) {
        j += 1;
    }
    j
}

/// The chunk after the one ending at `end`, when white space parts them
/// and it does not start with a stop («учитель математики» → «математики»):
/// its folded text and end.
fn next_chunk<'t>(t: &'t Tokens<'_>, end: usize) -> Option<(&'t str, usize)> {
    const STOPS: &[char] = &[',', '.', '!', '?', ';', ':'];
    if end >= t.len() || t.glued(end) || t.punct(end).is_some_and(|c| STOPS.contains(&c)) {
        return None;
    }
    let e = chunk(t, end, STOPS);
    Some((t.low_span(end, e), e))
}

/// A staff title at the head of a sentence (`i..end`): the writer's own
/// («Учитель математики.», «Классный руководитель 6В»), not a third
/// person's («Учитель поставила…», «учителю»).
fn own_title(t: &Tokens<'_>, i: usize, end: usize) -> bool {
    // A verb after the title in the same sentence: a third person
    // («Учитель математики Иванова поставила…»). Chunks of the text as
    // written, up to the end of the clause; the title's first word is not
    // one of them.
    const CLAUSE: &[char] = &['.', '!', '?', ','];
    let mut k = chunk(t, i, CLAUSE);
    let mut seen = 0;
    while k < t.len()
        && seen < 7
        && t.line(k) == t.line(i)
        && !t.punct(k).is_some_and(|c| CLAUSE.contains(&c))
    {
        let e = chunk(t, k, CLAUSE);
        if e == k + 1 && t.is_word(k) {
            let w = t.written(k);
            if verbish(w) || w.chars().all(char::is_lowercase) && third_person_verb(t.word(k)) {
                return false;
            }
        }
        seen += 1;
        k = e;
    }
    let title = t.low_span(i, end);
    // Dative/genitive titles («учителю», «учителя») are third persons.
    if title.ends_with("ю")
        || title.ends_with("ем")
        || title.starts_with("учител") && (title.ends_with('я') || title.ends_with("ей"))
        || title.ends_with("ям")
        || title.ends_with("ами")
        || title.ends_with("ах")
    {
        return false;
    }
    let Some((n, e)) = next_chunk(t, end) else {
        return true;
    };
    if third_person_verb(n) {
        return false;
    }
    // A subject («математики»), «по УВР», a class, a name: a
    // self-presentation.
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
    let verb_after = next_chunk(t, e).is_some_and(|(n2, _)| third_person_verb(n2));
    subj && !verb_after
}

/// «Иванова», as written: a capital and lower-case Cyrillic letters.
fn capitalised(t: &Tokens<'_>, i: usize) -> bool {
    if !t.is_word(i) {
        return false;
    }
    let w = t.written(i);
    let mut cs = w.chars();
    cs.next().is_some_and(is_cyr_upper) && w.len() > 2 && cs.all(is_cyr_lower)
}

/// «М.П.» / «М. П» at `i`: the index after.
fn initials(t: &Tokens<'_>, i: usize) -> Option<usize> {
    let single_cap = |k: usize| {
        t.is_word(k) && {
            let mut cs = t.written(k).chars();
            cs.next().is_some_and(is_cyr_upper) && cs.next().is_none()
        }
    };
    (single_cap(i) && t.punct(i + 1) == Some('.') && single_cap(i + 2))
        .then(|| t.skip(i + 3, &['.']))
}

/// «Иванова Мария Петровна, учитель…», «Белова Т.С. — завуч».
fn title_after_name(t: &Tokens<'_>) -> bool {
    (0..t.len()).filter(|&i| capitalised(t, i)).any(|i| {
        let mut j = i + 1;
        for _ in 0..=2 {
            if matches!(t.punct(j), Some(',' | '—' | '–' | '-'))
                && title(t, j + 1).is_some_and(|e| !t.low_span(j + 1, e).ends_with('ю'))
            {
                return true;
            }
            if capitalised(t, j) {
                j += 1;
            } else if let Some(e) = initials(t, j) {
                j = e;
            } else {
                break;
            }
        }
        false
    })
}

/// A line that is only a title: «учитель математики» under a letter.
fn title_line(t: &Tokens<'_>) -> bool {
    let mut i = 0;
    while i < t.len() {
        let line = t.line(i);
        let mut end = i;
        while end < t.len() && t.line(end) == line {
            end += 1;
        }
        let chunks = (i..end).filter(|&k| k == i || !t.glued(k)).count();
        if (1..=6).contains(&chunks)
            && title(t, i).is_some_and(|e| !t.low_span(i, e).ends_with('ю'))
            && !(i..end)
                .filter(|&k| k == i || !t.glued(k))
                .any(|k| third_person_verb(t.word(k)) && !t.word(k).is_empty())
            && !(i..end).any(|k| t.punct(k) == Some('?'))
        {
            return true;
        }
        i = end;
    }
    false
}

/// `t` are the tokens of the writer's own text, `c` what [`cues`] found in
/// them.
fn staff(t: &Tokens<'_>, c: &Cues) -> bool {
    if !c.any_title {
        return false;
    }
    if c.staff_self {
        return true;
    }
    // Titles at the head of a sentence; the search goes on after the title
    // and the two chunks read with it.
    let mut i = 0;
    while i < t.len() {
        let Some(end) = title(t, i).filter(|_| at_head(t, i)) else {
            i += 1;
            continue;
        };
        if own_title(t, i, end) {
            return true;
        }
        i = match next_chunk(t, end) {
            Some((_, e)) => next_chunk(t, e).map_or(e, |(_, e2)| e2),
            None => end,
        };
    }
    title_after_name(t) || title_line(t)
}

/// What the writer's words say about them, found in one pass over the
/// tokens.
#[derive(Debug, Default, PartialEq)]
struct Cues {
    /// Some staff title anywhere.
    any_title: bool,
    /// «я учитель», «являюсь классным руководителем», «мои ученики».
    staff_self: bool,
    /// «я мама», «мама ученика», «мой сын», «сыну поставили»…
    parent: bool,
    /// «сын», «дочки», «ребенку» alone.
    kin: bool,
    /// A line «Мама» / «Папа Ильи» or «ФИО родителя».
    parent_line: bool,
    /// «я ученица», «учусь», «одноклассники», «мне поставили»…
    student: bool,
    /// «мама», «папа», «родитель» anywhere.
    parent_word: bool,
    /// «мама Даши», «папа — Петров»: a parent word before a capitalised
    /// name.
    parent_of_named: bool,
    /// «мама сказала», «папа сказал»: a parent quoted by a student.
    parent_said: bool,
}

/// Stems of one-word staff titles.
const TITLES: &[&str] = &[
    "учител",
    "преподавател",
    "педагог",
    "замдиректора",
    "завуч",
    "директор",
    "администратор",
    "секретар",
    "воспитател",
    "психолог",
    "тьютор",
    "библиотекар",
    "методист",
    "логопед",
    "дефектолог",
];

/// Every word that a cue in [`cues`] can start at, besides the words of
/// [`POSSESSIVES`] and [`KIN_WORDS`] (which [`WORD_LISTS`] marks as cue
/// words too), the words that start with one of [`CUE_STEM_LISTS`] and those
/// that end in a parent word: any other word starts none, and `cues`
/// passes over it. Kept beside `cues`: a cue keyed on a new word needs the
/// word here too.
const CUE_WORDS: &[&str] = &[
    // titles
    "кл",
    "зам",
    // «я …» and the staff's self-presentations
    "я",
    "являюсь",
    "работаю",
    "пишет",
    "пишу",
    "обращается",
    "беспокоит",
    "беспокоят",
    "на",
    "детей",
    "дети",
    "ученики",
    "учеников",
    "ученикам",
    "ученица",
    "ученик",
    "ученика",
    "ученицы",
    "родители",
    "родителей",
    "в",
    "веду",
    "мои",
    "моих",
    // parents
    "родитель",
    "мамой",
    "папой",
    "матерью",
    "отцом",
    "фио",
    "ф",
    // students
    "это",
    "мне",
    "учащийся",
    "учащаяся",
];

/// A parent calling themselves («мама», «родитель», «мамой»…), before
/// «ученика», «ребенка»…
const PARENT_NOUNS: &[&str] = &[
    "мама",
    "мать",
    "папа",
    "отец",
    "бабушка",
    "дедушка",
    "родитель",
    "мамой",
    "папой",
    "матерью",
    "отцом",
];

/// Possessives before a child («мой сын», «у нашей дочки»).
const POSSESSIVES: &[&str] = &[
    "мой",
    "моего",
    "моему",
    "моим",
    "моем",
    "наш",
    "нашего",
    "нашему",
    "у",
    "моя",
    "моей",
    "мою",
    "наша",
    "нашей",
];

/// A child, in any case: the writer's kin.
const KIN_WORDS: &[&str] = &[
    "сын",
    "сына",
    "сыну",
    "сыном",
    "сыне",
    "сынок",
    "сыночек",
    "сынишка",
    "сыночка",
    "дочь",
    "дочери",
    "дочерью",
    "дочка",
    "дочки",
    "дочке",
    "дочку",
    "дочкой",
    "доча",
    "дочурка",
    "ребенок",
    "ребенка",
    "ребенку",
    "ребенком",
    "ребенке",
    "внук",
    "внука",
    "внуку",
    "внучка",
    "внучки",
    "внучке",
    "внучку",
];

/// A child who does something («сын учится», «дочь в 5…»).
const CHILD_SUBJECTS: &[&str] = &["сын", "дочь", "дочка", "ребенок", "внук", "внучка"];

/// A child something is done to («сыну поставили»).
const CHILD_DATIVES: &[&str] = &["сыну", "дочери", "дочке", "ребенку", "внуку", "внучке"];

/// A child's («сына, …», «дочери (5А)»).
const CHILD_GENITIVES: &[&str] = &["сына", "дочери", "дочки", "ребенка"];

/// A child presented («сын — ученик…»).
const CHILD_NOUNS: &[&str] = &["сын", "дочь", "дочка", "ребенок"];

/// Which of the cues keyed on one word (see [`KEYED_WORDS`]) a folded word
/// starts, so that [`cues`] branches once on it instead of comparing the
/// word with each of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Key {
    /// No cue is keyed on the word.
    #[default]
    None,
    /// «я …»: staff, parent or student.
    Me,
    /// «являюсь», «работаю» before a title.
    WorksAs,
    /// «пишет», «обращается» before a title.
    Writes,
    /// «на связи» before a title.
    On,
    /// «детей», «ученики», «родители»… before «моего класса».
    ClassPeople,
    /// «ученик», «ученица»: before «моего класса» (staff) or a class or a
    /// school (student).
    Pupil,
    /// «учащийся», «учащаяся» before a class or a school.
    Learner,
    /// «в моем классе».
    In,
    /// «мой класс 5», «мой классный руководитель».
    My,
    /// «наш классный руководитель».
    Our,
    /// «моему», «нашему» before «классному».
    ToMy,
    /// «моя», «наша» before «классная».
    MyFem,
    /// «у меня в классе», «у моего сына».
    At,
    /// «веду урок…».
    Teach,
    /// «мои ученики», «мои оценки».
    MyPlural,
    /// «моих учеников», «моих оценок».
    OfMy,
    /// «моим ученикам».
    ToMyPlural,
    /// «мне поставили».
    ToMe,
    /// «кл.», «зам.»: short titles.
    ShortTitle,
    /// «родитель».
    Parent,
    /// «мама сказала».
    Mom,
    /// «папа сказал».
    Dad,
    /// «ФИО …».
    Fio,
    /// «Ф.И.О. …».
    F,
    /// «это Даша из 8 б».
    This,
}

/// The words each [`Key`] is read from.
const KEYED_WORDS: &[(Key, &[&str])] = &[
    (Key::Me, &["я"]),
    (Key::WorksAs, &["являюсь", "работаю"]),
    (
        Key::Writes,
        &["пишет", "пишу", "обращается", "беспокоит", "беспокоят"],
    ),
    (Key::On, &["на"]),
    (
        Key::ClassPeople,
        &[
            "детей",
            "дети",
            "ученики",
            "учеников",
            "ученикам",
            "ученика",
            "ученицы",
            "родители",
            "родителей",
        ],
    ),
    (Key::Pupil, &["ученик", "ученица"]),
    (Key::Learner, &["учащийся", "учащаяся"]),
    (Key::In, &["в"]),
    (Key::My, &["мой"]),
    (Key::Our, &["наш"]),
    (Key::ToMy, &["моему", "нашему"]),
    (Key::MyFem, &["моя", "наша"]),
    (Key::At, &["у"]),
    (Key::Teach, &["веду"]),
    (Key::MyPlural, &["мои"]),
    (Key::OfMy, &["моих"]),
    (Key::ToMyPlural, &["моим"]),
    (Key::ToMe, &["мне"]),
    (Key::ShortTitle, &["кл", "зам"]),
    (Key::Parent, &["родитель"]),
    (Key::Mom, &["мама"]),
    (Key::Dad, &["папа"]),
    (Key::Fio, &["фио"]),
    (Key::F, &["ф"]),
    (Key::This, &["это"]),
];

/// What a folded word is to [`cues`]: bits, all found by one look-up per
/// word ([`CueTable::word`]). The low eight are the stems' flags
/// ([`CUE_STEM_LISTS`]).
type Flags = u32;

/// Starts with a title ([`TITLES`]).
const TITLE: Flags = 1;
/// «классн…» (классный руководитель).
const CLASS_TEACHER: Flags = 1 << 1;
/// «заместител…».
const DEPUTY: Flags = 1 << 2;
/// «законн…» (законный представитель).
const LEGAL: Flags = 1 << 3;
/// «опекун…».
const GUARDIAN: Flags = 1 << 4;
/// «родительск…».
const PARENTAL: Flags = 1 << 5;
/// «учусь…», «одноклассни…».
const STUDENT_STEM: Flags = 1 << 6;
/// One of [`CUE_WORDS`].
const CUE: Flags = 1 << 8;
/// One of [`PARENT_WORDS`].
const PARENT: Flags = 1 << 9;
/// One of [`PARENT_NOUNS`].
const PARENT_NOUN: Flags = 1 << 10;
/// One of [`POSSESSIVES`].
const POSSESSIVE: Flags = 1 << 11;
/// One of [`KIN_WORDS`].
const KIN: Flags = 1 << 12;
/// One of [`CHILD_SUBJECTS`].
const CHILD_SUBJECT: Flags = 1 << 13;
/// One of [`CHILD_DATIVES`].
const CHILD_DATIVE: Flags = 1 << 14;
/// One of [`CHILD_GENITIVES`].
const CHILD_GENITIVE: Flags = 1 << 15;
/// One of [`CHILD_NOUNS`].
const CHILD_NOUN: Flags = 1 << 16;
/// Ends in one of [`PARENT_WORDS`] («мама», «прабабушка»).
const PARENT_END: Flags = 1 << 17;

/// The word lists [`cues`] reads, each with its flag.
const WORD_LISTS: &[(&[&str], Flags)] = &[
    (CUE_WORDS, CUE),
    (PARENT_WORDS, PARENT),
    (PARENT_NOUNS, PARENT_NOUN),
    (POSSESSIVES, POSSESSIVE | CUE),
    (KIN_WORDS, KIN | CUE),
    (CHILD_SUBJECTS, CHILD_SUBJECT),
    (CHILD_DATIVES, CHILD_DATIVE),
    (CHILD_GENITIVES, CHILD_GENITIVE),
    (CHILD_NOUNS, CHILD_NOUN),
];

/// What [`cues`] knows of a folded word: its flags and its key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Word {
    /// The lists and stems the word is in.
    flags: Flags,
    /// The cue keyed on the word, if any.
    key: Key,
}

/// The stems [`cues`] reads, each list with its flag. Every stem is
/// longer than eight bytes (four Russian letters): a [`Lexicon`] finds
/// stems of eight bytes or more.
const CUE_STEM_LISTS: &[(&[&str], Flags)] = &[
    (TITLES, TITLE),
    (&["классн"], CLASS_TEACHER),
    (&["заместител"], DEPUTY),
    (&["законн"], LEGAL),
    (&["опекун"], GUARDIAN),
    (&["родительск"], PARENTAL),
    (&["учусь", "одноклассни"], STUDENT_STEM),
];

/// A word in several lists has the flags of each, and the key of the
/// last keyed one.
impl Merge for Word {
    fn merge(&mut self, other: Word) {
        self.flags |= other.flags;
        if other.key != Key::None {
            self.key = other.key;
        }
    }
}

/// Every word and stem of [`WORD_LISTS`], [`KEYED_WORDS`] and
/// [`CUE_STEM_LISTS`] with its flags and key, found for a word of the text
/// by one look-up ([`Lexicon`]); and the ends of the parent words.
struct CueTable {
    words: Lexicon<Word>,
    /// The last eight bytes ([`tail_key`]) of each of [`PARENT_WORDS`],
    /// all of which are eight bytes or longer: a word can end in a parent
    /// word only when its own last eight bytes are among these.
    parent_tails: [u64; PARENT_WORDS.len()],
}

impl CueTable {
    fn new() -> CueTable {
        // Each list: its texts, whether they are stems, and what they say.
        let lists = WORD_LISTS
            .iter()
            .map(|&(words, flags)| (words, false, flags, Key::None))
            .chain(
                KEYED_WORDS
                    .iter()
                    .map(|&(key, words)| (words, false, 0, key)),
            )
            .chain(
                CUE_STEM_LISTS
                    .iter()
                    .map(|&(stems, flags)| (stems, true, flags, Key::None)),
            );
        let entries = lists.flat_map(|(texts, stem, flags, key)| {
            texts.iter().map(move |&text| Entry {
                text,
                stem,
                value: Word { flags, key },
            })
        });
        CueTable {
            words: Lexicon::new(entries),
            parent_tails: std::array::from_fn(|k| tail_key(PARENT_WORDS[k])),
        }
    }

    /// What the folded word `w`, whose first eight bytes are `head`
    /// ([`Tokens::word_keys`]), is by the lists and stems (all flags but
    /// [`PARENT_END`]).
    fn listed(&self, w: &str, head: u64) -> Word {
        self.words.get_keyed(w, head)
    }

    /// Whether the folded word `w`, whose last eight bytes are `tail`,
    /// ends in a parent word («мама», «прабабушка»).
    fn ends_in_parent_word(&self, w: &str, tail: u64) -> bool {
        self.parent_tails.contains(&tail) && PARENT_WORDS.iter().any(|p| w.ends_with(p))
    }

    /// What the folded word `w` with keys `head` and `tail`
    /// ([`Tokens::word_keys`]) is to [`cues`]; flags 0: no cue starts at
    /// it.
    fn word(&self, w: &str, head: u64, tail: u64) -> Word {
        let mut found = self.listed(w, head);
        if self.ends_in_parent_word(w, tail) {
            found.flags |= PARENT_END;
        }
        found
    }
}

/// The lists [`cues`] reads, built into one table once.
static CUE_TABLE: LazyLock<CueTable> = LazyLock::new(CueTable::new);

/// A staff title starting at `i`: the index after it.
fn title(t: &Tokens<'_>, i: usize) -> Option<usize> {
    let (w, head, _) = t.word_keys(i)?;
    let Word { flags, key } = CUE_TABLE.listed(w, head);
    // «классн…», «заместител…» (flags of their stems), «кл.», «зам.»
    // (keyed words), the stems of titles.
    if flags & CLASS_TEACHER != 0 && t.word(i + 1).starts_with("руководител") {
        return Some(i + 2);
    }
    if key == Key::ShortTitle && w == "кл" {
        let j = t.skip(i + 1, &['.']);
        if t.word(j).starts_with("руководител") {
            return Some(j + 1);
        }
        if j > i + 1 && t.word(j).starts_with("рук") {
            return Some(t.skip(j + 1, &['.']));
        }
    }
    if flags & DEPUTY != 0 && t.word(i + 1).starts_with("директора") {
        return Some(i + 2);
    }
    if key == Key::ShortTitle && w == "зам" {
        let j = t.skip(i + 1, &['.']);
        if t.word(j).starts_with("директора") {
            return Some(j + 1);
        }
    }
    (flags & TITLE != 0).then_some(i + 1)
}

const DASHES: &[char] = &[',', '—', '–', '-'];

/// A student naming themselves: name's words (`words::STUDENT_SELF`), and
/// «школьник/школьница», which count for the role only (name does not
/// read them before a name).
fn student_self(w: &str) -> bool {
    STUDENT_SELF.contains(&w) || matches!(w, "школьник" | "школьница")
}

/// «сын…», «доч…», «ребен…», «внук…», «детей», «дети».
fn kin_stem(w: &str) -> bool {
    ["сын", "доч", "ребен", "внук", "детей", "дети"]
        .iter()
        .any(|s| w.starts_with(s))
}

/// A longer word that starts with `stem` (`stem` and one letter more).
fn longer(w: &str, stem: &str) -> bool {
    w.len() > stem.len() && w.starts_with(stem)
}

/// «законный представитель» at `i`: the index after it.
fn legal_guardian(t: &Tokens<'_>, i: usize) -> Option<usize> {
    (longer(t.word(i), "законн") && longer(t.word(i + 1), "представител")).then_some(i + 2)
}

/// «я» at `i`, an optional comma, then one to three Cyrillic words: the
/// indexes just after each possible run of words.
fn after_me_words<'t>(t: &'t Tokens<'_>, i: usize) -> impl Iterator<Item = usize> + 't {
    let j = t.skip(i + 1, &[',']);
    (1..=3)
        .take_while(move |k| t.cyrillic(j + k - 1))
        .map(move |k| j + k)
}

/// Every role cue in the writer's tokens, in one pass: at each word, the
/// cues that can start there. (Not inlined: it runs once a letter, and a
/// profile shows it apart from `detect`.)
#[inline(never)]
fn cues(t: &Tokens<'_>) -> Cues {
    let mut c = Cues::default();
    let table = &*CUE_TABLE;
    for i in 0..t.len() {
        let Some((w, head, tail)) = t.word_keys(i) else {
            continue;
        };
        let Word { flags: f, key } = table.word(w, head, tail);
        if f == 0 {
            continue;
        }
        let (n1, n2) = (t.word(i + 1), t.word(i + 2));
        // Cues keyed by their first word: «я …» (staff, parent or
        // student), the staff's own self-presentations, the students'.
        match key {
            Key::None => {}
            Key::Me => me_cues(t, i, &mut c),
            Key::WorksAs => {
                if title(t, i + 1).is_some() {
                    c.staff_self = true;
                }
            }
            Key::Writes => {
                if title(t, t.skip(i + 1, DASHES)).is_some() {
                    c.staff_self = true;
                }
            }
            Key::On => {
                if n1 == "связи" && title(t, t.skip(i + 2, DASHES)).is_some() {
                    c.staff_self = true;
                }
            }
            Key::ClassPeople => {
                if n1 == "моего" && n2.starts_with("класса") {
                    c.staff_self = true;
                }
            }
            Key::Pupil | Key::Learner => {
                if key == Key::Pupil && n1 == "моего" && n2.starts_with("класса") {
                    c.staff_self = true;
                }
                if t.num(i + 1).is_some()
                    || n1.starts_with("класса")
                    || t.cyrillic(i + 1) && n2.starts_with("класса")
                    || n1.starts_with("школы")
                    || n1.starts_with("гимназии")
                {
                    c.student = true;
                }
            }
            Key::In => {
                if n1 == "моем" && n2.starts_with("классе") {
                    c.staff_self = true;
                }
            }
            Key::My | Key::Our => {
                if key == Key::My && n1 == "класс" && t.num(i + 2).is_some() {
                    c.staff_self = true;
                }
                if n1 == "классный" && n2.starts_with("руководитель") {
                    c.student = true;
                }
            }
            Key::ToMy => {
                if n1.starts_with("классному") {
                    c.student = true;
                }
            }
            Key::MyFem => {
                if n1.starts_with("классная") {
                    c.student = true;
                }
            }
            Key::At => {
                if n1 == "меня" && n2 == "в" && t.word(i + 3).starts_with("классе") {
                    c.staff_self = true;
                }
                if matches!(n1, "моего" | "моей" | "нашего" | "нашей") && kin_stem(n2)
                {
                    c.parent = true;
                }
            }
            Key::Teach => {
                if ["урок", "предмет", "журнал"]
                    .iter()
                    .any(|p| n1.starts_with(p))
                {
                    c.staff_self = true;
                }
            }
            Key::MyPlural => {
                if n1.starts_with("ученики") {
                    c.staff_self = true;
                }
                if n1.starts_with("оценки") {
                    c.student = true;
                }
            }
            Key::OfMy => {
                if n1.starts_with("учеников") {
                    c.staff_self = true;
                }
                if n1.starts_with("оценок") {
                    c.student = true;
                }
            }
            Key::ToMyPlural => {
                if n1.starts_with("ученикам") {
                    c.staff_self = true;
                }
            }
            Key::ToMe => {
                if n1.starts_with("поставил") || n1.starts_with("выставили") {
                    c.student = true;
                }
            }
            // «кл.», «зам.» (see `title`).
            Key::ShortTitle => {
                if !c.any_title && title(t, i).is_some() {
                    c.any_title = true;
                }
            }
            Key::Parent => c.parent_word = true,
            Key::Mom => {
                if n1.starts_with("сказала") {
                    c.parent_said = true;
                }
            }
            Key::Dad => {
                if n1.starts_with("сказал") {
                    c.parent_said = true;
                }
            }
            // «ФИО родителя», «Ф.И.О. законного представителя».
            Key::Fio => {
                if parent_after_fio(t, i + 1) {
                    c.parent_line = true;
                }
            }
            Key::F => {
                if t.punct(i + 1) == Some('.')
                    && t.word(i + 2) == "и"
                    && t.punct(i + 3) == Some('.')
                    && t.word(i + 4) == "о"
                    && parent_after_fio(t, t.skip(i + 5, &['.']))
                {
                    c.parent_line = true;
                }
            }
            Key::This => {
                if t.cyrillic(i + 1) && n2 == "из" && t.num(i + 3).is_some() {
                    c.student = true;
                }
            }
        }
        // The common case: a keyed word in no list («в», «на», «я»).
        if f == CUE {
            continue;
        }
        // A title starts with a title stem, «классн…», «заместител…», or
        // is «кл.»/«зам.» (above).
        if f & (TITLE | CLASS_TEACHER | DEPUTY) != 0 && !c.any_title && title(t, i).is_some() {
            c.any_title = true;
        }
        // Students.
        if f & STUDENT_STEM != 0 {
            c.student = true;
        }
        if f & PARENT_CUES != 0 {
            parent_cues(t, i, f, &mut c);
        }
        if f & CHILD_CUES != 0 {
            child_cues(t, i, f, &mut c);
        }
    }
    c
}

/// The flags of the words that [`parent_cues`] reads.
const PARENT_CUES: Flags = PARENT | PARENT_END | LEGAL | PARENT_NOUN | GUARDIAN | PARENTAL;

/// A parent word (or a word ending in one), «законный представитель»,
/// «опекун», «родительский …» at `i`, whose flags are `f`: the cues of
/// [`cues`] that start there.
fn parent_cues(t: &Tokens<'_>, i: usize, f: Flags, c: &mut Cues) {
    if f & PARENT != 0 {
        c.parent_word = true;
    }
    // «мама Даши» (any word ending in a parent word, as written).
    if f & PARENT_END != 0 {
        let j = t.skip(i + 1, &['-', '–', '—', ':']);
        if t.is_word(j) && {
            let mut cs = t.written(j).chars();
            cs.next().is_some_and(is_cyr_upper) && cs.next().is_some_and(is_cyr_lower)
        } {
            c.parent_of_named = true;
        }
    }
    // «законный представитель» (before «ученика» or not).
    if f & LEGAL != 0 && legal_guardian(t, i).is_some() {
        c.parent = true;
    }
    // A parent word before «ученика».
    if f & (PARENT_NOUN | GUARDIAN) != 0 {
        let wk = t.word(i + 1);
        if wk.starts_with("ученик")
            || wk.starts_with("ученицы")
            || longer(wk, "учащ")
            || wk.starts_with("ребенка")
            || longer(wk, "обучающ")
        {
            c.parent = true;
        }
    }
    // «родительский доступ».
    if f & PARENTAL != 0
        && longer(t.word(i), "родительск")
        && [
            "аккаунт",
            "доступ",
            "учетн",
            "профил",
            "кабинет",
            "логин",
            "пароль",
        ]
        .iter()
        .any(|p| t.word(i + 1).starts_with(p))
    {
        c.parent = true;
    }
    // A line that is a parent word and at most three more words.
    if f & PARENT != 0 && t.line_start(i) {
        let mut e = i;
        for k in 0..=3 {
            if k > 0 {
                if !t.cyrillic(i + k) {
                    break;
                }
                e = i + k;
            }
            let end = if matches!(t.punct(e + 1), Some('.' | '!')) {
                e + 1
            } else {
                e
            };
            if t.line_end(end) || t.line_end(e) {
                c.parent_line = true;
            }
        }
    }
}

/// The flags of the words that [`child_cues`] reads.
const CHILD_CUES: Flags =
    POSSESSIVE | KIN | CHILD_SUBJECT | CHILD_DATIVE | CHILD_GENITIVE | CHILD_NOUN;

/// A possessive or a child at `i`, whose flags are `f`: the cues of
/// [`cues`] that start there (a possessive before a child, a child doing
/// something or something done to a child).
fn child_cues(t: &Tokens<'_>, i: usize, f: Flags, c: &mut Cues) {
    let n1 = t.word(i + 1);
    if f & KIN != 0 {
        c.kin = true;
    }
    if f & POSSESSIVE != 0 && kin_stem(n1) {
        c.parent = true;
    }
    if f & CHILD_SUBJECT != 0
        && (["учится", "обучается", "ходит"]
            .iter()
            .any(|p| n1.starts_with(p))
            || n1 == "в" && t.num(i + 2).is_some())
    {
        c.parent = true;
    }
    if f & CHILD_DATIVE != 0
        && (n1 == "не"
            || ["поставил", "выставили", "пришл", "нужн", "выдали"]
                .iter()
                .any(|p| n1.starts_with(p)))
    {
        c.parent = true;
    }
    if f & CHILD_GENITIVE != 0 && matches!(t.punct(i + 1), Some(',' | '(')) {
        c.parent = true;
    }
    if f & CHILD_NOUN != 0
        && ["ученик", "ученица"]
            .iter()
            .any(|p| t.word(t.skip(i + 1, DASHES)).starts_with(p))
    {
        c.parent = true;
    }
}

/// After «ФИО» / «Ф.И.О.», the word at `j`: «родителя», «законного
/// представителя», «заявителя-родителя».
fn parent_after_fio(t: &Tokens<'_>, j: usize) -> bool {
    let wj = t.word(j);
    wj.starts_with("родителя")
        || wj == "законного" && t.word(j + 1).starts_with("представителя")
        || wj == "заявителя" && t.punct(j + 1) == Some('-') && t.word(j + 2).starts_with("родителя")
}

/// «я» at `i`: «я учитель», «я мама», «я ученица», «я из 5…», «я Даша из
/// 5…», «я, Соколова Алина, ученица», «я Саша Иванов, 8 В класс».
fn me_cues(t: &Tokens<'_>, i: usize, c: &mut Cues) {
    let n1 = t.word(i + 1);
    let j = t.skip(i + 1, DASHES);
    let wj = t.word(j);
    if title(t, j).is_some() || n1 == "как" && title(t, i + 2).is_some() {
        c.staff_self = true;
    }
    if PARENT_WORDS
        .iter()
        .chain(&["родитель", "мачеха", "отчим", "тетя", "дядя"])
        .any(|p| wj.starts_with(p))
        || legal_guardian(t, j).is_some()
    {
        c.parent = true;
    }
    if student_self(wj) || wj.starts_with("студент") {
        c.student = true;
    }
    // «я из 5…», «я Даша из 5…», «я Даша Петрова из 5…»
    if n1 == "из" && t.num(i + 2).is_some() {
        c.student = true;
    }
    if t.cyrillic(i + 1) {
        for k in [i + 2, i + 3] {
            if t.word(k) == "из" && t.num(k + 1).is_some() {
                c.student = true;
            }
            if !t.cyrillic(k) {
                break;
            }
        }
    }
    for e in after_me_words(t, i) {
        // «я, Соколова Алина, ученица»
        let s = t.skip(e, DASHES);
        if s > e && student_self(t.word(s)) {
            c.student = true;
        }
        // «я Саша Иванов, 8 В класс»
        if t.punct(e) == Some(',') && student_class_after(t, e + 1) {
            c.student = true;
        }
    }
}

/// After «я Имя Фамилия,»: «[ученик] 8 [-«]В[»] класс» / «8В,» / «8 кл.»
/// or the end of the text.
fn student_class_after(t: &Tokens<'_>, mut j: usize) -> bool {
    if t.word(j).starts_with("ученик") {
        j += 1;
    }
    if t.num(j).is_none_or(|n| n.len() > 2) {
        return false;
    }
    j = t.skip(j + 1, &['-', '–', '«', '"']);
    if t.word(j).chars().count() == 1 && t.cyrillic(j) {
        j += 1;
    }
    j = t.skip(j, &['»', '"']);
    j >= t.len()
        || t.word(j).starts_with("класс")
        || t.word(j) == "кл" && t.punct(j + 1) == Some('.')
        || matches!(t.punct(j), Some(',' | '.' | '!'))
}

/// The writer's role from their own text (new text and signature).
pub fn detect(text: &str) -> Option<Role> {
    detect_in(&tokenize(text))
}

/// [`detect`] over the text's tokens, when the caller has them already.
pub(crate) fn detect_in(t: &Tokens<'_>) -> Option<Role> {
    let c = cues(t);
    if staff(t, &c) {
        return Some(Role::Staff);
    }
    let parent = c.parent || c.kin || c.parent_line || c.parent_of_named;
    match (parent, c.student) {
        (true, _) => Some(Role::Parent),
        (false, true) => Some(Role::Student),
        (false, false) => (c.parent_word && !c.parent_said).then_some(Role::Parent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::lexicon::key;

    /// What the folded word `w` is to [`cues`], by [`CUE_TABLE`].
    fn word_info(w: &str) -> Word {
        CUE_TABLE.word(w, key(w.as_bytes()), tail_key(w))
    }

    /// The flags of the folded word `w` ([`word_info`]).
    fn word_flags(w: &str) -> Flags {
        word_info(w).flags
    }

    /// What the lists say the folded word `w` is, asked one by one: the
    /// definition [`CUE_TABLE`] must agree with.
    fn by_the_lists(w: &str) -> Word {
        let mut flags = 0;
        for (words, flag) in WORD_LISTS {
            if words.contains(&w) {
                flags |= flag;
            }
        }
        for (stems, flag) in CUE_STEM_LISTS {
            if stems.iter().any(|s| w.starts_with(s)) {
                flags |= flag;
            }
        }
        if PARENT_WORDS.iter().any(|p| w.ends_with(p)) {
            flags |= PARENT_END;
        }
        let key = KEYED_WORDS
            .iter()
            .find(|(_, words)| words.contains(&w))
            .map_or(Key::None, |(key, _)| *key);
        Word { flags, key }
    }

    /// The table gives what the lists give: for every listed word and
    /// stem, for each of them cut short by a letter or two, lengthened by
    /// an ending or by a word before, and for the words of a sample text.
    #[test]
    fn cue_table_agrees_with_the_lists() {
        let lists = WORD_LISTS
            .iter()
            .map(|(words, _)| *words)
            .chain(KEYED_WORDS.iter().map(|(_, words)| *words))
            .chain(CUE_STEM_LISTS.iter().map(|(stems, _)| *stems))
            .chain([PARENT_WORDS]);
        let mut words: Vec<String> = Vec::new();
        for w in lists.flatten() {
            let cs: Vec<char> = w.chars().collect();
            for cut in 0..cs.len().min(3) {
                words.push(cs[..cs.len() - cut].iter().collect());
            }
            for end in ["", "а", "ы", "ем", "ами", "ского", "x"] {
                words.push(format!("{w}{end}"));
                words.push(format!("пра{w}{end}"));
            }
        }
        let sample = "Здравствуйте я мама ученицы 5А класса, у моего сына \
                      дочка внучка прабабушка опекунша классный руководитель \
                      заместителя директора логопеду учусь одноклассники";
        words.extend(sample.split([' ', ',']).map(super::super::fold));
        for w in words.iter().filter(|w| !w.is_empty()) {
            assert_eq!(word_info(w), by_the_lists(w), "{w}");
        }
    }

    /// The shapes [`CueTable`] relies on: stems longer than eight bytes
    /// ([`Lexicon`] needs eight or more),
    /// parent words of eight bytes or more; and every listed word can
    /// start a cue (as it did when `cues` asked the lists one by one).
    #[test]
    fn word_flags_agree_with_the_lists() {
        for (stems, _) in CUE_STEM_LISTS {
            for s in *stems {
                assert!(s.len() > 8, "{s}");
            }
        }
        for p in PARENT_WORDS {
            assert!(p.len() >= 8, "{p}");
        }
        for (words, _) in WORD_LISTS {
            for w in *words {
                let f = word_flags(w);
                // Each list has a flag of its own; CUE is shared by the
                // lists whose words all start cues.
                for (list, flags) in WORD_LISTS.iter().filter(|(_, f)| *f != CUE) {
                    let own = flags & !CUE;
                    assert_eq!(f & own != 0, list.contains(w), "{w} {flags:b}");
                }
                let cue = WORD_LISTS
                    .iter()
                    .any(|(list, flags)| flags & CUE != 0 && list.contains(w));
                assert_eq!(f & CUE != 0, cue, "{w}");
                assert!(f & (CUE | PARENT_END) != 0, "{w}");
                let ends = PARENT_WORDS.iter().any(|p| w.ends_with(p));
                assert_eq!(f & PARENT_END != 0, ends, "{w}");
            }
        }
        assert_eq!(word_flags("прабабушка"), PARENT_END);
        assert_eq!(word_flags("учителя"), TITLE);
        assert_eq!(word_flags("классного"), CLASS_TEACHER);
        assert_eq!(word_flags("заместителем"), DEPUTY);
        assert_eq!(word_flags("законного"), LEGAL);
        assert_eq!(word_flags("опекуна"), GUARDIAN);
        assert_eq!(word_flags("опекун"), GUARDIAN | PARENT | PARENT_END);
        assert_eq!(word_flags("родительский"), PARENTAL);
        assert_eq!(word_flags("одноклассники"), STUDENT_STEM);
        assert_eq!(word_flags("учусь"), STUDENT_STEM);
        assert_eq!(word_flags("дневник"), 0);
        assert_eq!(word_flags("x"), 0);
        // Every keyed word gets its key, and flags (so `cues` reads it);
        // «мама», «папа» are parent words, the others cue words alone.
        for (key, words) in KEYED_WORDS {
            for w in *words {
                let Word { flags, key: k } = word_info(w);
                assert_eq!(k, *key, "{w}");
                assert!(flags & (CUE | PARENT) != 0, "{w}");
            }
        }
        assert_eq!(word_info("учителя").key, Key::None);
    }

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
            ("ФИО родителя: Иванова Анна Петровна", Some(Role::Parent)),
            ("Ф.И.О. законного представителя: Петров", Some(Role::Parent)),
            ("Не видно оценок.\nМама\n", Some(Role::Parent)),
            (
                "У нас не открывается дневник. Мама Даши",
                Some(Role::Parent),
            ),
            ("Учитель истории Петрова поставила 2, а в журнале 4", None),
            ("Передайте директору школы, что дневник не работает", None),
            (
                "Не выставляются оценки.\nИванова М.П., учитель начальных классов",
                Some(Role::Staff),
            ),
            (
                "Не выставляются оценки.\nС уважением,\nучитель математики",
                Some(Role::Staff),
            ),
            ("Добрый день, педагог-психолог. Не вижу", Some(Role::Staff)),
            ("Мне поставили 2 за контрольную", Some(Role::Student)),
            ("Я Даша Петрова из 5б, забыла пароль", Some(Role::Student)),
            ("Мама сказала, что вы поможете", None),
        ] {
            assert_eq!(detect(t), want, "{t}");
        }
    }
}
