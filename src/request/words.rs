//! The word tools every step of understanding shares — the fold words are
//! compared in, what counts as a letter, a set of words — and the word
//! lists that more than one step reads (a parent's words, a student's words
//! for themselves, a verb's endings). A leaf: it uses nothing of the crate.

/// Words a parent calls themselves by (name reads them after a name too).
pub(crate) const PARENT_WORDS: &[&str] = &[
    "мама",
    "мать",
    "папа",
    "отец",
    "бабушка",
    "дедушка",
    "опекун",
];

/// Words a student names themselves by, before their name («ученица
/// Соколова Алина»); role reads them too.
pub(crate) const STUDENT_SELF: &[&str] = &[
    "ученик",
    "ученица",
    "учащийся",
    "учащаяся",
    "обучающийся",
    "обучающаяся",
];

/// The endings of a verb in the third person or the past tense
/// ([`verbish`]).
const VERB_ENDINGS: &[&str] = &[
    "ла",
    "ли",
    "ет",
    "ит",
    "ут",
    "ют",
    "ат",
    "ят",
    "ется",
    "ится",
    "ается",
    "яется",
    "ал",
    "ил",
    "ел",
    "ял",
];

/// A lower-case word that looks like a verb in the third person or the
/// past tense («сказала», «поставил», «говорит», «ставят»).
pub(crate) fn verbish(w: &str) -> bool {
    let n = w.chars().count();
    if n < 4 || !w.chars().all(|c| ('а'..='я').contains(&c)) {
        return false;
    }
    VERB_ENDINGS.iter().any(|e| w.ends_with(e)) && !["учитель", "родитель", "мать"].contains(&w)
}

/// Lower case with `ё` folded to `е`: the form every matcher here uses.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// [`fold`] appended to `out`, for loops that fold word after word into
/// one buffer instead of allocating for each.
pub(crate) fn fold_into(s: &str, out: &mut String) {
    // Read as bytes: ASCII and the Russian alphabet (two bytes, lead
    // 0xD0 or 0xD1) are folded without decoding characters; any other
    // character is decoded and lower-cased. Runs that stay as they are
    // (most of a letter) are copied whole. `i` and `run` only ever step
    // over whole characters, so they are always character boundaries.
    out.reserve(s.len());
    let b = s.as_bytes();
    let (mut i, mut run) = (0, 0);
    while i < b.len() {
        let x = b[i];
        let (n, folded) = if x < 0x80 {
            (1, x.is_ascii_uppercase().then(|| char::from(x + 32)))
        } else {
            let y = b.get(i + 1).copied().unwrap_or(0);
            match (x, y) {
                // а..п, р..я: as they are.
                (0xD0, 0xB0..=0xBF) | (0xD1, 0x80..=0x8F) => (2, None),
                // А..П → а..п, Р..Я → р..я: U+0410.. → U+0430..
                (0xD0, 0x90..=0xAF) => (2, char::from_u32(0x430 + u32::from(y - 0x90))),
                // Ё, ё → е
                (0xD0, 0x81) | (0xD1, 0x91) => (2, Some('е')),
                _ => {
                    let c = s[i..].chars().next().unwrap_or(' ');
                    let n = c.len_utf8();
                    if !folds_to_itself(c) {
                        out.push_str(&s[run..i]);
                        out.extend(c.to_lowercase());
                        run = i + n;
                    }
                    i += n;
                    continue;
                }
            }
        };
        if let Some(f) = folded {
            out.push_str(&s[run..i]);
            out.push(f);
            run = i + n;
        }
        i += n;
    }
    out.push_str(&s[run..]);
}

/// Whether `lead`, `next`, the first two bytes of a character of a
/// `str`, are a lower-case Russian letter а..я (U+0430..U+044F, not ё):
/// D0 B0..D0 BF or D1 80..D1 8F, read as one number, between which valid
/// UTF-8 has no other pair. No branch: in Russian text the lead bytes
/// alternate unpredictably.
#[inline(always)]
pub(crate) fn is_russian_lower(lead: u8, next: u8) -> bool {
    u16::from_be_bytes([lead, next]).wrapping_sub(0xD0B0) < 0xE0
}

/// How many letters а..я open `b` (bytes of a `str` from a character
/// boundary), two bytes each: the run the word readers pass over with
/// nothing to fold or class.
#[inline(always)]
pub(crate) fn russian_lower_run(b: &[u8]) -> usize {
    let (pairs, _) = b.as_chunks::<2>();
    pairs
        .iter()
        .take_while(|&&[lead, next]| is_russian_lower(lead, next))
        .count()
}

/// A character [`fold`] leaves as it is: lower-case Cyrillic other than
/// `ё`, ASCII other than capitals, and the common signs
/// ([`is_common_sign`]). (Not every such character: the rest are
/// lower-cased, which leaves them as they are.)
#[inline]
pub(crate) fn folds_to_itself(c: char) -> bool {
    ('а'..='я').contains(&c) || c.is_ascii() && !c.is_ascii_uppercase() || is_common_sign(c)
}

/// A character of the Latin-1 signs (U+0080..U+00BF: «, », the no-break
/// space, §, °) or of the general punctuation (U+2000..U+206F: dashes,
/// quotes, the ellipsis, spaces): the non-ASCII characters Russian text is
/// full of, each its own lower case, and all but ª, µ and º no letters.
#[inline]
fn is_common_sign(c: char) -> bool {
    matches!(c, '\u{80}'..='\u{BF}' | '\u{2000}'..='\u{206F}')
}

/// A capital Cyrillic letter of the Russian alphabet.
#[inline]
pub(crate) fn is_cyr_upper(c: char) -> bool {
    ('А'..='Я').contains(&c) || c == 'Ё'
}

/// A lower-case Cyrillic letter of the Russian alphabet.
#[inline]
pub(crate) fn is_cyr_lower(c: char) -> bool {
    ('а'..='я').contains(&c) || c == 'ё'
}

/// A set of words (folded). The words are short and come from our own
/// lists, so a simple multiplicative hash serves, cheaper per lookup than
/// the default SipHash (which guards against inputs chosen to collide:
/// only the lists' words are ever stored).
pub(crate) type WordSet = std::collections::HashSet<&'static str, WordHash>;

/// Builds [`WordHasher`]s for [`WordSet`].
pub(crate) type WordHash = std::hash::BuildHasherDefault<WordHasher>;

/// The multiply-rotate hash of rustc's FxHasher, eight bytes at a time.
#[derive(Default)]
pub(crate) struct WordHasher(u64);

impl std::hash::Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, b: u8) {
        self.write(&[b]);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The offset in U+0400..U+047F (the Cyrillic characters written with
/// lead byte 0xD0 or 0xD1) of the character whose two UTF-8 bytes are
/// `lead` and `next`: an index into a table of that block, read without
/// a branch on which lead byte it is.
#[inline]
pub(crate) fn cyrillic_offset(lead: u8, next: u8) -> usize {
    (usize::from(lead & 1) << 6) | usize::from(next & 0x3F)
}

/// The character at byte `i` of `text`, if any (`i` a character
/// boundary: the byte-reading loops here only step over whole characters).
pub(crate) fn char_at(text: &str, i: usize) -> Option<char> {
    text.get(i..).and_then(|r| r.chars().next())
}

/// The length in bytes of the letter ([`is_letter`]) at byte `i` of
/// `text`, or 0 when there is none. ASCII and Cyrillic (lead byte 0xD0 or
/// 0xD1: U+0400..U+047F, all letters) are told by their first byte.
pub(crate) fn letter_len(text: &str, i: usize) -> usize {
    match text.as_bytes().get(i) {
        Some(x) if x.is_ascii_alphabetic() => 1,
        Some(0xD0 | 0xD1) => 2,
        Some(&x) if x >= 0x80 => char_at(text, i)
            .filter(|&c| is_letter(c))
            .map_or(0, char::len_utf8),
        _ => 0,
    }
}

/// `char::is_alphabetic` with fast paths for ASCII, the common signs
/// ([`is_common_sign`]) and Cyrillic.
#[inline]
pub(crate) fn is_letter(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else if is_common_sign(c) {
        matches!(c, 'ª' | 'µ' | 'º')
    } else {
        ('\u{0400}'..='\u{0481}').contains(&c)
            || ('\u{048A}'..='\u{04FF}').contains(&c)
            || c.is_alphabetic()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The common signs are told at once: no letters but three, as
    /// `char::is_alphabetic` says, and each folds to itself.
    #[test]
    fn common_signs_are_told_at_once() {
        for c in ('\u{80}'..='\u{BF}').chain('\u{2000}'..='\u{206F}') {
            assert!(is_common_sign(c), "{c:?}");
            assert_eq!(is_letter(c), c.is_alphabetic(), "{c:?}");
            assert!(folds_to_itself(c), "{c:?}");
            assert_eq!(c.to_lowercase().to_string(), c.to_string(), "{c:?}");
        }
        assert!(!is_common_sign('\u{7F}') && !is_common_sign('À') && !is_common_sign('№'));
    }

    #[test]
    fn russian_lower_is_a_to_ya_only() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let mut buf = [0; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            let (lead, next) = (bytes[0], bytes.get(1).copied().unwrap_or(0));
            assert_eq!(
                is_russian_lower(lead, next),
                ('а'..='я').contains(&c),
                "{c:?}"
            );
        }
        assert_eq!(russian_lower_run("приветЁж".as_bytes()), 6);
        assert_eq!(russian_lower_run("ая".as_bytes()), 2);
        assert_eq!(russian_lower_run("a".as_bytes()), 0);
    }

    #[test]
    fn fold_agrees_with_its_definition_on_every_character() {
        // The definition, character by character.
        fn reference(s: &str) -> String {
            s.chars()
                .flat_map(|c| match c {
                    'ё' | 'Ё' => vec!['е'],
                    'А'..='Я' => vec![char::from_u32(c as u32 + 32).unwrap_or(c)],
                    _ if c.is_ascii() => vec![c.to_ascii_lowercase()],
                    _ => c.to_lowercase().collect(),
                })
                .collect()
        }
        let all: String = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
        let mut out = String::from("x");
        fold_into(&all, &mut out);
        assert_eq!(out, format!("x{}", reference(&all)));
        for w in ["", "Ё", "ЁЖ", "аЯ", "İstanbul", "ΣΑΣ", "мир", "Z"] {
            assert_eq!(fold(w), reference(w), "{w}");
        }
    }

    #[test]
    fn fold_lowers_and_drops_yo() {
        let mut out = String::from(">");
        fold_into("Ёлка ЁЖ, Школа № 5 — OK ΣΑΣ ǅ ё", &mut out);
        assert_eq!(out, ">елка еж, школа № 5 — ok σασ ǆ е");
        assert_eq!(fold(""), "");
        assert_eq!(fold("уже так"), "уже так");
    }

    #[test]
    fn word_set_finds_its_words_only() {
        let set: WordSet = ["иванова", "мария", "а", "длинноесловоизсписка"]
            .into_iter()
            .collect();
        for w in ["иванова", "мария", "а", "длинноесловоизсписка"]
        {
            assert!(set.contains(w), "{w}");
        }
        for w in ["иванов", "марияа", "", "б", "длинноесловоизспискаа"]
        {
            assert!(!set.contains(w), "{w}");
        }
    }
}
