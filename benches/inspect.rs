//! Time per letter of `understand` (the whole of `inspect`'s logic) on the
//! golden fixtures, next to mail-parser's bare parse of the same bytes in
//! the same run, then where the time goes, step by step. The only aim is
//! at most 1 ms a letter: the mail servers take hundreds of milliseconds
//! for each one.
//!
//! Run with `cargo bench --bench inspect`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use duty_desk::request::{Context, class, decode, description, name, role, text};

#[allow(dead_code)] // shared with benches/pipeline.rs, which reads more of it
mod throughput;

const ROUNDS: usize = 9;
/// Each round runs the whole set this many times, so it lasts long enough
/// to time reliably.
const REPEAT: usize = 5;

fn main() {
    // The dictionary loads once per process; not a letter's cost.
    duty_desk::request::understand(b"From: a@b.c\r\n\r\nwarm up", &Context::default());
    let letters = throughput::fixtures();
    let t = throughput::Throughput::measure(&letters, ROUNDS, REPEAT);
    for (what, d) in [
        ("mail-parser parse", t.parse),
        ("duty-desk understand", t.understand),
    ] {
        println!(
            "{what:<22} {:>8.1} µs a letter  (median of {ROUNDS} rounds, {} letters, {:.1} KB)",
            1e6 / t.per_second(d),
            t.letters,
            t.bytes as f64 / 1e3
        );
    }
    println!("understand takes {:.1}× the parse's time", 1.0 / t.ratio());
    stages(&letters);
}

/// Mean time per letter of each step, in pipeline order.
fn stages(letters: &[Vec<u8>]) {
    const NAMES: [&str; 9] = [
        "parse",
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
            let subject = text::clean_subject(&h.subject);
            marks[4] = Instant::now();
            black_box(duty_desk::etiquette::check_all(&[
                &parts.new,
                &parts.signature,
                &subject,
            ]));
            marks[5] = Instant::now();
            let r = black_box(role::detect(&parts.new, &parts.signature));
            marks[6] = Instant::now();
            black_box(name::find(&parts, &subject, h.sender_name.as_deref(), r));
            marks[7] = Instant::now();
            black_box(class::find(&format!("{}\n{}", parts.new, parts.signature)));
            marks[8] = Instant::now();
            black_box(description::find(&parts.new, &subject, &parts.quoted));
            marks[9] = Instant::now();
            for (i, d) in t.iter_mut().enumerate() {
                *d += marks[i + 1] - marks[i];
            }
        }
    }
    let total: Duration = t.iter().sum();
    let n = (letters.len() * REPEAT) as f64;
    println!("\nwhere the time goes (mean per letter, steps in pipeline order):");
    for (what, d) in NAMES.iter().zip(t) {
        println!(
            "  {what:<12} {:>7.1} µs  {:>5.1} %",
            d.as_secs_f64() / n * 1e6,
            d.as_secs_f64() / total.as_secs_f64() * 100.0
        );
    }
}
