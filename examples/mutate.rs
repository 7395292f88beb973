//! A stop-gap mutation fuzzer for machines without cargo-fuzz: mutates the
//! fixtures at random and runs `understand` on each mutant, catching
//! panics (debug builds also trap integer overflow). A crashing input is
//! written to `target/mutate-crash-N.eml`.
//!
//! `cargo run --example mutate -- SECONDS [SEED]`
use std::path::Path;
use std::time::{Duration, Instant};

const TOKENS: &[&[u8]] = &[
    b"=?",
    b"?=",
    b"=?UTF-8?B?",
    b"=?koi8-r?Q?",
    b"\r\n\r\n",
    b"\n\n",
    b"--",
    b"boundary=\"",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"charset=koi8-r",
    b"charset=windows-1251",
    b"<",
    b">",
    b"&",
    b"&#",
    b";",
    b"<br>",
    b"<blockquote>",
    b"<!--",
    b"-->",
    "ё".as_bytes(),
    "Иванова Мария Петровна".as_bytes(),
    "5 «А» класса".as_bytes(),
    "мама ученика".as_bytes(),
    "От:".as_bytes(),
    "Отправлено:".as_bytes(),
    "> ".as_bytes(),
    "написал(а):".as_bytes(),
    "С уважением,".as_bytes(),
    b"\xff\xfe",
    b"\xd0",
    b"\xc3\x28",
    b"0",
    b"11",
    b"=\r\n",
    b"=D0=",
    b"Auto-Submitted: ",
    b"Return-Path: <>\r\n",
    "х*й".as_bytes(),
    b"\0",
];

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(60);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = fastrand::Rng::with_seed(seed);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Vec::new();
    let mut stack = vec![root.join("fixtures")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "eml")
                && let Ok(b) = std::fs::read(&p)
            {
                seeds.push(b);
            }
        }
    }
    assert!(!seeds.is_empty(), "no fixtures");
    let ctx = duty_desk::request::Context {
        max_message_size: 256 * 1024,
        ..Default::default()
    };
    std::panic::set_hook(Box::new(|_| {}));
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut runs, mut crashes) = (0u64, 0u64);
    while Instant::now() < end {
        let mut m = seeds[rng.usize(..seeds.len())].clone();
        for _ in 0..rng.usize(1..8) {
            let len = m.len().max(1);
            match rng.u8(..6) {
                0 if !m.is_empty() => {
                    let i = rng.usize(..m.len());
                    m[i] = rng.u8(..);
                }
                1 => {
                    let t = TOKENS[rng.usize(..TOKENS.len())];
                    let i = rng.usize(..=m.len());
                    m.splice(i..i, t.iter().copied());
                }
                2 if m.len() > 2 => {
                    let a = rng.usize(..m.len());
                    let b = (a + rng.usize(..len.min(4096))).min(m.len());
                    m.drain(a..b);
                }
                3 if m.len() > 2 => {
                    let a = rng.usize(..m.len());
                    let b = (a + rng.usize(..len.min(2048))).min(m.len());
                    let chunk: Vec<u8> = m[a..b].to_vec();
                    let reps = rng.usize(1..50);
                    let i = rng.usize(..=m.len());
                    for _ in 0..reps {
                        m.splice(i..i, chunk.iter().copied());
                    }
                }
                4 => {
                    let other = &seeds[rng.usize(..seeds.len())];
                    let a = rng.usize(..other.len().max(1)).min(other.len());
                    let b = (a + rng.usize(..2048)).min(other.len());
                    let i = rng.usize(..=m.len());
                    m.splice(i..i, other[a..b].iter().copied());
                }
                _ => m.truncate(rng.usize(..=m.len())),
            }
        }
        runs += 1;
        let input = m.clone();
        let ctx = &ctx;
        let r = std::panic::catch_unwind(move || {
            let req = duty_desk::request::understand(&input, ctx);
            req.inspect_json("x").to_string()
        });
        if r.is_err() {
            crashes += 1;
            let p = root.join(format!("target/mutate-crash-{crashes}.eml"));
            let _ = std::fs::write(&p, &m);
            eprintln!("crash → {}", p.display());
        }
    }
    println!("{runs} inputs, {crashes} crashes in {secs} s");
}
