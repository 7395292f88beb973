//! Development helper for profilers: runs `understand` (or, with `bare`,
//! mail-parser's bare parse) over every letter of `fixtures/`, N passes.
//!
//! `cargo build --release --example understand_loop`, then for example
//! `valgrind --tool=callgrind --cache-sim=yes --branch-sim=yes
//! target/release/examples/understand_loop 23 [bare]`; the difference of a
//! 23-pass and a 3-pass run, divided by 20 × the number of fixtures, is the
//! cost per letter without the one-time set-up (README, Performance).
//! `scripts/code-footprint` counts the machine code each letter runs.
use std::hint::black_box;

fn main() -> anyhow::Result<()> {
    let mut letters = Vec::new();
    for entry in std::fs::read_dir("fixtures")? {
        let path = entry?.path();
        if path.extension().is_some_and(|x| x == "eml") {
            letters.push(std::fs::read(path)?);
        }
    }
    letters.sort();
    let mut args = std::env::args().skip(1);
    let passes: usize = args.next().map_or(Ok(200), |s| s.parse())?;
    let bare = args.next().is_some_and(|a| a == "bare");
    let ctx = duty_desk::request::Context::default();
    let parser = mail_parser::MessageParser::default();
    for _ in 0..passes {
        for l in &letters {
            one_letter(l, bare, &parser, &ctx);
        }
    }
    Ok(())
}

/// One letter understood (or, `bare`, parsed) and dropped: a function of
/// its own, so that a profiler can tell each letter's work apart
/// (`scripts/code-footprint` collects and dumps per call of it).
#[inline(never)]
fn one_letter(
    letter: &[u8],
    bare: bool,
    parser: &mail_parser::MessageParser,
    ctx: &duty_desk::request::Context,
) {
    if bare {
        black_box(parser.parse(black_box(letter)));
    } else {
        black_box(duty_desk::request::understand(black_box(letter), ctx));
    }
}
