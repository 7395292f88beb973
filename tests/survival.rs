//! Every letter gets a decision: no panic, no hang, whatever the input.
//!
//! Runs `understand` over the MIME torture corpus in `fixtures/mime/`,
//! over Python's own e-mail test data (present wherever Python is, which
//! the project's machines guarantee: a missing directory fails the test),
//! and over a generated 30 MB letter.

use std::path::{Path, PathBuf};
use std::time::Instant;

use duty_desk::request::{Context, PANICKED, Verdict, understand};

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn run_all(files: &[PathBuf]) {
    let ctx = Context::default();
    let start = Instant::now();
    for f in files {
        let raw = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let req = understand(&raw, &ctx);
        assert!(!req.reason.is_empty(), "{}: no reason given", f.display());
        assert!(
            !req.reason.contains(PANICKED),
            "{}: {}",
            f.display(),
            req.reason
        );
        // The inspect line must serialise.
        let line = req.inspect_json(&f.display().to_string()).to_string();
        assert!(line.starts_with('{'));
    }
    eprintln!("{} files in {:?}", files.len(), start.elapsed());
}

#[test]
fn mime_corpus_gets_decisions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mime");
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    files.retain(|p| p.extension().is_some_and(|x| x == "eml"));
    files.sort();
    assert!(
        files.len() >= 100,
        "expected the corpus in {}",
        dir.display()
    );
    run_all(&files);
}

#[test]
fn python_email_test_data_gets_decisions() {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import test.test_email, os; print(os.path.dirname(test.test_email.__file__) + '/data')",
        ])
        .output()
        .expect("python3 must be installed (its e-mail test data is part of this test)");
    assert!(
        out.status.success(),
        "python3 could not locate test.test_email"
    );
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(dir.is_dir(), "{} is not a directory", dir.display());
    let mut files = Vec::new();
    files_under(&dir, &mut files);
    files.sort();
    assert!(files.len() >= 40, "too few files in {}", dir.display());
    run_all(&files);
}

/// A letter of `size` bytes: a short request and a big attachment.
fn big_letter(size: usize) -> Vec<u8> {
    let mut raw =
        b"From: =?UTF-8?B?0JjQstCw0L3QvtCy0LAg0JzQsNGA0LjRjw==?= <ivanova@example.net>\r\n\
Subject: big\r\nMessage-ID: <big@example.net>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(
        "Иванова Мария Петровна, мама ученика 5А. Не открывается дневник, пишет ошибку.\r\n"
            .as_bytes(),
    );
    raw.extend_from_slice(
        b"--b\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"iVBORw0KGgoAAAANSUhEUgAAAAQAAAADCAIAAAA7ljmRAAAAEklEQVR42mP4z8DAwMDAxMDAAAA3\r\n";
    while raw.len() + line.len() + 8 < size {
        raw.extend_from_slice(line);
    }
    raw.extend_from_slice(b"--b--\r\n");
    raw
}

#[test]
fn thirty_megabyte_letter_is_refused_by_its_head() {
    let raw = big_letter(31 * 1024 * 1024);
    let ctx = Context::default(); // 30 MB limit
    let req = understand(&raw, &ctx);
    assert_eq!(req.verdict, Verdict::Ignore);
    assert!(req.reason.starts_with("too large"), "{}", req.reason);
    assert_eq!(req.sender.as_deref(), Some("ivanova@example.net"));
    assert_eq!(req.message_id.as_deref(), Some("big@example.net"));
}

#[test]
fn thirty_megabyte_letter_under_a_higher_limit_is_understood() {
    let raw = big_letter(30 * 1024 * 1024);
    let ctx = Context {
        max_message_size: 64 * 1024 * 1024,
        ..Context::default()
    };
    let req = understand(&raw, &ctx);
    assert_eq!(req.verdict, Verdict::Forward, "{}", req.reason);
    assert_eq!(req.class.as_deref(), Some("5А"));
}
