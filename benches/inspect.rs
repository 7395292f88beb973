//! Throughput of `understand` (the whole of `inspect`'s logic) on the
//! golden fixtures, next to mail-parser's bare parse of the same bytes in
//! the same run. Prints medians over several rounds and the ratio.
//!
//! Run with `cargo bench --bench inspect`.
//!
//! Measured on 2026-11-28 (2 shared cores, 126 fixtures, 221 KB): parse
//! 40,900 msg/s (71.9 MB/s), understand 6,300 msg/s (11.1 MB/s), ratio
//! 0.15. The heuristics (role, name, class, description, etiquette) each
//! scan the new text again; sharing one tokenisation between them is the
//! way to the 0.5 the issue aims at.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use duty_desk::request::{Context, understand};

const ROUNDS: usize = 9;
/// Each round runs the whole set this many times, so it lasts long enough
/// to time reliably.
const REPEAT: usize = 20;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut letters: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    letters.sort();
    assert!(!letters.is_empty(), "no fixtures in {}", dir.display());
    let bytes: usize = letters.iter().map(Vec::len).sum();
    let ctx = Context::default();
    let parser = mail_parser::MessageParser::default();

    let mut t_understand = Vec::with_capacity(ROUNDS);
    let mut t_parse = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..REPEAT {
            for l in &letters {
                black_box(parser.parse(black_box(l.as_slice())));
            }
        }
        t_parse.push(start.elapsed());

        let start = Instant::now();
        for _ in 0..REPEAT {
            for l in &letters {
                black_box(understand(black_box(l.as_slice()), &ctx));
            }
        }
        t_understand.push(start.elapsed());
    }

    let n = (letters.len() * REPEAT) as f64;
    let mb = (bytes * REPEAT) as f64 / 1e6;
    let report = |name: &str, d: Duration| {
        let s = d.as_secs_f64();
        println!(
            "{name:<28} {:>10.0} msg/s {:>8.1} MB/s  (median of {ROUNDS} rounds, {} letters, {:.1} KB)",
            n / s,
            mb / s,
            letters.len(),
            bytes as f64 / 1e3
        );
        s
    };
    let parse = report("mail-parser parse", median(t_parse));
    let whole = report("duty-desk understand", median(t_understand));
    println!("ratio understand/parse throughput: {:.2}", parse / whole);
}
