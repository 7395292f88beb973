//! Rule 5 of the regulation: rudeness and obscene language. Only what the
//! writer wrote now is read (new text, signature, subject), never the mail
//! they quote.
//!
//! Two kinds of rudeness:
//! * obscene words (`lexicon/obscene-roots.txt`), found after masking is
//!   undone (`look-alikes.txt`: `х*й`, `x.y.й`, `п 3 з д`, Latin and digit
//!   look-alikes), unless the word is an innocent one that only looks so
//!   (`not-obscene.txt`: вебинар, мандарин, Хуторской);
//! * insults without mat (`insults.txt`, by lemma; `insult-phrases.txt`),
//!   counted only when aimed at a person (`insult-targets.txt`: «вы …
//!   идиоты», «эта дура») or said to someone («Идиоты, …»), not inside
//!   quotation marks, not as a title written with a capital, and not after
//!   a verb that reports what someone else said (`reporting-verbs.txt`).
//!
//! A parent called rude by mistake is worse than a rude letter let through:
//! every rule here errs on the side of letting a letter through.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::morph;
use super::words::{self, Kind, Token, fold, tokens};

words::word_set!(NOT_OBSCENE, "not-obscene");
words::word_set!(INSULTS, "insults");
words::phrase_list!(INSULT_PHRASES, "insult-phrases");
words::word_set!(TARGETS, "insult-targets");
words::word_set!(REPORTING, "reporting-verbs");

/// One obscene root: its name (for the reason) and its expression.
struct Root {
    name: String,
    regex: Regex,
}

static ROOTS: LazyLock<Vec<Root>> = LazyLock::new(|| {
    let prefixes = words::entries(include_str!("lexicon/obscene-prefixes.txt")).join("|");
    include_str!("lexicon/obscene-roots.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (name, pattern) = l.split_once(": ")?;
            let pattern = pattern.replace("{P}", &format!("(?:{prefixes})?"));
            // A rule that does not compile is a maintainer's typo in the
            // list: it is skipped (the list's test names it), never a panic.
            let regex = Regex::new(&pattern).ok()?;
            Some(Root {
                name: name.trim().to_string(),
                regex,
            })
        })
        .collect()
});

/// Look-alikes, «written meant».
static LOOK_ALIKES: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    words::entries(include_str!("lexicon/look-alikes.txt"))
        .iter()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
});

/// The characters people hide a letter with; each is read as `*`.
const MASKS: &[char] = &['*', '@', '#', '$', '%', '&'];

fn is_mask(c: char) -> bool {
    MASKS.contains(&c)
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

/// A chunk of text between spaces, read back as the word it stands for:
/// look-alikes replaced (only when the chunk also has Cyrillic letters or
/// masks: an English word stays English), masks as `*`, dots, hyphens and
/// underscores between letters dropped. `None` for addresses and links.
fn unmask(chunk: &str) -> Option<String> {
    if chunk.contains("://") || chunk.contains("www.") {
        return None;
    }
    if let Some((local, domain)) = chunk.split_once('@')
        && !local.is_empty()
        && domain.contains('.')
    {
        return None;
    }
    let trimmed = chunk.trim_matches(|c: char| !(c.is_alphanumeric() || is_mask(c)));
    let mixed = trimmed.chars().any(|c| is_cyrillic(c) || is_mask(c));
    let mut s = fold(trimmed);
    if mixed {
        for (from, to) in LOOK_ALIKES.iter() {
            if from.chars().count() > 1 {
                s = s.replace(from.as_str(), to);
            }
        }
        s = s
            .chars()
            .map(|c| {
                let one = c.to_string();
                LOOK_ALIKES
                    .iter()
                    .find(|(from, _)| *from == one)
                    .map_or(c, |(_, to)| to.chars().next().unwrap_or(c))
            })
            .collect();
    }
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | '_' | '\'' | '’'))
        .map(|c| if is_mask(c) { '*' } else { c })
        .collect();
    (!s.is_empty()).then_some(s)
}

/// The words of a text as obscenity is looked for in them: each chunk
/// between spaces unmasked, and runs of three or more one-character chunks
/// (`х у й`, `п * з д а`) glued back into one word.
fn unmasked_words(text: &str) -> Vec<String> {
    let chunks: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        let one = |c: &str| c.chars().count() == 1 && c != "—" && c != "-";
        let mut j = i;
        while j < chunks.len() && one(chunks[j]) {
            j += 1;
        }
        if j - i >= 3 {
            if let Some(w) = unmask(&chunks[i..j].concat()) {
                out.push(w);
            }
            i = j;
            continue;
        }
        if let Some(w) = unmask(chunks[i]) {
            out.push(w);
        }
        i += 1;
    }
    out
}

/// The obscene root a word holds, if any.
fn obscene_root(word: &str) -> Option<&'static str> {
    if NOT_OBSCENE.iter().any(|p| word.starts_with(p.as_str())) {
        return None;
    }
    ROOTS
        .iter()
        .find(|r| r.regex.is_match(word))
        .map(|r| r.name.as_str())
}

/// A sentence: tokens up to `.`, `!`, `?` or a line break.
fn sentences<'t>(text: &'t str, t: &'t [Token<'t>]) -> Vec<&'t [Token<'t>]> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 0..t.len() {
        let line_break = i + 1 < t.len() && text[t[i].end..t[i + 1].start].contains('\n');
        if matches!(t[i].text, "." | "!" | "?" | "…") || line_break || i + 1 == t.len() {
            out.push(&t[start..=i]);
            start = i + 1;
        }
    }
    out
}

/// For each token of a sentence, whether it stands inside quotation marks.
fn quoted(s: &[Token<'_>]) -> Vec<bool> {
    let (mut angled, mut straight) = (0i32, false);
    s.iter()
        .map(|t| {
            match t.text {
                "«" | "“" | "„" => angled += 1,
                "»" | "”" => angled -= 1,
                "\"" => straight = !straight,
                _ => {}
            }
            angled > 0 || straight
        })
        .collect()
}

/// The insult lemma a word stands for, if any.
fn insult(word: &str) -> Option<String> {
    if INSULTS.contains(word) {
        return Some(word.to_string());
    }
    // Only words that start like an insult are looked up in the dictionary.
    static STARTS: LazyLock<HashSet<String>> = LazyLock::new(|| {
        INSULTS
            .iter()
            .map(|w| w.chars().take(3).collect())
            .collect()
    });
    let start: String = word.chars().take(3).collect();
    if !STARTS.contains(&start) {
        return None;
    }
    morph::parse(word)
        .into_iter()
        .map(|r| fold(&r.lemma))
        .find(|lemma| INSULTS.contains(lemma))
}

/// An insult aimed at a person in one sentence, if any.
fn aimed_insult(s: &[Token<'_>]) -> Option<String> {
    let words: Vec<String> = s
        .iter()
        .filter(|t| t.is_word())
        .map(|t| t.folded.clone())
        .collect();
    if words.iter().any(|w| REPORTING.contains(w)) {
        return None;
    }
    for p in INSULT_PHRASES.iter() {
        if (0..words.len()).any(|i| words::phrase_at(&words, i, p)) {
            return Some(p.join(" "));
        }
    }
    let first_word = s.iter().position(|t| t.is_word());
    let aimed = words.iter().any(|w| TARGETS.contains(w));
    let quoted = quoted(s);
    for (i, t) in s.iter().enumerate() {
        if t.kind != Kind::Word || quoted[i] {
            continue;
        }
        let Some(lemma) = insult(&t.folded) else {
            continue;
        };
        let first = first_word == Some(i);
        // A capitalised insult inside a sentence is a title or a name.
        if t.is_capitalised() && !first {
            continue;
        }
        // Said to someone: «Идиоты, …», «Дебилы!».
        let said_to = first && s.get(i + 1).is_some_and(|n| matches!(n.text, "," | "!"));
        if aimed || said_to {
            return Some(lemma);
        }
    }
    None
}

/// Why `text` breaks rule 5, or `None`.
pub fn check(text: &str) -> Option<String> {
    check_all(&[text])
}

/// `text` with what stands inside quotation marks blanked out: a writer
/// who quotes what someone else wrote («пишет сыну матом, например «…»») is
/// not the one being rude.
fn without_quotes(text: &str) -> String {
    static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"«[^»\n]*»|“[^”\n]*”|„[^“”\n]*[“”]|"[^"\n]*""#).expect("quote regex")
    });
    QUOTED
        .replace_all(text, |c: &regex::Captures<'_>| " ".repeat(c[0].len()))
        .into_owned()
}

/// Why any of `texts` breaks rule 5, or `None`.
pub fn check_all(texts: &[&str]) -> Option<String> {
    for text in texts {
        for w in unmasked_words(&without_quotes(text)) {
            if let Some(root) = obscene_root(&w) {
                return Some(format!("obscene language ({root})"));
            }
        }
        let t = tokens(text);
        for s in sentences(text, &t) {
            if let Some(what) = aimed_insult(s) {
                return Some(format!("insult ({what})"));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_the_list_compiles() {
        let rules = include_str!("lexicon/obscene-roots.txt")
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .count();
        assert_eq!(ROOTS.len(), rules);
    }

    #[test]
    fn masked_obscenity_is_read_back() {
        for text in [
            "да вы там о*уели совсем",
            "какой-то п#здец с журналом",
            "х.у.й знает что у вас",
            "это п и з д е ц",
            "бл@дь опять не работает",
            "нихуя не работает",
            "пи3дец",
            "охренели совсем",
            "ёб твою",
            "ну это пи**ец, в дневнике 3",
            "б@#$ь, ну сколько можно!",
            "с*ки, верните оценки",
        ] {
            assert!(check(text).is_some(), "{text}");
        }
    }

    #[test]
    fn innocent_look_alikes_pass() {
        for text in [
            "Прошу записать на вебинар по электронному журналу",
            "Хуторской Иван, 5А, не входит",
            "застрахуйте меня от ошибок, шучу",
            "мандарины в столовой ни при чём",
            "пишите на sukhov@mail.ru",
            "Оскорбления недопустимы, это правило 5",
            "Худякова Анна",
            "употреблять в пищу",
            "Одноклассник пишет сыну матом, например «пошёл на х*й». Как заблокировать?",
        ] {
            assert_eq!(check(text), None, "{text}");
        }
    }

    #[test]
    fn insults_count_when_aimed_at_people() {
        for text in [
            "Вы там все идиоты?",
            "эта дура опять не ответила",
            "Идиоты, за что вам платят",
            "администраторы у вас кретины",
            "Учительница математики у вас тупая корова",
        ] {
            assert!(check(text).is_some(), "{text}");
        }
        for text in [
            "Учитель назвал сына дебилом, разберитесь",
            "Проходим роман «Идиот», нужен доступ к заданию",
            "Читаем Достоевского Идиот, не открывается задание",
            "наш козел в живом уголке заболел",
        ] {
            assert_eq!(check(text), None, "{text}");
        }
    }
}
