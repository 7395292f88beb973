//! What a letter proves about its sender.
//!
//! The support mailbox is open to the internet: From, Reply-To, subject tags and
//! Message-IDs prove nothing by themselves. Two things do:
//!
//! - the receiving server's verdict, an `Authentication-Results` field (RFC 8601)
//!   added by the server named in `[mailbox] authserv_id` — only fields carrying
//!   exactly that authserv-id are read (anyone can write such a field; the server
//!   is trusted to remove or precede forged ones), and of those only the topmost,
//!   which the server added last;
//! - an answer to a letter the desk itself sent to that address, citing its
//!   unguessable Message-ID (see `letter::new_message_id`; the ticket side checks
//!   that).
//!
//! Addresses are compared by [`address_key`]: case-insensitively, with a `+tag`
//! removed, so one person's variants count as one.

/// What the receiving server says about the From address of a letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// DMARC passed, or DKIM passed for the From domain.
    Pass,
    /// DMARC failed, or SPF failed with no DKIM pass for the From domain: forged.
    Fail,
    /// Nothing conclusive (no configured authserv-id, no field, `none`, neutral…).
    Unknown,
}

impl Verdict {
    /// A word for logs, the audit trail and the templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Unknown => "unknown",
        }
    }
}

/// The key two addresses of one person share: lower-cased, `+tag` removed from
/// the local part (`Ivanova+school@Mail.ru` → `ivanova@mail.ru`).
pub fn address_key(address: &str) -> String {
    let a = address.trim().to_lowercase();
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            let local = local.split_once('+').map_or(local, |(base, _)| base);
            format!("{local}@{domain}")
        }
        None => a,
    }
}

/// The domain of an address, lower-cased.
pub fn domain_of(address: &str) -> Option<String> {
    address
        .trim()
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('>').to_lowercase())
        .filter(|d| !d.is_empty())
}

/// One method's result in an `Authentication-Results` field, e.g. `dkim=pass
/// header.d=example.org`: the method, the result, and its properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    /// `(ptype.property, value)`, e.g. `("header.d", "example.org")`.
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(p, _)| p.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Removes RFC 5322 comments (`(…)`, nested) and keeps quoted strings whole.
fn strip_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut depth = 0usize;
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if depth == 0 {
                out.push(c);
            }
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                out.push(' ');
            }
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Parses one `Authentication-Results` value: its authserv-id and its results.
/// `None` for a value with no authserv-id.
pub fn parse_field(value: &str) -> Option<(String, Vec<MethodResult>)> {
    let clean = strip_comments(value);
    let mut parts = clean.split(';');
    // authserv-id [ CFWS authres-version ]
    let authserv = parts.next()?.split_whitespace().next()?.to_lowercase();
    let mut results = Vec::new();
    for part in parts {
        let mut words = part.split_whitespace();
        let Some(first) = words.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        // `method/version=result` is allowed.
        let method = method.split('/').next().unwrap_or(method).to_lowercase();
        let mut properties = Vec::new();
        for w in words {
            if let Some((p, v)) = w.split_once('=')
                && p.contains('.')
            {
                properties.push((p.to_lowercase(), v.trim_matches('"').to_string()));
            }
        }
        results.push(MethodResult {
            method,
            result: result.trim_matches('"').to_lowercase(),
            properties,
        });
    }
    Some((authserv, results))
}

/// The values of every `Authentication-Results` field of a raw letter, topmost
/// first (unfolded; nothing past the header block is read).
pub fn authentication_results(raw: &[u8]) -> Vec<String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| raw.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut fields: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in head.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(line.trim());
            }
            continue;
        }
        if let Some(c) = current.take() {
            fields.push(c);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("authentication-results")
        {
            current = Some(value.trim().to_string());
        }
    }
    if let Some(c) = current {
        fields.push(c);
    }
    fields
}

/// The verdict on `from` (a bare address) given by the topmost
/// `Authentication-Results` field of `authserv_id` in a raw letter. Without a
/// configured authserv-id there is no verdict.
pub fn verdict(raw: &[u8], authserv_id: Option<&str>, from: Option<&str>) -> Verdict {
    let Some(id) = authserv_id.map(str::to_lowercase) else {
        return Verdict::Unknown;
    };
    let Some(domain) = from.and_then(domain_of) else {
        return Verdict::Unknown;
    };
    let ours = authentication_results(raw)
        .iter()
        .filter_map(|v| parse_field(v))
        .find(|(serv, _)| *serv == id);
    let Some((_, results)) = ours else {
        return Verdict::Unknown;
    };
    judge(&results, &domain)
}

/// The verdict of one field's results on a From domain.
pub fn judge(results: &[MethodResult], domain: &str) -> Verdict {
    let aligned = |v: Option<&str>| {
        v.map(|d| {
            // header.i is an address or @domain; header.d and header.from are domains.
            let d = d.rsplit('@').next().unwrap_or(d).to_lowercase();
            d == domain || domain.ends_with(&format!(".{d}"))
        })
    };
    let of = |m: &'static str| results.iter().filter(move |r| r.method == m);
    let dmarc_from_matches = |r: &MethodResult| aligned(r.property("header.from")).unwrap_or(true);
    if of("dmarc").any(|r| r.result == "pass" && dmarc_from_matches(r)) {
        return Verdict::Pass;
    }
    let dkim_pass = of("dkim").any(|r| {
        r.result == "pass"
            && (aligned(r.property("header.d")) == Some(true)
                || aligned(r.property("header.i")) == Some(true))
    });
    if dkim_pass {
        return Verdict::Pass;
    }
    if of("dmarc").any(|r| r.result == "fail" && dmarc_from_matches(r)) {
        return Verdict::Fail;
    }
    if of("spf").any(|r| r.result == "fail") {
        return Verdict::Fail;
    }
    Verdict::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_keys_join_a_persons_variants() {
        assert_eq!(address_key("Ivanova+School@Mail.RU"), "ivanova@mail.ru");
        assert_eq!(address_key("ivanova@mail.ru"), "ivanova@mail.ru");
        assert_eq!(address_key(" a+b+c@x.org "), "a@x.org");
        assert_ne!(
            address_key("ivanova@mail.ru"),
            address_key("ivanov@mail.ru")
        );
        assert_eq!(address_key("no-at-sign"), "no-at-sign");
    }

    #[test]
    fn fields_are_parsed_with_comments_and_versions() {
        let (id, r) = parse_field(
            "mxs.mail.ru 1; spf=pass (mx.mail.ru: domain of example.org designates 1.2.3.4 as permitted sender) \
             smtp.mailfrom=a@example.org; dkim=pass header.d=example.org header.s=mail; \
             dmarc=pass header.from=example.org",
        )
        .unwrap();
        assert_eq!(id, "mxs.mail.ru");
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].method, "dkim");
        assert_eq!(r[1].property("header.d"), Some("example.org"));
        assert_eq!(parse_field("mx.example.org; none").unwrap().1, vec![]);
    }

    fn letter(fields: &[&str]) -> Vec<u8> {
        let mut s = String::new();
        for f in fields {
            s.push_str(&format!("Authentication-Results: {f}\r\n"));
        }
        s.push_str(
            "From: a@example.org\r\nSubject: x\r\n\r\nAuthentication-Results: mx; dmarc=pass\r\n",
        );
        s.into_bytes()
    }

    #[test]
    fn only_the_topmost_field_of_our_server_counts() {
        let raw = letter(&[
            "mx.school.test; dmarc=fail header.from=example.org",
            "mx.school.test; dmarc=pass header.from=example.org",
        ]);
        let v = |id: Option<&str>| verdict(&raw, id, Some("a@example.org"));
        assert_eq!(v(Some("mx.school.test")), Verdict::Fail);
        assert_eq!(v(Some("MX.School.Test")), Verdict::Fail);
        // Another server's (or a forger's) field is not read.
        assert_eq!(v(Some("other.test")), Verdict::Unknown);
        // No key, no verdict.
        assert_eq!(v(None), Verdict::Unknown);
        // A field in the body is not a header.
        let body_only = letter(&[]);
        assert_eq!(
            verdict(&body_only, Some("mx"), Some("a@example.org")),
            Verdict::Unknown
        );
    }

    #[test]
    fn folded_fields_are_read_whole() {
        let raw = b"Authentication-Results: mx.school.test;\r\n\tdkim=pass\r\n header.d=example.org\r\nFrom: a@example.org\r\n\r\n";
        assert_eq!(
            verdict(raw, Some("mx.school.test"), Some("a@example.org")),
            Verdict::Pass
        );
    }

    #[test]
    fn dkim_must_be_for_the_from_domain() {
        let j = |f: &str, from: &str| {
            let (_, r) = parse_field(f).unwrap();
            judge(&r, from)
        };
        assert_eq!(
            j("mx; dkim=pass header.d=example.org", "example.org"),
            Verdict::Pass
        );
        assert_eq!(
            j("mx; dkim=pass header.d=mail.example.org", "example.org"),
            Verdict::Unknown
        );
        assert_eq!(
            j("mx; dkim=pass header.d=example.org", "mail.example.org"),
            Verdict::Pass
        );
        assert_eq!(
            j(
                "mx; dkim=pass header.d=attacker.test; spf=fail",
                "example.org"
            ),
            Verdict::Fail
        );
        assert_eq!(
            j(
                "mx; spf=fail smtp.mailfrom=x@example.org; dkim=pass header.d=example.org",
                "example.org"
            ),
            Verdict::Pass
        );
        assert_eq!(
            j("mx; spf=softfail; dkim=none", "example.org"),
            Verdict::Unknown
        );
        assert_eq!(
            j("mx; dmarc=fail header.from=example.org", "example.org"),
            Verdict::Fail
        );
        assert_eq!(
            j("mx; dmarc=pass header.from=attacker.test", "example.org"),
            Verdict::Unknown
        );
    }
}
