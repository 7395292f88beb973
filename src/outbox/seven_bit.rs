//! Fitting a message to an SMTP server that lacks 8BITMIME (RFC 6152) or
//! SMTPUTF8 (RFC 6531): such a server may only be given 7-bit data and ASCII
//! addresses.
//!
//! - **Without SMTPUTF8** an address's internationalised domain goes as punycode
//!   (IDNA, `школа.рф` → `xn--80atdl2c.xn--p1ai`), in the envelope and in the
//!   header fields. A non-ASCII local part has no ASCII form: in the envelope the
//!   mail cannot be sent there at all ([`ascii_address`] says why, and the caller
//!   fails that one mail for good); in a header field other than From and To (a
//!   Reply-To) the field is left out, the rest of the mail still goes.
//! - **Without 8BITMIME** every leaf part whose body holds 8-bit bytes is sent in
//!   base64 instead. An attached original letter (`message/rfc822`, which RFC 2046
//!   §5.2.1 forbids to encode) is attached as `application/octet-stream` in base64
//!   rather than having its own 8-bit parts re-encoded: its bytes arrive exactly
//!   as the desk received them (the evidence a specialist may need, signatures
//!   intact), its header fields may be 8-bit in any charset (which no transfer
//!   encoding of an inner part can fix), and mail clients still open an `.eml`.

use mail_parser::{MessageParser, PartType};

/// The ASCII form of an envelope address: the domain in punycode. An error (the
/// reason) when the local part is not ASCII.
pub fn ascii_address(address: &str) -> Result<String, String> {
    if address.is_ascii() {
        return Ok(address.to_string());
    }
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(format!("{address:?} is not an address"));
    };
    if !local.is_ascii() {
        return Err(format!(
            "the address {address:?} has a non-ASCII local part, and the SMTP server does not offer SMTPUTF8: it cannot be written to through this server"
        ));
    }
    let domain = idna::domain_to_ascii(domain)
        .map_err(|e| format!("the domain of {address:?} has no ASCII form: {e}"))?;
    Ok(format!("{local}@{domain}"))
}

/// The header block of `raw` with the domains of its addresses in punycode; a
/// field other than From/To whose address has a non-ASCII local part is left
/// out. Returns the message and the names of the fields left out.
pub fn ascii_headers(raw: &[u8]) -> (Vec<u8>, Vec<String>) {
    let end = header_end(raw);
    let (head, body) = raw.split_at(end);
    if head.is_ascii() {
        return (raw.to_vec(), Vec::new());
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut dropped = Vec::new();
    for field in fields(head) {
        if field.is_ascii() {
            out.extend_from_slice(field);
            continue;
        }
        let text = String::from_utf8_lossy(field);
        let name = text.split(':').next().unwrap_or("").trim().to_string();
        let mut unrepresentable = false;
        let fixed = address_pattern().replace_all(&text, |c: &regex::Captures<'_>| {
            match ascii_address(&c[0]) {
                Ok(a) => a,
                Err(_) => {
                    unrepresentable = true;
                    c[0].to_string()
                }
            }
        });
        let keep = !unrepresentable
            || name.eq_ignore_ascii_case("from")
            || name.eq_ignore_ascii_case("to");
        if keep {
            out.extend_from_slice(fixed.as_bytes());
        } else {
            dropped.push(name);
        }
    }
    out.extend_from_slice(body);
    (out, dropped)
}

fn address_pattern() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(r#"[^\s<>,;:"()\[\]]+@[^\s<>,;:"()\[\]]+"#).expect("valid pattern")
    })
}

/// Where the header block ends (after its empty line), or the whole message.
fn header_end(raw: &[u8]) -> usize {
    raw.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n").map(|i| i + 2))
        .unwrap_or(raw.len())
}

/// The fields of a header block, each with its continuation lines and line ends
/// (the empty line that ends the block is the last "field").
fn fields(head: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < head.len() {
        if head[i] == b'\n' {
            let next = head.get(i + 1).copied();
            if !matches!(next, Some(b' ') | Some(b'\t')) {
                out.push(&head[start..=i]);
                start = i + 1;
            }
        }
        i += 1;
    }
    if start < head.len() {
        out.push(&head[start..]);
    }
    out
}

/// `raw` as 7-bit data: each leaf part with 8-bit bytes in its body re-sent in
/// base64 (an attached `message/rfc822` as `application/octet-stream`, see the
/// module documentation). Header fields are not touched (see [`ascii_headers`]).
/// None when the message cannot be read as MIME.
pub fn seven_bit(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.is_ascii() {
        return Some(raw.to_vec());
    }
    let message = MessageParser::default().parse(raw)?;
    // (header start, body start, body end, is an attached letter)
    let mut spans: Vec<(usize, usize, usize, bool)> = Vec::new();
    for part in &message.parts {
        let attached = match &part.body {
            PartType::Multipart(_) => continue,
            PartType::Message(_) => true,
            _ => false,
        };
        let (h, b, e) = (
            part.offset_header as usize,
            part.offset_body as usize,
            part.offset_end as usize,
        );
        if h > b || b > e || e > raw.len() || raw[b..e].is_ascii() {
            continue;
        }
        // A part inside an attached letter is that letter's: it goes whole.
        if spans.iter().any(|(sh, _, se, _)| *sh <= h && e <= *se) {
            continue;
        }
        spans.push((h, b, e, attached));
    }
    spans.sort_unstable();
    let mut out = Vec::with_capacity(raw.len() * 4 / 3 + 1024);
    let mut at = 0;
    for (h, b, e, attached) in spans {
        if h < at {
            continue;
        }
        // A single-part message: its header block is the message's own.
        out.extend_from_slice(&raw[at..h]);
        // The line end before a boundary is not the part's (RFC 2046 §5.1.1):
        // it follows at `e`, right after the last base64 line.
        out.extend_from_slice(&rewrite_part_header(&raw[h..b], attached));
        out.extend_from_slice(&base64_lines(&raw[b..e]));
        if e == raw.len() {
            out.extend_from_slice(b"\r\n");
        }
        at = e;
    }
    out.extend_from_slice(&raw[at..]);
    Some(out)
}

/// A part's header block with `Content-Transfer-Encoding: base64`; for an
/// attached letter also `Content-Type: application/octet-stream`.
fn rewrite_part_header(head: &[u8], attached: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len() + 64);
    for field in fields(head) {
        let lower = String::from_utf8_lossy(field).to_ascii_lowercase();
        if lower.starts_with("content-transfer-encoding:")
            || (attached && lower.starts_with("content-type:"))
        {
            continue;
        }
        if field == b"\r\n" || field == b"\n" {
            break;
        }
        out.extend_from_slice(field);
    }
    if attached {
        out.extend_from_slice(b"Content-Type: application/octet-stream\r\n");
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: base64\r\n");
    out.extend_from_slice(b"\r\n");
    out
}

/// Base64 in lines of 76 characters, CRLF after each.
fn base64_lines(data: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for chunk in text.as_bytes().chunks(76) {
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    // No CRLF after the last line: the caller's boundary brings its own.
    out.truncate(out.len().saturating_sub(2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders as _;

    #[test]
    fn punycode_domains_and_unsendable_local_parts() {
        assert_eq!(ascii_address("mama@mail.ru").unwrap(), "mama@mail.ru");
        assert_eq!(
            ascii_address("mama@школа.рф").unwrap(),
            "mama@xn--80atdl2c.xn--p1ai"
        );
        let e = ascii_address("родитель@школа.рф").unwrap_err();
        assert!(e.contains("SMTPUTF8"), "{e}");
    }

    #[test]
    fn header_addresses_become_ascii_or_the_field_goes() {
        let raw = "From: =?utf-8?b?0J8=?= <support@школа.рф>\r\nReply-To: родитель@школа.рф\r\nTo: spec@school.test\r\nSubject: hi\r\n\r\nbody\r\n";
        let (out, dropped) = ascii_headers(raw.as_bytes());
        let out = String::from_utf8(out).unwrap();
        assert!(out.is_ascii(), "{out}");
        assert!(out.contains("<support@xn--80atdl2c.xn--p1ai>"), "{out}");
        assert!(!out.contains("Reply-To"), "{out}");
        assert_eq!(dropped, vec!["Reply-To".to_string()]);
        assert!(out.ends_with("Subject: hi\r\n\r\nbody\r\n"), "{out}");
    }

    const ORIGINAL: &str = "From: Мама <mama@mail.ru>\r\nSubject: Привет\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nНе могу войти в журнал.\r\n";

    fn forward_with_8bit_original() -> Vec<u8> {
        crate::letter::Letter {
            from: crate::config::Address::parse("Поддержка <support@school.test>").unwrap(),
            to: vec![crate::config::Address::parse("spec@school.test").unwrap()],
            reply_to: None,
            subject: "Заявка".into(),
            body: "Заявка №1: не могу войти.\n".into(),
            message_id: "x@school.test".into(),
            in_reply_to: None,
            references: vec![],
            auto_submitted: crate::letter::AutoSubmitted::Generated,
            ticket: Some(1),
            date: chrono::Utc::now(),
            attachments: vec![ORIGINAL.as_bytes().to_vec()],
        }
        .build()
        .unwrap()
    }

    #[test]
    fn an_8bit_forward_becomes_7bit_and_keeps_the_original_bytes() {
        let raw = forward_with_8bit_original();
        assert!(!raw.is_ascii());
        let out = seven_bit(&raw).unwrap();
        assert!(out.is_ascii(), "{}", String::from_utf8_lossy(&out));
        let parsed = MessageParser::default().parse(&out).unwrap();
        assert!(parsed.body_text(0).unwrap().contains("Заявка №1"));
        let att = parsed.attachment(0).expect("the original");
        assert!(att.is_content_type("application", "octet-stream"));
        assert_eq!(
            String::from_utf8_lossy(att.contents()),
            ORIGINAL,
            "{}",
            String::from_utf8_lossy(&out)
        );
        // A single part: the message's own header block changes.
        let single = "Subject: x\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nПривет\r\n";
        let out = seven_bit(single.as_bytes()).unwrap();
        assert!(out.is_ascii());
        let parsed = MessageParser::default().parse(&out).unwrap();
        assert_eq!(parsed.body_text(0).unwrap().trim_end(), "Привет");
        assert_eq!(parsed.subject(), Some("x"));
        // Already 7-bit: untouched.
        assert_eq!(
            seven_bit(b"Subject: a\r\n\r\nb\r\n").unwrap(),
            b"Subject: a\r\n\r\nb\r\n"
        );
    }
}
