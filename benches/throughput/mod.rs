//! `understand` (the whole of `inspect`'s logic) against mail-parser's bare
//! parse of the same bytes, measured in the same run: shared by
//! `benches/inspect.rs` and the table of `benches/pipeline.rs`.
//!
//! A folder, so cargo does not take it for a bench of its own.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use duty_desk::request::{Context, understand};

/// The golden letters of `fixtures/`, sorted.
pub fn fixtures() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut letters: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    letters.sort();
    assert!(!letters.is_empty(), "no fixtures in {}", dir.display());
    letters
}

/// Median round times of both, over `rounds` rounds that each run the
/// whole set `repeat` times; the two alternate so both see the same
/// machine.
pub struct Throughput {
    pub letters: usize,
    pub bytes: usize,
    pub repeat: usize,
    pub parse: Duration,
    pub understand: Duration,
}

impl Throughput {
    pub fn measure(letters: &[Vec<u8>], rounds: usize, repeat: usize) -> Throughput {
        let ctx = Context::default();
        let parser = mail_parser::MessageParser::default();
        let mut t_parse = Vec::with_capacity(rounds);
        let mut t_understand = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let start = Instant::now();
            for _ in 0..repeat {
                for l in letters {
                    black_box(parser.parse(black_box(l.as_slice())));
                }
            }
            t_parse.push(start.elapsed());

            let start = Instant::now();
            for _ in 0..repeat {
                for l in letters {
                    black_box(understand(black_box(l.as_slice()), &ctx));
                }
            }
            t_understand.push(start.elapsed());
        }
        Throughput {
            letters: letters.len(),
            bytes: letters.iter().map(Vec::len).sum(),
            repeat,
            parse: median(t_parse),
            understand: median(t_understand),
        }
    }

    /// Letters per second for a median round time.
    pub fn per_second(&self, d: Duration) -> f64 {
        (self.letters * self.repeat) as f64 / d.as_secs_f64()
    }

    /// MB per second for a median round time.
    pub fn mb_per_second(&self, d: Duration) -> f64 {
        (self.bytes * self.repeat) as f64 / 1e6 / d.as_secs_f64()
    }

    /// `understand`'s throughput as a share of the bare parse's.
    pub fn ratio(&self) -> f64 {
        self.parse.as_secs_f64() / self.understand.as_secs_f64()
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
