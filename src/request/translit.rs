//! Latin spellings of Russian names read back into Cyrillic (a From display
//! name «Elena Tkachenko»), letter group by letter group
//! (`lexicon/translit.txt`), with a second, softened reading for the soft
//! signs Latin spelling drops.
use std::sync::LazyLock;

use super::words;

static TRANSLIT: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    words::entries(include_str!("lexicon/translit.txt"))
        .iter()
        .filter_map(|e| {
            e.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.trim().to_string()))
        })
        .collect()
});

/// A Latin name read back into Cyrillic, letter group by letter group.
pub fn cyrillic(latin: &str) -> String {
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

/// A Latin spelling's second reading: an «i» or «y» between a consonant and
/// a vowel read as a soft sign and an iotated vowel (Vasiliev as Васильев,
/// Natalya as Наталья), an «l» before a consonant as soft (Olga as Ольга),
/// as Russian names are often spelt in Latin.
pub fn softened(latin: &str) -> String {
    let chars: Vec<char> = latin.to_lowercase().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let consonant = |c: char| "bcdfghklmnprstvz".contains(c);
        let soft = matches!(chars[i], 'i' | 'y') && i > 0 && consonant(chars[i - 1]);
        // «Olga», «Elvira»: an «l» before another consonant is soft.
        if chars[i] == 'l' && chars.get(i + 1).is_some_and(|&n| consonant(n) && n != 'l') {
            out.push_str("lь");
            i += 1;
            continue;
        }
        let iotated = chars.get(i + 1).and_then(|n| match n {
            'e' => Some('е'),
            'a' => Some('я'),
            'u' => Some('ю'),
            'o' => Some('ё'),
            _ => None,
        });
        match iotated {
            Some(vowel) if soft => {
                out.push('ь');
                out.push(vowel);
                i += 2;
            }
            _ => {
                out.push(chars[i]);
                i += 1;
            }
        }
    }
    out
}
