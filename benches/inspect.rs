//! Throughput of `understand` (the whole of `inspect`'s logic) on the
//! golden fixtures, next to mail-parser's bare parse of the same bytes in
//! the same run. Prints medians over several rounds and the ratio, then
//! where the time goes, step by step.
//!
//! Run with `cargo bench --bench inspect`.
//!
//! Measured on 2026-11-29 02:05 (2 shared cores, 129 fixtures, 223 KB;
//! three runs): ratio 0.26, 0.29, 0.30, median 0.29 (aim 0.5; 0.16 at the
//! start of that night's work). Per letter, in pipeline order (the
//! machine's speed varied 1.5× between runs): MIME parse 10.7–15.9 µs,
//! headers 1.7–2.5, body 1.7–2.6, split 1.7–2.6, etiquette 2.4–3.3, role
//! 4.1–6.0, name 5.6–8.0, class 2.9–4.2, description 4.8–6.5. Under
//! callgrind `understand` is 210.7k instructions per letter against 90.1k
//! for the bare parse (ratio 0.43 in instructions): our steps run at about
//! half the parser's instructions per second, and for 0.5 they would have
//! to take about a third of their time now (see README, Performance).

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
