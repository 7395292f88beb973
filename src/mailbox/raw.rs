//! Commands sent beside async-imap, written to its stream and answered here line
//! by line, for answers its parser cannot read: NAMESPACE (RFC 2342) and
//! EXPUNGE (GNU Mailutils says `* n EXPUNGED`).

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Bounded: a NAMESPACE answer is a few hundred bytes, an EXPUNGE one about 20 a
/// message (and the desk expunges one batch at a time).
const LIMIT: usize = 64 * 1024;

/// The answer to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The untagged lines, a literal `{n}` inlined as a quoted string.
    pub untagged: Vec<String>,
    /// The tagged status was OK.
    pub ok: bool,
    /// The tagged line after the status.
    pub text: String,
}

impl Answer {
    /// How many `* n EXPUNGE` (or `* n EXPUNGED`) lines there were.
    pub fn expunged(&self) -> u32 {
        let n = self
            .untagged
            .iter()
            .filter(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.len() == 3
                    && w[0] == "*"
                    && w[1].parse::<u32>().is_ok()
                    && (w[2].eq_ignore_ascii_case("EXPUNGE")
                        || w[2].eq_ignore_ascii_case("EXPUNGED"))
            })
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The last `* n EXISTS`, if any.
    pub fn exists(&self) -> Option<u32> {
        self.untagged.iter().rev().find_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 3 && w[0] == "*" && w[2].eq_ignore_ascii_case("EXISTS"))
                .then(|| w[1].parse().ok())
                .flatten()
        })
    }
}

/// An IMAP quoted string.
pub fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Writes `TAG COMMAND` to the stream and reads lines until the tagged answer.
pub async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    tag: &str,
    command: &str,
) -> io::Result<Answer> {
    stream
        .write_all(format!("{tag} {command}\r\n").as_bytes())
        .await?;
    stream.flush().await?;
    let mut untagged = Vec::new();
    let mut total = 0usize;
    loop {
        let text = read_line(stream, &mut total).await?;
        if let Some(rest) = text.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')) {
            let ok = rest.get(..2).is_some_and(|s| s.eq_ignore_ascii_case("OK"));
            let text = rest.split_once(' ').map_or("", |(_, t)| t).to_string();
            return Ok(Answer { untagged, ok, text });
        }
        untagged.push(text);
    }
}

/// One line, its literals inlined; `total` counts the bytes of the whole answer.
async fn read_line<S: AsyncRead + Unpin>(stream: &mut S, total: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    loop {
        let b = stream.read_u8().await?;
        line.push(b);
        *total += 1;
        if *total > LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer too long",
            ));
        }
        if !line.ends_with(b"\r\n") {
            continue;
        }
        // A literal: `{n}` at the end of the line, then n bytes, then more line.
        let text = &line[..line.len() - 2];
        if let Some(open) = text.iter().rposition(|&c| c == b'{')
            && text.ends_with(b"}")
            && let Some(n) = std::str::from_utf8(&text[open + 1..text.len() - 1])
                .ok()
                .and_then(|n| n.trim_end_matches('+').parse::<usize>().ok())
            && n <= LIMIT - *total
        {
            let mut lit = vec![0u8; n];
            stream.read_exact(&mut lit).await?;
            *total += n;
            line.truncate(open);
            line.extend_from_slice(quoted(&String::from_utf8_lossy(&lit)).as_bytes());
            continue;
        }
        return Ok(String::from_utf8_lossy(&line).trim_end().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(untagged: &[&str]) -> Answer {
        Answer {
            untagged: untagged.iter().map(|s| s.to_string()).collect(),
            ok: true,
            text: String::new(),
        }
    }

    #[test]
    fn expunge_answers_as_servers_write_them() {
        // RFC 3501, and GNU Mailutils 3.15.
        let a = answer(&["* 3 EXPUNGE", "* 1 EXPUNGED", "* 2 EXISTS", "* 1 RECENT"]);
        assert_eq!(a.expunged(), 2);
        assert_eq!(a.exists(), Some(2));
        assert_eq!(answer(&["* OK [ALERT] x EXPUNGE"]).expunged(), 0);
        assert_eq!(answer(&[]).exists(), None);
    }

    #[tokio::test]
    async fn a_literal_is_inlined_and_the_tagged_text_kept() {
        let (mut ours, mut theirs) = tokio::io::duplex(1024);
        let server = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let n = theirs.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"T1 NAMESPACE\r\n");
            theirs
                .write_all(b"* NAMESPACE (({5}\r\nINBOX \".\")) NIL NIL\r\nT1 NO [X] not now\r\n")
                .await
                .unwrap();
        });
        let a = exchange(&mut ours, "T1", "NAMESPACE").await.unwrap();
        server.await.unwrap();
        assert_eq!(a.untagged, vec![r#"* NAMESPACE (("INBOX" ".")) NIL NIL"#]);
        assert!(!a.ok);
        assert_eq!(a.text, "[X] not now");
    }
}
