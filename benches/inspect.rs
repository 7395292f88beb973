//! Throughput of `understand` (the whole of `inspect`'s logic) on the
//! golden fixtures, next to mail-parser's bare parse of the same bytes in
//! the same run. Prints medians over several rounds and the ratio, then
//! where the time goes, step by step.
//!
//! Run with `cargo bench --bench inspect`.
//!
//! Measured on 2026-11-29 17:24–17:44 (2 cores, load average 0.6–1.0,
//! 130 fixtures, 224 KB; 150 runs, this build's alternating with those
//! of f426143): ratio median 0.52 (quartiles 0.50 and 0.54; aim 0.5)
//! against 0.49 (0.47 and 0.51) for the older build; 61 of this build's
//! 75 runs reach 0.5. One run's ratio moves by ±0.05 on this shared
//! machine: compare builds by many runs, alternately. (Here etiquette
//! folds and role tokenises the text each on its own; `understand` does
//! both once for the two.) Under callgrind `understand` is 126.7k
//! instructions per letter against 89.9k for the bare parse, with 2.9×
//! its L1i misses, 6.2× its L1d read misses and 1.6× its mispredicted
//! branches; it runs 1,486 distinct 64-byte lines of code per letter
//! against the parse's 694 (`scripts/code-footprint`). Sampled with `perf
//! record -e cpu-clock`, a regex call costs far more time than its
//! instructions say: the steps call the engine only where a cheap exact
//! look cannot tell (see README, Performance).

use std::hint::black_box;
use std::time::{Duration, Instant};

use duty_desk::request::{class, decode, description, name, role, text};

mod throughput;

const ROUNDS: usize = 9;
/// Each round runs the whole set this many times, so it lasts long enough
/// to time reliably.
const REPEAT: usize = 20;

fn main() {
    let letters = throughput::fixtures();
    let t = throughput::Throughput::measure(&letters, ROUNDS, REPEAT);
    for (name, d) in [
        ("mail-parser parse", t.parse),
        ("duty-desk understand", t.understand),
    ] {
        println!(
            "{name:<28} {:>10.0} msg/s {:>8.1} MB/s  (median of {ROUNDS} rounds, {} letters, {:.1} KB)",
            t.per_second(d),
            t.mb_per_second(d),
            t.letters,
            t.bytes as f64 / 1e3
        );
    }
    println!("ratio understand/parse throughput: {:.2}", t.ratio());
    warm(&letters);
    stages(&letters);
}

/// The same ratio with each letter run many times in a row, so that the
/// branch predictor and the caches learn it: how much of `understand`'s
/// time goes to the letters being different from one another (the
/// throughput above cycles through them, as the daemon does).
fn warm(letters: &[Vec<u8>]) {
    const IN_A_ROW: usize = 50;
    const ROUNDS: usize = 5;
    let ctx = duty_desk::request::Context::default();
    let parser = mail_parser::MessageParser::default();
    let mut rounds = Vec::with_capacity(ROUNDS);
    for _ in 0..ROUNDS {
        let (mut parse, mut understand) = (Duration::ZERO, Duration::ZERO);
        for raw in letters {
            let start = Instant::now();
            for _ in 0..IN_A_ROW {
                black_box(parser.parse(black_box(raw.as_slice())));
            }
            parse += start.elapsed();
            let start = Instant::now();
            for _ in 0..IN_A_ROW {
                black_box(duty_desk::request::understand(black_box(raw), &ctx));
            }
            understand += start.elapsed();
        }
        let n = (letters.len() * IN_A_ROW) as f64;
        rounds.push((
            parse.as_secs_f64() / understand.as_secs_f64(),
            parse.as_secs_f64() / n * 1e6,
            understand.as_secs_f64() / n * 1e6,
        ));
    }
    rounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (ratio, parse, understand) = rounds[ROUNDS / 2];
    println!(
        "each letter {IN_A_ROW} times in a row: parse {parse:.1} µs, understand {understand:.1} µs, ratio {ratio:.2} (median of {ROUNDS} rounds)"
    );
}

/// Where the time of `understand` goes: each step timed in pipeline
/// order, letter by letter, as the daemon runs them (so each step finds
/// the CPU caches as the step before left them). Mean µs per letter.
fn stages(letters: &[Vec<u8>]) {
    const NAMES: [&str; 9] = [
        "MIME parse",
        "headers",
        "body",
        "split",
        "etiquette",
        "role",
        "name",
        "class",
        "description",
    ];
    let mut t = [Duration::ZERO; 9];
    for _ in 0..REPEAT {
        for raw in letters {
            let mut marks = [Instant::now(); 10];
            let Some(msg) = decode::parser().parse(raw.as_slice()) else {
                continue;
            };
            marks[1] = Instant::now();
            let h = black_box(decode::headers(&msg));
            marks[2] = Instant::now();
            let body = black_box(decode::body(&msg));
            marks[3] = Instant::now();
            let parts = black_box(text::split(&body.text));
            marks[4] = Instant::now();
            black_box(duty_desk::etiquette::check_all(&[
                &parts.new,
                &parts.signature,
                &h.subject,
            ]));
            marks[5] = Instant::now();
            let own = format!("{}\n{}", parts.new, parts.signature);
            let r = black_box(role::detect(&own));
            marks[6] = Instant::now();
            let n = black_box(name::find(&parts, h.sender_name.as_deref(), r));
            marks[7] = Instant::now();
            let c = black_box(class::find(&own));
            marks[8] = Instant::now();
            let gives = n.is_some() || c.is_some();
            black_box(description::find(
                &parts.new,
                &h.subject,
                &parts.quoted,
                false,
                gives,
            ));
            marks[9] = Instant::now();
            for (i, d) in t.iter_mut().enumerate() {
                *d += marks[i + 1] - marks[i];
            }
        }
    }
    let total: Duration = t.iter().sum();
    let n = (letters.len() * REPEAT) as f64;
    println!("\nwhere the time goes (mean per letter, steps in pipeline order):");
    for (name, d) in NAMES.iter().zip(t) {
        println!(
            "  {name:<12} {:>7.1} µs  {:>5.1} %",
            d.as_secs_f64() / n * 1e6,
            d.as_secs_f64() / total.as_secs_f64() * 100.0
        );
    }
}
