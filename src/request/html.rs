//! HTML bodies as plain text: block elements and `<br>` as line breaks,
//! entities decoded, quotes as `> ` lines.

use std::borrow::Cow;

/// HTML → plain text: block elements and `<br>` become line breaks,
/// entities are decoded, `<blockquote>` content becomes `> ` lines, head,
/// style and script are dropped.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut quote_depth = 0usize;
    let mut skip_depth = 0usize; // inside head/style/script/title
    let mut at_line_start = true;
    let mut pending_space = false;
    let bytes = html.as_bytes();
    let mut i = 0;

    let newline = |out: &mut String, at_line_start: &mut bool, pending_space: &mut bool| {
        out.push('\n');
        *at_line_start = true;
        *pending_space = false;
    };

    while i < bytes.len() {
        let b = bytes[i];
        if b == b'<' {
            // Comment
            if html[i..].starts_with("<!--") {
                match html[i + 4..].find("-->") {
                    Some(p) => i = i + 4 + p + 3,
                    None => i = bytes.len(),
                }
                continue;
            }
            let Some(close) = html[i..].find('>') else {
                break;
            };
            let tag = &html[i + 1..i + close];
            i += close + 1;
            let closing = tag.starts_with('/');
            let mut name_buf = [0u8; 16];
            let name = tag_name(tag, &mut name_buf);
            match name {
                b"head" | b"style" | b"script" | b"title" => {
                    if closing {
                        skip_depth = skip_depth.saturating_sub(1);
                    } else if !tag.ends_with('/') {
                        skip_depth += 1;
                    }
                }
                b"blockquote" => {
                    if closing {
                        quote_depth = quote_depth.saturating_sub(1);
                    } else {
                        quote_depth += 1;
                    }
                    newline(&mut out, &mut at_line_start, &mut pending_space);
                }
                b"br" | b"p" | b"div" | b"tr" | b"li" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5"
                | b"h6" | b"table" | b"ul" | b"ol" | b"hr" | b"pre" | b"dd" | b"dt" | b"o:p"
                | b"section" | b"article" | b"header" | b"footer" => {
                    if name == b"o:p" {
                        continue;
                    }
                    if name == b"br" || !at_line_start || closing {
                        newline(&mut out, &mut at_line_start, &mut pending_space);
                    }
                }
                b"td" | b"th" => pending_space = true,
                _ => {}
            }
            continue;
        }
        // Text run up to the next tag.
        let end = html[i..].find('<').map_or(bytes.len(), |p| i + p);
        if skip_depth == 0 {
            let run = &html[i..end];
            let decoded = decode_entities(run);
            for c in decoded.chars() {
                if c.is_whitespace() && c != '\u{00A0}' {
                    pending_space = !at_line_start;
                    continue;
                }
                if at_line_start {
                    for _ in 0..quote_depth.min(8) {
                        out.push_str("> ");
                    }
                    at_line_start = false;
                } else if pending_space {
                    out.push(' ');
                }
                pending_space = false;
                out.push(if c == '\u{00A0}' { ' ' } else { c });
            }
        }
        i = end;
    }
    out
}

/// The name of an HTML tag (what follows `<` or `</`: ASCII letters,
/// digits and `:`, at most 16), lower case, written into `buf`.
pub(super) fn tag_name<'b>(tag: &str, buf: &'b mut [u8; 16]) -> &'b [u8] {
    let name = tag
        .trim_start_matches('/')
        .bytes()
        .take_while(|&b| b.is_ascii_alphanumeric() || b == b':');
    let mut len = 0;
    for (slot, b) in buf.iter_mut().zip(name) {
        *slot = b.to_ascii_lowercase();
        len += 1;
    }
    &buf[..len]
}

/// Decode HTML entities (`&nbsp;`, `&laquo;`, `&#171;`, `&#xAB;`…).
fn decode_entities(s: &str) -> Cow<'_, str> {
    if !s.contains('&') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let after = &rest[p..];
        let end = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        match end {
            Some(e) if e > 1 => {
                let token = &after[..=e];
                mail_parser::decoders::html::add_html_token(&mut out, token.as_bytes(), false);
                rest = &after[e + 1..];
            }
            _ => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}
