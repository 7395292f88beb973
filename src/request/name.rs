//! The writer's full name.
//!
//! A full name is a surname with a first name (and maybe a patronymic), or
//! a surname with initials; a lone first name, a first name with a
//! patronymic, or a surname alone is not. Names are looked for in the new
//! text and the signature — labelled fields («ФИО: …») and
//! self-introductions («Я, …», «меня зовут …») first, then signatures, then
//! a name that opens a sentence — and last in the From display name.
//!
//! The child is told apart from the writer by context: a name right after
//! «мама/папа», «ученика/ученицы», «сына/дочери», «у» is the child's
//! (usually in the genitive, which our first-name lists, all nominative,
//! do not recognise either). A name after a staff title in a parent's
//! letter («учитель математики Иванова …») is a third person's.
//!
//! The name is reported surname first, spelled as written.

use std::cell::{LazyCell, RefCell};
use std::sync::LazyLock;

use super::lexicon::{Entry, Lexicon};
use super::names_data::{FEMALE, MALE, NOT_SURNAMES, PATRONYMIC_EXTRA};
use super::text::Parts;
use super::words::{PARENT_WORDS, STUDENT_SELF, verbish};

use super::{Role, char_at, cyrillic_offset, fold, fold_into, is_cyr_upper, is_letter, letter_len};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Word,
    Initials,
    Num,
    Punct(char),
    Break,
}

/// Where a piece of a token's text is: a byte range of the line, or of
/// one of the buffers of the [`Line`] (which one depends on the piece,
/// see [`Tok`]).
#[derive(Clone, Copy, Debug)]
struct Span {
    in_line: bool,
    start: u32,
    end: u32,
}

impl Span {
    /// `start..end` of the line (`in_line`) or of a buffer. The offsets
    /// fit in `u32`: a line is read up to its first 50 000 characters,
    /// and a buffer holds at most a few copies of it.
    fn new(in_line: bool, start: usize, end: usize) -> Span {
        Span {
            in_line,
            start: start as u32,
            end: end as u32,
        }
    }

    /// The text of the span: in `line`, or in `buffer`.
    fn of<'s>(&self, line: &'s str, buffer: &'s str) -> &'s str {
        let text = if self.in_line { line } else { buffer };
        &text[self.start as usize..self.end as usize]
    }
}

/// One token of a line. Its text is not stored in it but pointed to (see
/// [`Line::written`] and [`Line::low`]), so making a token allocates
/// nothing.
#[derive(Clone, Copy, Debug)]
struct Tok {
    kind: Kind,
    /// The token as written: a slice of the line, or of [`Line::made`]
    /// (initials with their dots, a re-cased word).
    text: Span,
    /// The text lower-cased with ё → е, computed once: the same slice of
    /// the line when the text is already in that form (most words), else
    /// a slice of [`Line::folds`].
    low: Span,
    /// A capitalised Cyrillic word, computed once.
    name_word: bool,
    /// A word of two or more Cyrillic letters all of one case (hyphens
    /// aside), computed once: `Some(true)` lower, `Some(false)` upper.
    one_case: Option<bool>,
}

impl Tok {
    fn is_name_word(&self) -> bool {
        self.name_word
    }

    /// A token a name is made of: a name word, or initials.
    fn in_name(&self) -> bool {
        self.name_word || matches!(self.kind, Kind::Initials)
    }
}

/// The buffers a line's tokens point into ([`Line`]). One set serves
/// line after line and letter after letter ([`Kept`]), so a letter's
/// lines are tokenised with no allocation once they have grown.
#[derive(Debug, Default)]
struct Buffers {
    /// Text made while tokenising: initials with their dots («Е. Н.»
    /// from «Е. Н.Петрова» is as written, «М.П.» from «М.П» is not),
    /// re-cased words ([`recase`]).
    made: String,
    /// The folded forms of the tokens that do not fold to themselves.
    folds: String,
    toks: Vec<Tok>,
}

impl Buffers {
    /// No buffers yet: they grow on first use ([`Buffers::reserve`]).
    const EMPTY: Buffers = Buffers {
        made: String::new(),
        folds: String::new(),
        toks: Vec::new(),
    };

    /// Room for a letter's lines (few have more tokens, or more words to
    /// fold): the buffers grow once, not token by token.
    fn reserve(&mut self) {
        if self.toks.capacity() == 0 {
            self.grow();
        }
    }

    /// [`Buffers::reserve`] for new buffers. Out of line: buffers are new
    /// once per thread.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        self.toks.reserve(64);
        self.folds.reserve(256);
    }
}

/// A line cut into tokens, with the text they point into: the line, and
/// [`Buffers`] borrowed for it (the buffers are not moved from line to
/// line: a move of them is a run of copies in the code of each caller).
#[derive(Debug)]
struct Line<'a> {
    /// The line as given (up to its first 50 000 characters).
    line: &'a str,
    /// Its tokens, and the text made for them.
    buf: &'a mut Buffers,
    /// Where the first mark a label may end with is (':', '-', '–', '—',
    /// a hyphen in a word too), for [`line_label`].
    mark: Option<usize>,
    /// A word of one case that is a patronymic: without one, [`recase`]
    /// has nothing to do on a line with no label.
    one_case_patronymic: bool,
}

impl<'a> Line<'a> {
    /// A line with no text yet, to be tokenised into `buf`.
    fn new(buf: &'a mut Buffers) -> Line<'a> {
        Line {
            line: "",
            buf,
            mark: None,
            one_case_patronymic: false,
        }
    }

    /// The token as written.
    fn written(&self, t: &Tok) -> &str {
        t.text.of(self.line, &self.buf.made)
    }

    /// The token lower-cased with ё → е.
    fn low(&self, t: &Tok) -> &str {
        t.low.of(self.line, &self.buf.folds)
    }

    /// A token that folds to itself and has no shape to speak of: a mark,
    /// a number, a line break (`start..end` of the line).
    fn push_plain(&mut self, kind: Kind, start: usize, end: usize) {
        let span = Span::new(true, start, end);
        self.buf.toks.push(Tok {
            kind,
            text: span,
            low: span,
            name_word: false,
            one_case: None,
        });
    }

    /// The word at `start..end` of the line, of that shape.
    fn push_word(&mut self, start: usize, end: usize, shape: Shape) {
        let low = if shape.folded {
            Span::new(true, start, end)
        } else {
            let from = self.buf.folds.len();
            fold_word_into(&self.line[start..end], &shape, &mut self.buf.folds);
            Span::new(false, from, self.buf.folds.len())
        };
        let one_case = shape.one_case();
        // One such word is enough; most words have not a patronymic's
        // ending, told here without a call.
        if !self.one_case_patronymic && one_case.is_some() {
            let folded = low.of(self.line, &self.buf.folds);
            self.one_case_patronymic =
                patronymic_ending(folded) && patronymic_gender(folded).is_some();
        }
        self.buf.toks.push(Tok {
            kind: Kind::Word,
            text: Span::new(true, start, end),
            low,
            name_word: shape.name_word(),
            one_case,
        });
    }

    /// Initials written at `from..` of [`Line::made`] (the end of it).
    fn push_initials(&mut self, from: usize) {
        let text = &self.buf.made[from..];
        let low = self.buf.folds.len();
        fold_into(text, &mut self.buf.folds);
        self.buf.toks.push(Tok {
            kind: Kind::Initials,
            text: Span::new(false, from, self.buf.made.len()),
            low: Span::new(false, low, self.buf.folds.len()),
            name_word: false,
            one_case: None,
        });
    }

    /// Token `k`, a word, written again in title case («иванова» →
    /// «Иванова»); its folded form stays as it is, as title case changes
    /// nothing that folding keeps.
    fn title_case(&mut self, k: usize) {
        let t = self.buf.toks[k];
        // Already re-cased: title case again would give the same text.
        if !t.text.in_line {
            return;
        }
        let from = self.buf.made.len();
        title_case_into(t.text.of(self.line, ""), &mut self.buf.made);
        // The text made is one word, like the one it came from.
        let (_, shape, _) = word_at(&self.buf.made, from);
        self.buf.toks[k] = Tok {
            kind: Kind::Word,
            text: Span::new(false, from, self.buf.made.len()),
            low: t.low,
            name_word: shape.name_word(),
            one_case: shape.one_case(),
        };
    }
}

/// What one pass over a word's bytes tells of it.
#[derive(Clone, Debug, PartialEq)]
struct Shape {
    /// [`fold`] leaves it as it is.
    folded: bool,
    /// Every letter (hyphens aside) is lower-case Cyrillic, or upper-case.
    lower: bool,
    upper: bool,
    /// Characters other than hyphens.
    letters: usize,
    /// «Иванова», «Римская-Корсакова»: a capital then lower-case
    /// Cyrillic (either case after a hyphen), two characters or more.
    capitalised: bool,
    /// Every character after the first folds to itself.
    tail_folded: bool,
}

impl Shape {
    /// A capitalised Cyrillic word ([`Tok::name_word`]).
    fn name_word(&self) -> bool {
        !self.folded && self.capitalised
    }

    /// Two or more letters all of one case ([`Tok::one_case`]).
    fn one_case(&self) -> Option<bool> {
        (self.letters >= 2 && (self.lower || self.upper)).then_some(self.lower)
    }
}

/// A letter's class for [`word_at`], in bits: it folds to itself.
const PLAIN: u8 = 1;
/// Lower-case Cyrillic (а..я, ё).
const LOWER: u8 = 2;
/// Upper-case Cyrillic (А..Я, Ё).
const UPPER: u8 = 4;

/// The classes of U+0400..U+047F, by offset in that block: a table, so
/// that telling a letter's class takes no branches.
const CYRILLIC_CLASSES: [u8; 128] = {
    let mut table = [0; 128];
    let mut u = 0;
    while u < 128 {
        table[u] = match u {
            0x30..=0x4F => PLAIN | LOWER, // а..я
            0x51 => LOWER,                // ё
            0x10..=0x2F | 0x01 => UPPER,  // А..Я, Ё
            _ => 0,
        };
        u += 1;
    }
    table
};

/// The class and the length in bytes of the letter at byte `i` of
/// `text`; the length is 0 when there is no letter there.
#[inline]
fn letter_class(text: &str, i: usize) -> (u8, usize) {
    let b = text.as_bytes();
    match b.get(i) {
        Some(&x @ (0xD0 | 0xD1)) => {
            // U+0400..U+047F, all letters: the offset in that block.
            let y = b.get(i + 1).copied().unwrap_or(0);
            (CYRILLIC_CLASSES[cyrillic_offset(x, y)], 2)
        }
        Some(x) if x.is_ascii_lowercase() => (PLAIN, 1),
        Some(x) if x.is_ascii_uppercase() => (0, 1),
        Some(&x) if x >= 0x80 => (0, letter_len(text, i)),
        _ => (0, 0),
    }
}

/// The word that starts at byte `start` of `text` (a letter there):
/// letters, and hyphens between them. Gives where it ends, its shape
/// from the same pass over its bytes, and where its first hyphen is.
/// Inlined into the tokeniser: it runs for every word, and a call cost a
/// fifth of its work.
#[inline(always)]
fn word_at(text: &str, start: usize) -> (usize, Shape, Option<usize>) {
    let (first, n) = letter_class(text, start);
    let mut i = start + n;
    // The classes of the letters after the first, and-ed.
    let mut tail = PLAIN | LOWER | UPPER;
    // Each letter after the first is lower-case, or of either case after
    // a hyphen.
    let (mut capital_tail, mut need) = (true, LOWER);
    let mut letters = usize::from(n > 0);
    let mut hyphen = None;
    let b = text.as_bytes();
    loop {
        // Most letters are lower-case а..я, which fold to themselves:
        // a run of them is told two bytes at a time, with no table.
        let run = super::russian_lower_run(b.get(i..).unwrap_or_default());
        if run > 0 {
            i += 2 * run;
            tail &= PLAIN | LOWER;
            // Lower-case letters are what `need` asks, whatever it is.
            need = LOWER;
            letters += run;
        }
        // Most words end at a space or a mark: no letter, no hyphen.
        if b.get(i)
            .is_none_or(|&x| x < 0x80 && x != b'-' && !x.is_ascii_alphabetic())
        {
            break;
        }
        let (class, n) = letter_class(text, i);
        if n == 0 {
            if text.as_bytes().get(i) == Some(&b'-') && letter_len(text, i + 1) > 0 {
                hyphen = hyphen.or(Some(i));
                need = LOWER | UPPER;
                i += 1;
                continue;
            }
            break;
        }
        tail &= class;
        capital_tail &= class & need != 0;
        need = LOWER;
        letters += 1;
        i += n;
    }
    let all = first & tail;
    let shape = Shape {
        folded: all & PLAIN != 0,
        lower: all & LOWER != 0,
        upper: all & UPPER != 0,
        letters,
        // A word with a hyphen has a letter on each side of it.
        capitalised: first & UPPER != 0 && capital_tail && letters >= 2,
        tail_folded: tail & PLAIN != 0,
    };
    (i, shape, hyphen)
}

/// The folded form of `word`, a word of that shape ([`word_at`]), appended
/// to `out`: most such words are a capital and then lower-case letters,
/// and need only the capital lower-cased.
fn fold_word_into(word: &str, shape: &Shape, out: &mut String) {
    if shape.capitalised && shape.tail_folded {
        // A capitalised word starts with А..Я (D0 90..D0 AF) or Ё (D0 81),
        // two bytes: its lower-case letter is looked up, with no decoding.
        let capital = match word.as_bytes() {
            [0xD0, 0x81, ..] => Some(5), // Ё → е
            [0xD0, y @ 0x90..=0xAF, ..] => Some(usize::from(y - 0x90)),
            _ => None,
        };
        if let (Some(k), Some(tail)) = (capital, word.get(2..)) {
            out.push_str(RUSSIAN_LOWER[k]);
            out.push_str(tail);
            return;
        }
    }
    fold_into(word, out);
}

/// The lower-case letters а..я, in the order of their capitals А..Я.
const RUSSIAN_LOWER: [&str; 32] = [
    "а", "б", "в", "г", "д", "е", "ж", "з", "и", "й", "к", "л", "м", "н", "о", "п", "р", "с", "т",
    "у", "ф", "х", "ц", "ч", "ш", "щ", "ъ", "ы", "ь", "э", "ю", "я",
];

/// How far [`tokens_into`] reads its text.
#[derive(Clone, Copy, PartialEq)]
enum Extent {
    /// To the end of the first line: a line feed ends it.
    Line,
    /// All of it: a line feed is a [`Kind::Break`] token.
    Text,
}

/// The most characters of a line that are read: a longer line is read up
/// to there.
const MAX_LINE_CHARS: usize = 50_000;

/// A text cut into tokens, into `out`, whose buffers are cleared first:
/// they serve text after text. Line feeds are [`Kind::Break`] tokens.
fn tokenize_into<'a>(text: &'a str, out: &mut Line<'a>) {
    tokens_into(first_chars(text), out, Extent::Text);
}

/// The first line of `text` cut into tokens, into `out` (as
/// [`str::lines`] gives it: a carriage return before the line feed is not
/// part of it); gives the text after that line. Finding the line's end
/// while tokenising it saves a search for the line feed ahead of the
/// tokeniser.
fn next_line<'a>(text: &'a str, out: &mut Line<'a>) -> &'a str {
    // A line of that many bytes or fewer has no more characters than are
    // read of it.
    if text.len() > MAX_LINE_CHARS {
        return next_long_line(text, out);
    }
    let end = tokens_into(text, out, Extent::Line);
    let line = &text[..end];
    out.line = line.strip_suffix('\r').unwrap_or(line);
    text.get(end + 1..).unwrap_or_default()
}

/// [`next_line`] for a text that may hold a line longer than is read.
/// Out of line: letters are far shorter.
#[cold]
#[inline(never)]
fn next_long_line<'a>(text: &'a str, out: &mut Line<'a>) -> &'a str {
    let (line, rest) = text.split_once('\n').unwrap_or((text, ""));
    let line = line.strip_suffix('\r').unwrap_or(line);
    tokens_into(first_chars(line), out, Extent::Text);
    rest
}

/// `text` up to its first [`MAX_LINE_CHARS`] characters.
fn first_chars(text: &str) -> &str {
    if text.len() <= MAX_LINE_CHARS {
        return text;
    }
    text.char_indices()
        .nth(MAX_LINE_CHARS)
        .map_or(text, |(i, _)| &text[..i])
}

/// The tokens of `text`, read as far as `extent` says, into `out`, whose
/// buffers are cleared first; gives where the reading stopped (the line
/// feed that ends a [`Extent::Line`], or the end of the text).
/// [`Line::line`] is left as all of `text`.
fn tokens_into<'a>(text: &'a str, out: &mut Line<'a>, extent: Extent) -> usize {
    out.line = text;
    out.buf.made.clear();
    out.buf.folds.clear();
    out.buf.toks.clear();
    out.mark = None;
    out.one_case_patronymic = false;
    let at = |k: usize| char_at(text, k);
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        // ASCII told by its byte; other characters are decoded.
        match x {
            b'\n' if extent == Extent::Line => return i,
            b'\n' => {
                out.push_plain(Kind::Break, i, i + 1);
                i += 1;
                continue;
            }
            // `char::is_whitespace` in ASCII.
            b'\t' | b'\x0B' | b'\x0C' | b'\r' | b' ' => {
                i += 1;
                continue;
            }
            b'0'..=b'9' => {
                let start = i;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                out.push_plain(Kind::Num, start, i);
                continue;
            }
            ..0x80 if !x.is_ascii_alphabetic() => {
                if x == b':' || x == b'-' {
                    out.mark = out.mark.or(Some(i));
                }
                out.push_plain(Kind::Punct(char::from(x)), i, i + 1);
                i += 1;
                continue;
            }
            // A letter of ASCII or of U+0400..U+047F.
            ..0x80 | 0xD0 | 0xD1 => {}
            _ => {
                // Never `None`: `i` is a character boundary before the end.
                let Some(c) = at(i) else { break };
                if c.is_whitespace() {
                    i += c.len_utf8();
                    continue;
                }
                if !is_letter(c) {
                    if c == '–' || c == '—' {
                        out.mark = out.mark.or(Some(i));
                    }
                    let n = c.len_utf8();
                    out.push_plain(Kind::Punct(c), i, i + n);
                    i += n;
                    continue;
                }
            }
        }
        // A word: letters, and hyphens between them.
        let start = i;
        let (end, shape, hyphen) = word_at(text, start);
        out.mark = out.mark.or(hyphen);
        i = end;
        // Initials: «Е.Н.», «Е. Н.», «О.К.»
        let initial = (shape.letters == 1)
            .then(|| at(start))
            .flatten()
            .filter(|&c| is_cyr_upper(c) && b.get(i) == Some(&b'.'));
        if let Some(c) = initial {
            i = read_initials(text, i, c, out);
        } else {
            out.push_word(start, i, shape);
        }
    }
    text.len()
}

/// Initials that open with the capital `c` and its dot at byte `i` of
/// `text` («Е.Н.», «Е. Н.», «М.П»), pushed onto `out`; gives where they
/// end. Out of line: few lines have initials.
#[inline(never)]
fn read_initials(text: &str, mut i: usize, c: char, out: &mut Line) -> usize {
    let at = |k: usize| char_at(text, k);
    let b = text.as_bytes();
    let from = out.buf.made.len();
    out.buf.made.push(c);
    out.buf.made.push('.');
    let mut dots = 1;
    i += 1;
    loop {
        let mut j = i;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let Some(d) = at(j).filter(|&d| is_cyr_upper(d) && dots < 3) else {
            break;
        };
        let dot = j + d.len_utf8();
        if at(dot) == Some('.') && at(dot + 1).is_none_or(|n| !is_letter(n)) {
            out.buf.made.push_str(&text[i..dot + 1]);
            dots += 1;
            i = dot + 1;
        } else {
            break;
        }
    }
    // «Иванова М.П» — the last dot forgotten.
    if let Some(d) = at(i).filter(|&d| dots == 1 && is_cyr_upper(d))
        && at(i + d.len_utf8()).is_none_or(|c| !is_letter(c))
    {
        out.buf.made.push(d);
        out.buf.made.push('.');
        i += d.len_utf8();
        if at(i) == Some('.') {
            i += 1;
        }
    }
    out.push_initials(from);
    i
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Gender {
    Female,
    Male,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    First(Gender),
    Patronymic(Gender),
    Other,
    Initials(usize),
}

/// The lists a folded word is in, one bit each ([`WORD_LISTS`]).
type Flags = u16;
/// A female first name ([`FEMALE`]).
const FEMALE_NAME: Flags = 1;
/// A male first name ([`MALE`]).
const MALE_NAME: Flags = 1 << 1;
/// A capitalised word that is never a surname ([`NOT_SURNAMES`]).
const NOT_SURNAME: Flags = 1 << 2;
/// A first name of either sex ([`UNISEX`]).
const UNISEX_NAME: Flags = 1 << 3;
/// A word before a child's name ([`CHILD_TRIGGERS`]).
const CHILD_TRIGGER: Flags = 1 << 4;
/// A word before the writer's own name ([`SELF_TRIGGERS`]).
const SELF_TRIGGER: Flags = 1 << 5;
/// A student's word for themselves ([`STUDENT_SELF`]).
const STUDENT_WORD: Flags = 1 << 6;
/// A word before a third person's name ([`THIRD_PARTY`]).
const THIRD_PARTY_WORD: Flags = 1 << 7;
/// A greeting a name may follow ([`GREETINGS`]).
const GREETING: Flags = 1 << 8;
/// A parent's word for their part, after their name («…, мама Ильи»):
/// [`PARENT_WORDS`] and «родитель».
const PARENT_WORD: Flags = 1 << 9;

/// The word lists this module reads one word at a time, each with its
/// flag: one look-up in [`WORD_FLAGS`] tells all of them, where a search
/// of each list is a run of comparisons in the code at each place it is
/// read (code that runs for every letter).
const WORD_LISTS: &[(&[&str], Flags)] = &[
    (FEMALE, FEMALE_NAME),
    (MALE, MALE_NAME),
    (NOT_SURNAMES, NOT_SURNAME),
    (UNISEX, UNISEX_NAME),
    (CHILD_TRIGGERS, CHILD_TRIGGER),
    (SELF_TRIGGERS, SELF_TRIGGER),
    (STUDENT_SELF, STUDENT_WORD),
    (THIRD_PARTY, THIRD_PARTY_WORD),
    (GREETINGS, GREETING),
    (PARENT_WORDS, PARENT_WORD),
    (&["родитель"], PARENT_WORD),
];

/// Every word of [`WORD_LISTS`] with the flags of the lists it is in.
static WORD_FLAGS: LazyLock<Lexicon<Flags>> = LazyLock::new(|| {
    Lexicon::new(WORD_LISTS.iter().flat_map(|&(words, flags)| {
        words.iter().map(move |&text| Entry {
            text,
            stem: false,
            value: flags,
        })
    }))
});

/// The flags of a folded word ([`WORD_LISTS`]); 0 for a word in none of
/// the lists. Out of line: one copy of the look-up serves every caller.
#[inline(never)]
fn word_flags(folded: &str) -> Flags {
    WORD_FLAGS.get(folded)
}

/// The most entries an [`Affixes`] holds (one bit each in a `u32`).
const MAX_AFFIXES: usize = 32;

/// A list of endings (or stems) to test a word against. Each entry's
/// edge, its last (first) eight bytes or all of a shorter entry, is a
/// number compared with the word's edge ([`tail_key`], [`head_key`]) all
/// at once, with no branch per entry; an entry longer than eight bytes
/// (four Russian letters) whose edge matches is then compared whole.
/// Read for the words of every letter: the keys are one small table,
/// where a slice of `&str` is a table of pointers to bytes scattered in
/// memory, each one more cache line to read. The fields read first lead,
/// and the table starts a cache line: a list of up to seven entries is
/// read in two lines.
#[derive(Debug)]
#[repr(C, align(64))]
struct Affixes {
    /// How many of [`Affixes::keys`] are entries.
    len: usize,
    /// The entries longer than eight bytes, bit `k` for entry `k`.
    long: u32,
    /// Endings, not stems.
    at_end: bool,
    /// For each entry, how many bits of an edge are not its: an entry's
    /// bytes are the edge's top ones, from its outer byte down (the word's
    /// last byte for an ending, its first for a stem), and a shorter
    /// entry leaves the bits below them out of the comparison.
    shifts: [u8; MAX_AFFIXES],
    /// Each entry's edge bytes, in the places of the word's; zeros in the
    /// bits [`Affixes::shifts`] leaves out.
    keys: [u64; MAX_AFFIXES],
    /// The entries as listed.
    list: &'static [&'static str],
}

impl Affixes {
    /// A table of endings ([`Affixes::new`]).
    const fn endings(list: &'static [&'static str]) -> Affixes {
        Affixes::new(list, true)
    }

    /// A table of stems ([`Affixes::new`]).
    const fn stems(list: &'static [&'static str]) -> Affixes {
        Affixes::new(list, false)
    }

    /// The table of `list`, endings when `at_end`, else stems. Built at
    /// compile time: an entry that is empty or holds a zero byte (which a
    /// word's edge is padded with) does not compile, nor do more entries
    /// than [`MAX_AFFIXES`].
    const fn new(list: &'static [&'static str], at_end: bool) -> Affixes {
        assert!(list.len() <= MAX_AFFIXES, "too many entries");
        let mut table = Affixes {
            len: list.len(),
            long: 0,
            at_end,
            shifts: [0; MAX_AFFIXES],
            keys: [0; MAX_AFFIXES],
            list,
        };
        let mut k = 0;
        while k < list.len() {
            let e = list[k].as_bytes();
            assert!(!e.is_empty(), "an empty entry");
            if e.len() > 8 {
                table.long |= 1 << k;
            }
            let n = if e.len() < 8 { e.len() } else { 8 };
            // The `i`th byte from the edge is byte `7 - i` of the number.
            let mut i = 0;
            while i < n {
                let b = if at_end { e[e.len() - 1 - i] } else { e[i] };
                assert!(b != 0, "a zero byte");
                table.keys[k] |= (b as u64) << (8 * (7 - i));
                i += 1;
            }
            table.shifts[k] = (8 * (8 - n)) as u8;
            k += 1;
        }
        table
    }

    /// The entries whose edge matches `edge`, a word's, bit `k` for
    /// entry `k`.
    fn hits(&self, edge: u64) -> u32 {
        let entries = self.keys.iter().zip(&self.shifts).take(self.len);
        // From the last entry to the first, each one's bit pushed in at
        // the bottom.
        entries.rev().fold(0, |hits, (&key, &shift)| {
            hits << 1 | u32::from((edge ^ key) >> shift == 0)
        })
    }
}

/// `word`'s edge for `table` ([`Affixes`]): for endings, its last eight
/// bytes, the last one at the top of the number; for stems, its first
/// eight, the first one at the top; zeros below a shorter word's.
fn edge_key(word: &[u8], table: &Affixes) -> u64 {
    let n = word.len();
    if let (Some(last), true) = (word.last_chunk::<8>(), table.at_end) {
        return u64::from_le_bytes(*last);
    }
    if let Some(first) = word.first_chunk::<8>() {
        return u64::from_be_bytes(*first);
    }
    let mut padded = [0; 8];
    padded[..n].copy_from_slice(word);
    if table.at_end {
        // The word's last byte to the top (nothing to move for an empty
        // word, all zeros).
        u64::from_le_bytes(padded) << (8 * (8 - n.max(1)))
    } else {
        u64::from_be_bytes(padded)
    }
}

impl Affixes {
    /// `word` ends with one of the endings, or starts with one of the
    /// stems. Out of line: one copy serves every list.
    #[inline(never)]
    fn matches(&self, word: &str) -> bool {
        let w = word.as_bytes();
        let hits = self.hits(edge_key(w, self));
        // The edge of an entry of eight bytes or fewer is all of it.
        hits & !self.long != 0
            || whole_hits(hits & self.long, self).any(|e| {
                let e = e.as_bytes();
                if self.at_end {
                    w.ends_with(e)
                } else {
                    w.starts_with(e)
                }
            })
    }
}

/// The entries of `table` named by the bits of `hits`, read one set bit
/// after another (most calls have none).
fn whole_hits(mut hits: u32, table: &Affixes) -> impl Iterator<Item = &'static str> {
    let list = table.list;
    std::iter::from_fn(move || {
        let k = hits.trailing_zeros() as usize;
        hits &= hits.wrapping_sub(1);
        list.get(k).copied()
    })
}

/// The sex of a first name (a female name first, for a word in both
/// lists).
fn first_name_gender(folded: &str) -> Option<Gender> {
    let flags = word_flags(folded);
    if flags & FEMALE_NAME != 0 {
        Some(Gender::Female)
    } else if flags & MALE_NAME != 0 {
        Some(Gender::Male)
    } else {
        None
    }
}

/// The ending every patronymic has, «-ич» or «-на» ([`patronymic_gender`]).
#[inline]
fn patronymic_ending(folded: &str) -> bool {
    folded.ends_with("ич") || folded.ends_with("на")
}

fn patronymic_gender(folded: &str) -> Option<Gender> {
    // Every patronymic has its ending: most words are done here.
    if !patronymic_ending(folded) {
        return None;
    }
    if PATRONYMIC_EXTRA.contains(&folded) {
        return Some(if folded.ends_with('а') {
            Gender::Female
        } else {
            Gender::Male
        });
    }
    if folded.chars().count() < 6 {
        return None;
    }
    if folded.ends_with("овна") || folded.ends_with("евна") || folded.ends_with("ична")
    {
        return Some(Gender::Female);
    }
    if folded.ends_with("ович") || folded.ends_with("евич") {
        return Some(Gender::Male);
    }
    None
}

/// Familiar first names worn by girls and boys alike.
const UNISEX: &[&str] = &["саша", "женя", "валя", "шура", "слава"];

/// A patronymic in an oblique case («Андреевича», «Андреевны»): the
/// person named is not the writer signing.
fn oblique_patronymic(folded: &str) -> bool {
    OBLIQUE_PATRONYMIC_ENDINGS.matches(folded)
}

/// The endings of a patronymic in an oblique case ([`oblique_patronymic`]).
static OBLIQUE_PATRONYMIC_ENDINGS: Affixes = Affixes::endings(&[
    "овича",
    "евича",
    "овичу",
    "евичу",
    "овичем",
    "евичем",
    "овны",
    "евны",
    "ичны",
    "овне",
    "евне",
    "овной",
    "евной",
    "овну",
    "евну",
]);

fn classify(l: &Line, t: &Tok) -> Part {
    if t.kind == Kind::Initials {
        return Part::Initials(l.written(t).chars().filter(|c| *c == '.').count());
    }
    let f = l.low(t);
    if let Some(g) = patronymic_gender(f) {
        return Part::Patronymic(g);
    }
    if let Some(g) = first_name_gender(f) {
        return Part::First(g);
    }
    Part::Other
}

/// Female surname endings ([`surname_gender`]).
static FEMALE_SURNAME_ENDINGS: Affixes =
    Affixes::endings(&["ова", "ева", "ина", "ына", "ская", "цкая", "ая"]);
/// Male surname endings ([`surname_gender`]).
static MALE_SURNAME_ENDINGS: Affixes =
    Affixes::endings(&["ов", "ев", "ин", "ын", "ский", "цкий", "ой", "ый"]);

/// Surname endings of each gender, to check agreement with the first name.
fn surname_gender(folded: &str) -> Option<Gender> {
    if FEMALE_SURNAME_ENDINGS.matches(folded) {
        Some(Gender::Female)
    } else if MALE_SURNAME_ENDINGS.matches(folded) {
        Some(Gender::Male)
    } else {
        None
    }
}

/// A capitalised word that may be a surname. (A name word has two
/// letters or more, and folding keeps the count of its letters, all of
/// the Russian alphabet: its folded form is long enough.)
fn plausible_surname(l: &Line, t: &Tok) -> bool {
    let f = l.low(t);
    t.is_name_word() && word_flags(f) & NOT_SURNAME == 0 && !oblique_patronymic(f)
}

/// A full name from a span of name tokens, surname first, or `None`.
/// `parts` are the tokens classified, one each; `strong` accepts two
/// unknown capitalised words (a labelled field).
fn interpret(l: &Line, span: &[Tok], parts: &[Part], strong: bool) -> Option<String> {
    // A unisex first name agrees with a surname of either gender; read
    // only when the surname's ending says a gender.
    let unisex = || span.iter().any(|t| word_flags(l.low(t)) & UNISEX_NAME != 0);
    let agrees = |s: &Tok, g: Gender| surname_gender(l.low(s)).is_none_or(|sg| sg == g) || unisex();
    let plausible_surname = |t: &Tok| plausible_surname(l, t);
    // The tokens `idx` as written, a space between each two.
    let join = |idx: &[usize]| {
        let mut name = String::with_capacity(64);
        for (k, &i) in idx.iter().enumerate() {
            if k > 0 {
                name.push(' ');
            }
            name.push_str(l.written(&span[i]));
        }
        name
    };
    match parts {
        [Part::Other, Part::First(g), Part::Patronymic(p)] if g == p => {
            (plausible_surname(&span[0]) && agrees(&span[0], *g)).then(|| join(&[0, 1, 2]))
        }
        [Part::First(g), Part::Patronymic(p), Part::Other] if g == p => {
            (plausible_surname(&span[2]) && agrees(&span[2], *g)).then(|| join(&[2, 0, 1]))
        }
        // A rare first name: surname, name, patronymic.
        [Part::Other, Part::Other, Part::Patronymic(g)] => {
            (plausible_surname(&span[0]) && plausible_surname(&span[1]) && agrees(&span[0], *g))
                .then(|| join(&[0, 1, 2]))
        }
        [Part::Other, Part::First(g)] => {
            (plausible_surname(&span[0]) && agrees(&span[0], *g)).then(|| join(&[0, 1]))
        }
        [Part::First(g), Part::Other] => {
            (plausible_surname(&span[1]) && agrees(&span[1], *g)).then(|| join(&[1, 0]))
        }
        [Part::Other, Part::Initials(n)] if *n >= 2 => {
            plausible_surname(&span[0]).then(|| join(&[0, 1]))
        }
        [Part::Initials(n), Part::Other] if *n >= 2 => {
            plausible_surname(&span[1]).then(|| join(&[1, 0]))
        }
        [Part::Other, Part::Other] if strong => {
            (plausible_surname(&span[0]) && plausible_surname(&span[1])).then(|| join(&[0, 1]))
        }
        // Both could be first names («Марина Захарова» is not, but «Роман
        // Лев» might be): take the order as written when the second is a
        // first name.
        [Part::First(_), Part::First(g)] => (plausible_surname(&span[0])
            && surname_gender(l.low(&span[0])).is_some_and(|sg| sg == *g))
        .then(|| join(&[0, 1])),
        _ => None,
    }
}

/// The most name tokens in a row [`scan`] reads as one run.
const MAX_RUN: usize = 5;

/// Every way to read a run of name tokens: the whole run, then its
/// three- and two-token windows (a greeting or a title may be glued on).
/// `run` has at most [`MAX_RUN`] tokens (more are not read).
fn readings(l: &Line, run: &[Tok], strong: bool) -> Option<(String, usize, usize)> {
    // A lone word has no window to read (most runs: a capital opening a
    // sentence), and needs no classifying.
    if run.len() < 2 {
        return None;
    }
    // Each token classified once for all the windows.
    let run = &run[..run.len().min(MAX_RUN)];
    let mut parts = [Part::Other; MAX_RUN];
    for (p, t) in parts.iter_mut().zip(run) {
        *p = classify(l, t);
    }
    let parts = &parts[..run.len()];
    for len in [3usize, 2] {
        if run.len() < len {
            continue;
        }
        for start in 0..=run.len() - len {
            let w = start..start + len;
            if let Some(n) = interpret(l, &run[w.clone()], &parts[w], strong) {
                return Some((n, start, start + len));
            }
        }
    }
    None
}

const CHILD_TRIGGERS: &[&str] = &[
    "ученика",
    "ученицы",
    "учащегося",
    "учащейся",
    "обучающегося",
    "обучающейся",
    "ученику",
    "ученице",
    "учеником",
    "ученицей",
    "сына",
    "сын",
    "сыну",
    "сыном",
    "сынок",
    "дочери",
    "дочь",
    "дочка",
    "дочки",
    "дочке",
    "дочкой",
    "ребенка",
    "ребенок",
    "ребенку",
    "ребенком",
    "внука",
    "внучки",
    "внук",
    "внучка",
    "внуку",
    "внучке",
    "мама",
    "папа",
    "мать",
    "отец",
    "бабушка",
    "дедушка",
    "опекун",
    "родитель",
    "представитель",
    "мамой",
    "папой",
    "за",
    "про",
    "у",
    "моего",
    "моей",
    "мой",
    "моя",
    "нашего",
    "нашей",
    "наш",
    "наша",
    "для",
    "детей",
    "ребят",
    "школьника",
    "школьницы",
    "воспитанника",
    "воспитанницы",
    "подопечного",
    "подопечной",
];

static STAFF_STEMS: Affixes = Affixes::stems(&[
    "учител",
    "преподавател",
    "педагог",
    "руководител",
    "директор",
    "заместител",
    "завуч",
    "администратор",
    "секретар",
    "воспитател",
    "психолог",
    "тьютор",
    "специалист",
    "методист",
    "классн",
    "кл",
]);

const THIRD_PARTY: &[&str] = &[
    "от",
    "с",
    "к",
    "со",
    "ко",
    "передайте",
    "передать",
    "связаться",
    "позвонить",
    "написала",
    "написал",
    "сказала",
    "сказал",
];

const SELF_TRIGGERS: &[&str] = &[
    "я",
    "фио",
    "моё",
    "мое",
    "имя",
    "зовут",
    "обращается",
    "пишет",
    "это",
    "являюсь",
    "подпись",
];

const GREETINGS: &[&str] = &[
    "здравствуйте",
    "день",
    "вечер",
    "утро",
    "привет",
    "дополняю",
    "уточняю",
    "добрый",
    "доброе",
    "здрасте",
    "приветствую",
];

fn is_class_token(l: &Line, t: &Tok) -> bool {
    match &t.kind {
        Kind::Num => true,
        Kind::Punct(c) => matches!(
            c,
            '«' | '»' | '"' | '(' | ')' | '—' | '–' | '-' | '“' | '”' | '\'' | ':'
        ),
        Kind::Word => {
            let f = l.low(t);
            // One character: a word starts with a letter, which is then
            // the whole of it.
            let w = l.written(t);
            (letter_len(w, 0) == w.len() && f != "я")
                || matches!(f, "класса" | "класс" | "классе" | "кл")
        }
        _ => false,
    }
}

fn is_clause_break(t: &Tok) -> bool {
    matches!(t.kind, Kind::Break)
        || matches!(t.kind, Kind::Punct(c) if matches!(c, '.' | ',' | '!' | '?' | ':' | ';' | '—' | '–' | '-' | '(' | '«' | '"'))
}

/// `w` in title case («римская-корсакова» → «Римская-Корсакова»),
/// appended to `out`.
fn title_case_into(w: &str, out: &mut String) {
    let mut start = true;
    for c in w.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c == '-';
    }
}

/// People in a hurry write «иванова мария петровна» or «ИВАНОВА МАРИЯ».
/// Give such a run capitals when it has the shape of a name: a known
/// first name next to a patronymic (or, on a labelled line, next to any
/// word).
fn recase(l: &mut Line, labelled: bool) {
    if labelled || l.one_case_patronymic {
        recase_runs(l, labelled);
    }
}

/// [`recase`] on a line that may need it. Out of line: most lines do
/// not, and the scan's own code stays together.
#[inline(never)]
fn recase_runs(l: &mut Line, labelled: bool) {
    let cyr = |t: &Tok| t.one_case == Some(true);
    let caps = |t: &Tok| t.one_case == Some(false);
    for same_case in [&cyr as &dyn Fn(&Tok) -> bool, &caps] {
        let mut i = 0;
        while i < l.buf.toks.len() {
            if !same_case(&l.buf.toks[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < l.buf.toks.len() && same_case(&l.buf.toks[i]) && i - start < 3 {
                i += 1;
            }
            let run = &l.buf.toks[start..i];
            // The cheap tests first: most runs are ordinary words with no
            // patronymic, and need no look-up in the first-name lists.
            if run.len() < 2
                || !labelled && !run.iter().any(|t| patronymic_gender(l.low(t)).is_some())
            {
                continue;
            }
            let first = run.iter().any(|t| first_name_gender(l.low(t)).is_some());
            let others = run
                .iter()
                .filter(|t| {
                    first_name_gender(l.low(t)).is_none() && patronymic_gender(l.low(t)).is_none()
                })
                .count();
            if first && others <= 1 {
                for k in start..i {
                    l.title_case(k);
                }
            }
        }
    }
}

/// Where a name stands decides whose it is.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd)]
enum Standing {
    Rejected = 0,
    Opening = 3,
    Signature = 4,
    SelfIntro = 5,
    Labelled = 6,
}

fn standing(l: &Line, start: usize, role: Option<Role>, labelled: Option<bool>) -> Standing {
    let toks = &l.buf.toks;
    // Labelled line: the writer's unless the label names the child.
    if let Some(child) = labelled {
        return if child && role != Some(Role::Student) {
            Standing::Rejected
        } else {
            Standing::Labelled
        };
    }
    // The token just before, and the first word before when skipping the
    // class and quote tokens («ученика 1 «Г» класса Федорова Семёна»).
    let prev = start.checked_sub(1).map(|i| &toks[i]);
    let mut k = start;
    let mut skipped_comma = false;
    let prev_word = loop {
        let Some(i) = k.checked_sub(1) else {
            break None;
        };
        k = i;
        let t = &toks[i];
        if t.kind == Kind::Word && !is_class_token(l, t) {
            break Some(t);
        }
        if t.kind == Kind::Punct(',') {
            skipped_comma = true;
            // A comma ends the look-back for child triggers but not for «я,».
            let before = i.checked_sub(1).map(|j| &toks[j]);
            if before
                .is_some_and(|b| b.kind == Kind::Word && word_flags(l.low(b)) & SELF_TRIGGER != 0)
            {
                return Standing::SelfIntro;
            }
            break None;
        }
        if !is_class_token(l, t) {
            break None;
        }
    };
    if let Some(w) = prev_word {
        let f = l.low(w);
        let flags = word_flags(f);
        if flags & SELF_TRIGGER != 0 && !skipped_comma {
            return Standing::SelfIntro;
        }
        if flags & STUDENT_WORD != 0 {
            return if role == Some(Role::Student) {
                Standing::SelfIntro
            } else {
                Standing::Rejected
            };
        }
        if flags & CHILD_TRIGGER != 0 {
            // «Мама — Иванова Мария Петровна»: a nominative name of the
            // parent word's gender is the parent's own.
            let parent_gender = match f {
                "мама" | "мать" | "бабушка" => Some(Gender::Female),
                "папа" | "отец" | "дедушка" => Some(Gender::Male),
                _ => None,
            };
            // Without a dash or a nominative patronymic, «мама Белякова Ярослава»
            // is ambiguous (Ярослава is also a genitive): read it as the child.
            let dashed = prev.is_some_and(|t| {
                matches!(
                    t.kind,
                    Kind::Punct('-') | Kind::Punct('—') | Kind::Punct('–') | Kind::Punct(':')
                )
            });
            let patronymic = toks[start..]
                .iter()
                .take(4)
                .any(|t| t.kind == Kind::Word && patronymic_gender(l.low(t)) == parent_gender);
            if parent_gender.is_some()
                && parent_gender == span_gender(l, start)
                && (dashed || patronymic)
            {
                return Standing::SelfIntro;
            }
            return Standing::Rejected;
        }
        if flags & THIRD_PARTY_WORD != 0 {
            return Standing::Rejected;
        }
    }
    // A staff title earlier in the same clause: the writer's own title if
    // they are staff («Заместитель директора по УВР Белова Т.С.»), a third
    // person otherwise («учитель математики Иванова сказала»).
    let mut i = start;
    let mut n = 0;
    while let Some(j) = i.checked_sub(1) {
        let t = &toks[j];
        if is_clause_break(t) && !matches!(t.kind, Kind::Punct('.')) || n > 6 {
            break;
        }
        if t.kind == Kind::Word {
            let f = l.low(t);
            if STAFF_STEMS.matches(f) && f != "класса" && f != "класс" {
                // «учителю Смирновой О.В.», «классного руководителя …»: an
                // oblique title names someone else.
                let oblique = OBLIQUE_TITLE_ENDINGS.matches(f)
                    || (f.ends_with('я') || f.ends_with('а')) && !nominative_title_before(l, j);
                if oblique {
                    return Standing::Rejected;
                }
                return if role == Some(Role::Staff) {
                    Standing::SelfIntro
                } else {
                    Standing::Rejected
                };
            }
            n += 1;
        }
        i = j;
    }
    match prev {
        None => Standing::Opening,
        Some(t) if is_clause_break(t) || matches!(t.kind, Kind::Punct(')')) => Standing::Opening,
        Some(t) if t.kind == Kind::Word && word_flags(l.low(t)) & GREETING != 0 => {
            Standing::Opening
        }
        _ => Standing::Rejected,
    }
}

/// The endings of a staff title in an oblique case («учителю»,
/// «директором»; [`standing`]).
static OBLIQUE_TITLE_ENDINGS: Affixes =
    Affixes::endings(&["ю", "у", "ем", "ом", "ям", "ями", "ей", "ого", "ому"]);

/// The gender of the nominative first name or patronymic in the run of
/// name tokens starting at `start`.
fn span_gender(l: &Line, start: usize) -> Option<Gender> {
    l.buf.toks[start..]
        .iter()
        .take_while(|t| t.is_name_word() || t.kind == Kind::Initials)
        .take(4)
        .find_map(|t| match classify(l, t) {
            Part::First(g) | Part::Patronymic(g) => Some(g),
            _ => None,
        })
}

/// «зам. директора», «заместитель директора»: a genitive title word that
/// belongs to a nominative title just before it.
fn nominative_title_before(l: &Line, j: usize) -> bool {
    l.buf.toks[j.saturating_sub(3)..j].iter().any(|t| {
        let f = l.low(t);
        matches!(
            f,
            "зам" | "заместитель" | "замдиректора" | "заместительница"
        )
    })
}

/// The labels of a field that holds a name («ФИО: …»; [`line_label`]),
/// folded.
static NAME_LABELS: Affixes = Affixes::stems(&[
    "фио",
    "ф.и.о",
    "ф. и. о",
    "фамилия",
    "имя",
    "заявитель",
    "отправитель",
    "от кого",
    "родитель",
    "ваше фио",
    "мое фио",
    "мои фио",
]);

/// «ФИО: …» and the like at the start of a line: `Some(true)` when the
/// label is about the child. `mark` is where the first mark a label may
/// end with is in `line` ([`Line::mark`]): most lines have none, or none
/// in their first 40 characters, and need no more reading.
fn line_label(line: &str, mark: Option<usize>) -> Option<bool> {
    label_before(line, mark?)
}

/// [`line_label`] of a line with a mark at byte `mark`. Out of line: most
/// lines have none, and the scan's own code stays together.
#[inline(never)]
fn label_before(line: &str, mark: usize) -> Option<bool> {
    let trimmed = line.trim_start();
    // A mark is not a space: it is in the trimmed line.
    let mark = mark.checked_sub(line.len() - trimmed.len())?;
    let line = trimmed;
    if line.get(..mark)?.chars().count() >= 40 {
        return None;
    }
    let head = match line.char_indices().nth(40) {
        Some((i, _)) => &line[..i],
        None => line,
    };
    let head = fold(head);
    let colon = head.find([':', '-', '–', '—'])?;
    let label = head[..colon].trim();
    let is_name_label = NAME_LABELS.matches(label);
    if !is_name_label || label.chars().count() > 30 {
        return None;
    }
    let child = [
        "учени",
        "ребен",
        "сын",
        "доч",
        "ребят",
        "обучающ",
        "учащ",
        "внук",
    ]
    .iter()
    .any(|s| label.contains(s));
    Some(child)
}

#[derive(Clone, Debug)]
struct Found {
    name: String,
    standing: Standing,
    order: usize,
    /// A parent word follows the name («…, мама Ильи»).
    parent_after: bool,
}

/// Names in `text`, line by line, into `out`; the words of names read as
/// a child's into `children` ([`add_children`]) when something reads them.
/// `line` is the buffer each line is tokenised into.
fn scan<'a>(
    text: &'a str,
    line: &mut Line<'a>,
    role: Option<Role>,
    in_signature: bool,
    out: &mut Vec<Found>,
    mut children: Option<&mut String>,
) {
    let mut rest = text;
    while !rest.is_empty() {
        rest = next_line(rest, line);
        let label = line_label(line.line, line.mark);
        recase(line, label.is_some());
        let l = &*line;
        let toks = &l.buf.toks;
        let mut i = 0;
        while i < toks.len() {
            if !toks[i].in_name() {
                i += 1;
                continue;
            }
            let start = i;
            while i < toks.len() && toks[i].in_name() && i - start < MAX_RUN {
                i += 1;
            }
            let run = &toks[start..i];
            let strong = label.is_some();
            let Some((name, s, e)) = readings(l, run, strong) else {
                // Not a full name; remember child-looking names all the same.
                if let Some(children) = children.as_deref_mut()
                    && run.iter().any(|t| t.kind == Kind::Word)
                    && standing(l, start, role, label) == Standing::Rejected
                {
                    add_children(children, run.iter().map(|t| l.low(t)));
                }
                continue;
            };
            let mut st = standing(l, start + s, role, label);
            // «Петрова Анна Ивановна сказала…»: a third person acting.
            if label.is_none()
                && toks
                    .get(start + e)
                    .is_some_and(|t| t.kind == Kind::Word && verbish(l.low(t)))
            {
                st = Standing::Rejected;
            }
            // «Петрова А.И. (классный руководитель) говорит…» in a parent's
            // or student's letter: the name carries a staff title, so it is
            // not theirs.
            if matches!(role, Some(Role::Parent) | Some(Role::Student))
                && label.is_none()
                && toks[start + e..]
                    .iter()
                    .filter(|t| t.kind == Kind::Word)
                    .take(2)
                    .any(|t| {
                        let f = l.low(t);
                        STAFF_STEMS.matches(f)
                            && !f.starts_with("класса")
                            && f != "класс"
                            && !f.starts_with("кл")
                            || f.starts_with("классн")
                    })
            {
                st = Standing::Rejected;
            }
            if st == Standing::Opening && in_signature {
                st = Standing::Signature;
            }
            // A line that is nothing but the name, at the end: a signature.
            if st == Standing::Opening
                && toks
                    .iter()
                    .filter(|t| t.kind == Kind::Word || t.kind == Kind::Initials)
                    .count()
                    == run.len()
            {
                st = Standing::Signature;
            }
            if st == Standing::Rejected {
                if let Some(children) = children.as_deref_mut() {
                    add_children(children, run.iter().map(|t| l.low(t)));
                }
                continue;
            }
            // «Петрова Анна, мама Ильи»: the writer names their own part.
            let parent_after = toks[start + e..]
                .iter()
                .find(|t| t.kind == Kind::Word)
                .is_some_and(|t| word_flags(l.low(t)) & PARENT_WORD != 0);
            out.push(Found {
                name,
                standing: st,
                order: out.len(),
                parent_after,
            });
        }
    }
}

/// Words of a child's name (folded) added to `children`, one a line:
/// one buffer for all of them.
fn add_children<'w>(children: &mut String, words: impl Iterator<Item = &'w str>) {
    for w in words {
        children.push_str(w);
        children.push('\n');
    }
}

/// What [`find`] keeps from one letter to the next: its buffers, with
/// their room.
struct Kept {
    buffers: Buffers,
    found: Vec<Found>,
}

thread_local! {
    /// Each thread's [`Kept`] buffers: once grown, a letter's lines are
    /// tokenised and its names gathered with no allocation for the
    /// buffers (new ones cost three allocations and frees per letter).
    /// Borrowed in place, not taken out and put back: a move of them is
    /// a run of copies in the code.
    static KEPT: RefCell<Kept> = const {
        RefCell::new(Kept {
            buffers: Buffers::EMPTY,
            found: Vec::new(),
        })
    };
}

/// The writer's full name, or `None` when the letter does not give one.
pub fn find(parts: &Parts, display_name: Option<&str>, role: Option<Role>) -> Option<String> {
    // Never borrowed twice: find does not call itself.
    KEPT.with_borrow_mut(|kept| {
        // Emptied first too: a panic inside find_with (which `understand`
        // catches) would leave the last letter's names in it.
        kept.found.clear();
        kept.buffers.reserve();
        let name = find_with(
            parts,
            display_name,
            role,
            &mut kept.buffers,
            &mut kept.found,
        );
        kept.found.clear();
        name
    })
}

/// [`find`], with `buffers` to tokenise lines in and `found` (empty) to
/// gather names in.
fn find_with(
    parts: &Parts,
    display_name: Option<&str>,
    role: Option<Role>,
    buffers: &mut Buffers,
    found: &mut Vec<Found>,
) -> Option<String> {
    let mut children = String::new();
    // Only a parent's From name is checked against the child's names.
    let want_children = role == Some(Role::Parent) && display_name.is_some();
    // The line's buffers serve the names read below, once the block
    // ends.
    {
        let mut line = Line::new(buffers);
        for (text, in_signature) in [(&parts.new, false), (&parts.signature, true)] {
            scan(
                text,
                &mut line,
                role,
                in_signature,
                found,
                want_children.then_some(&mut children),
            );
        }
    }
    // A parent whose own words say mother or father («я мама», «Мама.» on
    // a line of its own): a name of the other sex that merely opens the
    // letter («Петров Илья, 5А. … Мама.»), with no parent word after it,
    // is the child's, not theirs.
    // Read only when something hangs on it: a name that merely opens the
    // letter, or the From name when the text gives none, and then only
    // once something asks (the From name may not be a name at all).
    let needs_sex = role == Some(Role::Parent)
        && (found.is_empty() && display_name.is_some()
            || found
                .iter()
                .any(|f| f.standing == Standing::Opening && !f.parent_after));
    let sex = LazyCell::new(|| {
        needs_sex
            .then(|| parent_sex(&parts.new, &parts.signature))
            .flatten()
    });
    found.retain(|f| {
        let childs = f.standing == Standing::Opening
            && !f.parent_after
            && sex.is_some()
            && name_sex(&f.name, buffers).is_some_and(|g| Some(g) != *sex);
        if childs {
            for w in f.name.split_whitespace() {
                fold_into(w, &mut children);
                children.push('\n');
            }
        }
        !childs
    });
    // Strongest standing wins; the earliest among equals.
    if let Some(best) = found.drain(..).max_by(|a, b| {
        a.standing
            .partial_cmp(&b.standing)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.order.cmp(&a.order))
    }) {
        return Some(best.name);
    }
    let display = display_name?;
    from_display_name(display, role, &|| *sex, &children, buffers)
}

/// The parent's sex as their own words give it: «я мама», «мама ученика»,
/// a line that starts with «мама» («Мама.», «мама Даши»); the same for
/// fathers. `None` when the words say neither, or both.
fn parent_sex(text: &str, signature: &str) -> Option<Gender> {
    let mut t = String::with_capacity(text.len() + signature.len() + 1);
    fold_into(text, &mut t);
    t.push('\n');
    fold_into(signature, &mut t);
    let says = |(words, phrases): (&[&str], &[&str])| {
        // Every phrase holds one of the words: a text without them says
        // neither (most letters, for one parent or the other).
        let first_on_a_line = || {
            t.lines().any(|line| {
                let first = line
                    .split(|c: char| !is_letter(c))
                    .find(|w| !w.is_empty())
                    .unwrap_or_default();
                words.contains(&first)
            })
        };
        words.iter().any(|w| t.contains(w))
            && (first_on_a_line() || phrases.iter().any(|p| t.contains(p)))
    };
    match (says(MOTHER), says(FATHER)) {
        (true, false) => Some(Gender::Female),
        (false, true) => Some(Gender::Male),
        _ => None,
    }
}

/// A mother's words for herself, and the phrases she uses them in.
const MOTHER: (&[&str], &[&str]) = (
    &["мама", "мать", "бабушка"],
    &[
        "я мама",
        "я мать",
        "я бабушка",
        "мама ученик",
        "мама учениц",
        "мать ученик",
        "мать учениц",
        "бабушка ученик",
        "бабушка учениц",
    ],
);

/// A father's, the same.
const FATHER: (&[&str], &[&str]) = (
    &["папа", "отец", "дедушка"],
    &[
        "я папа",
        "я отец",
        "я дедушка",
        "папа ученик",
        "папа учениц",
        "отец ученик",
        "отец учениц",
        "дедушка ученик",
        "дедушка учениц",
    ],
);

/// The sex a full name's first name or patronymic gives; `buffers` to
/// tokenise it in.
fn name_sex(name: &str, buffers: &mut Buffers) -> Option<Gender> {
    let mut l = Line::new(buffers);
    tokenize_into(name, &mut l);
    l.buf.toks.iter().find_map(|t| match classify(&l, t) {
        Part::First(g) | Part::Patronymic(g) => Some(g),
        _ => None,
    })
}

/// The sex the first first name or patronymic among `parts` gives.
fn sex_of(parts: &[Part]) -> Option<Gender> {
    parts.iter().find_map(|p| match p {
        Part::First(g) | Part::Patronymic(g) => Some(*g),
        _ => None,
    })
}

/// The From display name, when it has the shape of the writer's name.
/// `sex` gives the parent's as their own words give it ([`parent_sex`]),
/// read only when the display name's own sex is to be checked against it;
/// `children` the words of names read as a child's, one a line.
fn from_display_name(
    display: &str,
    role: Option<Role>,
    sex: &dyn Fn() -> Option<Gender>,
    children: &str,
    buffers: &mut Buffers,
) -> Option<String> {
    let mut l = Line::new(buffers);
    tokenize_into(display, &mut l);
    display_name_in(&l, role, sex, children)
}

/// [`from_display_name`] of the display name tokenised in `l`.
fn display_name_in(
    l: &Line,
    role: Option<Role>,
    sex: &dyn Fn() -> Option<Gender>,
    children: &str,
) -> Option<String> {
    if l.buf.toks.iter().any(|t| matches!(t.kind, Kind::Num)) {
        return None;
    }
    // The words and initials, two or three (in an array: no allocation).
    let words = || {
        l.buf
            .toks
            .iter()
            .filter(|t| t.kind == Kind::Word || t.kind == Kind::Initials)
    };
    let n = words().count();
    if !(2..=3).contains(&n) {
        return None;
    }
    let mut run = [*words().next()?; 3];
    for (r, t) in run.iter_mut().zip(words()) {
        *r = *t;
    }
    let run = &run[..n];
    if !run
        .iter()
        .all(|t| t.is_name_word() || t.kind == Kind::Initials)
    {
        return None;
    }
    let mut parts = [Part::Other; 3];
    for (p, t) in parts.iter_mut().zip(run) {
        *p = classify(l, t);
    }
    let parts = &parts[..n];
    let name = interpret(l, run, parts, false)?;
    // Not the child's account: a parent writing from the child's mailbox.
    let first = run
        .iter()
        .zip(parts)
        .find(|(_, p)| matches!(p, Part::First(_)))
        .map(|(t, _)| l.low(t));
    let gender = sex_of(parts);
    if role == Some(Role::Parent) {
        if let Some(f) = first {
            // Its first characters: four at most, two at least, and not
            // all of a longer name.
            let take = 4.min(f.chars().count().saturating_sub(1)).max(2);
            let stem = f.char_indices().nth(take).map_or(f, |(i, _)| &f[..i]);
            if children.lines().any(|c| c.starts_with(stem)) {
                return None;
            }
        }
        if let Some(g) = gender
            && sex().is_some_and(|s| s != g)
        {
            return None;
        }
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::text::split;
    use crate::request::{folds_to_itself, is_cyr_lower, letter_len};

    fn name(body: &str, display: Option<&str>, role: Option<Role>) -> Option<String> {
        find(&split(body), display, role)
    }

    #[test]
    fn writer_not_child() {
        let p = Some(Role::Parent);
        assert_eq!(
            name(
                "Я мама Петрова Ильи, Петрова Наталья Андреевна. Не получается",
                None,
                p
            )
            .as_deref(),
            Some("Петрова Наталья Андреевна")
        );
        assert_eq!(
            name(
                "Я мама ученицы 3 «В» класса Захаровой Алисы — Захарова Марина Игоревна.",
                None,
                p
            )
            .as_deref(),
            Some("Захарова Марина Игоревна")
        );
        assert_eq!(
            name(
                "Здравствуйте, у моего сына Кириллова Максима (4А) не отображается",
                Some("Светлана"),
                p
            ),
            None
        );
        assert_eq!(
            name(
                "ФИО: Смирнова Ольга Викторовна\nПроблема: у сына (Смирнов Егор) нет",
                None,
                p
            )
            .as_deref(),
            Some("Смирнова Ольга Викторовна")
        );
        assert_eq!(
            name("Я, Федорова Людмила Геннадьевна, бабушка ученика 1 «Г» класса Федорова Семёна.\n--\nЛюдмила Геннадьевна", None, p).as_deref(),
            Some("Федорова Людмила Геннадьевна")
        );
    }

    #[test]
    fn a_name_of_the_other_sex_opening_a_parents_letter_is_the_childs() {
        let p = Some(Role::Parent);
        // A mother (a line «Мама.», «я мама») opens with her son's name.
        for text in [
            "Петров Илья, 5А. Не могу зайти в дневник сына.\nМама.",
            "Петров Илья 5А, не открывается дневник, я мама, помогите.",
        ] {
            assert_eq!(name(text, None, p), None, "{text}");
        }
        // A father, his daughter's name; and the From name is not taken for
        // the child either.
        assert_eq!(
            name(
                "Сидорова Мария, 3Б. Не открывается дневник.\nПапа",
                Some("Сидорова Мария"),
                p
            ),
            None
        );
        // The writer's own name: the same sex, or followed by their part.
        assert_eq!(
            name(
                "Петров Илья, 5А. Не могу зайти в дневник сына.\nПапа.",
                None,
                p
            )
            .as_deref(),
            Some("Петров Илья")
        );
        assert_eq!(
            name(
                "Петрова Анна, мама Ильи, 5А. Папа ученика тоже не может войти.",
                None,
                p
            )
            .as_deref(),
            Some("Петрова Анна")
        );
        // Not a parent's letter: nothing changes.
        assert_eq!(
            name(
                "Петров Илья, 5А. Не могу зайти в дневник.\nМама.",
                None,
                None
            )
            .as_deref(),
            Some("Петров Илья")
        );
    }

    /// The shape letter by letter, for [`word_at`] to agree with.
    fn shape_of(w: &str) -> Shape {
        let mut s = Shape {
            folded: true,
            lower: true,
            upper: true,
            letters: 0,
            capitalised: true,
            tail_folded: true,
        };
        // Read as bytes: ASCII and the Russian alphabet (lead 0xD0/0xD1)
        // without decoding; `i` steps over whole characters only.
        let b = w.as_bytes();
        let (mut i, mut chars, mut after_hyphen) = (0, 0, false);
        while i < b.len() {
            let (x, y) = (b[i], b.get(i + 1).copied().unwrap_or(0));
            // (is lower Cyrillic, is upper Cyrillic, folds to itself, length)
            let (lo, up, same, n) = match (x, y) {
                (b'-', _) => {
                    after_hyphen = true;
                    chars += 1;
                    i += 1;
                    continue;
                }
                (..0x80, _) => (false, false, !x.is_ascii_uppercase(), 1),
                (0xD0, 0xB0..=0xBF) | (0xD1, 0x80..=0x8F) => (true, false, true, 2),
                (0xD1, 0x91) => (true, false, false, 2),
                (0xD0, 0x90..=0xAF) | (0xD0, 0x81) => (false, true, false, 2),
                _ => {
                    let n = w[i..].chars().next().map_or(1, char::len_utf8);
                    (false, false, false, n)
                }
            };
            s.folded &= same;
            s.tail_folded &= same || chars == 0;
            s.lower &= lo;
            s.upper &= up;
            s.capitalised &= if chars == 0 {
                up
            } else if after_hyphen {
                lo || up
            } else {
                lo
            };
            after_hyphen = false;
            s.letters += 1;
            chars += 1;
            i += n;
        }
        s.capitalised &= chars >= 2;
        s
    }

    #[test]
    fn word_shape_agrees_with_character_tests() {
        // The definitions, character by character.
        fn reference(w: &str) -> Shape {
            let tail_folded = w.chars().skip(1).all(folds_to_itself);
            let letters: Vec<char> = w.chars().filter(|&c| c != '-').collect();
            let mut chars = w.chars();
            let capitalised =
                chars.next().is_some_and(is_cyr_upper) && chars.clone().next().is_some() && {
                    let mut after_hyphen = false;
                    chars.all(|c| {
                        let ok = c == '-'
                            || if after_hyphen {
                                is_cyr_upper(c) || is_cyr_lower(c)
                            } else {
                                is_cyr_lower(c)
                            };
                        after_hyphen = c == '-';
                        ok
                    })
                };
            Shape {
                folded: w.chars().all(folds_to_itself),
                lower: letters.iter().all(|&c| is_cyr_lower(c)),
                upper: letters.iter().all(|&c| is_cyr_upper(c)),
                letters: letters.len(),
                capitalised,
                tail_folded,
            }
        }
        for w in [
            "",
            "а",
            "Я",
            "Ёлкина",
            "ёлка",
            "Римская-Корсакова",
            "Иванова-петрова",
            "ИВАНОВА",
            "иванова",
            "Ivanov",
            "ivanov",
            "Ab",
            "Ӂук",
            "Жӂ",
            "Оля-",
            "Ю",
            "Юлия",
            "ЭлЖур",
            "ЁЖ",
            "ёж",
            "Ѐ",
            "ѐлка",
            "Дʼарк",
            "Петров2",
            "Щ-Щ",
        ] {
            assert_eq!(shape_of(w), reference(w), "{w}");
        }
    }

    #[test]
    fn words_found_with_their_shape_as_letter_by_letter() {
        // The word's end as the letters and hyphens give it, and its shape
        // as `shape_of` gives it, and its folded form.
        fn reference(text: &str, start: usize) -> (usize, Shape) {
            let mut i = start;
            loop {
                if letter_len(text, i) > 0 {
                    i += letter_len(text, i);
                } else if text.as_bytes().get(i) == Some(&b'-') && letter_len(text, i + 1) > 0 {
                    i += 1;
                } else {
                    break;
                }
            }
            (i, shape_of(&text[start..i]))
        }
        let text = "Ёлкина-Петрова ИВАНОВА иванова-- Ivanov-x ЭлЖур ёж Ѐѐ Ӂук Жӂ \
                    Дʼарк Петров2 Щ-Щ Оля- а-б-в Ab ЁЖ Ю -Ю Я.";
        for (start, c) in text.char_indices() {
            if is_letter(c) {
                let (end, shape, hyphen) = word_at(text, start);
                assert_eq!(
                    (end, shape.clone()),
                    reference(text, start),
                    "{}",
                    &text[start..]
                );
                assert_eq!(hyphen, text[start..end].find('-').map(|h| start + h));
                let mut folded = String::new();
                fold_word_into(&text[start..end], &shape, &mut folded);
                assert_eq!(folded, fold(&text[start..end]));
            }
        }
    }

    #[test]
    fn word_flags_agree_with_the_lists() {
        // Every word of every list, and a few in none: a word has a list's
        // flag exactly when the list holds it.
        let words = WORD_LISTS
            .iter()
            .flat_map(|(words, _)| words.iter().copied())
            .chain(["", "иванова", "петр", "классе"]);
        for w in words {
            let flags = word_flags(w);
            for (list, flag) in WORD_LISTS {
                let in_lists = WORD_LISTS
                    .iter()
                    .filter(|(_, f)| f == flag)
                    .any(|(l, _)| l.contains(&w));
                assert_eq!(flags & flag != 0, in_lists, "{w} {list:?}");
            }
        }
    }

    #[test]
    fn russian_lower_case_letters_follow_their_capitals() {
        for (c, l) in ('А'..='Я').zip(RUSSIAN_LOWER) {
            assert_eq!(c.to_lowercase().to_string(), l);
        }
    }

    #[test]
    fn affix_tables_agree_with_their_lists() {
        // Every table says what a search of its list says, over every
        // entry, every entry cut short, with letters before and after,
        // words of every length from the empty one, and a few others.
        let tables = [
            &OBLIQUE_PATRONYMIC_ENDINGS,
            &FEMALE_SURNAME_ENDINGS,
            &MALE_SURNAME_ENDINGS,
            &STAFF_STEMS,
            &OBLIQUE_TITLE_ENDINGS,
            &NAME_LABELS,
        ];
        let mut words: Vec<String> = ["", "а", "я", "ab", "иванова", "учителю", "кл", "к", "ф.и"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        for table in tables {
            for e in table.list {
                for (k, _) in e.char_indices().chain([(e.len(), ' ')]) {
                    for w in [&e[..k], &e[k..]] {
                        for (a, b) in [("", ""), ("а", ""), ("", "я"), ("ив", "ов"), ("x", "y")]
                        {
                            words.push(format!("{a}{w}{b}"));
                        }
                    }
                }
            }
        }
        for table in tables {
            for w in &words {
                let listed = table.list.iter().any(|e| {
                    if table.at_end {
                        w.ends_with(e)
                    } else {
                        w.starts_with(e)
                    }
                });
                assert_eq!(table.matches(w), listed, "{w:?} {:?}", table.list);
            }
        }
        assert!(FEMALE_SURNAME_ENDINGS.matches("иванова"));
        assert!(!MALE_SURNAME_ENDINGS.matches("иванова"));
        assert!(STAFF_STEMS.matches("учителю"));
        assert!(!STAFF_STEMS.matches("к"));
    }

    #[test]
    fn every_parent_phrase_holds_a_parent_word() {
        // parent_sex reads no phrase in a text without the words.
        for (words, phrases) in [MOTHER, FATHER] {
            for p in phrases {
                assert!(words.iter().any(|w| p.contains(w)), "{p}");
            }
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(
            name("Текст.\n\nС уважением,\nО.К. Муравьёва", None, None).as_deref(),
            Some("Муравьёва О.К.")
        );
        assert_eq!(
            name("Меня зовут Орлов Даниил. Текст", None, None).as_deref(),
            Some("Орлов Даниил")
        );
        assert_eq!(name("привет, это Даша из 8 б", Some("Даша"), None), None);
        assert_eq!(
            name("Текст", Some("Марина Захарова"), None).as_deref(),
            Some("Захарова Марина")
        );
        assert_eq!(
            name("Текст", Some("Никитина Алла"), Some(Role::Parent)).as_deref(),
            Some("Никитина Алла")
        );
        assert_eq!(name("Текст", Some("Гусев П."), None), None);
        assert_eq!(
            name(
                "Мама — Иванова Мария Петровна, 5А",
                None,
                Some(Role::Parent)
            )
            .as_deref(),
            Some("Иванова Мария Петровна")
        );
        assert_eq!(
            name("иванова мария петровна, 5а. Не открывается", None, None).as_deref(),
            Some("Иванова Мария Петровна")
        );
        assert_eq!(
            name("ФИО: ПЕТРОВ ИГОРЬ\nКласс: 5А", None, None).as_deref(),
            Some("Петров Игорь")
        );
        assert_eq!(name("Текст\nАнна", Some("Anna"), None), None);
        assert_eq!(
            name(
                "Заместитель директора по УВР Белова Татьяна Сергеевна.\nТекст",
                None,
                Some(Role::Staff)
            )
            .as_deref(),
            Some("Белова Татьяна Сергеевна")
        );
        assert_eq!(
            name(
                "Ученик 11 класса Тимофеев Егор Александрович. Текст",
                None,
                Some(Role::Student)
            )
            .as_deref(),
            Some("Тимофеев Егор Александрович")
        );
        assert_eq!(
            name(
                "Учитель математики Иванова Мария Петровна поставила 2.",
                None,
                Some(Role::Parent)
            ),
            None
        );
    }
}
