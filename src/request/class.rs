//! The class: a number 1–11 with an optional letter, in every spelling
//! people use (`5А`, `5 А`, `5-а`, `5 «А»`, `5"а"`, `11Б класс`,
//! `7 б класса`, Latin `5A`, `класс 9В`, `(10 В)`, «в пятом классе»),
//! normalised to digits + upper-case Cyrillic letter.
//!
//! Dates, times, grades («поставили 5»), phone numbers and counts
//! («2 четверть», «8-х классов») are not classes: a bare number counts only
//! next to the word «класс» in the singular, and a number is never read out
//! of a longer run of digits, a date or a time.

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use regex::Regex;

use super::{fold, is_letter, letter_len};

/// A candidate found in the text, with how sure we are.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Candidate {
    /// 1–11.
    number: u32,
    /// An upper-case Cyrillic letter, or none for a bare number.
    letter: Option<char>,
    strength: u8,
    /// Byte offset of its first digit (`usize::MAX`: the ordinal spelling).
    pos: usize,
}

impl Candidate {
    /// The class as it is reported: «5А», «11».
    fn class(&self) -> String {
        self.with_letter(self.letter)
    }

    /// The class's number followed by `letter`, if any: written by hand,
    /// where `format!` would run the formatting machinery for four bytes.
    fn with_letter(&self, letter: Option<char>) -> String {
        let mut s = String::with_capacity(4);
        // The number is 1–11: a «1» before a second digit, and a last
        // digit 0–9.
        if self.number >= 10 {
            s.push('1');
        }
        s.push(char::from(b'0' + (self.number % 10) as u8));
        if let Some(l) = letter {
            s.push(l);
        }
        s
    }
}

/// The candidates the choice of the class can need, kept as they are
/// found (in the text's order, the ordinal spelling last) instead of a
/// list of them all.
#[derive(Default)]
struct Found {
    /// The first lettered one marked by «класс» or a label (strength 3).
    marked: Option<Candidate>,
    /// The first lettered one of the highest strength below 3.
    lettered: Option<Candidate>,
    /// The first one.
    first: Option<Candidate>,
    /// The first one of strength 2 or more: a subject's class.
    sure: Option<Candidate>,
}

impl Found {
    /// Takes `c`, found after every candidate taken before. Out of line:
    /// one copy for its three callers.
    #[inline(never)]
    fn add(&mut self, c: Candidate) {
        self.first.get_or_insert(c);
        if c.strength >= 2 {
            self.sure.get_or_insert(c);
        }
        if c.letter.is_some() {
            if c.strength >= 3 {
                self.marked.get_or_insert(c);
            } else if self.lettered.is_none_or(|l| c.strength > l.strength) {
                self.lettered = Some(c);
            }
        }
    }
}

/// The Cyrillic letter a class letter stands for (Latin look-alikes
/// mapped), or `None` when the character cannot be a class letter.
fn class_letter(c: char) -> Option<char> {
    let up = match c {
        'A' | 'a' => 'А',
        'B' => 'В',
        'b' => 'Б',
        'C' | 'c' => 'С',
        'E' | 'e' => 'Е',
        'H' => 'Н',
        'K' | 'k' => 'К',
        'M' | 'm' => 'М',
        'O' | 'o' => 'О',
        'P' | 'p' => 'Р',
        'T' => 'Т',
        'X' | 'x' => 'Х',
        'а'..='я' => russian_capital(c),
        'А'..='Я' => c,
        _ => return None,
    };
    if matches!(up, 'Й' | 'Ъ' | 'Ы' | 'Ь' | 'Щ' | 'Ц' | 'Ч' | 'Ш') {
        return None;
    }
    Some(up)
}

/// The capital of a letter а..я (U+0430..U+044F, whose capitals are
/// U+0410..U+042F), told by arithmetic instead of `char::to_uppercase`'s
/// Unicode tables; any other character as it is.
fn russian_capital(c: char) -> char {
    if ('а'..='я').contains(&c) {
        char::from_u32(u32::from(c) - 0x20).unwrap_or(c)
    } else {
        c
    }
}

/// `char::is_uppercase`, with ASCII and Cyrillic (U+0400..U+045F) told
/// by their ranges instead of the Unicode tables.
fn is_capital(c: char) -> bool {
    match c {
        'A'..='Z' | '\u{400}'..='\u{42F}' => true,
        '\0'..='\x7F' | '\u{430}'..='\u{45F}' => false,
        _ => c.is_uppercase(),
    }
}

fn is_open_quote(c: char) -> bool {
    matches!(c, '«' | '"' | '“' | '„' | '\'' | '‘' | '`')
}

fn is_close_quote(c: char) -> bool {
    matches!(c, '»' | '"' | '”' | '\'' | '’' | '`' | '“')
}

/// The character at byte `i` of `text`, if `i` is a character boundary
/// before its end. Out of line: one copy of the UTF-8 decoding for the
/// many places the scan reads a character, where each inlined copy would
/// be more code to fetch for every letter.
#[inline(never)]
fn char_after(text: &str, i: usize) -> Option<char> {
    text.get(i..)?.chars().next()
}

/// The character that ends at byte `i` of `text`, if `i` is a character
/// boundary after its start: [`char_after`] read backwards.
#[inline(never)]
fn char_before(text: &str, i: usize) -> Option<char> {
    text.get(..i)?.chars().next_back()
}

/// The first `max` characters of `text` (all of it when shorter).
fn first_chars(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    text.char_indices()
        .nth(max)
        .map_or(text, |(i, _)| &text[..i])
}

/// The word after byte `i` of `text` (skipping spaces, quotes, brackets
/// and dashes), at most 24 characters, as written.
fn word_after(text: &str, i: usize) -> &str {
    let mut start = i;
    while let Some(c) = char_after(text, start)
        && (c.is_whitespace() || is_close_quote(c) || matches!(c, ')' | '-' | '–' | '—' | ':'))
    {
        start += c.len_utf8();
    }
    let mut end = start;
    for _ in 0..24 {
        match char_after(text, end) {
            Some(c) if is_letter(c) || c == '.' => end += c.len_utf8(),
            _ => break,
        }
    }
    text.get(start..end).unwrap_or_default()
}

/// Where the two words before byte `i` of `text` are (nearest first,
/// `0..0` for a word that is not there), within 60 characters. A word is
/// a run of letters and dots; one that the window cuts counts from its
/// edge.
fn words_before(text: &str, i: usize) -> [(usize, usize); 2] {
    let in_word = |c: char| is_letter(c) || c == '.';
    let mut spans = [(0, 0); 2];
    let mut n = 0;
    let mut word: Option<(usize, usize)> = None;
    let mut k = i;
    for _ in 0..60 {
        let Some(c) = char_before(text, k) else {
            break;
        };
        let end = k;
        k -= c.len_utf8();
        if in_word(c) {
            let end = word.map_or(end, |(_, e)| e);
            word = Some((k, end));
        } else if let Some(w) = word.take() {
            spans[n] = w;
            n += 1;
            if n == spans.len() {
                break;
            }
        }
    }
    if let Some(w) = word
        && n < spans.len()
    {
        spans[n] = w;
    }
    spans
}

/// The word of `text` at `span` (see [`words_before`]), as written.
fn word_at(text: &str, (s, e): (usize, usize)) -> &str {
    &text[s..e]
}

/// «класс», «класса», «классе», «кл.», «классу»… in the singular.
const CLASS_SINGULAR: &[&str] = &[
    "класс",
    "класса",
    "классе",
    "классу",
    "классом",
    "кл",
    "клас",
    "класа",
    "класе",
];

/// «классов», «классы»…: the plural, which makes a number a count.
const CLASS_PLURAL: &[&str] = &["классов", "классы", "классах", "классам", "классами"];

/// Ordinal endings written after a hyphen: «5-й», «8-х», «5-го», «5-м».
const ORDINAL_SUFFIXES: &[&str] = &[
    "й", "м", "х", "е", "я", "ю", "го", "ом", "ый", "ой", "ий", "ая", "ое", "ых", "им", "ым",
    "ому", "ого",
];

/// The word before a lower-case class letter that makes it one («из 8 б»).
const STUDENT_WORDS_BEFORE: &[&str] = &[
    "из",
    "в",
    "ученик",
    "ученица",
    "ученика",
    "ученицы",
    "учусь",
    "учится",
    "руководитель",
];

/// The words after which the word before them may be «класс»: «в классе
/// 5», «класс номер 5», «класс это 5».
const BEFORE_NUMBER_AFTER_CLASS: &[&str] = &["в", "номер", "это"];

/// Whether `word` (as written), its trailing dots dropped, folds
/// ([`fold`](super::fold)) to one of `words` (words of letters а..я):
/// read against each word's bytes, where folding the word would be a
/// `String` to fill. One function for every list: one copy of the code.
#[inline(never)]
fn is_one_of(word: &str, words: &[&str]) -> bool {
    let mut w = word.as_bytes();
    while let [rest @ .., b'.'] = w {
        w = rest;
    }
    words.iter().any(|t| folds_to(w, t.as_bytes()))
}

/// Whether `word` (bytes of a `str` from a character boundary) folds to
/// `target`, the bytes of a word of letters а..я (two bytes each): pair
/// by pair, each is the target's letter, its capital, or Ё/ё for е. A pair
/// that matches is a whole character (its lead byte is 0xD0 or 0xD1), so
/// the next pair starts another; and no character but those folds to a
/// letter а..я (see the tests), so a word with any other folds to no
/// such target.
fn folds_to(word: &[u8], target: &[u8]) -> bool {
    let (pairs, _) = word.as_chunks::<2>();
    let (letters, _) = target.as_chunks::<2>();
    word.len() == target.len()
        && pairs
            .iter()
            .zip(letters)
            .all(|(&p, &l)| fold_pair(u16::from_be_bytes(p)) == u16::from_be_bytes(l))
}

/// The two bytes of a character (lead byte high) as [`fold`](super::fold)
/// folds them when they are a Russian capital (А..Я → а..я) or Ё, ё (→ е);
/// any other two bytes as they are.
fn fold_pair(pair: u16) -> u16 {
    match pair {
        // А..П (U+0410..U+041F) → а..п (U+0430..U+043F)
        0xD090..=0xD09F => pair + 0x20,
        // Р..Я (U+0420..U+042F, D0 A0..D0 AF) → р..я (D1 80..D1 8F)
        0xD0A0..=0xD0AF => pair + 0xE0,
        // Ё, ё → е
        0xD081 | 0xD191 => 0xD0B5,
        _ => pair,
    }
}

/// The index of the first ASCII digit of `b` at or after `from`. Letters
/// are long and digits few: eight bytes are tested at once as one number
/// ([`digit_bytes`]), without a branch per byte. Out of line: one copy for
/// its two callers.
#[inline(never)]
fn next_digit(b: &[u8], from: usize) -> Option<usize> {
    let rest = b.get(from..)?;
    let (words, tail) = rest.as_chunks::<8>();
    for (n, word) in words.iter().enumerate() {
        let digits = digit_bytes(u64::from_le_bytes(*word));
        if digits != 0 {
            // The lowest marked byte is the first digit.
            return Some(from + 8 * n + (digits.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(u8::is_ascii_digit)
        .map(|k| from + 8 * words.len() + k)
}

/// The bytes of `x` that are ASCII digits, each marked by its high bit
/// (0x80) and every other bit clear. Per byte, with its low seven bits
/// `l` (no sum below carries or borrows into another byte): 0xB9 − `l`
/// has its high bit iff `l` ≤ 0x39, `l` + 0x50 iff `l` ≥ 0x30, and `!x`
/// iff the byte is below 0x80.
fn digit_bytes(x: u64) -> u64 {
    const EACH: u64 = 0x0101_0101_0101_0101;
    let low = x & (EACH * 0x7F);
    (EACH * (0x7F + 0x3A) - low) & !x & (low + EACH * (0x7F - 0x2F)) & (EACH * 0x80)
}

/// Whether the number at byte `start` of `text` follows «класс» («класс
/// 5», «в классе номер 5») or a «Класс:» label (see [`label_before`]).
fn context_before(text: &str, start: usize) -> bool {
    let before = words_before(text, start);
    let first = word_at(text, before[0]);
    // The second word only after «в», «номер», «это».
    is_one_of(first, CLASS_SINGULAR)
        || is_one_of(first, BEFORE_NUMBER_AFTER_CLASS)
            && is_one_of(word_at(text, before[1]), CLASS_SINGULAR)
        || label_before(text, start)
}

/// «Класс: 5А» / «Класс - 5 А»: the line holding the number at byte
/// `start` of `text` opens with a «класс» label. Look back at most 40
/// characters: a label is short, and a long line full of digits must not
/// cost quadratic time.
fn label_before(text: &str, start: usize) -> bool {
    // Walked back over bytes: a character starts at each byte that is not
    // a continuation byte (0b10xx_xxxx), and a line feed is one byte.
    let before = text.as_bytes().get(..start).unwrap_or_default();
    let (mut line_start, mut chars) = (start, 0);
    for (k, &x) in before.iter().enumerate().rev() {
        if x == b'\n' {
            break;
        }
        // Counted without a branch: in Cyrillic text lead and continuation
        // bytes alternate.
        let starts = x & 0xC0 != 0x80;
        chars += usize::from(starts);
        line_start = if starts { k } else { line_start };
        if chars == 40 {
            break;
        }
    }
    let Some(head) = text.get(line_start..start) else {
        return false;
    };
    // Only a head that starts with «к» can be a label: fold no other.
    let mut k = 0;
    while let Some(c) = char_after(head, k)
        && c.is_whitespace()
    {
        k += c.len_utf8();
    }
    matches!(char_after(head, k), Some('к' | 'К')) && {
        let h = fold(head);
        let h = h.trim();
        h.starts_with("класс") && h.len() < 40 || h.starts_with("кл.") && h.len() < 20
    }
}

/// Whether one of the three characters before byte `start` of `text` is
/// «№» or «#»: the number is a school's or a list's.
fn signed_before(text: &str, start: usize) -> bool {
    let mut k = start;
    for _ in 0..3 {
        match char_before(text, k) {
            Some('№' | '#') => return true,
            Some(c) => k -= c.len_utf8(),
            None => break,
        }
    }
    false
}

/// Scan text for class candidates.
fn candidates(text: &str) -> Found {
    let mut out = Found::default();
    // Every candidate starts with a digit.
    let Some(first_digit) = next_digit(text.as_bytes(), 0) else {
        return out;
    };
    // Read as bytes: every index below is a character boundary (a digit,
    // or an index stepped to over whole characters).
    let text = first_chars(text, 100_000);
    let b = text.as_bytes();
    let mut i = first_digit;
    while let Some(start) = next_digit(b, i) {
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        // One or two digits, no leading zero, 1–11.
        let digits = &b[start..i];
        if digits.len() > 2 || digits[0] == b'0' {
            continue;
        }
        let num = digits.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
        if !(1..=11).contains(&num) {
            continue;
        }
        // Not part of a number, date, time, phone or school number.
        if let Some(p) = char_before(text, start)
            && (p.is_alphanumeric()
                || matches!(
                    p,
                    '.' | ',' | ':' | '/' | '+' | '№' | '#' | '-' | '_' | '*' | '='
                ))
        {
            continue;
        }
        if signed_before(text, start) {
            continue;
        }
        if let Some(n) = char_after(text, i)
            && matches!(n, '.' | ',' | ':' | '/' | '%' | '*' | '×' | 'x')
            && b.get(i + n.len_utf8()).is_some_and(u8::is_ascii_digit)
        {
            continue;
        }
        // What follows the number: separator, quotes, a letter?
        let mut j = i;
        let mut spaces = 0;
        let mut hyphen = false;
        for _ in 0..4 {
            let c = char_after(text, j);
            match c {
                Some(' ' | '\u{a0}') => spaces += 1,
                Some('-' | '–' | '—') => hyphen = true,
                _ => break,
            }
            j += c.map_or(0, char::len_utf8);
        }
        let mut quoted = false;
        if let Some(q) = char_after(text, j).filter(|&q| is_open_quote(q)) {
            quoted = true;
            j += q.len_utf8();
        }
        // The run of letters right after.
        let (mut letters_end, mut run_len) = (j, 0);
        loop {
            let n = letter_len(text, letters_end);
            if n == 0 {
                break;
            }
            letters_end += n;
            run_len += 1;
        }
        let run = &text[j..letters_end];
        let mut lettered: Option<(char, bool)> = None; // (letter, was upper)
        let mut after = letters_end;
        if run_len == 1
            && let Some(c) = char_after(text, j)
        {
            let close = char_after(text, letters_end).filter(|&q| is_close_quote(q));
            if !quoted || close.is_some() {
                if quoted {
                    after += close.map_or(0, char::len_utf8);
                }
                // «5-й», «в 10м классе»: an ordinal ending, not a letter.
                let ordinal_glued = !hyphen
                    && spaces == 0
                    && matches!(c, 'м' | 'х' | 'й' | 'ю' | 'я')
                    && is_one_of(word_after(text, letters_end), CLASS_SINGULAR);
                let upper = is_capital(c);
                if (hyphen && is_one_of(run, ORDINAL_SUFFIXES) || ordinal_glued) && !upper {
                    lettered = None;
                } else if let Some(l) = class_letter(c) {
                    lettered = Some((l, upper));
                }
            }
        } else if hyphen && run_len <= 3 && is_one_of(run, ORDINAL_SUFFIXES) {
            // «5-го класса», «8-х классов»: an ordinal; the word after decides.
            after = letters_end;
        }
        let next_word =
            if lettered.is_none() && run_len > 1 && !(hyphen && is_one_of(run, ORDINAL_SUFFIXES)) {
                run
            } else {
                word_after(text, after)
            };
        let class_after = is_one_of(next_word, CLASS_SINGULAR);
        let plural_after = is_one_of(next_word, CLASS_PLURAL);
        if let Some((letter, upper)) = lettered {
            if plural_after {
                continue;
            }
            let class_ctx = class_after || context_before(text, start);
            let adjacent = spaces == 0;
            let latin = b[j].is_ascii_alphabetic();
            // «1С» is the accounting program, «4G»/«3D» are not classes.
            let strength = if class_ctx {
                3
            } else if quoted {
                2
            } else if adjacent
                && !(num == 1 && letter == 'С' && !class_ctx)
                && (upper || !hyphen || !latin)
            {
                if latin && !upper && !hyphen { 1 } else { 2 }
            } else if spaces > 0 && upper && !latin {
                // «6 В» with a capital: a class letter, not a preposition.
                1
            } else if spaces > 0
                && is_one_of(
                    word_at(text, words_before(text, start)[0]),
                    STUDENT_WORDS_BEFORE,
                )
                && {
                    // Lower-case «б», «г», «д» after «из», «в», «ученик»; «а»
                    // only when nothing follows it («из 8 а,»); prepositions
                    // («в», «с», «к»…) never without «класс».
                    let ends = char_after(text, after)
                        .is_none_or(|c| matches!(c, ',' | '.' | ')' | '\n' | ';' | '!' | '?'));
                    !matches!(letter, 'В' | 'И' | 'С' | 'К' | 'О' | 'У' | 'Я' | 'А')
                        || letter == 'А' && ends
                }
            {
                1
            } else {
                0
            };
            if strength > 0 {
                out.add(Candidate {
                    number: num,
                    letter: Some(letter),
                    strength,
                    pos: start,
                });
                i = after.max(i);
                continue;
            }
        }
        // A bare number next to «класс».
        if (class_after || run_len == 0 && context_before(text, start)) && !plural_after {
            out.add(Candidate {
                number: num,
                letter: None,
                strength: 1,
                pos: start,
            });
        }
    }
    out
}

/// The stems of the ordinals 1–11 («пят-ом», «пят-иклассник»).
const ORDINAL_STEMS: [&str; 11] = [
    "перв",
    "втор",
    "трет",
    "четверт",
    "пят",
    "шест",
    "седьм",
    "восьм",
    "девят",
    "десят",
    "одиннадцат",
];

static ORDINAL_CLASS: LazyLock<Regex> = LazyLock::new(|| {
    let stems = ORDINAL_STEMS.join("|");
    // Invariant: a literal pattern that compiles.
    Regex::new(&format!(r#"(?:^|[^а-яёА-ЯЁa-zA-Z])({stems})(?:ый|ой|ий|ого|ом|ая|ую|ье|ьего|ьем|ий|ем|его|ому|ьему)\s+(?:[«"'(]?\s*([а-я])\s*[»"')]?\s+)?(класс|класса|классе|классу)(?:[^а-яёА-ЯЁa-zA-Z]|$)|(?:^|[^а-яёА-ЯЁa-zA-Z])(перво|второ|третье|четверто|пяти|шести|седьмо|восьми|девяти|десяти|одиннадцати)классни"#)).expect("valid regex")
});

/// Whether an ordinal may stand before some «класс» in `folded`: one of
/// the two words before it (runs of the letters [`ORDINAL_CLASS`] knows)
/// opens with an ordinal stem. Every match of the pattern passes: its
/// ordinal is the word right before «класс» (or before a lone class
/// letter there), or the start of the word «класс» opens («пятиклассник»).
/// Most texts that say «класс» have no ordinal, and skip the regex engine.
fn ordinal_may_precede_class(folded: &str) -> bool {
    let plain_letter =
        |c: char| matches!(c, 'а'..='я' | 'ё' | 'А'..='Я' | 'Ё' | 'a'..='z' | 'A'..='Z');
    // Each match starts with «к»'s lead byte: a character boundary. The
    // matches are found one `find` after another: `find_iter` would copy
    // the searcher first.
    let mut from = 0;
    while let Some(k) = folded
        .get(from..)
        .and_then(|rest| KLASS.find(rest.as_bytes()))
    {
        let k = from + k;
        let ordinal = folded[..k]
            .rsplit(|c: char| !plain_letter(c))
            .filter(|w| !w.is_empty())
            .take(2)
            .any(|w| ORDINAL_STEMS.iter().any(|s| w.starts_with(s)));
        if ordinal {
            return true;
        }
        from = k + "класс".len();
    }
    false
}

fn ordinal_number(stem: &str) -> Option<u32> {
    Some(match stem {
        "перв" | "перво" => 1,
        "втор" | "второ" => 2,
        "трет" | "третье" => 3,
        "четверт" | "четверто" => 4,
        "пят" | "пяти" => 5,
        "шест" | "шести" => 6,
        "седьм" | "седьмо" => 7,
        "восьм" | "восьми" => 8,
        "девят" | "девяти" => 9,
        "десят" | "десяти" => 10,
        "одиннадцат" | "одиннадцати" => 11,
        _ => return None,
    })
}

/// «6-й класс, буква В», «5 класс (литера А)»: a letter named in words
/// shortly after a bare number, in the folded text that follows it.
static NAMED_LETTER: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern that compiles.
    Regex::new(
        r#"^[^.!?\n]{0,24}?(?:^|[^а-яa-z])(?:буква|литера|лит\.)\s*[-–:]?\s*[«"'(]?\s*([а-яa-z])\s*[»"')]?(?:[^а-яa-z]|$)"#,
    )
    .expect("valid regex")
});

fn named_letter(after: &str) -> Option<char> {
    let head: String = after.chars().take(60).collect();
    let f = fold(&head);
    // The pattern needs «буква», «литера» or «лит.»; most texts have none.
    if !f.contains("буква") && !f.contains("лит") {
        return None;
    }
    let c = NAMED_LETTER.captures(&f)?.get(1)?.as_str().chars().next()?;
    class_letter(c)
}

/// «класс», and the «ласс» of «класс» and «Класс» or of «КЛАСС», looked
/// for in every letter: searchers built once, where `str::contains` and
/// `match_indices` would build theirs at every call (most of the cost of
/// a search through a short letter).
static KLASS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("класс"));
static LASS: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("ласс"));
static LASS_UPPER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("ЛАСС"));

/// The writer's class from the letter's own text, normalised.
pub fn find(text: &str) -> Option<String> {
    find_folded(text, || Cow::Owned(fold(text)))
}

/// [`find`] for a caller that has `text` folded already
/// ([`fold`](super::fold)): `folded` gives it, and is asked only when the
/// ordinal spelling must be looked for.
pub(crate) fn find_folded<'f>(text: &str, folded: impl FnOnce() -> Cow<'f, str>) -> Option<String> {
    let mut found = candidates(text);
    // The folded text serves the ordinal spelling («в пятом классе»),
    // which needs the word «класс»: fold only a text that has it. A
    // lettered class in digits of the first tier below wins over any
    // ordinal (which, found last, would come last in it), so then the
    // ordinal is not looked for.
    let lettered_in_digits = found.marked.is_some();
    let says_class =
        |t: &str| LASS.find(t.as_bytes()).is_some() || LASS_UPPER.find(t.as_bytes()).is_some();
    let folded = if !lettered_in_digits && says_class(text) {
        folded()
    } else {
        Cow::Borrowed("")
    };
    // The fast search first; the capturing one only over its match.
    let ordinal = ordinal_may_precede_class(&folded)
        .then(|| ORDINAL_CLASS.find(&folded))
        .flatten()
        .and_then(|m| {
            ORDINAL_CLASS
                .captures(&folded[m.range()])
                .map(|c| (m.end(), c))
        });
    let mut ordinal_end = folded.len();
    if let Some((end, c)) = ordinal {
        let stem = c.get(1).or_else(|| c.get(4)).map(|m| m.as_str());
        // «в пятом «Б» классе»: the letter between the ordinal and «классе».
        // The pattern reads one letter а..я there: its capital is one.
        let letter = c
            .get(2)
            .and_then(|m| m.as_str().chars().next())
            .map(russian_capital);
        if let Some(n) = stem.and_then(ordinal_number) {
            ordinal_end = end;
            found.add(Candidate {
                number: n,
                letter,
                strength: if letter.is_some() { 3 } else { 1 },
                pos: usize::MAX,
            });
        }
    }
    // A labelled or «класс»-marked lettered class first, then the
    // strongest lettered one, then a bare number; earliest within a tier.
    if let Some(c) = found.marked.or(found.lettered) {
        return Some(c.class());
    }
    // No lettered candidate: the first one is bare.
    let bare = found.first?;
    // A bare number may have its letter spelt out after it.
    let after = if bare.pos == usize::MAX {
        folded.get(ordinal_end..).unwrap_or_default()
    } else {
        // `pos` is a byte offset, and digits are one byte each.
        let digits = if bare.number >= 10 { 2 } else { 1 };
        text.get(bare.pos + digits..).unwrap_or_default()
    };
    Some(bare.with_letter(named_letter(after)))
}

/// A class in the subject: only the unmistakable spellings.
pub fn find_in_subject(subject: &str) -> Option<String> {
    candidates(subject).sure.map(|c| c.class())
}

#[cfg(test)]
mod tests {
    use super::{
        BEFORE_NUMBER_AFTER_CLASS, CLASS_PLURAL, CLASS_SINGULAR, ORDINAL_CLASS, ORDINAL_STEMS,
        ORDINAL_SUFFIXES, STUDENT_WORDS_BEFORE, digit_bytes, find, fold_pair, is_capital,
        is_one_of, next_digit, ordinal_may_precede_class, russian_capital, word_after, word_at,
        words_before,
    };
    use crate::request::fold;

    /// Every text the ordinal pattern matches passes the cheap look before
    /// it: each stem with each ending, with and without a class letter
    /// (quoted or not) and blanks of every kind, at the start, after
    /// punctuation and after other words; the compound «…классник»; and a
    /// «класс» with no ordinal before it does not pass.
    #[test]
    fn ordinals_before_class_pass_the_look() {
        let endings = [
            "ый", "ой", "ий", "ого", "ом", "ая", "ую", "ье", "ьего", "ьем", "ем", "его", "ому",
            "ьему",
        ];
        let middles = [" ", "  \t", " б ", " «в» ", " (г) ", "\n\"а\"\u{a0}"];
        let compounds = [
            "перво",
            "второ",
            "третье",
            "четверто",
            "пяти",
            "шести",
            "седьмо",
            "восьми",
            "девяти",
            "десяти",
            "одиннадцати",
        ];
        let mut texts = Vec::new();
        for stem in ORDINAL_STEMS {
            for ending in endings {
                for middle in middles {
                    for class in ["класс", "класса", "классе", "классу"] {
                        for before in ["", "учится в ", "сын (", "5 класс, а "] {
                            texts.push(format!("{before}{stem}{ending}{middle}{class}."));
                        }
                    }
                }
            }
        }
        for stem in compounds {
            for before in ["", "мой ", "«"] {
                texts.push(format!("{before}{stem}классник"));
            }
        }
        let mut matched = 0;
        for t in &texts {
            if ORDINAL_CLASS.is_match(t) {
                matched += 1;
                assert!(ordinal_may_precede_class(t), "{t}");
            }
        }
        assert!(matched > texts.len() / 2, "{matched} of {}", texts.len());
        for t in [
            "классный руководитель 5 класса",
            "в классе",
            "пятница, класс",
        ] {
            assert!(!ORDINAL_CLASS.is_match(t));
        }
        assert!(!ordinal_may_precede_class("классный руководитель 5 класса"));
    }

    #[test]
    fn next_digit_in_and_across_blocks() {
        // Every position, near and across the 16-byte blocks, agrees with
        // a byte-by-byte search.
        for len in [0, 1, 15, 16, 17, 40] {
            for at in 0..=len {
                let mut b = vec![b'x'; len];
                if at < len {
                    b[at] = b'7';
                }
                for from in 0..=len + 1 {
                    let want = b
                        .get(from..)
                        .and_then(|r| r.iter().position(u8::is_ascii_digit))
                        .map(|k| from + k);
                    assert_eq!(next_digit(&b, from), want, "{len} {at} {from}");
                }
            }
        }
    }

    /// Every byte value in every place of the eight, among bytes of every
    /// value, is marked exactly when it is a digit.
    #[test]
    fn digit_bytes_marks_digits() {
        for filler in 0..=255u8 {
            for x in 0..=255u8 {
                for at in 0..8 {
                    let mut b = [filler; 8];
                    b[at] = x;
                    let want = b.iter().enumerate().fold(0, |m, (k, y)| {
                        m | u64::from(y.is_ascii_digit()) << (8 * k + 7)
                    });
                    assert_eq!(digit_bytes(u64::from_le_bytes(b)), want, "{b:?}");
                }
            }
        }
    }

    #[test]
    fn nearest_words_first() {
        let read = |text: &str, at: usize| {
            words_before(text, at)
                .map(|span| fold(word_at(text, span)).trim_end_matches('.').to_string())
        };
        let text = "Ученица кл. ... Школы №5, ДОЧЬ в 7";
        assert_eq!(read(text, text.len() - 1), ["в", "дочь"]);
        assert_eq!(read("кл. ... 7", 10), ["", "кл"]);
        assert_eq!(read(text, 0), ["", ""]);
        // Only the last 60 characters count; a word the window cuts is
        // read from the window's edge.
        let long = format!("Класса{} 7", " ".repeat(56));
        assert_eq!(read(&long, long.len() - 1), ["сса", ""]);
    }

    #[test]
    fn word_after_skips_marks_and_stops_at_24() {
        assert_eq!(word_after("5» – Класс.а", 1), "Класс.а");
        let long = "б".repeat(30);
        assert_eq!(word_after(&long, 0).chars().count(), 24);
        assert_eq!(word_after("", 0), "");
    }

    /// What `is_one_of` and `fold_pair` rest on: no character but А..Я,
    /// а..я, Ё and ё folds to anything holding a letter а..я, and no
    /// character but the dot to anything holding a dot; and those letters
    /// fold as `fold_pair` says. `russian_capital` is `to_uppercase` on а..я,
    /// and `is_capital` is `is_uppercase`.
    #[test]
    fn only_russian_letters_fold_to_them() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let f = fold(c.encode_utf8(&mut [0; 4]));
            let russian = matches!(c, 'А'..='Я' | 'а'..='я' | 'Ё' | 'ё');
            if russian {
                let mut b = [0; 4];
                let p = c.encode_utf8(&mut b).as_bytes();
                let folded = fold_pair(u16::from_be_bytes([p[0], p[1]])).to_be_bytes();
                assert_eq!(f.as_bytes(), folded, "{c}");
            } else if c != '.' {
                assert!(!f.chars().any(|x| matches!(x, 'а'..='я' | '.')), "{c:?}");
            }
            assert_eq!(is_capital(c), c.is_uppercase(), "{c:?}");
            let upper: String = c.to_uppercase().collect();
            if ('а'..='я').contains(&c) {
                assert_eq!(russian_capital(c).to_string(), upper, "{c}");
            } else {
                assert_eq!(russian_capital(c), c);
            }
        }
    }

    /// `is_one_of` answers as the fold of the word, its trailing dots
    /// trimmed, compared with each word of the list: over every list's
    /// words written in every case, with ё, dots, a letter replaced or
    /// added (Latin look-alikes, other Cyrillic, signs that fold to
    /// several characters), cut short and glued to another.
    #[test]
    fn is_one_of_agrees_with_fold() {
        let lists = [
            CLASS_SINGULAR,
            CLASS_PLURAL,
            ORDINAL_SUFFIXES,
            STUDENT_WORDS_BEFORE,
            BEFORE_NUMBER_AFTER_CLASS,
        ];
        let others = [
            "", "a", "A", "e", "K", "\u{212A}", "İ", "ß", "ẞ", "Ѐ", "ѐ", "Ђ", "ђ", "Ѡ", "Ё", "ё",
            "Е", ".", "-", "«", "\u{301}", "ﬀ", "Ω",
        ];
        let mut words: Vec<String> = Vec::new();
        for list in lists {
            for w in list {
                let chars: Vec<char> = w.chars().collect();
                let mut forms = vec![
                    w.to_string(),
                    w.to_uppercase(),
                    w.replace('е', "ё"),
                    w.replace('е', "Ё"),
                    format!("{w}."),
                    format!("{w}..."),
                    format!(".{w}"),
                    format!("{w}а"),
                    chars[1..].iter().collect(),
                ];
                let mut first = chars.clone();
                first[0] = russian_capital(first[0]);
                forms.push(first.iter().collect());
                for at in 0..=chars.len() {
                    for o in others {
                        let head: String = chars[..at].iter().collect();
                        let tail: String = chars[at..].iter().collect();
                        forms.push(format!("{head}{o}{tail}"));
                        if at < chars.len() {
                            let after: String = chars[at + 1..].iter().collect();
                            forms.push(format!("{head}{o}{after}"));
                        }
                    }
                }
                words.extend(forms);
            }
        }
        for list in lists {
            for w in &words {
                let f = fold(w);
                let want = list.contains(&f.trim_end_matches('.'));
                assert_eq!(is_one_of(w, list), want, "{w} {list:?}");
            }
        }
    }

    #[test]
    fn spellings() {
        for (t, want) in [
            ("ученица 6 В класса", "6В"),
            ("мама ученика 5А", "5А"),
            ("5-а класс", "5А"),
            ("ученика 1 «Г» класса", "1Г"),
            ("ученицы 3 «В» класса", "3В"),
            ("класс 5\"а\"", "5А"),
            ("Ученик 11 класса", "11"),
            ("Дочь в 7 б классе", "7Б"),
            ("У дочери (5A класс)", "5А"),
            ("Класс: 9В", "9В"),
            ("Класс - 5 а", "5А"),
            ("сын (10 В) не может", "10В"),
            ("это Даша из 8 б, я", "8Б"),
            ("сын учится в пятом классе", "5"),
            ("сын учится в пятом «Б» классе", "5Б"),
            ("дочь в седьмом \"в\" классе", "7В"),
            ("в 5-м классе", "5"),
            ("11Б класс", "11Б"),
            ("сын в 10м классе", "10"),
            ("Шустов, сын в 8А.", "8А"),
            ("за 2 четверть в 7Б классе: в 7А всё работает", "7Б"),
            ("сын учится в 6-й класс, буква В.", "6В"),
            ("ученица 9 класса (литера «а»)", "9А"),
            ("дочь в седьмом классе, буква Г", "7Г"),
            // A «класс»-marked lettered class beats the ordinal; a plain
            // one does not.
            ("Класс: 7Б, учится в пятом «в» классе", "7Б"),
            ("7Б, учится в пятом «в» классе", "5В"),
        ] {
            assert_eq!(find(t).as_deref(), Some(want), "{t}");
        }
    }

    #[test]
    fn not_classes() {
        for t in [
            "поставили «2» по литературе за 12.03",
            "учителей 8-х классов на следующую неделю (с 15.04)",
            "в четверг собрание в 18:00",
            "стоит 3, а учитель говорит, что ставила 5",
            "звоните +7 912 345-67-89 или 8 800 100-20-30",
            "Гимназия № 5, 2 четверть, 3 урока, в 2 раза",
            "поставили 5 в журнал",
            "нет сети 4G, программа 1С",
            "в 5 раз больше, буква «Ж» не печатается",
        ] {
            assert_eq!(find(t), None, "{t}");
        }
    }
}
