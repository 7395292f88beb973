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
        let line = line.trim_start();
        let Some(first) = line.chars().next() else {
            return false;
        };
        let Some(first) = lower(first) else {
            return true;
        };
        // The first characters compared as chars: `str::starts_with` would
        // call `memcmp` for a byte or two.
        self.opens
            .iter()
            .any(|head| head.chars().next().is_some_and(|h| h == first) && opens_with(line, head))
    }
}

/// A character of a line as it compares with a head (see
/// [`LinePattern::opens`]): upper-case A..Z and А..Я are the only
/// characters of ASCII and the Cyrillic block that fold to a letter of a
/// head. `None` for a character outside those blocks: case-insensitive
/// matching also takes a few rare characters (the Kelvin sign, the long s,
/// old Cyrillic letter forms) for letters, so the regex decides those.
fn lower(c: char) -> Option<char> {
    match c {
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        // А..Я and а..я are 32 code points apart.
        'А'..='Я' => char::from_u32(c as u32 + 32),
        c if c.is_ascii() || ('\u{400}'..='\u{4FF}').contains(&c) => Some(c),
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Holds that every line `pattern` matches passes its heads: each of
    /// `lines` (which must match), upper-cased and after blanks (where it
    /// still matches), and with each of its first characters replaced by
    /// each of a wide set of characters (with old Cyrillic letter forms,
    /// the Kelvin sign and the long s, which case-insensitive matching
    /// folds to letters).
    pub(crate) fn assert_heads_cover(pattern: &LinePattern, lines: &[&str]) {
        let mut chars: Vec<char> = (' '..='~').chain('А'..='я').collect();
        chars.extend("ёЁ\t\u{a0}\u{2003}\u{212a}\u{17f}\u{1c80}\u{1c82}\u{1c83}\u{1c84}".chars());
        for line in lines {
            assert!(pattern.regex.is_match(line), "{line}");
            let upper = line.to_uppercase();
            let blanks = format!("  {line}");
            for line in [line, upper.as_str(), blanks.as_str()] {
                assert!(
                    !pattern.regex.is_match(line) || pattern.may_open(line),
                    "{line}"
                );
                let old: Vec<char> = line.chars().collect();
                for at in 0..old.len().min(16) {
                    for &c in &chars {
                        let mut new = old.clone();
                        new[at] = c;
                        let new: String = new.into_iter().collect();
                        if pattern.regex.is_match(&new) {
                            assert!(pattern.may_open(&new), "{new}");
                        }
                    }
                }
            }
        }
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
