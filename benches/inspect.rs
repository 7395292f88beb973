//! Throughput of `understand` (the whole of `inspect`'s logic) on the
//! golden fixtures, next to mail-parser's bare parse of the same bytes in
//! the same run. Prints medians over several rounds and the ratio, then
//! where the time goes, step by step.
//!
//! Run with `cargo bench --bench inspect`.
//!
//! Measured on 2026-11-29 00:52 (2 shared cores, 129 fixtures, 223 KB;
//! five runs): ratio 0.25–0.29, median 0.28 (aim 0.5; 0.16 at the start of
//! that day's work). Per letter, in pipeline order (the machine's speed
//! varied 1.7× between runs): MIME parse 10–17.5 µs, headers 1.6–2.8, body
//! 2–3.2, split 1.6–2.9, etiquette 2.2–3.6, role 4–6.6, name 6–9.5, class
//! 3.4–5.5, description 5–7.7. Fewer instructions alone do not buy much
//! (counted under callgrind, the ratio is 0.39 in instructions): what costs
//! is the working set — regex automata, word tables, the parser's own code —
//! leaving the CPU cache between steps. Role went from regexes to one
//! shared tokenisation (`request::tokens`) and its cost halved; for 0.5 the
//! five heuristic steps (21–33 µs) would have to take a quarter of that.

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
    stages(&letters);
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
