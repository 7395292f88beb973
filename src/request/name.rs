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
use super::translit;
use super::words::{self, Kind, Token, phrase_at, tokens};
use super::{Parts, Role};

words::word_set!(NOT_NAMES, "not-names");
words::word_set!(CHILD_WORDS, "child-words");
words::phrase_list!(SELF_INTROS, "self-intros");
static SURNAME_ENDINGS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/surname-endings.txt")));
static LOWER_SURNAME_ENDINGS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/lower-case-surname-endings.txt")));
words::word_set!(APPOSITION, "apposition-lemmas");
words::word_set!(PARENT_TITLES, "parent-titles");
words::phrase_list!(BORROWED_ACCOUNT, "borrowed-account");
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
    /// A lower-case surname told only by its ending.
    guessed: bool,
}

/// A run of name words in a text.
#[derive(Clone, Debug)]
struct Found {
    words: Vec<Word>,
    /// Token index where it starts.
    start: usize,
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
                // Two initials say as much as a first name, and a patronymic more.
                if matches!(w.part, Part::Initial(_)) {
                    2
                } else {
                    3
                }
            })
            .sum()
    }

    /// The name as written, in the nominative, each word capitalised.
    fn nominative(&self) -> String {
        let nominative = self.cases().contains(&"nomn");
        // The gender every word can have in a case they share: «Пономарёвой
        // Алине» is feminine, though «Алине» alone could be «Алин»'s.
        let cases = self.cases();
        let fits = |g: &str| {
            cases.iter().any(|c| {
                self.words
                    .iter()
                    .filter(|w| !matches!(w.part, Part::Initial(_)) && !w.guessed)
                    .all(|w| w.readings.iter().any(|r| r.has(g) && r.has(c)))
            })
        };
        let named_female = self.words.iter().any(|w| {
            w.readings
                .iter()
                .any(|r| r.has("femn") && (r.has("Name") || r.has("Patr")))
        });
        let feminine = named_female && (fits("femn") || !fits("masc"));
        let mut out: Vec<(u8, String)> = Vec::new();
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
                // Readings of the name's own gender first: «Алине» is
                // «Алина»'s before it is «Алин»'s.
                let gender = if feminine { "femn" } else { "masc" };
                let mut readings: Vec<&Reading> = w
                    .readings
                    .iter()
                    .filter(|r| r.has(tag) && !r.has("nomn"))
                    .collect();
                // A surname the dictionary knows only as an adjective
                // («от Херсонской Алины») declines as the adjective does.
                if readings.is_empty() && w.part == Part::Surname {
                    readings = w
                        .readings
                        .iter()
                        .filter(|r| r.has("ADJF") && !r.has("nomn"))
                        .collect();
                }
                readings.sort_by_key(|r| !r.has(gender));
                readings
                    .iter()
                    .find_map(|r| {
                        r.inflected(want)
                            .filter(|_| r.has(gender))
                            .or_else(|| r.inflected("nomn"))
                    })
                    .unwrap_or_else(|| w.text.clone())
            };
            let order = match w.part {
                Part::Surname => 0,
                Part::First => 1,
                _ => 2,
            };
            out.push((order, capitalised(&text)));
        }
        // In the order of a form's «ФИО»: surname, first name, patronymic.
        out.sort_by_key(|(order, _)| *order);
        let mut out: Vec<String> = out.into_iter().map(|(_, w)| w).collect();
        if !initials.is_empty() {
            out.push(initials);
        }
        out.join(" ")
    }
}

fn capitalised(s: &str) -> String {
    let lower = s.to_lowercase();
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
                guessed: false,
            });
        }
        // A double surname («Римская-Корсакова»): each part capitalised, the
        // last a surname.
        if t.text.contains('-') && t.is_capitalised() {
            let parts: Vec<&str> = t.folded.split('-').collect();
            let last = parts.last().copied().unwrap_or("");
            let capitals = t
                .text
                .split('-')
                .all(|p| p.chars().next().is_some_and(char::is_uppercase));
            let readings: Vec<Reading> = self
                .readings(last)
                .into_iter()
                .filter(|r| r.has("Surn") && !r.has("plur"))
                .collect();
            if parts.len() == 2 && capitals && !readings.is_empty() {
                let cases = CASES
                    .iter()
                    .copied()
                    .filter(|c| readings.iter().any(|r| r.has(c)))
                    .collect();
                return Some(Word {
                    text: t.text.to_string(),
                    part: Part::Surname,
                    cases,
                    readings: Vec::new(),
                    guessed: false,
                });
            }
        }
        let mut readings = self.readings(&t.folded);
        // An indeclinable foreign name («Анне», Finnish) only when the word
        // has no other reading as a name: «Анне» is Анна's dative.
        let declinable =
            |r: &Reading| !r.has("Fixd") && (r.has("Name") || r.has("Surn") || r.has("Patr"));
        if readings.iter().any(declinable) {
            readings.retain(|r| !r.has("Fixd"));
        }
        // A person's name is singular: «Гаврилов» is a surname before it is
        // «Гаврил» in the genitive plural, «Ольги» a genitive, not «Ольги» all.
        let name_tag = |r: &Reading| r.has("Name") || r.has("Surn") || r.has("Patr");
        if readings.iter().any(|r| name_tag(r) && !r.has("plur")) {
            readings.retain(|r| !(name_tag(r) && r.has("plur")));
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
                    guessed: false,
                });
            }
        }
        let long = t.text.chars().count() >= 3;
        let cap = t.is_capitalised() && t.text.chars().skip(1).all(char::is_lowercase);
        let surname_like = SURNAME_ENDINGS
            .iter()
            .any(|e| t.folded.ends_with(e.as_str()));
        // A lower-case word with a Russian surname's own ending («кузин»)
        // counts only beside a first name (see `runs`).
        let lower_surname = t.text.chars().all(char::is_lowercase)
            && LOWER_SURNAME_ENDINGS
                .iter()
                .any(|e| t.folded.ends_with(e.as_str()));
        if long && ((cap && surname_like) || lower_surname) {
            return Some(Word {
                text: t.text.to_string(),
                part: Part::Surname,
                cases: CASES.to_vec(),
                readings,
                guessed: !cap,
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
            // «она в 1А. Абрамов Тимур»: a class's letter is no initial.
            if j > 0 && t[j - 1].kind == Kind::Number && t[j - 1].end == t[j].start {
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
        settle_surname(&mut words);
        // A lower-case surname guess only where the line has no capitals:
        // in «учитель начальных классов Веселова» the writer uses them.
        if words.iter().any(|w| w.guessed) {
            let line_start = text[..t[i].start].rfind('\n').map_or(0, |p| p + 1);
            let line_end = text[t[i].start..]
                .find('\n')
                .map_or(text.len(), |p| t[i].start + p);
            if text[line_start..line_end].chars().any(char::is_uppercase) {
                words.clear();
            }
        }
        // «Лебедь Оксана Викторовна»: a first name and a patronymic take
        // the capitalised word before them as the surname the dictionary
        // does not know, where it opens the line or sentence.
        let mut start = i;
        let has = |w: &[Word], p: Part| w.iter().any(|x| x.part == p);
        if i > 0
            && !has(&words, Part::Surname)
            && has(&words, Part::First)
            && has(&words, Part::Patronymic)
            && words[0].part == Part::First
            && unknown_surname(text, t, i - 1)
        {
            let prev = &t[i - 1];
            words.insert(
                0,
                Word {
                    text: prev.text.to_string(),
                    part: Part::Surname,
                    cases: CASES.to_vec(),
                    readings: Vec::new(),
                    guessed: false,
                },
            );
            start -= 1;
        }
        if words.len() >= 2 {
            let found = Found { words, start };
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

/// Settle what the words of one run are: with two first names and no
/// surname, the one the dictionary also knows as a surname is the surname
/// («Даниил Ким», «Ким Ольга»); a guessed lower-case surname stays only
/// beside a first name.
fn settle_surname(words: &mut Vec<Word>) {
    let count = |w: &[Word], p: Part| w.iter().filter(|x| x.part == p).count();
    if count(words, Part::Surname) == 0 && count(words, Part::First) >= 2 {
        let surn = |w: &Word| w.readings.iter().any(|r| r.has("Surn"));
        if let Some(w) = words.iter_mut().rev().find(|w| surn(w)) {
            w.part = Part::Surname;
            w.cases = CASES
                .iter()
                .copied()
                .filter(|c| w.readings.iter().any(|r| r.has("Surn") && r.has(c)))
                .collect();
        }
    }
    if words.iter().any(|w| w.guessed) && count(words, Part::First) == 0 {
        words.clear();
    }
}

/// Whether token `at` can be a surname the dictionary does not know, standing
/// before a first name: a capitalised word on the same line that opens its
/// line or sentence (or follows «я», a colon or a dash).
fn unknown_surname(text: &str, t: &[Token<'_>], at: usize) -> bool {
    let w = &t[at];
    let plain = w.is_word()
        && w.is_capitalised()
        && w.text.chars().count() >= 3
        && w.text.chars().all(char::is_alphabetic)
        && !NOT_NAMES.contains(&w.folded)
        && on_one_line(text, w, &t[at + 1])
        // A noun or a word the dictionary does not know («Лебедь»), not
        // «Это Галина Петровна».
        && {
            let r = morph::parse(&w.folded);
            r.is_empty() || r.iter().any(|r| r.has("NOUN"))
        };
    let opens = at == 0
        || text[t[at - 1].end..w.start].contains('\n')
        || matches!(t[at - 1].text, "." | "!" | "?" | ":" | "—" | "-")
        || t[at - 1].folded == "я";
    plain && opens
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
    // What stands before the name in its own sentence: «… дневник сына!
    // Костенко Игорь» is not the son.
    let window = found.start.saturating_sub(4);
    let from = (window..found.start)
        .rev()
        .find(|&j| {
            let after_initial = j > 0 && t[j - 1].text.chars().count() == 1;
            matches!(t[j].text, "!" | "?" | "…") || (t[j].is(".") && !after_initial)
        })
        .map_or(window, |j| j + 1);
    let mut before: Vec<String> = t[from..found.start]
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.folded.clone())
        .collect();
    // «мне, ученице 8Г Пономарёвой Алине»: who the writer is, and a class,
    // between the introduction and the name.
    let appositive = |w: &str| {
        w.chars().any(|c| c.is_ascii_digit())
            || w.chars().count() == 1
            || APPOSITION.contains(w)
            || morph::parse(w)
                .iter()
                .any(|r| APPOSITION.contains(&r.lemma))
    };
    if before.last().is_some_and(|w| appositive(w)) {
        let mut at = found.start;
        while at > 0
            && (!t[at - 1].is_word() || appositive(&t[at - 1].folded))
            && found.start - at < 6
        {
            at -= 1;
        }
        if at > 0 && t[at - 1].is_word() && matches!(t[at - 1].folded.as_str(), "мне" | "я" | "от")
        {
            before = vec![t[at - 1].folded.clone()];
        }
    }
    // «Мама: Кузьмина Ольга Сергеевна», «я его мама, Лебедева Ольга».
    if found.start >= 2
        && matches!(t[found.start - 1].text, ":" | "," | "—" | "-")
        && PARENT_TITLES.contains(&t[found.start - 2].folded)
    {
        return Whose::Writer;
    }
    // «ученица моего класса Рита Ланская»: a child of the writer's class.
    let n = before.len();
    if n >= 3
        && matches!(before[n - 2].as_str(), "моего" | "нашего")
        && before[n - 1].starts_with("класс")
        && CHILD_WORDS.contains(&before[n - 3])
    {
        return Whose::Other;
    }
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

/// The writer's name from the From display name, if it is a full name.
fn from_display(reader: &mut Reader, display: &str) -> Option<Found> {
    let latin = display.chars().any(|c| c.is_ascii_alphabetic())
        && !display
            .chars()
            .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)));
    if !latin {
        let t = tokens(display);
        return runs(reader, display, &t).into_iter().find(Found::is_full);
    }
    let spellings: [fn(&str) -> String; 2] = [|w| w.to_string(), translit::softened];
    spellings.iter().find_map(|spelling| {
        let text = display
            .split_whitespace()
            .map(|w| capitalised(&translit::cyrillic(&spelling(w))))
            .collect::<Vec<_>>()
            .join(" ");
        let t = tokens(&text);
        let found = runs(reader, &text, &t).into_iter().find(Found::is_full)?;
        (found.has(|p| *p == Part::First) > 0).then_some(found)
    })
}

/// The writer's full name, or `None`. `subject` is read last: a name there
/// («Кузнецов Илья 9б») counts when the letter gives none.
pub fn find(
    parts: &Parts,
    subject: &str,
    display: Option<&str>,
    role: Option<Role>,
) -> Option<String> {
    let mut reader = Reader::new();
    let mut writer: Vec<(Found, u8)> = Vec::new();
    let mut others: Vec<Found> = Vec::new();
    let t = tokens(subject);
    for found in runs(&mut reader, subject, &t) {
        match whose(&t, &found) {
            Whose::Other => others.push(found),
            _ if found.cases().contains(&"nomn") => writer.push((found, 0)),
            _ => others.push(found),
        }
    }
    // A letter signed only «Мама»: the writer gives no name of her own, and
    // a name nothing introduces is the child's.
    let last_words = [&parts.signature, &parts.new]
        .iter()
        .flat_map(|t| t.lines().rev())
        .map(words::folded_words)
        .find(|w| !w.is_empty())
        .unwrap_or_default();
    // The account's display name says so too: «Мама Вани».
    let display_words = display.map(words::folded_words).unwrap_or_default();
    let shown_as_parent = display_words.len() <= 3
        && display_words
            .first()
            .is_some_and(|w| PARENT_TITLES.contains(w));
    let signed_as_parent = shown_as_parent
        || !last_words.is_empty()
            && last_words.len() <= 2
            && last_words
                .iter()
                .all(|w| PARENT_TITLES.contains(w) || w == "ваша" || w == "ваш");
    for (text, in_signature) in [(&parts.new, false), (&parts.signature, true)] {
        let t = tokens(text);
        for found in runs(&mut reader, text, &t) {
            let nominative = found.cases().contains(&"nomn");
            match whose(&t, &found) {
                Whose::Other => others.push(found),
                Whose::Writer => writer.push((found, 3)),
                Whose::Unknown if !nominative || signed_as_parent => others.push(found),
                Whose::Unknown if in_signature => writer.push((found, 3)),
                // A name in the nominative that nothing introduces: the
                // writer's when a student or staff writes, or at a line's
                // start; a parent's letter names the child so too.
                Whose::Unknown => {
                    let before = text[..t[found.start].start].trim_end_matches([' ', '\t']);
                    // At the start of a line or a sentence («Здравствуйте.
                    // Лукина Наталья Андреевна, …»).
                    let line_start =
                        before.is_empty() || before.ends_with(['\n', '.', '!', '?', ':']);
                    let rank = if role == Some(Role::Parent) { 1 } else { 2 };
                    writer.push((found, if line_start { rank + 1 } else { rank }));
                }
            }
        }
    }
    let same = |a: &Found, b: &Found| a.surname().is_some() && a.surname() == b.surname();
    // «пишу с его почты», «с маминой почты»: the From names the account's
    // owner, not the writer.
    let own_words = words::folded_words(&format!("{}\n{}", parts.new, parts.signature));
    let borrowed = words::has_phrase(&own_words, &BORROWED_ACCOUNT);
    // «привет это Миша» from Александр Петренко's account: the writer gives
    // a first name alone, not the account owner's.
    let own_first = lone_first_name(&parts.new);
    if let Some(d) = display
        .filter(|_| !borrowed)
        .and_then(|d| from_display(&mut reader, d))
        .filter(|d| own_first.is_none() || first_name(d) == own_first)
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
    // Another spelling of the same person: same surname, and the same first
    // name where both give one («Ким Даниил» is not his mother «Ким Ольга»).
    let firsts = |f: &Found| f.has(|p| *p == Part::First);
    let fullest = writer
        .iter()
        .filter(|(f, _)| same(f, &best))
        .filter(|(f, _)| firsts(f) == 0 || firsts(&best) == 0 || first_names_agree(f, &best))
        .max_by_key(|(f, _)| f.weight())
        .map(|(f, _)| f.clone())
        .unwrap_or(best);
    Some(fullest.nominative())
}

/// The lemma of a run's first name.
fn first_name(f: &Found) -> Option<String> {
    f.words
        .iter()
        .find(|w| w.part == Part::First)
        .and_then(|w| {
            w.readings
                .iter()
                .find(|r| r.has("Name"))
                .map(|r| r.lemma.clone())
        })
}

/// Whether two runs give the same first name (by lemma).
fn first_names_agree(a: &Found, b: &Found) -> bool {
    first_name(a).is_some() && first_name(a) == first_name(b)
}

/// The lemma of a first name the writer introduces themself by alone
/// («это Миша», «а я, Миша из 6А», «меня зовут Катя.»): a first name in the
/// nominative right after «это», «я» or «зовут», with no surname or
/// patronymic after it.
fn lone_first_name(text: &str) -> Option<String> {
    let t = tokens(text);
    let w: Vec<&Token<'_>> = t.iter().filter(|t| t.is_word()).collect();
    let name_part = |t: &Token<'_>, part: &str| {
        morph::parse(&t.folded)
            .into_iter()
            .find(|r| r.has(part) && r.has("nomn"))
    };
    (1..w.len()).find_map(|i| {
        if !matches!(w[i - 1].folded.as_str(), "это" | "я" | "зовут") {
            return None;
        }
        let name = name_part(w[i], "Name")?;
        let next_is_name = w.get(i + 1).is_some_and(|n| {
            ["Name", "Surn", "Patr"]
                .iter()
                .any(|p| name_part(n, p).is_some())
                || SURNAME_ENDINGS
                    .iter()
                    .any(|e| n.folded.ends_with(e.as_str()))
        });
        (!next_is_name).then_some(name.lemma)
    })
}

#[cfg(test)]
#[path = "name_tests.rs"]
mod tests;
