//! Copies the Russian morphological dictionary (OpenCorpora, as packaged by
//! `rsmorphy-dict-ru`) into the build, so the binary carries it: the crate
//! only names a folder in the build machine's cargo registry.

use std::path::Path;

/// The files `rsmorphy` reads (see `request/morph.rs`).
const FILES: &[&str] = &[
    "grammemes.json.gz",
    "gramtab-opencorpora-ext.json.gz",
    "gramtab-opencorpora-int.json.gz",
    "meta.json.gz",
    "p_t_given_w.intdawg.gz",
    "paradigms.array.gz",
    "prediction-prefixes.dawg.gz",
    "prediction-suffixes-0.dawg.gz",
    "prediction-suffixes-1.dawg.gz",
    "prediction-suffixes-2.dawg.gz",
    "suffixes.json.gz",
    "words.dawg.gz",
];

fn main() {
    let from = Path::new(rsmorphy_dict_ru::DICT_PATH);
    let to = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("morph");
    std::fs::create_dir_all(&to).expect("create OUT_DIR/morph");
    for f in FILES {
        std::fs::copy(from.join(f), to.join(f))
            .unwrap_or_else(|e| panic!("copy {}: {e}", from.join(f).display()));
    }
    println!("cargo::rerun-if-changed=build.rs");
}
