//! `duty-desk inspect`: understand letters without side effects and print
//! one JSON object per file, one per line (DESIGN.md's contract).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;

use crate::request::{Context, understand};

/// Inspect each file and write its JSON line to `out`. An unreadable file
/// is an error (the CLI exits non-zero); any letter, however malformed,
/// gets a line.
pub fn run(files: &[PathBuf], ctx: &Context, out: &mut impl Write) -> anyhow::Result<()> {
    for file in files {
        let raw = read_bounded(file, ctx.max_message_size)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let req = understand(&raw, ctx);
        let line = req.inspect_json(&file.display().to_string());
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Read a file, but never more than a little over `limit` bytes: a
/// too-large letter is judged by its head, and `understand` sees its true
/// size through the extra byte.
fn read_bounded(path: &std::path::Path, limit: usize) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    let mut buf = Vec::new();
    f.take(limit as u64 + 1).read_to_end(&mut buf)?;
    Ok(buf)
}
