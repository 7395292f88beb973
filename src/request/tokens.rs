//! Words, numbers and punctuation of a text, each with its folded form
//! and its line: one pass over the characters that word-level matchers
//! read instead of running their own patterns over the text.

use std::borrow::Cow;

use super::{char_at, fold, is_letter, letter_len};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A run of letters (hyphens and digits split words).
    Word,
    /// A run of ASCII digits.
    Num,
    /// Any other visible character.
    Punct(char),
}

#[derive(Clone, Debug)]
pub(crate) struct Token<'a> {
    /// As written.
    pub(crate) text: &'a str,
    /// Lower case with ё → е; borrowed when the text already is.
    pub(crate) low: Cow<'a, str>,
    pub(crate) kind: Kind,
    /// Line number, from 0.
    pub(crate) line: u32,
    /// Byte offset in the text.
    pub(crate) start: usize,
}

/// The tokens of `text`, in order.
pub(crate) fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut out = Vec::with_capacity(text.len() / 5 + 1);
    let mut line = 0u32;
    // Read as bytes (see `letter_len`); `i` only ever steps over whole
    // characters.
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(c) = char_at(text, i) {
        let kind = if is_letter(c) {
            Kind::Word
        } else if c.is_ascii_digit() {
            Kind::Num
        } else if c == '\n' {
            line += 1;
            i += 1;
            continue;
        } else if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        } else {
            Kind::Punct(c)
        };
        let start = i;
        // Whether `fold` would leave the word as it is: every letter
        // ASCII lower case or а..я.
        let mut folded = true;
        match kind {
            Kind::Word => loop {
                let n = letter_len(text, i);
                if n == 0 {
                    break;
                }
                folded &= matches!(
                    b[i..i + n],
                    [b'a'..=b'z'] | [0xD0, 0xB0..=0xBF] | [0xD1, 0x80..=0x8F]
                );
                i += n;
            },
            Kind::Num => {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            Kind::Punct(c) => i += c.len_utf8(),
        }
        let text = &text[start..i];
        let low = if folded {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(fold(text))
        };
        out.push(Token {
            text,
            low,
            kind,
            line,
            start,
        });
    }
    out
}

/// Read access to a token list that answers "nothing" past its end.
#[derive(Clone, Copy)]
pub(crate) struct Tokens<'t, 'a>(pub(crate) &'t [Token<'a>]);

impl Tokens<'_, '_> {
    /// The folded word at `i`, or `""` when that is not a word.
    pub(crate) fn word(&self, i: usize) -> &str {
        match self.0.get(i) {
            Some(t) if t.kind == Kind::Word => &t.low,
            _ => "",
        }
    }

    /// The punctuation mark at `i`.
    pub(crate) fn punct(&self, i: usize) -> Option<char> {
        match self.0.get(i) {
            Some(Token {
                kind: Kind::Punct(c),
                ..
            }) => Some(*c),
            _ => None,
        }
    }

    /// The digits at `i`.
    pub(crate) fn num(&self, i: usize) -> Option<&str> {
        match self.0.get(i) {
            Some(t) if t.kind == Kind::Num => Some(t.text),
            _ => None,
        }
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
        i == 0 || self.0.get(i).map(|t| t.line) != self.0.get(i - 1).map(|t| t.line)
    }

    /// Whether a line ends after the token at `i` (or the text does).
    pub(crate) fn line_end(&self, i: usize) -> bool {
        match (self.0.get(i), self.0.get(i + 1)) {
            (Some(a), Some(b)) => b.line != a.line,
            _ => true,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the token at `i` follows the one before with no space
    /// between (`5А`, `(математика`, `Иванова:`).
    pub(crate) fn glued(&self, i: usize) -> bool {
        match (i.checked_sub(1).and_then(|p| self.0.get(p)), self.0.get(i)) {
            (Some(a), Some(b)) => a.start + a.text.len() == b.start,
            _ => false,
        }
    }

    /// The text from the token at `a` to the one before `b`, as written.
    pub(crate) fn span<'s>(&self, text: &'s str, a: usize, b: usize) -> &'s str {
        match (self.0.get(a), b.checked_sub(1).and_then(|l| self.0.get(l))) {
            (Some(x), Some(y)) if b > a => text.get(x.start..y.start + y.text.len()).unwrap_or(""),
            _ => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_numbers_marks_and_lines() {
        let text = "Я, мама Ёлкиной\nученицы 5-«А» (x2)";
        let toks = tokenize(text);
        let got: Vec<(&str, Kind, u32)> = toks.iter().map(|t| (&*t.low, t.kind, t.line)).collect();
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
        assert_eq!(toks[3].text, "Ёлкиной");
        let t = Tokens(&toks);
        assert_eq!(t.word(0), "я");
        assert_eq!(t.word(1), "");
        assert_eq!(t.word(99), "");
        assert_eq!(t.num(5), Some("5"));
        assert_eq!(t.skip(1, &[',']), 2);
        assert_eq!(t.skip(2, &[',']), 2);
        assert!(t.line_start(0) && t.line_start(4) && !t.line_start(5));
        assert!(t.line_end(3) && !t.line_end(4) && t.line_end(13));
        assert!(t.cyrillic(2) && !t.cyrillic(11));
        assert!(t.glued(1) && !t.glued(2) && t.glued(6) && !t.glued(10));
        assert_eq!(t.span(text, 5, 10), "5-«А»");
    }
}
