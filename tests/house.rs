//! The house rules that can be measured: no file in `src/` over 800 lines, no
//! function over 120 lines, and one test harness (only `tests/support/` names
//! the binary; nothing is included by `#[path]` but the harness itself).

use std::path::{Path, PathBuf};

const MAX_FILE_LINES: usize = 800;
const MAX_FN_LINES: usize = 120;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.rs` file under `dir`, as paths relative to the crate root.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(root().join(dir)) else {
        return out;
    };
    for e in entries.flatten() {
        let rel = dir.join(e.file_name());
        if e.path().is_dir() {
            out.extend(rust_files(&rel));
        } else if rel.extension().is_some_and(|x| x == "rs") {
            out.push(rel);
        }
    }
    out.sort();
    out
}

fn measured_sources() -> Vec<PathBuf> {
    rust_files(Path::new("src"))
}

/// The source with every comment, string and character literal blanked out
/// (newlines kept), so braces and `fn` are only the code's own.
fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let blank = |out: &mut Vec<u8>, s: &[u8]| {
        out.extend(s.iter().map(|&c| if c == b'\n' { b'\n' } else { b' ' }))
    };
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        let ident_before = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_');
        if rest.starts_with(b"//") {
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest.starts_with(b"/*") {
            let (mut depth, mut j) = (0, 0);
            while j < rest.len() {
                if rest[j..].starts_with(b"/*") {
                    depth += 1;
                    j += 2;
                } else if rest[j..].starts_with(b"*/") {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, &rest[..j]);
            i += j;
        } else if let Some(len) = (!ident_before).then(|| raw_string_len(rest)).flatten() {
            blank(&mut out, &rest[..len]);
            i += len;
        } else if rest[0] == b'"' {
            let mut j = 1;
            while j < rest.len() && rest[j] != b'"' {
                j += if rest[j] == b'\\' { 2 } else { 1 };
            }
            let end = (j + 1).min(rest.len());
            blank(&mut out, &rest[..end]);
            i += end;
        } else if rest[0] == b'\'' && char_literal_len(rest).is_some() {
            let len = char_literal_len(rest).unwrap_or(1);
            blank(&mut out, &rest[..len]);
            i += len;
        } else {
            out.push(rest[0]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The length of a raw string literal (`r"…"`, `r#"…"#`, `br"…"`) at the start.
fn raw_string_len(s: &[u8]) -> Option<usize> {
    let start = if s.starts_with(b"br") {
        2
    } else if s.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = s[start..].iter().take_while(|&&c| c == b'#').count();
    if s.get(start + hashes) != Some(&b'"') {
        return None;
    }
    let body = start + hashes + 1;
    let mut close = vec![b'"'];
    close.extend(std::iter::repeat_n(b'#', hashes));
    let end = s[body..]
        .windows(close.len())
        .position(|w| w == close.as_slice())
        .map_or(s.len(), |p| body + p + close.len());
    Some(end)
}

/// The length of a character literal (`'x'`, `'\n'`, `'\u{41}'`) at the start;
/// None for a lifetime.
fn char_literal_len(s: &[u8]) -> Option<usize> {
    if s.get(1) == Some(&b'\\') {
        let close = s.iter().skip(2).position(|&c| c == b'\'')?;
        return (close < 10).then_some(close + 3);
    }
    let text = std::str::from_utf8(&s[1..s.len().min(6)])
        .unwrap_or_else(|e| std::str::from_utf8(&s[1..1 + e.valid_up_to()]).unwrap_or(""));
    let c = text.chars().next()?;
    (text[c.len_utf8()..].starts_with('\'')).then_some(1 + c.len_utf8() + 1)
}

/// Every function with a body: (name, first line, lines from `fn` to its `}`).
fn functions(src: &str) -> Vec<(String, usize, usize)> {
    let code = code_only(src);
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (k, line) in lines.iter().enumerate() {
        let Some(name) = fn_name(line) else { continue };
        let (mut depth, mut started) = (0usize, false);
        'body: for (j, l) in lines.iter().enumerate().skip(k) {
            for c in l.chars() {
                match c {
                    ';' if !started => break 'body,
                    '{' => {
                        started = true;
                        depth += 1;
                    }
                    '}' if started => {
                        depth -= 1;
                        if depth == 0 {
                            out.push((name.clone(), k + 1, j - k + 1));
                            break 'body;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// The name after `fn` when `line` starts a function (after `pub`, `const`,
/// `async`, `unsafe`).
fn fn_name(line: &str) -> Option<String> {
    let mut words = line.split_whitespace().peekable();
    while let Some(w) = words.peek() {
        if w.starts_with("pub") || ["const", "async", "unsafe"].contains(w) {
            words.next();
        } else {
            break;
        }
    }
    if words.next()? != "fn" {
        return None;
    }
    let name: String = words
        .next()?
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[test]
fn no_source_file_is_over_800_lines() {
    let long: Vec<String> = measured_sources()
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(root().join(p)).expect("read a source");
            (p, text.lines().count())
        })
        .filter(|(_, n)| *n > MAX_FILE_LINES)
        .map(|(p, n)| format!("{}: {n} lines", p.display()))
        .collect();
    assert!(
        long.is_empty(),
        "over {MAX_FILE_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_function_is_over_120_lines() {
    let mut long = Vec::new();
    for p in measured_sources() {
        let text = std::fs::read_to_string(root().join(&p)).expect("read a source");
        for (name, line, n) in functions(&text) {
            if n > MAX_FN_LINES {
                long.push(format!("{}:{line} fn {name}: {n} lines", p.display()));
            }
        }
    }
    assert!(
        long.is_empty(),
        "functions over {MAX_FN_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_measure_sees_what_it_should() {
    let src = "fn short() {\n    let s = \"}\";\n    let c = '}';\n}\n\
               // fn commented() {\n\
               pub(crate) async fn long<'a>(x: &'a str) -> &'a str {\n"
        .to_string()
        + &"    let r = r#\"{ not a brace \"#;\n".repeat(130)
        + "    x\n}\ntrait T {\n    fn declared(&self);\n}\n";
    let found = functions(&src);
    assert_eq!(
        found,
        vec![("short".to_string(), 1, 4), ("long".to_string(), 6, 133),]
    );
}

#[test]
fn only_tests_support_runs_the_binary() {
    let mut files = rust_files(Path::new("tests"));
    files.extend(rust_files(Path::new("benches")));
    let mut wrong = Vec::new();
    for p in files.iter().filter(|p| !p.starts_with("tests/support")) {
        let text = std::fs::read_to_string(root().join(p)).expect("read a test");
        if text.contains(concat!("CARGO_BIN_", "EXE")) {
            wrong.push(format!("{} names the binary itself", p.display()));
        }
        for l in text
            .lines()
            .filter(|l| l.trim_start().starts_with("#[path"))
        {
            if !l.contains("tests/support/mod.rs") {
                wrong.push(format!("{} includes another harness: {l}", p.display()));
            }
        }
    }
    assert!(
        !root().join("tests/prove").exists(),
        "tests/prove is back: the harness is tests/support"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
