//! Words, numbers and punctuation of a text, each with its folded form
//! and its line: one pass over the bytes that word-level matchers read
//! instead of running their own patterns over the text.
//!
//! The pass folds the whole text (see [`fold`](super::fold)) into one
//! buffer as it goes, and a token is four offsets into the text and that
//! buffer: no allocation per word, and any run of tokens can be read
//! folded ([`Tokens::low_span`]) without folding it again.

use super::lexicon::key;
use super::{char_at, folds_to_itself, is_letter, is_russian_lower};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of letters (hyphens and digits split words).
    Word,
    /// A run of ASCII digits.
    Num,
    /// Any other visible character.
    Punct(char),
}

/// One token: where it is in the text and in the folded text.
#[derive(Clone, Copy, Debug)]
struct Token {
    /// Byte range in the text.
    start: u32,
    end: u32,
    /// Byte range of its folded form in [`Tokens::low`].
    low_start: u32,
    low_end: u32,
    kind: Kind,
    /// Line number, from 0.
    line: u32,
}

/// The tokens of a text, with read access that answers "nothing" past
/// their end.
pub(crate) struct Tokens<'a> {
    /// The text as written.
    text: &'a str,
    /// The whole text folded.
    low: String,
    toks: Vec<Token>,
}

/// The fold of the text being tokenised, built as the bytes are read: a
/// character that folds to itself is not copied one by one, but with the
/// run it belongs to when the next one that changes comes (or at the end).
struct Folder {
    low: String,
    /// The text before this byte is in `low`.
    copied: usize,
}

impl Folder {
    /// Where byte `i` of the text (not yet copied) lands in `low`.
    fn at(&self, i: usize) -> usize {
        self.low.len() + (i - self.copied)
    }

    /// The character `c` at byte `i` of `text` folds to `f`.
    fn replace(&mut self, text: &str, i: usize, c: char, f: char) {
        self.low.push_str(&text[self.copied..i]);
        self.low.push(f);
        self.copied = i + c.len_utf8();
    }

    /// The character `c` at byte `i` of `text`, which is neither ASCII nor
    /// а..я, folded as [`fold`](super::fold) does.
    fn other(&mut self, text: &str, i: usize, c: char) {
        if matches!(c, 'ё' | 'Ё') {
            self.replace(text, i, c, 'е');
        } else if !folds_to_itself(c) {
            self.low.push_str(&text[self.copied..i]);
            self.low.extend(c.to_lowercase());
            self.copied = i + c.len_utf8();
        }
    }
}

/// The tokens of `text`, in order. (Offsets are 32-bit: a text over
/// 4 GiB is read up to there; `understand` caps texts far below that.)
pub(crate) fn tokenize(text: &str) -> Tokens<'_> {
    let text = &text[..text.floor_char_boundary(u32::MAX as usize)];
    let mut toks = Vec::with_capacity(text.len() / 5 + 1);
    let mut f = Folder {
        low: String::with_capacity(text.len() + 16),
        copied: 0,
    };
    let mut line = 0u32;
    // Read as bytes; `i` only ever steps over whole characters, and ASCII
    // and the Russian alphabet (lead byte 0xD0 or 0xD1) are told and
    // folded by their bytes.
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&x) = b.get(i) {
        let kind = match x {
            b'\n' => {
                line += 1;
                i += 1;
                continue;
            }
            b'\t' | 0x0B | 0x0C | b'\r' | b' ' => {
                i += 1;
                continue;
            }
            b'0'..=b'9' => Kind::Num,
            // Every character with lead byte 0xD0 or 0xD1 (U+0400..U+047F)
            // is a letter.
            b'a'..=b'z' | b'A'..=b'Z' | 0xD0 | 0xD1 => Kind::Word,
            0..=0x7F => Kind::Punct(char::from(x)),
            _ => {
                // Invariant: `i` is a character boundary below the end.
                let c = char_at(text, i).unwrap_or(' ');
                if is_letter(c) {
                    Kind::Word
                } else if c.is_whitespace() {
                    i += c.len_utf8();
                    continue;
                } else {
                    Kind::Punct(c)
                }
            }
        };
        let start = i;
        let low_start = f.at(start);
        match kind {
            Kind::Word => i = word_end(text, i, &mut f),
            Kind::Num => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            Kind::Punct(c) => {
                if !c.is_ascii() {
                    f.other(text, i, c);
                }
                i += c.len_utf8();
            }
        }
        toks.push(Token {
            start: start as u32,
            end: i as u32,
            low_start: low_start as u32,
            low_end: f.at(i) as u32,
            kind,
            line,
        });
    }
    f.low.push_str(&text[f.copied..]);
    Tokens {
        text,
        low: f.low,
        toks,
    }
}

/// The end of the word that starts at byte `i` of `text`, its letters
/// folded into `f` on the way.
fn word_end(text: &str, mut i: usize, f: &mut Folder) -> usize {
    let b = text.as_bytes();
    loop {
        let x = b.get(i).copied().unwrap_or(0);
        let y = b.get(i + 1).copied().unwrap_or(0);
        // а..я: as they are (most letters).
        if is_russian_lower(x, y) {
            i += 2;
            continue;
        }
        match (x, y) {
            (b'a'..=b'z', _) => i += 1,
            (b'A'..=b'Z', _) => {
                f.replace(text, i, char::from(x), char::from(x + 32));
                i += 1;
            }
            // А..Я → а..я: U+0410.. → U+0430..
            (0xD0, 0x90..=0xAF) => {
                let up = char::from_u32(0x410 + u32::from(y - 0x90)).unwrap_or(' ');
                let low = char::from_u32(0x430 + u32::from(y - 0x90)).unwrap_or(' ');
                f.replace(text, i, up, low);
                i += 2;
            }
            _ if x >= 0x80 => {
                // Invariant: `i` is a character boundary below the end.
                let c = char_at(text, i).unwrap_or(' ');
                if !is_letter(c) {
                    return i;
                }
                f.other(text, i, c);
                i += c.len_utf8();
            }
            _ => return i,
        }
    }
}

/// The last eight bytes of `w` as a little-endian number (the last byte
/// highest), zeros above a shorter word: [`key`] from the other end.
#[cold]
#[inline(never)]
pub(crate) fn tail_key(w: &str) -> u64 {
    w.bytes()
        .rev()
        .take(8)
        .fold(0, |k, x| k << 8 | u64::from(x))
}

impl<'a> Tokens<'a> {
    fn get(&self, i: usize) -> Option<&Token> {
        self.toks.get(i)
    }

    /// The number of tokens.
    /// The whole text folded (as [`fold`](super::fold) would fold it).
    pub(crate) fn folded(&self) -> &str {
        &self.low
    }

    pub(crate) fn len(&self) -> usize {
        self.toks.len()
    }

    /// The token at `i` as written, or `""` past the end.
    pub(crate) fn written(&self, i: usize) -> &'a str {
        self.get(i)
            .and_then(|t| self.text.get(t.start as usize..t.end as usize))
            .unwrap_or("")
    }

    /// The kind of the token at `i`.
    pub(crate) fn kind(&self, i: usize) -> Option<Kind> {
        self.get(i).map(|t| t.kind)
    }

    /// Whether the token at `i` is a word.
    pub(crate) fn is_word(&self, i: usize) -> bool {
        matches!(self.kind(i), Some(Kind::Word))
    }

    /// The line of the token at `i`.
    pub(crate) fn line(&self, i: usize) -> Option<u32> {
        self.get(i).map(|t| t.line)
    }

    /// The folded word at `i`, or `""` when that is not a word.
    pub(crate) fn word(&self, i: usize) -> &str {
        match self.get(i) {
            Some(t) if matches!(t.kind, Kind::Word) => self
                .low
                .get(t.low_start as usize..t.low_end as usize)
                .unwrap_or(""),
            _ => "",
        }
    }

    /// The folded word at `i` with its [`key`] and [`tail_key`], or
    /// `None` when that is not a word. The keys are read from the folded
    /// text eight bytes at a time (the bytes around the word masked off),
    /// not byte by byte: word tables look a word up by them.
    pub(crate) fn word_keys(&self, i: usize) -> Option<(&str, u64, u64)> {
        let t = self.get(i).filter(|t| t.kind == Kind::Word)?;
        let (a, b) = (t.low_start as usize, t.low_end as usize);
        let w = self.low.get(a..b)?;
        let low = self.low.as_bytes();
        // The bits of the eight bytes that lie outside a shorter word (a
        // word has a letter, so this is at most 56).
        let outside = 8usize.saturating_sub(w.len()) * 8;
        let head = match low.get(a..).and_then(|r| r.first_chunk::<8>()) {
            Some(c) => u64::from_le_bytes(*c) & (u64::MAX >> outside),
            None => key(w.as_bytes()),
        };
        let tail = match low.get(..b).and_then(|r| r.last_chunk::<8>()) {
            Some(c) => u64::from_le_bytes(*c) >> outside,
            None => tail_key(w),
        };
        Some((w, head, tail))
    }

    /// The punctuation mark at `i`.
    pub(crate) fn punct(&self, i: usize) -> Option<char> {
        match self.kind(i) {
            Some(Kind::Punct(c)) => Some(c),
            _ => None,
        }
    }

    /// The digits at `i`.
    pub(crate) fn num(&self, i: usize) -> Option<&'a str> {
        matches!(self.kind(i), Some(Kind::Num)).then(|| self.written(i))
    }

    /// `i + 1` when the token at `i` is one of the marks `set`, else `i`:
    /// an optional separator.
    pub(crate) fn skip(&self, i: usize, set: &[char]) -> usize {
        match self.punct(i) {
            Some(c) if set.contains(&c) => i + 1,
            _ => i,
        }
    }

    /// A word of Cyrillic lower-case letters only (folded).
    pub(crate) fn cyrillic(&self, i: usize) -> bool {
        let w = self.word(i);
        !w.is_empty() && w.chars().all(|c| ('а'..='я').contains(&c))
    }

    /// Whether the token at `i` starts a line.
    pub(crate) fn line_start(&self, i: usize) -> bool {
        i == 0 || self.line(i) != self.line(i - 1)
    }

    /// Whether a line ends after the token at `i` (or the text does).
    pub(crate) fn line_end(&self, i: usize) -> bool {
        match (self.get(i), self.get(i + 1)) {
            (Some(a), Some(b)) => b.line != a.line,
            _ => true,
        }
    }

    /// Whether the token at `i` follows the one before with no space
    /// between (`5А`, `(математика`, `Иванова:`).
    pub(crate) fn glued(&self, i: usize) -> bool {
        match (i.checked_sub(1).and_then(|p| self.get(p)), self.get(i)) {
            (Some(a), Some(b)) => a.end == b.start,
            _ => false,
        }
    }

    /// The text from the token at `a` to the one before `b`, folded.
    pub(crate) fn low_span(&self, a: usize, b: usize) -> &str {
        match (self.get(a), b.checked_sub(1).and_then(|l| self.get(l))) {
            (Some(x), Some(y)) if b > a => self
                .low
                .get(x.low_start as usize..y.low_end as usize)
                .unwrap_or(""),
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fold;
    use super::*;

    #[test]
    fn words_numbers_marks_and_lines() {
        let text = "Я, мама Ёлкиной\nученицы 5-«А» (x2)";
        let t = tokenize(text);
        let got: Vec<(&str, Kind, u32)> = (0..t.len())
            .map(|i| {
                let k = t.kind(i).unwrap();
                let w = if k == Kind::Word {
                    t.word(i)
                } else {
                    t.written(i)
                };
                (w, k, t.line(i).unwrap())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("я", Kind::Word, 0),
                (",", Kind::Punct(','), 0),
                ("мама", Kind::Word, 0),
                ("елкиной", Kind::Word, 0),
                ("ученицы", Kind::Word, 1),
                ("5", Kind::Num, 1),
                ("-", Kind::Punct('-'), 1),
                ("«", Kind::Punct('«'), 1),
                ("а", Kind::Word, 1),
                ("»", Kind::Punct('»'), 1),
                ("(", Kind::Punct('('), 1),
                ("x", Kind::Word, 1),
                ("2", Kind::Num, 1),
                (")", Kind::Punct(')'), 1),
            ]
        );
        assert_eq!(t.written(3), "Ёлкиной");
        assert_eq!(t.word(0), "я");
        assert_eq!(t.word(1), "");
        assert_eq!(t.word(99), "");
        assert_eq!(t.written(99), "");
        assert_eq!(t.num(5), Some("5"));
        assert_eq!(t.skip(1, &[',']), 2);
        assert_eq!(t.skip(2, &[',']), 2);
        assert!(t.line_start(0) && t.line_start(4) && !t.line_start(5));
        assert!(t.line_end(3) && !t.line_end(4) && t.line_end(13));
        assert!(t.cyrillic(2) && !t.cyrillic(11));
        assert!(t.glued(1) && !t.glued(2) && t.glued(6) && !t.glued(10));
        assert_eq!(t.low_span(5, 10), "5-«а»");
        assert_eq!(t.low_span(10, 5), "");
    }

    /// The keys are the word's first and last eight bytes, whether the
    /// text around it is long enough to read eight bytes at once or not.
    #[test]
    fn word_keys_are_the_ends_of_the_word() {
        assert_eq!(key(b"ab"), 0x6261);
        assert_eq!(tail_key("ab"), 0x6261);
        assert_eq!(key(b"abcdefghij"), u64::from_le_bytes(*b"abcdefgh"));
        assert_eq!(tail_key("abcdefghij"), u64::from_le_bytes(*b"cdefghij"));
        for text in [
            "я",
            "Я мама",
            "мама",
            "Прабабушка, я\nx",
            "a bcdefghij k",
            "ПАПА!",
        ] {
            let t = tokenize(text);
            for i in 0..t.len() {
                let w = t.word(i);
                let want = t.is_word(i).then(|| (w, key(w.as_bytes()), tail_key(w)));
                assert_eq!(t.word_keys(i), want, "{text:?} {i}");
            }
        }
    }

    #[test]
    fn folds_as_fold_does() {
        let chars = (0..0x1_0000u32)
            .chain([0x1_0400, 0x1_0428, 0x1_E900, 0x1_F600])
            .filter_map(char::from_u32);
        for c in chars {
            for text in [
                c.to_string(),
                format!("Ёж{c}Мама, {c}x ПАПА{c}\n{c}5 ё"),
                format!("{c}{c}Я"),
            ] {
                let t = tokenize(&text);
                assert_eq!(t.folded(), fold(&text), "{c:?} {text:?}");
                for i in 0..t.len() {
                    assert_eq!(t.low_span(i, i + 1), fold(t.written(i)), "{c:?} {i}");
                    if t.is_word(i) {
                        assert_eq!(t.word(i), fold(t.written(i)), "{c:?} {i}");
                        let w = t.word(i);
                        let keys = Some((w, key(w.as_bytes()), tail_key(w)));
                        assert_eq!(t.word_keys(i), keys, "{c:?} {i}");
                    } else {
                        assert_eq!(t.word_keys(i), None, "{c:?} {i}");
                    }
                }
                let got: Vec<_> = (0..t.len())
                    .map(|i| {
                        let tok = t.toks[i];
                        let at = (tok.start as usize, tok.end as usize);
                        (at, t.low_span(i, i + 1).to_string(), tok.kind, tok.line)
                    })
                    .collect();
                assert_eq!(got, by_chars(&text), "{c:?} {text:?}");
            }
        }
    }

    /// The tokens of `text` by the definition, character by character:
    /// (byte range, folded, kind, line).
    fn by_chars(text: &str) -> Vec<((usize, usize), String, Kind, u32)> {
        let mut out = Vec::new();
        let mut line = 0;
        let mut cs = text.char_indices().peekable();
        while let Some((i, c)) = cs.next() {
            let kind = if is_letter(c) {
                Kind::Word
            } else if c.is_ascii_digit() {
                Kind::Num
            } else if c == '\n' {
                line += 1;
                continue;
            } else if c.is_whitespace() {
                continue;
            } else {
                Kind::Punct(c)
            };
            let same = |d: char| match kind {
                Kind::Word => is_letter(d),
                Kind::Num => d.is_ascii_digit(),
                Kind::Punct(_) => false,
            };
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = cs.peek()
                && same(d)
            {
                end = j + d.len_utf8();
                cs.next();
            }
            out.push(((i, end), fold(&text[i..end]), kind, line));
        }
        out
    }
}
