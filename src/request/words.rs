//! Words: the one tokenizer every step reads a text with, the fold it
//! compares words in, and the word lists (`lexicon/*.txt`, one entry a line,
//! `#` starts a comment), embedded at build time.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

/// Lower case, `ё` as `е`: how words are compared.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Letters, with inner hyphens or apostrophes (`Петрова-Водкина`, `д'Артаньян`).
    Word,
    /// Digits.
    Number,
    /// Any other character that is not a space.
    Mark,
}

/// One token of a text.
#[derive(Clone, Debug)]
pub struct Token<'t> {
    /// As written.
    pub text: &'t str,
    /// Folded (see [`fold`]).
    pub folded: String,
    pub kind: Kind,
    /// Byte offsets in the text.
    pub start: usize,
    pub end: usize,
}

impl Token<'_> {
    pub fn is_word(&self) -> bool {
        self.kind == Kind::Word
    }

    pub fn is(&self, mark: &str) -> bool {
        self.text == mark
    }

    /// Written with a capital first letter.
    pub fn is_capitalised(&self) -> bool {
        self.text.chars().next().is_some_and(char::is_uppercase)
    }
}

static TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\p{L}[\p{L}\p{M}]*(?:[-'’]\p{L}[\p{L}\p{M}]*)*)|(\d+)|(\S)").expect("token regex")
});

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> Vec<Token<'_>> {
    TOKEN
        .captures_iter(text)
        .map(|c| {
            let (m, kind) = match (c.get(1), c.get(2), c.get(3)) {
                (Some(m), _, _) => (m, Kind::Word),
                (_, Some(m), _) => (m, Kind::Number),
                (_, _, Some(m)) => (m, Kind::Mark),
                _ => unreachable!("one group of the token regex matches"),
            };
            Token {
                text: m.as_str(),
                folded: fold(m.as_str()),
                kind,
                start: m.start(),
                end: m.end(),
            }
        })
        .collect()
}

/// The folded words of a text (marks and numbers left out).
pub fn folded_words(text: &str) -> Vec<String> {
    tokens(text)
        .into_iter()
        .filter(|t| t.is_word())
        .map(|t| t.folded)
        .collect()
}

/// The entries of a word list: one a line, `#` to the end of a line is a
/// comment, blank lines skipped, entries folded.
pub fn entries(list: &str) -> Vec<String> {
    list.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(fold)
        .collect()
}

/// A word list as a set.
pub fn set(list: &str) -> HashSet<String> {
    entries(list).into_iter().collect()
}

/// A word list of phrases (several words an entry), each as its folded words.
pub fn phrases(list: &str) -> Vec<Vec<String>> {
    entries(list).iter().map(|e| folded_words(e)).collect()
}

/// Whether `words` hold `phrase` at `at`.
pub fn phrase_at(words: &[String], at: usize, phrase: &[String]) -> bool {
    !phrase.is_empty()
        && words.len() >= at + phrase.len()
        && words[at..at + phrase.len()] == *phrase
}

/// Whether `words` hold any of `phrases` anywhere.
pub fn has_phrase(words: &[String], phrases: &[Vec<String>]) -> bool {
    (0..words.len()).any(|i| phrases.iter().any(|p| phrase_at(words, i, p)))
}

/// A word list, embedded from `lexicon/NAME.txt` and read once.
macro_rules! word_set {
    ($name:ident, $file:literal) => {
        pub static $name: std::sync::LazyLock<std::collections::HashSet<String>> =
            std::sync::LazyLock::new(|| {
                $crate::request::words::set(include_str!(concat!("lexicon/", $file, ".txt")))
            });
    };
}

/// A phrase list, embedded from `lexicon/NAME.txt` and read once.
macro_rules! phrase_list {
    ($name:ident, $file:literal) => {
        pub static $name: std::sync::LazyLock<Vec<Vec<String>>> = std::sync::LazyLock::new(|| {
            $crate::request::words::phrases(include_str!(concat!("lexicon/", $file, ".txt")))
        });
    };
}

pub(crate) use phrase_list;
pub(crate) use word_set;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_offsets_and_hyphenated_words() {
        let t = tokens("Петрова-Водкина Ё., 5«А»!");
        let texts: Vec<&str> = t.iter().map(|t| t.text).collect();
        assert_eq!(
            texts,
            ["Петрова-Водкина", "Ё", ".", ",", "5", "«", "А", "»", "!"]
        );
        assert_eq!(t[1].folded, "е");
        assert_eq!(t[4].kind, Kind::Number);
        assert_eq!(&"Петрова-Водкина Ё., 5«А»!"[t[6].start..t[6].end], "А");
    }

    #[test]
    fn lists_skip_comments_and_fold() {
        let e = entries("# a comment\nЁлка  # why\n\n  Мама Папа\n");
        assert_eq!(e, ["елка", "мама папа"]);
        let p = phrases("с уважением\n");
        let w = folded_words("Всего доброго, с уважением, Анна");
        assert!(has_phrase(&w, &p));
        assert!(!has_phrase(&folded_words("уважением с"), &p));
    }
}
