//! Word lists looked up by the first eight bytes of a word: one look-up
//! per word of a letter answers for every list and stem at once. The
//! steps that read a text word by word (role's cues, description's
//! markers, name's word lists) keep their lists as readable lists and
//! build a [`Lexicon`] of them once.

/// What the lists say of a word. A word that several entries match has
/// what each says, merged in the order the entries were given. Merging
/// the default changes nothing.
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

/// Every entry, grouped by its first eight bytes ([`key`]). A key picks
/// one bucket of a table ([`Lexicon::bucket_of`]), which holds the keys of
/// up to [`WAYS`] groups and what each tells, in one cache line (for
/// values of up to two bytes): a look-up reads that line, compares the
/// word's key with the bucket's four at once, and goes on to a second
/// table only for a word longer than eight bytes whose group has such
/// entries. No key is in another bucket than its own: the table is built
/// with as many buckets, and a multiplier, that let every bucket hold its
/// groups.
pub(crate) struct Lexicon<V> {
    /// The buckets; their number is a power of two.
    buckets: Vec<Bucket<V>>,
    /// The odd number a key is multiplied by to pick its bucket.
    multiplier: u64,
    /// How far [`Lexicon::bucket_of`] shifts the product: 64 less the
    /// log2 of the number of buckets.
    shift: u32,
    /// The entries longer than eight bytes, each group's side by side.
    long: Vec<Long<V>>,
    /// What a key without a group tells: nothing.
    nothing: Group<V>,
}

/// How many groups a bucket holds.
const WAYS: usize = 4;

/// The groups of one bucket: their keys, 0 where there is none (no
/// entry's: a folded word has no zero byte, and no entry is empty), and
/// what each tells; an unused way tells nothing. Aligned, so that a
/// bucket of values of up to two bytes is one cache line.
#[repr(C, align(64))]
#[derive(Clone, Copy, Default)]
struct Bucket<V> {
    keys: [u64; WAYS],
    groups: [Group<V>; WAYS],
}

/// What the entries that share one key tell.
#[derive(Clone, Copy, Default)]
struct Group<V> {
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

/// The longest entry a [`Lexicon`] takes, in bytes (sixteen Russian
/// letters): its bytes past the key are kept in the entry itself, eight
/// at a time ([`Long::chunks`]), not read from wherever the literal sits.
const MAX_ENTRY: usize = 32;

/// An entry longer than eight bytes, by its bytes past its key.
#[derive(Clone, Copy)]
struct Long<V> {
    /// Its eight bytes from each of [`chunk_starts`] (as numbers, as
    /// [`key`] reads them): together, every byte past its key.
    chunks: [u64; 3],
    /// Its length in bytes (9 to [`MAX_ENTRY`]).
    len: u8,
    /// A stem matches the words that start with it; a word only itself.
    stem: bool,
    value: V,
}

/// Where the eight-byte pieces of an entry `len` bytes long (9 to
/// [`MAX_ENTRY`]) that [`Long::chunks`] keeps start: its ninth and
/// seventeenth bytes, each moved back so that it ends within the entry,
/// and its last eight. They overlap one another, or the key, in an entry
/// shorter than 32 bytes; each byte past the key is in one.
fn chunk_starts(len: usize) -> [usize; 3] {
    let last = len - 8;
    [last.min(8), last.min(16), last]
}

/// The eight bytes of `w` from `at`, as a number (0 past its end: never,
/// where the callers read).
fn chunk_at(w: &[u8], at: usize) -> u64 {
    w.get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(0, |&c| u64::from_le_bytes(c))
}

/// The multipliers [`Lexicon::new`] tries, in turn, for each number of
/// buckets: odd, with their bits well mixed.
const MULTIPLIERS: [u64; 8] = [
    0x9E37_79B9_7F4A_7C15,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
    0xFF51_AFD7_ED55_8CCD,
    0xC4CE_B9FE_1A85_EC53,
    0x2545_F491_4F6C_DD1D,
    0x5851_F42D_4C95_7F2D,
];

impl<V: Merge> Lexicon<V> {
    /// The lexicon of `entries`. Every stem must be eight bytes or longer
    /// (four Russian letters): a key could not find a shorter one. No
    /// entry may be empty or longer than [`MAX_ENTRY`]. The lists are
    /// literals, and each user's tests build its lexicon, so a wrong
    /// entry is caught there.
    pub(crate) fn new(entries: impl IntoIterator<Item = Entry<V>>) -> Lexicon<V> {
        let mut by_key: Vec<(u64, Entry<V>)> = entries
            .into_iter()
            .inspect(|e| assert!(!e.stem || e.text.len() >= 8, "stem too short: {}", e.text))
            .inspect(|e| assert!((1..=MAX_ENTRY).contains(&e.text.len()), "{}", e.text))
            .map(|e| (key(e.text.as_bytes()), e))
            .collect();
        // Stable: the entries of a key stay in the order given.
        by_key.sort_by_key(|&(k, _)| k);
        let mut keys: Vec<u64> = by_key.iter().map(|&(k, _)| k).collect();
        keys.dedup();
        let mut lexicon = Lexicon::<V>::fitting(&keys);
        for (k, entry) in by_key {
            // Invariant: the lists hold far fewer than 65,535 entries.
            let at = u16::try_from(lexicon.long.len()).expect("the lists fit a u16");
            let b = lexicon.bucket_of(k);
            let bucket = &mut lexicon.buckets[b];
            // Invariant: `fitting` left a way for every key in its bucket.
            let way = (bucket.keys.iter().position(|&x| x == k))
                .or_else(|| bucket.keys.iter().position(|&x| x == 0))
                .expect("a way for every key");
            if bucket.keys[way] == 0 {
                bucket.keys[way] = k;
                bucket.groups[way].start = at;
                bucket.groups[way].end = at;
            }
            let group = &mut bucket.groups[way];
            let text = entry.text.as_bytes();
            match text.len() {
                ..8 => group.short.merge(entry.value),
                8 => {
                    group.short.merge(entry.value);
                    if entry.stem {
                        group.long.merge(entry.value);
                    }
                }
                _ => {
                    lexicon.long.push(Long::new(text, entry.stem, entry.value));
                    group.end = at + 1;
                }
            }
        }
        lexicon
    }

    /// An empty lexicon with room for the groups of `keys` (distinct): the
    /// fewest buckets, at least one for every two keys, and the first of
    /// [`MULTIPLIERS`] with which no bucket is given more than [`WAYS`].
    fn fitting(keys: &[u64]) -> Lexicon<V> {
        let mut buckets = keys.len().div_ceil(2).next_power_of_two().max(2);
        loop {
            for multiplier in MULTIPLIERS {
                let lexicon = Lexicon {
                    buckets: vec![Bucket::default(); buckets],
                    multiplier,
                    shift: 64 - buckets.trailing_zeros(),
                    long: Vec::new(),
                    nothing: Group::default(),
                };
                let mut load = vec![0; buckets];
                for &k in keys {
                    load[lexicon.bucket_of(k)] += 1;
                }
                if load.iter().all(|&n| n <= WAYS) {
                    return lexicon;
                }
            }
            buckets *= 2;
        }
    }

    /// What the lists say of the folded word `w`.
    pub(crate) fn get(&self, w: &str) -> V {
        self.get_keyed(w, key(w.as_bytes()))
    }

    /// [`Lexicon::get`] for a caller that has `w`'s [`key`] already.
    pub(crate) fn get_keyed(&self, w: &str, k: u64) -> V {
        let Some(bucket) = self.buckets.get(self.bucket_of(k)) else {
            // Invariant: bucket_of gives an index below their number.
            return V::default();
        };
        // The way with key k, WAYS when none: every way compared, with no
        // branch on each. With no group, `nothing` (or an unused way)
        // tells nothing.
        let way = (0..WAYS).fold(WAYS, |found, i| if bucket.keys[i] == k { i } else { found });
        let group = bucket.groups.get(way).unwrap_or(&self.nothing);
        // What the key tells, and the longer entries to try: chosen by the
        // word's length, not branched on (it differs from word to word).
        let w = w.as_bytes();
        let short = w.len() <= 8;
        let value = if short { group.short } else { group.long };
        let end = if short { group.start } else { group.end };
        let long = (self.long)
            .get(usize::from(group.start)..usize::from(end))
            .unwrap_or_default();
        if long.is_empty() {
            return value;
        }
        merge_matches(value, long, w)
    }

    /// The bucket of key `k`: the top bits of a multiply, which depend on
    /// all of the key's bytes.
    fn bucket_of(&self, k: u64) -> usize {
        // The shift leaves log2(buckets) bits: less than their number.
        (k.wrapping_mul(self.multiplier) >> self.shift) as usize
    }
}

impl<V> Long<V> {
    /// The entry `text` (9 to [`MAX_ENTRY`] bytes) with `stem` and
    /// `value`.
    fn new(text: &[u8], stem: bool, value: V) -> Long<V> {
        Long {
            chunks: chunk_starts(text.len()).map(|at| chunk_at(text, at)),
            // Invariant: at most MAX_ENTRY, checked by the caller.
            len: u8::try_from(text.len()).expect("a short entry"),
            stem,
            value,
        }
    }

    /// Whether the folded word `w` (longer than eight bytes) is this
    /// entry, or starts with it: their first eight bytes are known to be
    /// the same. The word's bytes are compared eight at a time, where the
    /// entry's chunks are (or, where the word is shorter than it, within
    /// the word: it is not the entry anyway), with no branch.
    fn matches(&self, w: &[u8]) -> bool {
        let own = usize::from(self.len);
        let long_enough = (w.len() >= own) & (self.stem | (w.len() == own));
        let last = w.len().saturating_sub(8);
        let differ = (chunk_starts(own).iter().zip(self.chunks)).fold(0, |differ, (&at, c)| {
            differ | (chunk_at(w, at.min(last)) ^ c)
        });
        long_enough & (differ == 0)
    }
}

/// `value` merged with the values of the entries of `long` that the
/// folded word `w` matches ([`Long::matches`]). Out of line: the look-up
/// of most words does not come here, and then needs fewer registers.
#[inline(never)]
fn merge_matches<V: Merge>(value: V, long: &[Long<V>], w: &[u8]) -> V {
    long.iter().fold(value, |mut v, e| {
        // Merging the default changes nothing: no branch on the match.
        v.merge(if e.matches(w) { e.value } else { V::default() });
        v
    })
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

    /// What `entries`, asked one by one, say of the word `w`: the values
    /// of the words it is and the stems it starts with, merged.
    fn one_by_one<V: Copy + Default + std::ops::BitOr<Output = V>>(
        entries: &[Entry<V>],
        w: &str,
    ) -> V {
        entries
            .iter()
            .filter(|e| match e.stem {
                true => w.starts_with(e.text),
                false => w == e.text,
            })
            .fold(V::default(), |v, e| v | e.value)
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
            assert_eq!(lexicon.get(w), one_by_one(&entries, w), "{w}");
        }
        let groups = lexicon
            .buckets
            .iter()
            .flat_map(|b| b.keys)
            .filter(|&k| k != 0);
        assert!(lexicon.buckets.len() * 2 >= groups.count());
    }

    /// Entries of every length up to [`MAX_ENTRY`], words and stems, many
    /// sharing a key (more than a bucket's ways of keys besides), asked
    /// with every beginning of them and of longer words, and with a byte
    /// changed at each place: the lexicon answers what the entries, asked
    /// one by one, answer.
    #[test]
    fn agrees_with_its_entries_at_every_length() {
        let alphabet = "абвгдежзийклмнопрстуфхцчшщъыьэюя";
        let mut texts: Vec<String> = Vec::new();
        for n in 1..=16 {
            // Two runs of n letters with the same first four (one key
            // when long enough), and one of other letters.
            texts.push(alphabet.chars().take(n).collect());
            let rest: String = alphabet.chars().rev().take(n.saturating_sub(4)).collect();
            texts.push(format!("абвг{rest}"));
            texts.push(alphabet.chars().rev().take(n).collect());
            texts.push(format!("{}{}", "абвг", "щ".repeat(n.saturating_sub(4))));
        }
        texts.extend((0..40).map(|i| format!("key{i}")));
        texts.sort();
        texts.dedup();
        let leaked: Vec<&'static str> = texts.into_iter().map(|t| &*t.leak()).collect();
        let entries: Vec<Entry<u16>> = (leaked.iter().enumerate())
            .flat_map(|(i, &text)| {
                let value = 1u16 << (i % 16);
                let word = Entry {
                    text,
                    stem: false,
                    value,
                };
                let stem = Entry {
                    text,
                    stem: true,
                    value: value.rotate_left(3),
                };
                [Some(word), (text.len() >= 8 && i % 3 != 0).then_some(stem)]
            })
            .flatten()
            .collect();
        let lexicon = Lexicon::new(entries.iter().copied());
        let mut words: Vec<String> = Vec::new();
        for &t in &leaked {
            for more in ["", "я", "ящик", "я".repeat(20).as_str(), "x"] {
                let w = format!("{t}{more}");
                let chars: Vec<char> = w.chars().collect();
                for n in 0..=chars.len() {
                    words.push(chars[..n].iter().collect());
                }
                for i in 0..chars.len() {
                    let mut changed = chars.clone();
                    changed[i] = 'ё';
                    words.push(changed.into_iter().collect());
                }
            }
        }
        for w in &words {
            assert_eq!(lexicon.get(w), one_by_one(&entries, w), "{w}");
        }
    }
}
