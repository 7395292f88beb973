//! Rule 5 of the regulation: rudeness and obscene language. Only what the
//! writer wrote now is read (new text, signature, subject), never the mail
//! they quote.
//!
//! Two kinds of rudeness:
//! * obscene words (`lexicon/obscene-roots.txt`), found after masking is
//!   undone (`look-alikes.txt`: `х*й`, `x.y.й`, `п 3 з д`, Latin and digit
//!   look-alikes; runs of dots inside a word hide letters: `ох..ли`), unless
//!   the word is an innocent one that only looks so (`not-obscene.txt`:
//!   вебинар, мандарин, Хуторской); a word with letters hidden also counts
//!   when it reads as a full obscene word (`obscene-forms.txt`: `о***ли`);
//! * insults without mat (`insults.txt`, `animal-insults.txt`,
//!   `insult-adjectives.txt`, by lemma; `insult-phrases.txt`), counted only
//!   when aimed at a person: in the nominative with a pronoun or a person
//!   near them (`insult-targets.txt`: «вы … идиоты», «эта дура», «админ —
//!   дебил»), said to someone («Идиоты, …», «…, уроды.»), or after a word for
//!   a group (`insult-groups.txt`: «сборище идиотов»); not inside quotation
//!   marks, not as a title written with a capital, not said of oneself
//!   (`first-person.txt`: «я, наверное, дура»), not of a thing («тупой
//!   вопрос»), and not after a verb that reports what someone else said
//!   (`reporting-verbs.txt`).
//!
//! A parent called rude by mistake is worse than a rude letter let through:
//! every rule here errs on the side of letting a letter through.

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;

use super::morph;
use super::words::{self, Token, fold, tokens};

words::word_set!(NOT_OBSCENE, "not-obscene");
words::word_set!(INSULTS, "insults");
words::phrase_list!(INSULT_PHRASES, "insult-phrases");
words::word_set!(TARGETS, "insult-targets");
words::word_set!(REPORTING, "reporting-verbs");
words::word_set!(ANIMALS, "animal-insults");
words::word_set!(ADJECTIVES, "insult-adjectives");
words::word_set!(GROUPS, "insult-groups");
words::word_set!(FIRST_PERSON, "first-person");
static FORMS: LazyLock<Vec<String>> =
    LazyLock::new(|| words::entries(include_str!("lexicon/obscene-forms.txt")));

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

/// Where a word was cut off with an ellipsis (`бл...`): kept apart from the
/// masks, since a sigh (`ох...`) is cut off the same way.
const CUT: char = '…';

/// Dots that hide letters read as masks: a run of two dots or more (or `…`)
/// between letters is one `*` (`ох..ли`, `пи...ц`); after two letters or
/// more at the end of a word it is [`CUT`]. A single dot stays a dot (a
/// separator: `х.у.й`, `5.А`).
fn dots_as_masks(chunk: &str) -> String {
    let chars: Vec<char> = chunk.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && (chars[j] == '.' || chars[j] == '…') {
            j += 1;
        }
        if j == i {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = &chars[i..j];
        let hides = run.len() >= 2 || run[0] == '…';
        let letters_before = chars[..i]
            .iter()
            .rev()
            .take_while(|c| c.is_alphabetic())
            .count();
        let letter_after = chars.get(j).is_some_and(|c| c.is_alphabetic());
        if hides && letters_before >= 1 && letter_after {
            out.push('*');
        } else if hides && letters_before >= 2 && !chars[j..].iter().any(|c| c.is_alphanumeric()) {
            out.push(CUT);
        } else {
            out.extend(run);
        }
        i = j;
    }
    out
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
        && domain
            .trim_end_matches(|c: char| !c.is_alphanumeric())
            .rsplit_once('.')
            .is_some_and(|(host, top)| !host.is_empty() && top.chars().count() >= 2)
    {
        return None;
    }
    let chunk = dots_as_masks(chunk);
    let trimmed = chunk.trim_matches(|c: char| !(c.is_alphanumeric() || is_mask(c) || c == CUT));
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
    // Emoji between letters hide nothing: `б🤬л🤬я`.
    let emoji = |c: char| matches!(c, '\u{1F000}'..='\u{1FAFF}' | '\u{2600}'..='\u{27BF}' | '\u{FE0F}' | '\u{200D}');
    let s: String = s
        .chars()
        .filter(|c| !matches!(c, '.' | '-' | '_' | '\'' | '’') && !emoji(*c))
        .map(|c| if is_mask(c) { '*' } else { c })
        .collect();
    let s = unstretched(&s);
    (!s.is_empty()).then_some(s)
}

/// A word with a letter drawn out read as written once (`бляяяя`, `хууууй`):
/// no Russian word has a letter three times running.
fn unstretched(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        let run = if j - i >= 3 && chars[i].is_alphabetic() {
            1
        } else {
            j - i
        };
        out.extend(std::iter::repeat_n(chars[i], run));
        i = j;
    }
    out
}

/// The words of a text as obscenity is looked for in them: each chunk
/// between spaces unmasked, and runs of three or more one-character chunks
/// (`х у й`, `п * з д а`) glued back into one word.
fn unmasked_words(text: &str) -> Vec<String> {
    let chunks: Vec<&str> = text.split_whitespace().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chunks.len() {
        // One letter, maybe with a comma or a stop after it («с у к а,»).
        let one = |c: &str| {
            let c = c.trim_end_matches([',', '.', '!', '?', ';', ':']);
            c.chars().count() == 1 && c != "—" && c != "-"
        };
        let mut j = i;
        while j < chunks.len() && one(chunks[j]) {
            j += 1;
        }
        if j - i >= 3 {
            // Every stretch of three letters or more: «какая с у к а у вас».
            let run = &chunks[i..j.min(i + 12)];
            for from in 0..run.len() {
                for to in from + 3..=run.len() {
                    out.extend(unmask(&run[from..to].concat()));
                }
            }
            i = j;
            continue;
        }
        if initials_beside_a_name(&chunks, i) {
            i += 1;
            continue;
        }
        if let Some(w) = unmask(chunks[i]) {
            // A word split in two by a space (`пи здец`, `х уйня` is not:
            // one letter): the halves, glued, are a full obscene word.
            let halves = |c: &str| c.chars().filter(|c| c.is_alphabetic()).count() >= 2;
            if let Some(next) = chunks.get(i + 1).filter(|n| halves(n) && halves(chunks[i]))
                && let Some(n) = unmask(next)
                && FORMS.contains(&format!("{w}{n}"))
            {
                out.push(format!("{w}{n}"));
            }
            // A compound's parts are words too (`учитель-ебулдыга`), besides
            // the letters a hyphen only spaces out (`х-у-й`).
            let parts: Vec<&str> = chunks[i].split('-').collect();
            if parts.len() == 2
                && parts
                    .iter()
                    .all(|p| p.chars().filter(|c| c.is_alphabetic()).count() >= 3)
            {
                out.extend(parts.into_iter().filter_map(unmask));
            }
            out.push(w);
        }
        i += 1;
    }
    out
}

/// Whether chunk `i` is a name's initials beside its surname («Кондратьева
/// Е.Б.», «Е.Б. Кондратьева»): capitals each with a dot are no word split by
/// dots, whatever they spell.
fn initials_beside_a_name(chunks: &[&str], i: usize) -> bool {
    let chars: Vec<char> = chunks[i].trim_end_matches([',', ';']).chars().collect();
    let initials = (chars.len() == 4 || chars.len() == 6)
        && chars
            .chunks(2)
            .all(|p| p[0].is_uppercase() && is_cyrillic(p[0]) && p[1] == '.');
    let surname = |c: &&str| {
        let word = c.trim_matches(|c: char| !c.is_alphabetic());
        let mut letters = word.chars();
        word.chars().count() >= 3
            && letters.next().is_some_and(char::is_uppercase)
            && letters.all(char::is_lowercase)
    };
    let before = i.checked_sub(1).and_then(|b| chunks.get(b));
    initials && (before.is_some_and(surname) || chunks.get(i + 1).is_some_and(surname))
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
        .or_else(|| hidden_form(word))
}

/// The obscene word (`obscene-forms.txt`) a word with hidden letters reads
/// as, if any: each run of masks stands for one letter or more (up to two
/// more than it has masks), the letters shown stand as they are, and at
/// least three are shown (`о***ли`, `ох..ли`, `з@ебали`, `м*даки`; not
/// `х*у`, a product in a homework).
fn hidden_form(word: &str) -> Option<&'static str> {
    if !word.contains('*') || word.chars().filter(|c| c.is_alphabetic()).count() < 3 {
        return None;
    }
    let mut pattern = String::from("^");
    let mut masks = 0;
    for c in word.chars().chain(std::iter::once(' ')) {
        if c == '*' {
            masks += 1;
            continue;
        }
        if masks > 0 {
            pattern.push_str(&format!(r"\p{{L}}{{1,{}}}", masks + 2));
            masks = 0;
        }
        if c.is_alphabetic() {
            pattern.push_str(&regex::escape(&c.to_string()));
        } else if c != ' ' {
            return None;
        }
    }
    pattern.push('$');
    let regex = Regex::new(&pattern).ok()?;
    FORMS.iter().find(|f| regex.is_match(f)).map(String::as_str)
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

/// What kind of insult a word is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Insult {
    /// A person insult (`insults.txt`): идиот, дура.
    Person,
    /// An animal's name said of a person (`animal-insults.txt`): корова.
    Animal,
    /// An adjective said of a person (`insult-adjectives.txt`): тупой.
    Adjective,
}

/// The insult a word stands for: its lemma, its kind, and whether it stands
/// in a case an insult said of someone or to someone takes (the nominative
/// for a noun, the full or masculine/feminine/plural short form for an
/// adjective; the genitive plural after a word for a group, «сборище
/// идиотов»). «назвал сына дебилом», «про корову» are in other cases.
fn insult(word: &str, after_group: bool) -> Option<(String, Insult, bool)> {
    let lists = [
        (&*INSULTS, Insult::Person),
        (&*ANIMALS, Insult::Animal),
        (&*ADJECTIVES, Insult::Adjective),
    ];
    // Only words that start like an insult are looked up in the dictionary.
    static STARTS: LazyLock<HashSet<String>> = LazyLock::new(|| {
        INSULTS
            .iter()
            .chain(ANIMALS.iter())
            .chain(ADJECTIVES.iter())
            .map(|w| w.chars().take(3).collect())
            .collect()
    });
    let start: String = word.chars().take(3).collect();
    if !STARTS.contains(&start) {
        return None;
    }
    let readings = morph::parse(word);
    for (list, kind) in lists {
        let of_lemma: Vec<&morph::Reading> = readings
            .iter()
            .filter(|r| list.contains(&fold(&r.lemma)))
            .collect();
        if of_lemma.is_empty() {
            if list.contains(word) {
                // Not in the dictionary: taken as written.
                return Some((word.to_string(), kind, true));
            }
            continue;
        }
        let case = of_lemma.iter().any(|r| match kind {
            Insult::Adjective => {
                (r.has("ADJF") && r.has("nomn")) || (r.has("ADJS") && !r.has("neut"))
            }
            Insult::Person => {
                r.has("nomn") || r.has("voct") || (after_group && r.has("gent") && r.has("plur"))
            }
            Insult::Animal => r.has("nomn") || r.has("voct"),
        });
        return Some((fold(&of_lemma[0].lemma), kind, case));
    }
    None
}

/// Whether a word names a thing (an inanimate noun and nothing else): an
/// insulting adjective before one is said of the thing («тупой вопрос»).
fn is_thing(word: &str) -> bool {
    let r = morph::parse(word);
    !r.is_empty()
        && r.iter().any(|r| r.has("NOUN") && r.has("inan"))
        && !r.iter().any(|r| r.has("anim") || r.has("ADJF"))
}

/// Whether a token points at a person an insult may be aimed at: a
/// pronoun or a person a letter to the desk speaks of (`insult-targets.txt`),
/// or a name, patronymic or surname written with a capital.
fn is_target(t: &Token<'_>) -> bool {
    TARGETS.contains(&t.folded)
        || (t.is_capitalised()
            && morph::parse(&t.folded)
                .iter()
                .any(|r| r.has("Name") || r.has("Patr") || r.has("Surn")))
}

/// An insult aimed at a person in one sentence, if any.
fn aimed_insult(s: &[Token<'_>]) -> Option<String> {
    let words: Vec<&Token<'_>> = s.iter().filter(|t| t.is_word()).collect();
    let folded: Vec<String> = words.iter().map(|t| t.folded.clone()).collect();
    for p in INSULT_PHRASES.iter() {
        let reported = |i: usize| folded[..i].iter().any(|w| REPORTING.contains(w));
        if (0..folded.len()).any(|i| words::phrase_at(&folded, i, p) && !reported(i)) {
            return Some(p.join(" "));
        }
    }
    let quoted = quoted(s);
    let position = |t: &Token<'_>| s.iter().position(|x| x.start == t.start).unwrap_or(0);
    let mark_after = |i: usize| s.get(position(words[i]) + 1).map(|n| n.text);
    let mark_before = |i: usize| {
        let p = position(words[i]);
        (p > 0).then(|| s[p - 1].text)
    };
    for (i, t) in words.iter().enumerate() {
        if quoted[position(t)] {
            continue;
        }
        let after_group = i > 0 && GROUPS.contains(&folded[i - 1]);
        let Some((lemma, kind, case)) = insult(&t.folded, after_group) else {
            continue;
        };
        // Told after a verb that reports what someone said («учитель назвал
        // сына дебилом», «сказал, что я дура»): a complaint, not an insult.
        if folded[..i].iter().any(|w| REPORTING.contains(w)) {
            continue;
        }
        // A capitalised insult inside a sentence is a title or a name.
        if !case || (t.is_capitalised() && i > 0) {
            continue;
        }
        // Said of oneself: «я, наверное, дура», «может я тупая».
        let before = &words[i.saturating_sub(4)..i];
        let own = before
            .iter()
            .rposition(|w| FIRST_PERSON.contains(&w.folded));
        let aimed_before = before.iter().rposition(|w| is_target(w));
        if own.is_some() && own >= aimed_before {
            continue;
        }
        let next = words
            .get(i + 1)
            .filter(|_| mark_after(i).is_none_or(|m| m == words[i + 1].text));
        if kind == Insult::Adjective && next.is_some_and(|n| is_thing(&n.folded)) {
            continue;
        }
        let near = words[i.saturating_sub(5)..(i + 3).min(words.len())]
            .iter()
            .enumerate()
            .any(|(k, w)| k + i.saturating_sub(5) != i && is_target(w));
        let end = |m: Option<&str>| m.is_none_or(|m| matches!(m, "!" | "?" | "." | "…" | ","));
        // Said to someone: «Идиоты, …», «Дебилы!», «…, уроды.», «Бездельники.».
        let said_to = match kind {
            Insult::Person => {
                (i == 0 && matches!(mark_after(i), Some("," | "!")))
                    || (i + 1 == words.len() && mark_before(i) == Some(",") && end(mark_after(i)))
                    || after_group
            }
            Insult::Animal => i == 0 && mark_after(i) == Some("!"),
            Insult::Adjective => false,
        };
        // A sentence of the insult alone, not in its dictionary form (which
        // may be a title: «Идиот»): «Бездельники.», «Козлы!».
        let alone = words.len() == 1 && t.folded != lemma && end(mark_after(i));
        if near || said_to || alone {
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
            "Коллеги, это п@здец.",
            "двойку поставил ваш учитель-ебулдыга",
            "Какая с у к а у вас отвечает за журнал",
            "не могу зайти, с у к а, третий день",
            "опять все слетело, б🤬л🤬я, сколько можно",
            "так ёпт опять не открывается журнал",
            "это п-ц какой-то",
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
            "да вы там совсем ох..ли",
            "вы совсем о***ли",
            "пи...ц какой-то",
            "что за х..ня",
            "з@ебали уже",
            "за***ли уже",
            "вы там м*даки все",
            "долбо*бы",
            "бл..., опять не работает",
            "идите на х@р",
            "рукожопы",
            "гавно ваш журнал",
            "это пи здец какой-то",
            "вы там ох уели совсем",
            "бляяяяяяя ну когда уже",
            "сууука, опять",
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
            "ох... опять не работает",
            "ооочень прошу, страаашно надо, 5А",
            "Ох.. не знаю, что делать",
            "найти х... не получается, задание 5",
            "x*y = 12, так в задании, а проверка не принимает",
            "учитель С***ва поставила двойку",
            "бл. 5, кв. 12",
            "Классный руководитель 7Б Кондратьева Е.Б.",
            "Е.Б. Кондратьева, учитель истории",
        ] {
            assert_eq!(check(text), None, "{text}");
        }
    }

    #[test]
    fn insults_count_when_aimed_at_people() {
        for text in [
            "Вы там все идиоты?",
            "Позорище вы, а не администрация!",
            "передайте программисту, что у него руки из одного места растут",
            "эта дура опять не ответила",
            "Идиоты, за что вам платят",
            "администраторы у вас кретины",
            "Учительница математики у вас тупая корова",
            "вы что, тупые?",
            "ваш админ тупой",
            "тупые программисты опять всё сломали",
            "Ольга Петровна — дура",
            "Какое ещё ФИО?! Вы идиоты, я вам уже три письма написал",
            "сборище идиотов",
            "у вас там одни дебилы сидят",
            "верните оценки, уроды.",
            "Слушайте, идиоты, когда вы почините журнал?",
            "Бездельники.",
            "вы бараны",
            "Козлы!",
            "да пошли вы к черту",
        ] {
            assert!(check(text).is_some(), "{text}");
        }
        for text in [
            "Учитель назвал сына дебилом, разберитесь",
            "Проходим роман «Идиот», нужен доступ к заданию",
            "Читаем Достоевского Идиот, не открывается задание",
            "наш козел в живом уголке заболел",
            "я, наверное, дура, но вы мне объясните, где оценки",
            "Может я тупая, но вы не ответили на письмо",
            "дочь обозвали коровой, учитель не реагирует",
            "мальчики дразнят её коровой",
            "извините за тупой вопрос, но вы не ответили",
            "ваша система тупая какая-то, не открывается",
            "вы мне тупо не отвечаете третий день",
            "учительница рассказывала детям про корову",
            "у вас в школе стадо коров в живом уголке?",
            "на ферме живут куры, утки, корова.",
            "Идиот",
            "Баранова Ольга Ивановна, 5А",
            "В правилах написано: запрещены слова дурак, идиот, дебил",
            "сын говорит, что учитель его дебилом обозвал, а одноклассники — уроды",
        ] {
            assert_eq!(check(text), None, "{text}");
        }
    }
}
