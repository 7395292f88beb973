//! Word lists looked up by the first eight bytes of a word: one look-up
//! per word of a letter answers for every list and stem at once. The
//! steps that read a text word by word (role's cues, description's
//! markers, name's word lists) keep their lists as readable lists and
//! build a [`Lexicon`] of them once.

/// What the lists say of a word. A word that several entries match has
/// what each says, merged in the order the entries were given.
pub(crate) trait Merge: Copy + Default {
    fn merge(&mut self, other: Self);
}

/// Bits of lists: merged by or.
impl Merge for u8 {
    fn merge(&mut self, other: u8) {
        *self |= other;
    }
}

/// Bits of lists: merged by or.
impl Merge for u16 {
    fn merge(&mut self, other: u16) {
        *self |= other;
    }
}

/// A listed word or stem (folded, as [`fold`](super::fold) gives it) and
/// what it says of a word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<V> {
    pub(crate) text: &'static str,
    /// A stem matches the words that start with it; a word only itself.
    pub(crate) stem: bool,
    pub(crate) value: V,
}

/// Every entry, grouped by its first eight bytes ([`key`]); the groups sit
/// in a small open-addressing table. A word's key picks a slot: an empty
/// one says no entry shares the word's first eight bytes (most words of a
/// letter), a taken one names a group, and a group with another key sends
/// the search on to the next slot.
pub(crate) struct Lexicon<V> {
    /// For each slot, 0 when empty, else one more than a group's index.
    /// Their number is a power of two, at least four times the groups'.
    slots: Vec<u16>,
    groups: Vec<Group<V>>,
    /// The entries longer than eight bytes, each group's side by side.
    long: Vec<Entry<V>>,
}

/// The entries that share one key, with what the key alone tells.
struct Group<V> {
    key: u64,
    /// What a word of up to eight bytes with this key is given: a word
    /// that short is its key (a folded word has no zero byte), so the
    /// entries as long as it are it.
    short: V,
    /// What every longer word with this key is given: its stems of eight
    /// bytes.
    long: V,
    /// Its entries longer than eight bytes: their range in
    /// [`Lexicon::long`], tried one by one on a longer word.
    start: u16,
    end: u16,
}

impl<V: Merge> Lexicon<V> {
    /// The lexicon of `entries`. Every stem must be eight bytes or longer
    /// (four Russian letters): a key could not find a shorter one. The
    /// lists are literals, and each user's tests build its lexicon, so a
    /// short stem is caught there.
    pub(crate) fn new(entries: impl IntoIterator<Item = Entry<V>>) -> Lexicon<V> {
        let mut by_key: Vec<(u64, Entry<V>)> = entries
            .into_iter()
            .inspect(|e| assert!(!e.stem || e.text.len() >= 8, "stem too short: {}", e.text))
            .map(|e| (key(e.text.as_bytes()), e))
            .collect();
        // Stable: the entries of a key stay in the order given.
        by_key.sort_by_key(|&(k, _)| k);
        let groups = by_key.windows(2).filter(|p| p[0].0 != p[1].0).count() + 1;
        let mut lexicon = Lexicon {
            slots: vec![0; (4 * groups).next_power_of_two()],
            groups: Vec::new(),
            long: Vec::new(),
        };
        for (k, entry) in by_key {
            // Invariant: the lists hold far fewer than 65,535 entries.
            let at = u16::try_from(lexicon.long.len()).expect("the lists fit a u16");
            if lexicon.groups.last().is_none_or(|group| group.key != k) {
                lexicon.groups.push(Group {
                    key: k,
                    short: V::default(),
                    long: V::default(),
                    start: at,
                    end: at,
                });
                let mut s = lexicon.slot_of(k);
                while lexicon.slots[s] != 0 {
                    s = (s + 1) % lexicon.slots.len();
                }
                // Invariant: as above, and fewer groups than entries.
                lexicon.slots[s] = u16::try_from(lexicon.groups.len()).expect("fits a u16");
            }
            // Invariant: a group was pushed just above if there was none.
            let group = lexicon.groups.last_mut().expect("a group");
            match entry.text.len() {
                ..8 => group.short.merge(entry.value),
                8 => {
                    group.short.merge(entry.value);
                    if entry.stem {
                        group.long.merge(entry.value);
                    }
                }
                _ => {
                    lexicon.long.push(entry);
                    group.end = at + 1;
                }
            }
        }
        lexicon
    }

    /// What the lists say of the folded word `w`.
    pub(crate) fn get(&self, w: &str) -> V {
        self.get_keyed(w, key(w.as_bytes()))
    }

    /// [`Lexicon::get`] for a caller that has `w`'s [`key`] already.
    pub(crate) fn get_keyed(&self, w: &str, k: u64) -> V {
        let Some(group) = self.group(k) else {
            return V::default();
        };
        let w = w.as_bytes();
        if w.len() <= 8 {
            return group.short;
        }
        let long = self
            .long
            .get(usize::from(group.start)..usize::from(group.end))
            .unwrap_or_default();
        long.iter()
            .filter(|e| matches_past_key(e, w))
            .fold(group.long, |mut v, e| {
                v.merge(e.value);
                v
            })
    }

    /// The group with key `k`, if any.
    fn group(&self, k: u64) -> Option<&Group<V>> {
        let mut s = self.slot_of(k);
        // The table is never full, so an empty slot ends the search.
        while let Some(group) = self
            .slots
            .get(s)
            .and_then(|&g| self.groups.get(usize::from(g).wrapping_sub(1)))
        {
            if group.key == k {
                return Some(group);
            }
            s = (s + 1) % self.slots.len();
        }
        None
    }

    /// The slot where the search for key `k` starts: the top bits of a
    /// multiply, which depend on all of the key's bytes.
    fn slot_of(&self, k: u64) -> usize {
        // The shift leaves log2(slots) bits: less than their number.
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.slots.len().trailing_zeros())) as usize
    }
}

/// Whether the folded word `w` (longer than eight bytes) is the entry `e`
/// of its group, or starts with it: their first eight bytes are known to
/// be the same.
fn matches_past_key<V>(e: &Entry<V>, w: &[u8]) -> bool {
    let t = e.text.as_bytes();
    if e.stem {
        w.len() >= t.len() && w.get(8..t.len()) == t.get(8..)
    } else {
        w.len() == t.len() && w.get(8..) == t.get(8..)
    }
}

/// The first eight bytes of `w`, zero-padded, as a number (byte `i` in
/// bits 8i to 8i + 7, as `from_le_bytes` puts it): the key of a
/// [`Lexicon`]. A shorter word is read as two overlapping halves, which
/// put each byte in the same place.
pub(crate) fn key(w: &[u8]) -> u64 {
    if let Some(&head) = w.first_chunk::<8>() {
        return u64::from_le_bytes(head);
    }
    if let (Some(&lo), Some(&hi)) = (w.first_chunk::<4>(), w.last_chunk::<4>()) {
        let (lo, hi) = (u32::from_le_bytes(lo), u32::from_le_bytes(hi));
        return u64::from(lo) | u64::from(hi) << (8 * (w.len() - 4));
    }
    if let (Some(&lo), Some(&hi)) = (w.first_chunk::<2>(), w.last_chunk::<2>()) {
        let (lo, hi) = (u16::from_le_bytes(lo), u16::from_le_bytes(hi));
        return u64::from(lo) | u64::from(hi) << (8 * (w.len() - 2));
    }
    w.first().map_or(0, |&b| u64::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`key`] puts each byte of a word where the byte-by-byte
    /// definition does, whatever its length.
    #[test]
    fn key_puts_each_byte_in_place() {
        let bytes: Vec<u8> = (1..=12).map(|i| i * 17).collect();
        for n in 0..=bytes.len() {
            let w = &bytes[..n];
            let want =
                (w.iter().take(8).enumerate()).fold(0, |k, (i, &b)| k | u64::from(b) << (8 * i));
            assert_eq!(key(w), want, "{n}");
        }
    }

    /// A lexicon answers what the entries, asked one by one, answer.
    #[test]
    fn agrees_with_its_entries_asked_one_by_one() {
        let entries = [
            Entry {
                text: "не",
                stem: false,
                value: 1u8,
            },
            Entry {
                text: "нет",
                stem: false,
                value: 2,
            },
            Entry {
                text: "ошибк",
                stem: true,
                value: 4,
            },
            Entry {
                text: "ошибка",
                stem: false,
                value: 8,
            },
            Entry {
                text: "забыл",
                stem: true,
                value: 16,
            },
            Entry {
                text: "исправ",
                stem: true,
                value: 32,
            },
            Entry {
                text: "исправить",
                stem: false,
                value: 64,
            },
            Entry {
                text: "не",
                stem: false,
                value: 128,
            },
        ];
        let lexicon = Lexicon::new(entries);
        for w in [
            "не",
            "нет",
            "н",
            "ошибк",
            "ошибка",
            "ошибками",
            "ошиб",
            "забыл",
            "забыла",
            "исправ",
            "исправить",
            "исправлено",
            "",
            "да",
            "неделя",
        ] {
            let want = entries
                .iter()
                .filter(|e| {
                    if e.stem {
                        w.starts_with(e.text)
                    } else {
                        w == e.text
                    }
                })
                .fold(0, |v, e| v | e.value);
            assert_eq!(lexicon.get(w), want, "{w}");
        }
        assert!(lexicon.slots.len() >= 4 * lexicon.groups.len());
    }
}
