//! The writer's full name: a surname with a first name (and a patronymic),
//! or a surname with two initials, in the nominative.
//!
//! Names are told by the morphological dictionary ([`super::morph`]: first
//! names, surnames and patronymics with their case), by capitalised words
//! with a surname's ending (`lexicon/surname-endings.txt`) and by initials.
//! Whose name it is comes from what stands before it: a child word («за сына
//! Лебедева Ивана», `lexicon/child-words.txt`) makes it someone else's, a
//! self-introduction («меня зовут», «мне, Сидоровой Анне»,
//! `lexicon/self-intros.txt`) or the signature the writer's, and a name in an
//! oblique case is the writer's only after such an introduction. The From
//! display name is the writer's unless it names the child the letter is about;
//! a Latin one is read back into Cyrillic (`lexicon/translit.txt`) and must
//! hold a known first name.

use std::collections::HashMap;
use std::sync::LazyLock;

use super::morph::{self, Reading};
use super::words::{self, Token, phrase_at, tokens};
use super::{Parts, Role};

words::word_set!(NOT_NAMES, "not-names");
words::word_set!(CHILD_WORDS, "child-words");
words::phrase_list!(SELF_INTROS, "self-intros");
static SURNAME_ENDINGS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/surname-endings.txt")));
static TRANSLIT: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    words::entries(include_str!("lexicon/translit.txt"))
        .iter()
        .filter_map(|e| {
            e.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.trim().to_string()))
        })
        .collect()
});

/// The cases a name can stand in.
const CASES: [&str; 6] = ["nomn", "gent", "datv", "accs", "ablt", "loct"];

/// What one word of a name is.
#[derive(Clone, Debug, PartialEq)]
enum Part {
    First,
    Patronymic,
    Surname,
    /// `И.` — one capital letter.
    Initial(char),
}

/// One word of a name as found, with the cases it may stand in.
#[derive(Clone, Debug)]
struct Word {
    text: String,
    part: Part,
    cases: Vec<&'static str>,
    readings: Vec<Reading>,
}

/// A run of name words in a text.
#[derive(Clone, Debug)]
struct Found {
    words: Vec<Word>,
    /// Token index where it starts and ends (exclusive).
    start: usize,
    end: usize,
}

impl Found {
    fn has(&self, p: fn(&Part) -> bool) -> usize {
        self.words.iter().filter(|w| p(&w.part)).count()
    }

    /// A full name by the regulation's rule.
    fn is_full(&self) -> bool {
        let surnames = self.has(|p| *p == Part::Surname);
        let firsts = self.has(|p| *p == Part::First);
        let initials = self.has(|p| matches!(p, Part::Initial(_)));
        surnames >= 1 && (firsts >= 1 || initials >= 2)
    }

    /// The cases every word may stand in.
    fn cases(&self) -> Vec<&'static str> {
        CASES
            .iter()
            .copied()
            .filter(|c| {
                self.words
                    .iter()
                    .all(|w| matches!(w.part, Part::Initial(_)) || w.cases.contains(c))
            })
            .collect()
    }

    fn surname(&self) -> Option<String> {
        self.words
            .iter()
            .find(|w| w.part == Part::Surname)
            .map(|w| words::fold(&w.text))
    }

    /// How complete: words that are not initials count most.
    fn weight(&self) -> usize {
        self.words
            .iter()
            .map(|w| {
                if matches!(w.part, Part::Initial(_)) {
                    1
                } else {
                    3
                }
            })
            .sum()
    }

    /// The name as written, in the nominative, each word capitalised.
    fn nominative(&self) -> String {
        let nominative = self.cases().contains(&"nomn");
        let feminine = self.words.iter().any(|w| {
            w.readings
                .iter()
                .any(|r| r.has("femn") && (r.has("Name") || r.has("Patr")))
        }) && !self.words.iter().any(|w| {
            w.part == Part::First && w.readings.iter().any(|r| r.has("masc") && r.has("Name"))
        });
        let mut out: Vec<String> = Vec::new();
        let mut initials = String::new();
        for w in &self.words {
            if let Part::Initial(c) = w.part {
                initials.push(c);
                initials.push('.');
                continue;
            }
            let text = if nominative {
                w.text.clone()
            } else {
                let want = if feminine { "nomn,femn" } else { "nomn,masc" };
                let tag = match w.part {
                    Part::First => "Name",
                    Part::Patronymic => "Patr",
                    _ => "Surn",
                };
                w.readings
                    .iter()
                    .filter(|r| r.has(tag) && !r.has("nomn"))
                    .find_map(|r| r.inflected(want).or_else(|| r.inflected("nomn")))
                    .unwrap_or_else(|| w.text.clone())
            };
            out.push(capitalised(&text));
        }
        if !initials.is_empty() {
            out.push(initials);
        }
        out.join(" ")
    }
}

fn capitalised(s: &str) -> String {
    let lower = words::fold(s);
    let mut out = String::new();
    let mut up = true;
    for c in lower.chars() {
        if up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = c == '-';
    }
    out
}

/// The name readings of a word, parsed once per letter.
struct Reader {
    cache: HashMap<String, Vec<Reading>>,
}

impl Reader {
    fn new() -> Self {
        Reader {
            cache: HashMap::new(),
        }
    }

    fn readings(&mut self, folded: &str) -> Vec<Reading> {
        self.cache
            .entry(folded.to_string())
            .or_insert_with(|| morph::parse(folded))
            .clone()
    }

    /// What the token can be in a name, if anything.
    fn word(&mut self, t: &Token<'_>, next: Option<&Token<'_>>) -> Option<Word> {
        if !t.is_word() || NOT_NAMES.contains(&t.folded) {
            return None;
        }
        let one_letter = t.text.chars().count() == 1;
        if one_letter {
            let c = t.text.chars().next()?;
            let dotted = next.is_some_and(|n| n.is(".") && n.start == t.end);
            return (c.is_uppercase() && dotted).then(|| Word {
                text: t.text.to_string(),
                part: Part::Initial(c),
                cases: Vec::new(),
                readings: Vec::new(),
            });
        }
        let mut readings = self.readings(&t.folded);
        // An indeclinable foreign name («Анне», Finnish) only when the word
        // has no other reading as a name: «Анне» is Анна's dative.
        let declinable =
            |r: &Reading| !r.has("Fixd") && (r.has("Name") || r.has("Surn") || r.has("Patr"));
        if readings.iter().any(declinable) {
            readings.retain(|r| !r.has("Fixd"));
        }
        let tagged = |tag: &str| -> Vec<&'static str> {
            CASES
                .iter()
                .copied()
                .filter(|c| readings.iter().any(|r| r.has(tag) && r.has(c)))
                .collect()
        };
        // The part of the likeliest reading that is a name's: «Петров» is a
        // surname before it is the genitive plural of «Пётр».
        let tag_of = |r: &Reading| ["Patr", "Name", "Surn"].into_iter().find(|g| r.has(g));
        if let Some(tag) = readings.iter().find_map(tag_of) {
            // A lower-case word is a name only when the dictionary's likeliest
            // reading says so («вера» in a sentence is faith).
            let likeliest = readings.first().and_then(tag_of) == Some(tag);
            if t.is_capitalised() || likeliest {
                let part = match tag {
                    "Patr" => Part::Patronymic,
                    "Name" => Part::First,
                    _ => Part::Surname,
                };
                return Some(Word {
                    text: t.text.to_string(),
                    part,
                    cases: tagged(tag),
                    readings,
                });
            }
        }
        let cap = t.is_capitalised()
            && t.text.chars().skip(1).all(char::is_lowercase)
            && t.text.chars().count() >= 3;
        if cap
            && SURNAME_ENDINGS
                .iter()
                .any(|e| t.folded.ends_with(e.as_str()))
        {
            return Some(Word {
                text: t.text.to_string(),
                part: Part::Surname,
                cases: CASES.to_vec(),
                readings,
            });
        }
        None
    }
}

/// Runs of name words in a text (two words at least).
fn runs(reader: &mut Reader, text: &str, t: &[Token<'_>]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let mut words = Vec::new();
        let mut j = i;
        while j < t.len() && words.len() < 4 {
            // Words of one name stand on one line, with spaces or initials' dots.
            if j > i && !on_one_line(text, &t[j - 1], &t[j]) {
                break;
            }
            match reader.word(&t[j], t.get(j + 1)) {
                Some(w) => {
                    let initial = matches!(w.part, Part::Initial(_));
                    words.push(w);
                    j += if initial { 2 } else { 1 };
                }
                None => break,
            }
        }
        if words.len() >= 2 {
            let found = Found {
                words,
                start: i,
                end: j,
            };
            if found.is_full() || found.has(|p| *p == Part::Surname) > 0 {
                i = j;
                out.push(found);
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Whether only a few spaces (no line break) stand between two tokens.
fn on_one_line(text: &str, a: &Token<'_>, b: &Token<'_>) -> bool {
    let gap = text.get(a.end..b.start).unwrap_or("\n");
    gap.len() <= 3 && gap.chars().all(|c| c == ' ' || c == '\t')
}

/// Who a run of name words is, by what stands before it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Whose {
    Writer,
    Other,
    Unknown,
}

fn whose(t: &[Token<'_>], found: &Found) -> Whose {
    let before: Vec<String> = t[found.start.saturating_sub(4)..found.start]
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.folded.clone())
        .collect();
    if before.last().is_some_and(|w| CHILD_WORDS.contains(w))
        || before.len() >= 2
            && CHILD_WORDS.contains(&before[before.len() - 2])
            && before.last().is_some_and(|w| {
                w == "моего"
                    || w == "моей"
                    || w == "мой"
                    || w == "моя"
                    || w == "нашего"
                    || w == "нашей"
            })
    {
        return Whose::Other;
    }
    for n in 1..=before.len() {
        let at = before.len() - n;
        if SELF_INTROS
            .iter()
            .any(|p| p.len() == n && phrase_at(&before, at, p))
        {
            return Whose::Writer;
        }
    }
    Whose::Unknown
}

/// A Latin name read back into Cyrillic, letter group by letter group.
fn cyrillic(latin: &str) -> String {
    let lower = latin.to_lowercase();
    let mut out = String::new();
    let mut rest = lower.as_str();
    'outer: while !rest.is_empty() {
        for (from, to) in TRANSLIT.iter() {
            if let Some(r) = rest.strip_prefix(from.as_str()) {
                out.push_str(to);
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The writer's name from the From display name, if it is a full name.
fn from_display(reader: &mut Reader, display: &str) -> Option<Found> {
    let latin = display.chars().any(|c| c.is_ascii_alphabetic())
        && !display
            .chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
    let text = if latin {
        display
            .split_whitespace()
            .map(|w| capitalised(&cyrillic(w)))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        display.to_string()
    };
    let t = tokens(&text);
    let found = runs(reader, &text, &t).into_iter().find(Found::is_full)?;
    if latin && found.has(|p| *p == Part::First) == 0 {
        return None;
    }
    Some(found)
}

/// The writer's full name, or `None`.
pub fn find(parts: &Parts, display: Option<&str>, role: Option<Role>) -> Option<String> {
    let mut reader = Reader::new();
    let mut writer: Vec<(Found, u8)> = Vec::new();
    let mut others: Vec<Found> = Vec::new();
    for (text, in_signature) in [(&parts.new, false), (&parts.signature, true)] {
        let t = tokens(text);
        for found in runs(&mut reader, text, &t) {
            let nominative = found.cases().contains(&"nomn");
            match whose(&t, &found) {
                Whose::Other => others.push(found),
                Whose::Writer => writer.push((found, 3)),
                Whose::Unknown if !nominative => others.push(found),
                Whose::Unknown if in_signature => writer.push((found, 3)),
                // A name in the nominative that nothing introduces: the
                // writer's when a student or staff writes, or at a line's
                // start; a parent's letter names the child so too.
                Whose::Unknown => {
                    let before = text[..t[found.start].start].trim_end_matches([' ', '\t']);
                    let line_start = before.is_empty() || before.ends_with('\n');
                    let rank = if role == Some(Role::Parent) { 1 } else { 2 };
                    writer.push((found, if line_start { rank + 1 } else { rank }));
                }
            }
        }
    }
    let same = |a: &Found, b: &Found| a.surname().is_some() && a.surname() == b.surname();
    if let Some(d) = display.and_then(|d| from_display(&mut reader, d))
        && !others.iter().any(|o| {
            same(o, &d)
                && o.has(|p| *p == Part::First) > 0
                && d.has(|p| *p == Part::First) > 0
                && first_names_agree(o, &d)
        })
    {
        writer.push((d, 2));
    }
    writer.retain(|(f, _)| f.is_full());
    // The best-ranked name; then the most complete spelling of that person.
    let best = writer
        .iter()
        .max_by_key(|(f, r)| (*r, f.weight()))?
        .0
        .clone();
    let fullest = writer
        .iter()
        .filter(|(f, _)| same(f, &best))
        .max_by_key(|(f, _)| f.weight())
        .map(|(f, _)| f.clone())
        .unwrap_or(best);
    Some(fullest.nominative())
}

/// Whether two runs give the same first name (by lemma).
fn first_names_agree(a: &Found, b: &Found) -> bool {
    let lemma = |f: &Found| {
        f.words
            .iter()
            .find(|w| w.part == Part::First)
            .and_then(|w| {
                w.readings
                    .iter()
                    .find(|r| r.has("Name"))
                    .map(|r| r.lemma.clone())
            })
    };
    lemma(a).is_some() && lemma(a) == lemma(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(new: &str, sig: &str, display: Option<&str>, role: Option<Role>) -> Option<String> {
        let parts = Parts {
            new: new.into(),
            signature: sig.into(),
            quoted: String::new(),
        };
        find(&parts, display, role)
    }

    #[test]
    fn the_writer_not_the_child() {
        let p = Some(Role::Parent);
        assert_eq!(
            name(
                "Пишу за сына Лебедева Ивана Петровича, 5А. Не входит.",
                "",
                None,
                p
            ),
            None
        );
        assert_eq!(
            name("Я Лебедева Анна Сергеевна, мама Алисы.", "", None, p).as_deref(),
            Some("Лебедева Анна Сергеевна")
        );
        assert_eq!(
            name("прошу помочь мне, Сидоровой Анне, с паролем", "", None, p).as_deref(),
            Some("Сидорова Анна")
        );
        assert_eq!(
            name("не входит", "С уважением,\nпетрова мария", None, p).as_deref(),
            Some("Петрова Мария")
        );
        assert_eq!(
            name(
                "не входит",
                "С уважением, Е.В. Ткаченко",
                Some("Ткаченко Елена Викторовна"),
                None
            )
            .as_deref(),
            Some("Ткаченко Елена Викторовна")
        );
    }

    #[test]
    fn latin_display_names_in_either_order() {
        assert_eq!(
            name("не входит", "", Some("Elena Tkachenko"), None).as_deref(),
            Some("Елена Ткаченко")
        );
        assert_eq!(
            name("не входит", "", Some("Tkachenko Elena"), None).as_deref(),
            Some("Ткаченко Елена")
        );
        assert_eq!(name("не входит", "", Some("Ivan Support"), None), None);
    }

    #[test]
    fn a_lone_first_name_is_not_enough() {
        assert_eq!(name("Меня зовут Анна, 5А", "", None, None), None);
        assert_eq!(name("Анна Сергеевна, 5А", "", None, None), None);
        assert_eq!(name("Петров И.", "", None, None), None);
        assert_eq!(
            name("Петров И.И.", "", None, None).as_deref(),
            Some("Петров И.И.")
        );
    }
}
