//! Minimal plain-text SMTP and IMAP clients the harness uses to act as people do
//! (send a letter, look into a folder). Deliberately independent of the crate's own
//! `mailbox`/`outbox` code, so a bug there cannot hide itself in the tests.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

type Conn = BufReader<TcpStream>;

async fn connect(port: u16) -> Result<Conn, String> {
    let s = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .map_err(|_| format!("connect to 127.0.0.1:{port} timed out"))?
        .map_err(|e| format!("connect to 127.0.0.1:{port}: {e}"))?;
    let _ = s.set_nodelay(true);
    Ok(BufReader::new(s))
}

async fn read_line(c: &mut Conn) -> Result<Vec<u8>, String> {
    let mut line = Vec::new();
    let n = tokio::time::timeout(IO_TIMEOUT, c.read_until(b'\n', &mut line))
        .await
        .map_err(|_| "read timed out".to_string())?
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed".into());
    }
    Ok(line)
}

async fn write_all(c: &mut Conn, data: &[u8]) -> Result<(), String> {
    c.get_mut()
        .write_all(data)
        .await
        .map_err(|e| format!("write: {e}"))
}

/// Reads a (possibly multi-line) SMTP reply: (code, full text).
async fn smtp_reply(c: &mut Conn) -> Result<(u16, String), String> {
    let mut text = String::new();
    loop {
        let line = read_line(c).await?;
        let line = String::from_utf8_lossy(&line).into_owned();
        text.push_str(&line);
        let code: u16 = line
            .get(..3)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad SMTP reply {line:?}"))?;
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text.trim_end().to_string()));
        }
    }
}

async fn smtp_cmd(c: &mut Conn, cmd: &str, want: u16) -> Result<(), String> {
    write_all(c, format!("{cmd}\r\n").as_bytes()).await?;
    let (code, text) = smtp_reply(c).await?;
    if code / 100 != want / 100 {
        return Err(format!("{cmd:?} -> {text}"));
    }
    Ok(())
}

/// Sends one message over plain SMTP (no AUTH: loopback is in `mynetworks`).
/// The error carries the server's reply, e.g. `"RCPT TO:<x@y>" -> 550 5.1.1 ...`.
pub async fn smtp_send(port: u16, from: &str, to: &[&str], raw: &[u8]) -> Result<(), String> {
    let mut c = connect(port).await?;
    let (code, text) = smtp_reply(&mut c).await?;
    if code != 220 {
        return Err(format!("banner: {text}"));
    }
    smtp_cmd(&mut c, "EHLO harness.test", 250).await?;
    smtp_cmd(&mut c, &format!("MAIL FROM:<{from}>"), 250).await?;
    for rcpt in to {
        smtp_cmd(&mut c, &format!("RCPT TO:<{rcpt}>"), 250).await?;
    }
    smtp_cmd(&mut c, "DATA", 354).await?;
    let mut data = Vec::with_capacity(raw.len() + 64);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.first() == Some(&b'.') {
            data.push(b'.');
        }
        data.extend_from_slice(line);
    }
    if !data.ends_with(b"\n") {
        data.extend_from_slice(b"\r\n");
    }
    data.extend_from_slice(b".\r\n");
    write_all(&mut c, &data).await?;
    let (code, text) = smtp_reply(&mut c).await?;
    if code != 250 {
        return Err(format!("end of DATA -> {text}"));
    }
    let _ = smtp_cmd(&mut c, "QUIT", 221).await;
    Ok(())
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One IMAP session over the plain port.
pub struct Imap {
    c: Conn,
    tag: u32,
}

/// The untagged data of one command: each line, with the literals it carried.
pub struct Untagged {
    pub line: Vec<u8>,
    pub literals: Vec<Vec<u8>>,
}

impl Imap {
    pub async fn login(port: u16, user: &str, password: &str) -> Result<Imap, String> {
        let mut c = connect(port).await?;
        let greeting = read_line(&mut c).await?;
        if !greeting.starts_with(b"* OK") {
            return Err(format!(
                "IMAP greeting {:?}",
                String::from_utf8_lossy(&greeting)
            ));
        }
        let mut imap = Imap { c, tag: 0 };
        imap.command(&format!("LOGIN {} {}", quote(user), quote(password)))
            .await?;
        Ok(imap)
    }

    /// Runs one command; returns its untagged responses or the tagged NO/BAD text.
    pub async fn command(&mut self, cmd: &str) -> Result<Vec<Untagged>, String> {
        self.command_bytes(cmd.as_bytes()).await
    }

    /// Like [`command`](Self::command) with raw bytes (e.g. a LITERAL+ literal inside).
    pub async fn command_bytes(&mut self, cmd: &[u8]) -> Result<Vec<Untagged>, String> {
        self.tag += 1;
        let tag = format!("h{}", self.tag);
        let mut line = format!("{tag} ").into_bytes();
        line.extend_from_slice(cmd);
        line.extend_from_slice(b"\r\n");
        write_all(&mut self.c, &line).await?;
        let cmd = String::from_utf8_lossy(&cmd[..cmd.len().min(60)]).into_owned();
        let mut out = Vec::new();
        loop {
            let mut line = read_line(&mut self.c).await?;
            let mut literals = Vec::new();
            // A line ending in `{n}` is followed by n bytes of literal, then more line.
            while let Some(n) = literal_len(&line) {
                let mut buf = vec![0u8; n];
                tokio::time::timeout(IO_TIMEOUT, self.c.read_exact(&mut buf))
                    .await
                    .map_err(|_| "literal read timed out".to_string())?
                    .map_err(|e| format!("literal read: {e}"))?;
                literals.push(buf);
                let rest = read_line(&mut self.c).await?;
                line.extend_from_slice(&rest);
            }
            if line.starts_with(tag.as_bytes()) {
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                let status = text.split_whitespace().nth(1).unwrap_or("");
                if status.eq_ignore_ascii_case("OK") {
                    return Ok(out);
                }
                return Err(format!("{cmd:?} -> {text}"));
            }
            out.push(Untagged { line, literals });
        }
    }

    pub async fn logout(mut self) {
        let _ = self.command("LOGOUT").await;
    }
}

fn literal_len(line: &[u8]) -> Option<usize> {
    let line = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let body = line.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&b| b == b'{')?;
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// All messages of `folder`, oldest first, read without changing flags.
/// A folder that does not exist yields `Ok(vec![])`.
pub async fn imap_fetch(
    port: u16,
    user: &str,
    password: &str,
    folder: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let mut imap = Imap::login(port, user, password).await?;
    if imap
        .command(&format!("EXAMINE {}", quote(folder)))
        .await
        .is_err()
    {
        imap.logout().await;
        return Ok(Vec::new());
    }
    let untagged = imap.command("UID FETCH 1:* (UID BODY.PEEK[])").await?;
    imap.logout().await;
    Ok(untagged
        .into_iter()
        .filter(|u| u.line.windows(5).any(|w| w.eq_ignore_ascii_case(b"FETCH")))
        .filter_map(|u| u.literals.into_iter().next())
        .collect())
}

/// Names of all folders of `user`.
pub async fn imap_folders(port: u16, user: &str, password: &str) -> Result<Vec<String>, String> {
    let mut imap = Imap::login(port, user, password).await?;
    let untagged = imap.command("LIST \"\" \"*\"").await?;
    imap.logout().await;
    let mut names = Vec::new();
    for u in untagged {
        if let Some(lit) = u.literals.first() {
            names.push(String::from_utf8_lossy(lit).into_owned());
            continue;
        }
        let line = String::from_utf8_lossy(&u.line).trim_end().to_string();
        if !line.starts_with("* LIST") {
            continue;
        }
        // `* LIST (flags) "sep" name` — the name is the last item, maybe quoted.
        let Some(close) = line.find(')') else {
            continue;
        };
        let rest = line[close + 1..].trim_start();
        let rest = if let Some(r) = rest.strip_prefix("NIL") {
            r
        } else if rest.starts_with('"') {
            rest.splitn(3, '"').nth(2).unwrap_or("")
        } else {
            rest
        };
        let name = rest.trim();
        let name = name
            .strip_prefix('"')
            .and_then(|n| n.strip_suffix('"'))
            .map(|n| n.replace("\\\"", "\"").replace("\\\\", "\\"))
            .unwrap_or_else(|| name.to_string());
        names.push(name);
    }
    Ok(names)
}
