//! Russian morphology: what a word can be (a first name, a surname, a
//! patronymic, a noun …), in which case and gender, and its lemma. The
//! analyser is `rsmorphy` with the OpenCorpora dictionary, which the build
//! embeds in the binary (`build.rs`).
//!
//! The analyser reads its dictionary from files only, so on first use the
//! embedded files are written to a private folder under the temporary
//! directory, loaded, and the folder removed. If that fails the analyser is
//! absent: [`parse`] returns nothing and understanding falls back to its word
//! lists; it never panics.

use std::sync::LazyLock;

use rsmorphy::prelude::*;

macro_rules! dict_file {
    ($name:literal) => {
        (
            $name,
            include_bytes!(concat!(env!("OUT_DIR"), "/morph/", $name)),
        )
    };
}

/// The dictionary's files, embedded (see `build.rs`).
const FILES: &[(&str, &[u8])] = &[
    dict_file!("grammemes.json.gz"),
    dict_file!("gramtab-opencorpora-ext.json.gz"),
    dict_file!("gramtab-opencorpora-int.json.gz"),
    dict_file!("meta.json.gz"),
    dict_file!("p_t_given_w.intdawg.gz"),
    dict_file!("paradigms.array.gz"),
    dict_file!("prediction-prefixes.dawg.gz"),
    dict_file!("prediction-suffixes-0.dawg.gz"),
    dict_file!("prediction-suffixes-1.dawg.gz"),
    dict_file!("prediction-suffixes-2.dawg.gz"),
    dict_file!("suffixes.json.gz"),
    dict_file!("words.dawg.gz"),
];

static ANALYSER: LazyLock<Option<MorphAnalyzer>> = LazyLock::new(load);

fn load() -> Option<MorphAnalyzer> {
    let dir = std::env::temp_dir().join(format!(
        "duty-desk-morph-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let written = (|| -> std::io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)?;
        for (name, bytes) in FILES {
            std::fs::write(dir.join(name), bytes)?;
        }
        Ok(())
    })();
    let analyser = match written {
        Ok(()) => std::panic::catch_unwind(|| MorphAnalyzer::from_file(&dir)).ok(),
        Err(_) => None,
    };
    let _ = std::fs::remove_dir_all(&dir);
    analyser
}

/// Loads the dictionary now (about a second) instead of at the first letter.
pub fn warm_up() -> bool {
    ANALYSER.is_some()
}

/// One reading of a word.
#[derive(Clone, Debug)]
pub struct Reading {
    /// The dictionary form (`сидоровой` → `сидоров`).
    pub lemma: String,
    /// OpenCorpora grammemes: `NOUN`, `Name`, `Surn`, `Patr`, `nomn`, `femn` …
    pub grammemes: Vec<String>,
    lex: Lex,
}

impl Reading {
    pub fn has(&self, grammeme: &str) -> bool {
        self.grammemes.iter().any(|g| g == grammeme)
    }

    /// This word in `grammemes` (`"nomn"`, `"nomn,femn"`), if it has such a
    /// form: of the lexeme's forms that have every grammeme asked for, the
    /// one that keeps most of this reading's other grammemes (its number,
    /// its kind of name), case and gender aside. (The analyser's own
    /// `inflect` does not drop the old case here, so it may return the form
    /// it started from.)
    pub fn inflected(&self, grammemes: &str) -> Option<String> {
        let morph = ANALYSER.as_ref()?;
        let wanted: Vec<&str> = grammemes.split(',').map(str::trim).collect();
        let changeable = [
            "nomn", "gent", "datv", "accs", "ablt", "loct", "voct", "gen2", "acc2", "loc2", "masc",
            "femn", "neut", "ms-f",
        ];
        let kept: Vec<&str> = self
            .grammemes
            .iter()
            .map(String::as_str)
            .filter(|g| !changeable.contains(g))
            .collect();
        self.lex
            .iter_lexeme(morph)
            .filter_map(|lex| {
                let tag = lex.get_tag(morph).string.to_string();
                let tag: Vec<&str> = tag.split([',', ' ']).collect();
                if !wanted.iter().all(|w| tag.contains(w)) {
                    return None;
                }
                let score = kept.iter().filter(|g| tag.contains(g)).count();
                Some((score, lex.get_word().into_owned()))
            })
            // The first of the best: the lexeme lists its main forms first.
            .fold(
                None,
                |best: Option<(usize, String)>, (score, word)| match best {
                    Some((b, _)) if b >= score => best,
                    _ => Some((score, word)),
                },
            )
            .map(|(_, word)| word)
    }
}

/// Every reading of a lower-case word (none without the dictionary).
///
/// Only words of three letters or more without a hyphen are looked up: the
/// analyser asserts on shorter unknown words (and on short parts of a
/// hyphenated one). Should it panic on some other word all the same, the
/// word has no readings.
pub fn parse(word: &str) -> Vec<Reading> {
    let Some(morph) = ANALYSER.as_ref() else {
        return Vec::new();
    };
    if word.chars().count() < 3 || !word.chars().all(char::is_alphabetic) {
        return Vec::new();
    }
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| morph.parse(word)));
    let Ok(parsed) = parsed else {
        return Vec::new();
    };
    parsed
        .iter()
        .map(|p| Reading {
            lemma: p.lex.get_normal_form(morph).into_owned(),
            grammemes: p
                .lex
                .get_tag(morph)
                .string
                .split([',', ' '])
                .map(str::to_string)
                .collect(),
            lex: p.lex.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_told_with_their_case() {
        assert!(warm_up(), "the embedded dictionary loads");
        let r = parse("сидоровой");
        assert!(
            r.iter()
                .any(|r| r.has("Surn") && r.has("datv") && r.has("femn"))
        );
        let r = parse("петровича");
        assert!(r.iter().all(|r| !r.has("nomn")) && r.iter().any(|r| r.has("Patr")));
        let nominative = r
            .iter()
            .find(|r| r.has("Patr"))
            .and_then(|r| r.inflected("nomn"));
        assert_eq!(nominative.as_deref(), Some("петрович"));
        assert!(parse("мама").iter().all(|r| !r.has("Name")));
        // Words the analyser would assert on have no readings.
        for w in ["щщ", "ъ", "кк-ккк", "ззз"] {
            let _ = parse(w);
        }
    }
}
