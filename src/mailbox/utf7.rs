//! IMAP's modified UTF-7 for folder names (RFC 3501 §5.1.3): printable ASCII
//! stands for itself except `&`, which is written `&-`; any other run of
//! characters is written `&…-` around the modified BASE64 (`,` for `/`, no
//! padding) of its UTF-16 big-endian form.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// A folder name as it goes out on the wire.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            run.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut run, &mut out);
    out
}

fn flush(run: &mut Vec<u16>, out: &mut String) {
    if run.is_empty() {
        return;
    }
    let bytes: Vec<u8> = run.iter().flat_map(|u| u.to_be_bytes()).collect();
    out.push('&');
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let digits = chunk.len() + 1;
        for i in 0..digits {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out.push('-');
    run.clear();
}

/// A folder name as the server sent it, decoded; `None` when it is not valid
/// modified UTF-7 (such a name is then compared as it is).
pub fn decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after.find('-')?;
        let b64 = &after[..end];
        if b64.is_empty() {
            out.push('&');
        } else {
            let mut bits = 0u32;
            let mut nbits = 0;
            let mut bytes = Vec::new();
            for c in b64.bytes() {
                let v = ALPHABET.iter().position(|&a| a == c)? as u32;
                bits = (bits << 6) | v;
                nbits += 6;
                if nbits >= 8 {
                    nbits -= 8;
                    bytes.push((bits >> nbits) as u8);
                    bits &= (1 << nbits) - 1;
                }
            }
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            out.push_str(&String::from_utf16(&units).ok()?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_3501_example() {
        // RFC 3501 §5.1.3: "~peter/mail/日本語/台北"
        assert_eq!(
            encode("~peter/mail/日本語/台北"),
            "~peter/mail/&ZeVnLIqe-/&U,BTFw-"
        );
        assert_eq!(
            decode("~peter/mail/&ZeVnLIqe-/&U,BTFw-").as_deref(),
            Some("~peter/mail/日本語/台北")
        );
    }

    #[test]
    fn ampersand_ascii_and_cyrillic() {
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(decode("Tom &- Jerry").as_deref(), Some("Tom & Jerry"));
        assert_eq!(encode("duty-desk/Processed"), "duty-desk/Processed");
        // What Dovecot and Thunderbird write for "Заявки".
        assert_eq!(encode("Заявки"), "&BBcEMARPBDIEOgQ4-");
        for name in ["Заявки/Processed", "a&b/Входящие ✓", "😀", "x"] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name), "{name}");
        }
    }

    #[test]
    fn bad_input_is_refused_not_a_panic() {
        assert_eq!(decode("&"), None);
        assert_eq!(decode("&*-"), None);
        assert_eq!(decode("&AA-"), None); // an odd number of bytes
        assert_eq!(decode("&2D3-"), None);
    }
}
