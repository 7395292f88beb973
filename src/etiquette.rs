//! Rule 5 of the regulation: obscene language and insults aimed at people.
//!
//! Words are matched by stem *at the start of a word* (after an optional
//! verbal prefix), never as substrings: «употреблять», «рубля»,
//! «колебаться», «страховка», «подстрахуйте», «командировка» hold an
//! obscene-looking inside and are innocent. An exception list catches the
//! innocent words that do start like an obscene stem. A mild «блин» or
//! «хрен» (also a vegetable) is not a violation; insults count when they
//! are aimed at people: plural «идиоты», or a singular one addressed with
//! «вы/ты/ваш».

use std::sync::LazyLock;

use regex::Regex;

use crate::request::WordSet;

/// Prefixes that turn an obscene root into another obscene verb
/// («за-», «на-», «вы-», «от-ъ»…).
const PREFIXES: &str = "(?:за|на|вы|у|до|от|отъ|разъ|раз|рас|съ|с|подъ|под|объ|об|въ|изъ|по|при|про|пере|недо|о|обо|ни|не|а|в)?";

fn re(p: &str) -> Regex {
    // Invariant: every pattern here is a literal that compiles.
    Regex::new(p).expect("valid regex")
}

/// All stems in one automaton: most words match none, and one pass tells.
static ANY_OBSCENE: LazyLock<regex::RegexSet> = LazyLock::new(|| {
    // Invariant: the same patterns as OBSCENE, which compile.
    regex::RegexSet::new(OBSCENE.iter().map(|(r, _)| r.as_str())).expect("valid regex set")
});

/// Obscene stems, to be matched against a whole lower-cased word (ё → е).
static OBSCENE: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (re(&format!("^{PREFIXES}ху[йеяюи]")), "хуй"),
        (re(&format!("^{PREFIXES}пизд")), "пизд"),
        (re("^пезд"), "пизд"),
        (
            re(
                "^(?:за|на|вы|у|до|от|отъ|разъ|съ|подъ|объ|въ|изъ|по|при|про|пере|недо|до)?е(?:б(?:а|л|н|у|е[тнш]|ё|и|ы|от|ош)|бать)",
            ),
            "еб",
        ),
        (re("^(?:вы)?бля(?:д|т|$)"), "бля"),
        (re("^(?:муда[кчл]|мудил|мудозвон)"), "мудак"),
        (
            re("^(?:сука|суки|суке|суку|сукой|сучка|сучки|сучара|сучий|сучье)$"),
            "сука",
        ),
        (re("^(?:пидор|пидар|пидр|педераст|педик)"), "пидор"),
        (re("^(?:гандон|гондон)"), "гандон"),
        (re("^(?:шлюх|шалав)"), "шлюха"),
        (re("^залуп"), "залупа"),
        (re("^(?:манда|манды|мандой)$"), "манда"),
        (re("^(?:ублюд|выблядок|выродк|выродок)"), "ублюдок"),
        (re("^(?:мраз[ьи])"), "мразь"),
        // Bare «хрен» is mild (and a vegetable); «охренели» is not.
        (re("^(?:о|на|по|за|а|ох)хрен"), "охренеть"),
        (
            re("^(?:долбан|долбо[её]б|долбоеб|долбанут|гребан|ебуч)"),
            "долбаный",
        ),
        // Self-censored spellings: х*й, п**дец, бл*ть, е**ть.
        (
            re(r"^(?:на|по|за|от|вы|у|до|о)?х[*]+[йяеюи]?$|^(?:на|по|за|от|вы|у|до|о)?х[у*][*]+"),
            "х*й",
        ),
        (re(r"^(?:с|рас|на|от|за)?п[*и][*]+(?:д|ц)|^п[*]+ц$"), "п*зд"),
        (re(r"^бл[*]+[дтяь]"), "бл*"),
        (re(r"^(?:за|на|вы|по|от|у|до)?[её][*]+(?:а|ну|ть|л)"), "е*"),
    ]
});

/// Innocent words that a stem above would catch (prefix + root by
/// accident, or a real word that starts like one).
fn innocent(word: &str) -> bool {
    const INNOCENT_PREFIXES: &[&str] = &[
        "вебин",
        "веб",
        "ебонит",
        "ебург",
        "сукно",
        "сукон",
        "сукров",
        "мандарин",
        "мандат",
        "мандраж",
        "шалаш",
        "гребн",
        "гребл",
        "гребеш",
        "гребень",
        "гребец",
        "залупл",
        "мудр",
        "худ",
        "хуже",
    ];
    INNOCENT_PREFIXES.iter().any(|p| word.starts_with(p))
}

/// Insults at people: plural forms count anywhere (aimed at a group:
/// «Идиоты, за что вам платят»), singular ones only when the sentence
/// addresses someone (вы/ты/ваш/твой) or names staff.
static INSULT_PLURAL: LazyLock<WordSet> = LazyLock::new(|| {
    [
        "идиоты",
        "идиотки",
        "дебилы",
        "дебилки",
        "кретины",
        "придурки",
        "уроды",
        "дегенераты",
        "недоумки",
        "тупицы",
        "твари",
        "сволочи",
        "скоты",
        "козлы",
        "ничтожества",
        "бездари",
        "дармоеды",
        "имбецилы",
        "кретинки",
    ]
    .into_iter()
    .collect()
});
static INSULT_SINGLE: LazyLock<WordSet> = LazyLock::new(|| {
    [
        "идиот",
        "идиотка",
        "дебил",
        "дебилка",
        "кретин",
        "кретинка",
        "придурок",
        "придурки",
        "урод",
        "уродина",
        "дегенерат",
        "недоумок",
        "тупица",
        "тварь",
        "сволочь",
        "скотина",
        "козел",
        "ничтожество",
        "бездарь",
        "бездарность",
        "дура",
        "дурак",
        "имбецил",
        "тупые",
        "тупорылые",
        "безмозглые",
        "криворукие",
        "бестолочи",
        "бестолочь",
    ]
    .into_iter()
    .collect()
});
static ADDRESSEE: LazyLock<WordSet> = LazyLock::new(|| {
    [
        "вы",
        "ты",
        "вас",
        "вам",
        "вами",
        "тебя",
        "тебе",
        "учитель",
        "учительница",
        "администратор",
        "директор",
        "классная",
        "классный",
        "руководитель",
        "оператор",
        "специалист",
        "поддержка",
        "сотрудники",
        "сотрудник",
        "программисты",
        "разработчики",
        "админы",
        "администраторы",
        "учителя",
    ]
    .into_iter()
    .collect()
});

fn words(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if crate::request::is_letter(c) || c == '*' || (c == '-' && !cur.is_empty()) {
            if cur.is_empty() {
                start = i;
            }
            match c {
                'ё' | 'Ё' => cur.push('е'),
                _ => cur.extend(c.to_lowercase()),
            }
        } else if !cur.is_empty() {
            out.push((
                start,
                std::mem::take(&mut cur).trim_end_matches('-').to_string(),
            ));
        }
    }
    if !cur.is_empty() {
        out.push((start, cur.trim_end_matches('-').to_string()));
    }
    out
}

/// Every place where an obscene stem or an insult could begin a word, in
/// one pass over the whole (folded) text: the stems of [`OBSCENE`] with
/// `^` turned into "after a non-letter" and `$` into "before one", and the
/// insults as prefixes. It finds a superset of what [`check`] flags, so a
/// text it does not match — nearly every letter — needs no word-by-word
/// look.
static SUSPECT: LazyLock<Regex> = LazyLock::new(|| {
    let stems: Vec<String> = OBSCENE
        .iter()
        .map(|(r, _)| r.as_str().replace('^', "").replace('$', "(?:[^а-яa-z*]|$)"))
        .collect();
    let insults: Vec<&str> = INSULT_PLURAL
        .iter()
        .chain(INSULT_SINGLE.iter())
        .copied()
        .collect();
    re(&format!(
        "(?:^|[^а-яa-z*])(?:{}|{})",
        stems.join("|"),
        insults.join("|")
    ))
});

/// Why the text breaks rule 5, or `None` when it does not.
pub fn check(text: &str) -> Option<String> {
    check_all(&[text])
}

/// Why any of the texts breaks rule 5 (the first that does), or `None`:
/// one fast pass over all of them decides whether any needs a closer look.
pub fn check_all(texts: &[&str]) -> Option<String> {
    let mut folded = String::with_capacity(texts.iter().map(|t| t.len() + 1).sum());
    for t in texts {
        crate::request::fold_into(t, &mut folded);
        folded.push('\n');
    }
    check_all_folded(texts, &folded)
}

/// [`check_all`] for a caller that has the texts folded already: `folded`
/// must be each of `texts` folded (`request::fold`) and followed by a line
/// break, one after another.
pub(crate) fn check_all_folded(texts: &[&str], folded: &str) -> Option<String> {
    if !SUSPECT.is_match(folded) {
        return None;
    }
    texts.iter().find_map(|t| look_closer(t))
}

/// Sentence by sentence and word by word: the text is suspect.
fn look_closer(text: &str) -> Option<String> {
    // Sentence by sentence, so an insult's addressee is in the same one.
    for sentence in text.split(['.', '!', '?', '\n', ';']) {
        let ws = words(sentence);
        let mut addressed: Option<bool> = None;
        for (idx, (_, w)) in ws.iter().enumerate() {
            // Parts of hyphenated words are words too.
            for piece in
                std::iter::once(w.as_str()).chain(w.split('-').filter(|p| p.len() < w.len()))
            {
                if piece.chars().count() < 3 {
                    continue;
                }
                if !ANY_OBSCENE.is_match(piece) || innocent(piece) {
                    continue;
                }
                for (rx, stem) in OBSCENE.iter() {
                    if rx.is_match(piece) {
                        return Some(format!("obscene language ({stem}…)"));
                    }
                }
            }
            let negated = idx > 0 && ws[idx - 1].1 == "не";
            if negated {
                continue;
            }
            if INSULT_PLURAL.contains(w.as_str()) {
                return Some("insult aimed at people".to_string());
            }
            if INSULT_SINGLE.contains(w.as_str())
                && *addressed
                    .get_or_insert_with(|| ws.iter().any(|(_, x)| ADDRESSEE.contains(x.as_str())))
            {
                return Some("insult aimed at a person".to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn innocent_words_pass() {
        for t in [
            "употреблять рубля хлебать страховка колебаться командировка",
            "подстрахуйте, пожалуйста, застрахуйте, небеса, себе, себя, вебинар",
            "Блин, опять не работает. Хуже некуда. Похудеть. Хребет.",
            "Мандарины, мандат, сукно, блюдо, бляшка, оскорбление, ухудшилось",
            "Хрен с ним. Учительница Сукачёва. Фамилия Хуторской, Ебель? нет",
            "Мой сын не идиот, но не может войти. Страхуйтесь.",
            "Ребёнок учится в 5Б, учебник, требуется, погребальный",
        ] {
            assert_eq!(check(t), None, "{t}");
        }
    }

    #[test]
    fn rude_words_are_flagged() {
        for t in [
            "Вы там совсем охренели?!",
            "ваш долбаный дневник",
            "Идиоты, за что вам платят",
            "Заебали уже со своим журналом",
            "какого х*я не работает",
            "вы идиот?",
            "это пиздец а не дневник",
            "бляха, блядь",
            "Сколько можно, уроды!",
            "Сколько можно ждать, бл**ь!",
        ] {
            assert!(check(t).is_some(), "{t}");
        }
    }
}
