//! How well letters nobody on the team wrote are understood:
//!
//!   cargo run --release --example corpus -- corpus/heldout [-v]
//!
//! Each `cNNN.eml` in the folder has a label `cNNN.json` written with it (see
//! corpus/README.md). Prints, for the folder: verdict right, writer's name right,
//! class right, rude letters caught, polite letters called rude, real requests
//! ignored, description complete (every labelled phrase in it) and clean (no
//! excluded phrase in it). `-v` lists each miss.
use std::path::{Path, PathBuf};

use duty_desk::request::{Context, understand};
use serde::Deserialize;

#[derive(Deserialize)]
struct Label {
    verdict: String,
    full_name: Option<String>,
    class: Option<String>,
    #[serde(default)]
    description_contains: Vec<String>,
    #[serde(default)]
    description_excludes: Vec<String>,
    #[serde(default)]
    rude: bool,
    #[serde(default)]
    missing: Vec<String>,
}

/// Lower case, dots as spaces, each word spelt in Latin letters the same way
/// whichever alphabet it came in, words sorted: «Петров И.С.» = «петров и с»,
/// «Кузьмина Елена» = «Elena Kuzmina».
fn name_key(s: &str) -> String {
    let s = s.to_lowercase().replace('.', " ");
    let mut words: Vec<String> = s.split_whitespace().map(latin_skeleton).collect();
    words.sort_unstable();
    words.join(" ")
}

/// A word in Latin letters with the spellings that vary between writers
/// made one: й, y, j and i alike; kh as h; no soft sign; no i before a vowel
/// (Vasiliev, Васильев).
fn latin_skeleton(word: &str) -> String {
    let mut latin = String::new();
    for c in word.chars() {
        let to = match c {
            'а' => "a",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'е' | 'ё' | 'э' => "e",
            'ж' => "zh",
            'з' => "z",
            'и' | 'й' | 'ы' => "i",
            'к' => "k",
            'л' => "l",
            'м' => "m",
            'н' => "n",
            'о' => "o",
            'п' => "p",
            'р' => "r",
            'с' => "s",
            'т' => "t",
            'у' => "u",
            'ф' => "f",
            'х' => "h",
            'ц' => "ts",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ь' | 'ъ' | '\'' => "",
            'ю' => "iu",
            'я' => "ia",
            'y' | 'j' => "i",
            _ => {
                latin.push(c);
                continue;
            }
        };
        latin.push_str(to);
    }
    let latin = latin.replace("kh", "h").replace("ks", "x");
    let chars: Vec<char> = latin.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        let before_vowel = chars.get(i + 1).is_some_and(|n| "aeiou".contains(*n));
        if *c == 'i' && before_vowel && i > 0 {
            continue;
        }
        out.push(*c);
    }
    out
}

/// Lower case, ё as е, whitespace squeezed, for phrase containment.
fn text_key(s: &str) -> String {
    s.to_lowercase()
        .replace('ё', "е")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Default)]
struct Tally {
    letters: usize,
    verdict: usize,
    names: usize,
    names_right: usize,
    classes: usize,
    classes_right: usize,
    rude: usize,
    rude_caught: usize,
    polite_called_rude: usize,
    requests: usize,
    requests_ignored: usize,
    described: usize,
    complete: usize,
    clean: usize,
}

fn pct(a: usize, b: usize) -> String {
    if b == 0 {
        "—".into()
    } else {
        format!("{:.0} % ({a}/{b})", 100.0 * a as f64 / b as f64)
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verbose = args.iter().any(|a| a == "-v");
    let dirs: Vec<PathBuf> = args
        .iter()
        .filter(|a| *a != "-v")
        .map(PathBuf::from)
        .collect();
    anyhow::ensure!(!dirs.is_empty(), "usage: corpus DIR... [-v]");
    let ctx = Context::default();
    let mut t = Tally::default();
    let mut misses = Vec::new();
    for dir in &dirs {
        let mut labels: Vec<PathBuf> = std::fs::read_dir(dir)?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        labels.sort();
        for path in labels {
            let label: Label = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
            let eml = path.with_extension("eml");
            let raw = std::fs::read(&eml)?;
            let req = understand(&raw, &ctx);
            let got = serde_json::to_value(req.verdict)?;
            let got = got.as_str().unwrap_or("");
            let file = file_name(&eml);
            let mut miss = |what: String| misses.push(format!("{file}: {what}"));
            t.letters += 1;
            if got == label.verdict {
                t.verdict += 1;
            } else {
                miss(format!(
                    "verdict {got}, labelled {} ({})",
                    label.verdict, req.reason
                ));
            }
            let is_request = label.verdict == "forward" || label.verdict == "ask";
            if is_request {
                t.requests += 1;
                if got == "ignore" {
                    t.requests_ignored += 1;
                }
                t.names += 1;
                // A name labelled missing («Никита» alone) is no full name.
                let want = label
                    .full_name
                    .as_deref()
                    .filter(|_| !label.missing.iter().any(|m| m == "full_name"))
                    .map(name_key);
                let have = req.full_name.as_deref().map(name_key);
                if want == have {
                    t.names_right += 1;
                } else {
                    miss(format!("name {have:?}, labelled {want:?}"));
                }
                t.classes += 1;
                if label.class == req.class {
                    t.classes_right += 1;
                } else {
                    miss(format!("class {:?}, labelled {:?}", req.class, label.class));
                }
            }
            if label.rude {
                t.rude += 1;
                if got == "etiquette" {
                    t.rude_caught += 1;
                }
            } else if got == "etiquette" {
                t.polite_called_rude += 1;
                miss(format!("polite letter called rude ({})", req.reason));
            }
            if is_request && !label.description_contains.is_empty() {
                t.described += 1;
                let d = text_key(req.description.as_deref().unwrap_or(""));
                let lacking: Vec<&String> = label
                    .description_contains
                    .iter()
                    .filter(|p| !d.contains(&text_key(p)))
                    .collect();
                let extra: Vec<&String> = label
                    .description_excludes
                    .iter()
                    .filter(|p| d.contains(&text_key(p)))
                    .collect();
                if lacking.is_empty() {
                    t.complete += 1;
                } else {
                    miss(format!("description lacks {lacking:?}: {d:?}"));
                }
                if extra.is_empty() {
                    t.clean += 1;
                } else {
                    miss(format!("description holds {extra:?}"));
                }
            }
        }
    }
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    println!("{} — {} letters", names.join(", "), t.letters);
    println!("  verdict right            {}", pct(t.verdict, t.letters));
    println!("  writer's name right      {}", pct(t.names_right, t.names));
    println!(
        "  class right              {}",
        pct(t.classes_right, t.classes)
    );
    println!("  rude letters caught      {}", pct(t.rude_caught, t.rude));
    println!("  polite called rude       {}", t.polite_called_rude);
    println!("  real requests ignored    {}", t.requests_ignored);
    println!(
        "  description complete     {}",
        pct(t.complete, t.described)
    );
    println!("  description clean        {}", pct(t.clean, t.described));
    if verbose {
        for m in misses {
            println!("  {m}");
        }
    }
    Ok(())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}
