//! Case-insensitive patterns anchored at the start of a line, with the
//! heads their matches open with: most lines open with none of them and
//! never reach the regex engine.

use std::sync::LazyLock;

use regex::Regex;

/// A case-insensitive pattern anchored at the start of a line (after
/// blanks), with the heads its matches can open with. Most lines open with
/// none of them, so they never reach the regex engine, whose every call
/// costs far more than a look at a few characters.
pub(crate) struct LinePattern {
    /// The start of each alternative of the pattern, in lower case (ASCII
    /// and а..я only; a blank stands for any blank).
    pub(crate) opens: &'static [&'static str],
    pub(crate) regex: LazyLock<Regex>,
}

impl LinePattern {
    pub(crate) fn is_match(&self, line: &str) -> bool {
        self.may_open(line) && self.regex.is_match(line)
    }

    pub(crate) fn find<'t>(&self, line: &'t str) -> Option<regex::Match<'t>> {
        self.may_open(line).then(|| self.regex.find(line)).flatten()
    }

    /// Whether `line` opens (after blanks) with one of the heads.
    fn may_open(&self, line: &str) -> bool {
        LineStart::new(line).may_open(self)
    }
}

/// A [`LinePattern`] with the set of its heads' first characters, for a
/// line read once by [`LineStart`] and tried against several patterns: a
/// line whose first character opens none of the heads (most lines) is told
/// by one test of a bit, without a look at the heads.
pub(crate) struct FirstsPattern {
    /// The first characters of the heads (see [`slot`]), one bit each.
    firsts: u128,
    /// Each head's first character as [`LineStart::first`] holds a line's,
    /// side by side: a line whose first character some head opens with is
    /// compared with those heads only, without reading the others' bytes
    /// (each head's text is a cache line of its own to fetch).
    head_firsts: [[u8; 2]; MAX_HEADS],
    pub(crate) pattern: LinePattern,
}

/// The most heads a [`FirstsPattern`] has.
const MAX_HEADS: usize = 24;

impl FirstsPattern {
    /// The pattern with the heads `opens` (see [`LinePattern::opens`]) and
    /// the regex `regex` makes. A head that opens with a character no head
    /// may open with (a blank, a capital, a letter outside ASCII and а..я)
    /// stops the build.
    pub(crate) const fn new(opens: &'static [&'static str], regex: fn() -> Regex) -> Self {
        let mut firsts = 0;
        let mut head_firsts = [[0; 2]; MAX_HEADS];
        if opens.len() > MAX_HEADS {
            panic!("more heads than MAX_HEADS");
        }
        let mut i = 0;
        while i < opens.len() {
            head_firsts[i] = head_first(opens[i]);
            // ASCII is one byte; а..я are two, 110xxxxx 10xxxxxx.
            let first = match head_firsts[i] {
                NO_FIRST => panic!("an empty head, or one cut in a character"),
                [b0, 0] => b0 as u32,
                [b0, b1] => ((b0 as u32 & 0x1F) << 6) | (b1 as u32 & 0x3F),
            };
            let Some(first) = char::from_u32(first) else {
                panic!("a head opens with no character");
            };
            match (slot(first), lower(first)) {
                (Some(slot), Some(lowered)) if lowered as u32 == first as u32 && first != ' ' => {
                    firsts |= 1 << slot;
                }
                _ => panic!("a head opens with a character no line opens with"),
            }
            i += 1;
        }
        FirstsPattern {
            firsts,
            head_firsts,
            pattern: LinePattern {
                opens,
                regex: LazyLock::new(regex),
            },
        }
    }

    /// Whether the line `start` reads opens with one of the heads (or may).
    pub(crate) fn may_open(&self, start: &LineStart) -> bool {
        self.firsts & start.first_bit != 0
            && start.opens_with_any(
                self.head_firsts
                    .iter()
                    .copied()
                    .zip(self.pattern.opens.iter().copied()),
            )
    }
}

/// The first character of `head` as [`LineStart::first`] holds a line's:
/// its one byte and 0 (ASCII) or its two bytes (а..я); [`NO_FIRST`],
/// which no line has, for an empty head or one cut in a character.
const fn head_first(head: &str) -> [u8; 2] {
    match head.as_bytes() {
        [b0, ..] if b0.is_ascii() => [*b0, 0],
        [b0, b1, ..] => [*b0, *b1],
        _ => NO_FIRST,
    }
}

/// [`head_first`] of a head with no first character: 0xFF is no byte of
/// UTF-8.
const NO_FIRST: [u8; 2] = [0xFF, 0xFF];

/// The place of a character heads may open with in a set of them (see
/// [`FirstsPattern`]): ASCII from the blank to `~`, then а..я. `None` for
/// any other character.
const fn slot(c: char) -> Option<u32> {
    match c {
        ' '..='~' => Some(c as u32 - ' ' as u32),
        'а'..='я' => Some(c as u32 - 'а' as u32 + 95),
        _ => None,
    }
}

/// The start of a line as heads compare it, read once so that several
/// patterns can be tried on the line without each of them skipping its
/// blanks and lower-casing its first character again.
pub(crate) struct LineStart<'t> {
    /// The line after its leading blanks.
    text: &'t str,
    /// The UTF-8 bytes of the lower case of its first character (see
    /// [`lower`]; the second is 0 for an ASCII character), which the first
    /// bytes of a head are compared with.
    first: [u8; 2],
    /// What the first character says before any head is read.
    opening: Opening,
    /// The bit of that lowered character in a set of heads' first
    /// characters (see [`slot`]): none for a blank line or a character no
    /// head opens with, all for one that may fold to a letter.
    first_bit: u128,
}

/// What a line's first character says of the heads it may open with.
#[derive(Clone, Copy, PartialEq)]
enum Opening {
    /// The line is blank: it opens with no head.
    Blank,
    /// An ASCII or Cyrillic character: compare it with each head's first.
    Known,
    /// A character that case-insensitive matching may fold to a letter:
    /// the line may open with any head.
    Unknown,
}

impl<'t> LineStart<'t> {
    /// Reads the start of `line`.
    pub(crate) fn new(line: &'t str) -> Self {
        let text = skip_blanks(line);
        let (first, opening, first_bit) = match text.chars().next().map(lower) {
            None => ([0, 0], Opening::Blank, 0),
            Some(None) => ([0, 0], Opening::Unknown, u128::MAX),
            Some(Some(c)) => {
                let mut bytes = [0; 4];
                let encoded = c.encode_utf8(&mut bytes).as_bytes();
                // `lower` gives ASCII or a character of U+0400..U+04FF:
                // one or two bytes.
                let first = [encoded[0], encoded.get(1).copied().unwrap_or(0)];
                (first, Opening::Known, slot(c).map_or(0, |slot| 1 << slot))
            }
        };
        LineStart {
            text,
            first,
            opening,
            first_bit,
        }
    }

    /// The line after its leading blanks.
    pub(crate) fn text(&self) -> &'t str {
        self.text
    }

    /// Whether the line opens with one of `pattern`'s heads (or may: see
    /// [`lower`]).
    pub(crate) fn may_open(&self, pattern: &LinePattern) -> bool {
        self.opens_with_any(pattern.opens.iter().map(|&head| (head_first(head), head)))
    }

    /// Whether the line opens with one of `heads`, each given with its
    /// [`head_first`] (or may): a head is compared whole only when its
    /// first character is the line's.
    fn opens_with_any<'h>(&self, mut heads: impl Iterator<Item = ([u8; 2], &'h str)>) -> bool {
        match self.opening {
            Opening::Blank => false,
            Opening::Unknown => true,
            Opening::Known => {
                heads.any(|(first, head)| first == self.first && opens_with(self.text, head))
            }
        }
    }
}

/// `line` without its leading blanks, as `str::trim_start` gives it; a
/// line that opens with a byte no blank opens with (a letter, a digit, most
/// signs) is returned at once.
fn skip_blanks(line: &str) -> &str {
    match line.as_bytes().first() {
        // The first bytes of the blanks: ASCII ones, U+0085 and U+00A0
        // (0xC2), U+1680 (0xE1), U+2000..U+205F (0xE2), U+3000 (0xE3).
        Some(b'\t'..=b'\r' | b' ' | 0xC2 | 0xE1..=0xE3) => line.trim_start(),
        _ => line,
    }
}

/// A character of a line as it compares with a head (see
/// [`LinePattern::opens`]): upper-case A..Z and А..Я are the only
/// characters of ASCII and the Cyrillic block that fold to a letter of a
/// head. `None` for a character outside those blocks: case-insensitive
/// matching also takes a few rare characters (the Kelvin sign, the long s,
/// old Cyrillic letter forms) for letters, so the regex decides those.
const fn lower(c: char) -> Option<char> {
    match c {
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        // А..Я and а..я are 32 code points apart.
        'А'..='Я' => char::from_u32(c as u32 + 32),
        c if c.is_ascii() || matches!(c, '\u{400}'..='\u{4FF}') => Some(c),
        _ => None,
    }
}

/// Whether `line` starts with `head` (see [`LinePattern::opens`]), case
/// aside, or may (see [`lower`]).
fn opens_with(line: &str, head: &str) -> bool {
    let mut chars = line.chars();
    for h in head.chars() {
        let Some(c) = chars.next() else {
            return false;
        };
        if h == ' ' {
            if c.is_whitespace() {
                continue;
            }
            return false;
        }
        match lower(c) {
            Some(c) if c != h => return false,
            Some(_) => {}
            None => return true,
        }
    }
    true
}

/// Whether `text` starts with `word` (in lower case, ASCII and а..я; an
/// ASCII blank or sign in it stands for itself, as in a regex) as a
/// case-insensitive regex reads it: `None` when a character of `text` may
/// fold to a letter of `word` and only the regex can tell (see [`lower`]).
pub(crate) fn starts_with_word(text: &str, word: &str) -> Option<bool> {
    opens_with_chars(text.chars(), word.chars())
}

/// Whether `text` ends with `word` (in lower case, ASCII and а..я; an
/// ASCII sign in it stands for itself) as a case-insensitive regex reads
/// it: the mirror of [`starts_with_word`], `None` when only the regex can
/// tell.
pub(crate) fn ends_with_word(text: &str, word: &str) -> Option<bool> {
    opens_with_chars(text.chars().rev(), word.chars().rev())
}

/// Whether `chars` open with `word`'s characters as a case-insensitive
/// regex reads them, `None` when only the regex can tell: read forwards
/// for [`starts_with_word`], backwards for [`ends_with_word`].
fn opens_with_chars(
    mut chars: impl Iterator<Item = char>,
    word: impl Iterator<Item = char>,
) -> Option<bool> {
    for w in word {
        let Some(c) = chars.next() else {
            return Some(false);
        };
        match lower(c) {
            Some(c) if c != w => return Some(false),
            Some(_) => {}
            None => return None,
        }
    }
    Some(true)
}

/// The length of `words` at the start of `text`, one after another with
/// blanks (at least one) between them, as a case-insensitive regex reads
/// `word\s+word…`: `Some(None)` when they are not there, `None` when only
/// the regex can tell (see [`starts_with_word`]). A blank inside a word
/// stands for itself (a regex's literal blank).
pub(crate) fn phrase_at(text: &str, words: &[&str]) -> Option<Option<usize>> {
    let mut at = 0;
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            // A word opens with a letter: the blanks before it are all of
            // those the regex's `\s+` takes.
            let rest = &text[at..];
            let blanks = rest.len() - rest.trim_start().len();
            if blanks == 0 {
                return Some(None);
            }
            at += blanks;
        }
        if !starts_with_word(&text[at..], word)? {
            return Some(None);
        }
        // The characters matched are ASCII or а..я, the lower case of
        // characters of as many bytes: the word's own length in the text.
        at += word.len();
    }
    Some(Some(at))
}

/// Whether `c` is in a case-insensitive regex's class `[а-яёА-ЯЁa-zA-Z]`:
/// `None` for a character outside ASCII and the Cyrillic block, which the
/// class may take for a letter (see [`lower`]).
pub(crate) fn is_class_letter(c: char) -> Option<bool> {
    match c {
        'a'..='z' | 'A'..='Z' | 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё' => Some(true),
        c if c.is_ascii() || matches!(c, '\u{400}'..='\u{4FF}') => Some(false),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Holds that every line `pattern` matches passes its heads: see
    /// [`assert_covers`].
    pub(crate) fn assert_heads_cover(pattern: &LinePattern, lines: &[&str]) {
        assert_covers(&pattern.regex, |line| pattern.may_open(line), lines);
    }

    /// Holds that `may_match` lets through every line `regex` matches: each
    /// of `lines` (which must match), upper-cased, after blanks and before
    /// blanks (where it still matches), and with each of its first and last
    /// characters replaced by each of a wide set of characters (with old
    /// Cyrillic letter forms, the Kelvin sign and the long s, which
    /// case-insensitive matching folds to letters).
    pub(crate) fn assert_covers(regex: &Regex, may_match: impl Fn(&str) -> bool, lines: &[&str]) {
        let mut chars: Vec<char> = (' '..='~').chain('А'..='я').collect();
        chars.extend("ёЁ\t\u{a0}\u{2003}\u{212a}\u{17f}\u{1c80}\u{1c82}\u{1c83}\u{1c84}".chars());
        for line in lines {
            assert!(regex.is_match(line), "{line}");
            let upper = line.to_uppercase();
            let blanks = format!("  {line}");
            let blanks_after = format!("{line} \t");
            for line in [line, upper.as_str(), blanks.as_str(), blanks_after.as_str()] {
                assert!(!regex.is_match(line) || may_match(line), "{line}");
                let old: Vec<char> = line.chars().collect();
                let n = old.len();
                for at in (0..n.min(16)).chain(n.saturating_sub(16)..n) {
                    for &c in &chars {
                        let mut new = old.clone();
                        new[at] = c;
                        let new: String = new.into_iter().collect();
                        if regex.is_match(&new) {
                            assert!(may_match(&new), "{new}");
                        }
                    }
                }
            }
        }
    }

    /// Holds that every line `pattern`'s regex matches passes its look
    /// (see [`assert_covers`]), and that its set of first characters lets
    /// through every line its heads let through: each head with its first
    /// character replaced by any character.
    pub(crate) fn assert_firsts_cover(pattern: &FirstsPattern, lines: &[&str]) {
        let look = |line: &str| pattern.may_open(&LineStart::new(line));
        assert_covers(&pattern.pattern.regex, look, lines);
        for head in pattern.pattern.opens {
            let rest: String = head.chars().skip(1).collect();
            for c in (0..=0x10FFFF).filter_map(char::from_u32) {
                let line = format!("{c}{rest}");
                assert_eq!(look(&line), pattern.pattern.may_open(&line), "{line:?}");
            }
        }
    }

    #[test]
    fn firsts_are_the_heads_first_characters() {
        let p = FirstsPattern::new(&["с ", "re", "-- ", "*"], || {
            Regex::new(r"(?i)^\s*(?:с\s+уважением|re:|--\s+x|\*)").expect("valid regex")
        });
        assert!(p.may_open(&LineStart::new("  С\tуважением")));
        assert!(p.may_open(&LineStart::new("RE: x")));
        assert!(p.may_open(&LineStart::new("\u{1c83} уважением")));
        assert!(!p.may_open(&LineStart::new("Сегодня")));
        assert!(!p.may_open(&LineStart::new("--")));
        assert!(!p.may_open(&LineStart::new("")));
        assert!(!p.may_open(&LineStart::new("ёж")));
        assert_firsts_cover(&p, &["С уважением", "Re: x", "-- x", "*"]);
    }

    /// `skip_blanks` is `str::trim_start` for a line opening with any
    /// character.
    #[test]
    fn blanks_are_skipped_as_trim_start_skips_them() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            for line in [format!("{c}"), format!("{c}x"), format!("{c} {c}я")] {
                assert_eq!(skip_blanks(&line), line.trim_start(), "{c:?}");
            }
        }
        assert_eq!(skip_blanks(""), "");
    }

    #[test]
    fn heads_compare_case_aside() {
        let p = LinePattern {
            opens: &["с ", "re"],
            regex: LazyLock::new(|| {
                Regex::new(r"(?i)^\s*(?:с\s+уважением|re:)").expect("valid regex")
            }),
        };
        assert!(p.may_open("  С\tуважением"));
        assert!(p.may_open("RE: x"));
        assert!(!p.may_open("Сегодня"));
        assert!(!p.may_open(""));
        // A character outside ASCII and Cyrillic may fold to a letter.
        assert!(p.may_open("\u{1c83} уважением"));
        assert_heads_cover(&p, &["С уважением", "Re: x"]);
    }
}
