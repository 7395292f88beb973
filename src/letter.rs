//! Outgoing letters as RFC 5322 bytes, built with lettre's message builder.
//!
//! Every letter duty-desk writes carries what stops mail loops: an
//! `Auto-Submitted` header (RFC 3834: `auto-replied` for answers to a sender,
//! `auto-generated` for forwards and reports), `X-Auto-Response-Suppress` for
//! Exchange, In-Reply-To/References to the letter it answers, and a Message-ID
//! of our own that later lets us recognise replies. Forwards and reports carry
//! the original letters whole, as `message/rfc822` attachments.

use std::time::SystemTime;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use lettre::Message;
use lettre::message::header::{
    ContentDisposition, ContentTransferEncoding, ContentType, Header, HeaderName, HeaderValue,
};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};

use crate::config::Address;

/// RFC 3834 `Auto-Submitted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoSubmitted {
    /// An answer to a sender's letter (ask, acknowledgement, refusal).
    Replied,
    /// Anything else we generate (forwards, reports, alerts).
    Generated,
}

#[derive(Clone)]
struct AutoSubmittedHeader(&'static str);

impl Header for AutoSubmittedHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(match s.trim() {
            "auto-replied" => AutoSubmittedHeader("auto-replied"),
            _ => AutoSubmittedHeader("auto-generated"),
        })
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

#[derive(Clone)]
struct SuppressHeader;

impl Header for SuppressHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressHeader)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".to_string())
    }
}

#[derive(Clone)]
struct TicketHeader(i64);

impl Header for TicketHeader {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Duty-Desk-Ticket")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(TicketHeader(s.trim().parse()?))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_string())
    }
}

/// One letter to build.
#[derive(Debug, Clone)]
pub struct Letter {
    pub from: Address,
    pub to: Vec<Address>,
    pub reply_to: Option<Address>,
    pub subject: String,
    pub body: String,
    /// Without angle brackets.
    pub message_id: String,
    /// The letter answered, without angle brackets.
    pub in_reply_to: Option<String>,
    /// The thread, oldest first, without angle brackets.
    pub references: Vec<String>,
    pub auto_submitted: AutoSubmitted,
    pub ticket: Option<i64>,
    pub date: DateTime<Utc>,
    /// Original letters, attached whole as message/rfc822.
    pub attachments: Vec<Vec<u8>>,
}

/// Whether mail can be written to this address at all (lettre refuses, say,
/// `ivanova..m@mail.ru`, which some providers hand out anyway).
pub fn deliverable(email: &str) -> bool {
    email.parse::<lettre::Address>().is_ok()
}

fn mailbox(a: &Address) -> anyhow::Result<Mailbox> {
    let email = a
        .email
        .parse()
        .with_context(|| format!("{:?} is not an address lettre accepts", a.email))?;
    Ok(Mailbox::new(a.name.clone(), email))
}

/// A fresh Message-ID (without brackets) in the domain of our own address.
pub fn new_message_id(kind: &str, ticket: Option<i64>, from: &Address) -> String {
    let domain = from
        .email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("duty-desk.invalid");
    let t = ticket.map(|t| t.to_string()).unwrap_or_else(|| "0".into());
    format!("duty-desk.{t}.{kind}.{}@{domain}", unguessable())
}

/// 128 bits from the system's cryptographic RNG, as hex: a reply citing a
/// Message-ID built with it proves its writer received that letter.
fn unguessable() -> String {
    use ring::rand::SecureRandom as _;
    let mut bytes = [0u8; 16];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The kernel's RNG does not fail once the system is up; should it, the
        // id is still unique, only guessable — never a panic in the decision path.
        bytes[..8].copy_from_slice(&fastrand::u64(..).to_le_bytes());
        bytes[8..].copy_from_slice(&fastrand::u64(..).to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A message id with brackets, as lettre wants it.
fn bracketed(id: &str) -> String {
    format!("<{}>", id.trim_matches(|c| c == '<' || c == '>'))
}

impl Letter {
    /// The complete message, CRLF line endings.
    pub fn build(&self) -> anyhow::Result<Vec<u8>> {
        let mut b = Message::builder()
            .from(mailbox(&self.from)?)
            .subject(self.subject.clone())
            .message_id(Some(bracketed(&self.message_id)))
            .date(SystemTime::from(self.date))
            .header(AutoSubmittedHeader(match self.auto_submitted {
                AutoSubmitted::Replied => "auto-replied",
                AutoSubmitted::Generated => "auto-generated",
            }))
            .header(SuppressHeader);
        for to in &self.to {
            b = b.to(mailbox(to)?);
        }
        if let Some(r) = &self.reply_to {
            b = b.reply_to(mailbox(r)?);
        }
        if let Some(t) = self.ticket {
            b = b.header(TicketHeader(t));
        }
        if let Some(id) = &self.in_reply_to {
            b = b.in_reply_to(bracketed(id));
        }
        if !self.references.is_empty() {
            let refs: Vec<String> = self.references.iter().map(|r| bracketed(r)).collect();
            b = b.references(refs.join(" "));
        }
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(Body::new(self.body.clone()));
        let message = if self.attachments.is_empty() {
            b.singlepart(text)
        } else {
            let mut mp = MultiPart::mixed().singlepart(text);
            for (i, raw) in self.attachments.iter().enumerate() {
                mp = mp.singlepart(rfc822_part(raw, i + 1));
            }
            b.multipart(mp)
        }
        .context("building a letter")?;
        Ok(message.formatted())
    }
}

/// A report to staff (the weekly report): a plain-text part and an HTML part,
/// the HTML's pictures as inline parts it cites by `cid:` (each `(content id,
/// MIME type, bytes)`); `auto-generated`, with the loop guards every letter has.
pub struct Report<'a> {
    pub from: &'a Address,
    pub to: &'a [Address],
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
    pub inline: &'a [(String, String, Vec<u8>)],
    pub message_id: &'a str,
    pub date: DateTime<Utc>,
}

impl Report<'_> {
    /// The complete message, CRLF line endings.
    pub fn build(&self) -> anyhow::Result<Vec<u8>> {
        let mut b = Message::builder()
            .from(mailbox(self.from)?)
            .subject(self.subject.to_string())
            .message_id(Some(bracketed(self.message_id)))
            .date(SystemTime::from(self.date))
            .header(AutoSubmittedHeader("auto-generated"))
            .header(SuppressHeader);
        for to in self.to {
            b = b.to(mailbox(to)?);
        }
        let mut related = MultiPart::related().singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .body(Body::new(self.html.to_string())),
        );
        for (cid, mime, bytes) in self.inline {
            let ct = ContentType::parse(mime).with_context(|| format!("MIME type {mime:?}"))?;
            related = related.singlepart(
                lettre::message::Attachment::new_inline(cid.clone()).body(bytes.clone(), ct),
            );
        }
        let body = MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(Body::new(self.text.to_string())),
            )
            .multipart(related);
        Ok(b.multipart(body).context("building a report")?.formatted())
    }
}

/// An original letter as a `message/rfc822` part. RFC 2046 §5.2.1 allows no
/// base64 there, so a letter that can travel as lines (no NUL, no bare CR, lines
/// of at most 998 octets) goes whole as 7bit or 8bit, in whatever charset it was
/// written; only one that cannot is wrapped as application/octet-stream in base64.
///
/// The part is pre-encoded: lettre's own check for `8bit` wants lines of at most
/// 76 octets (about 38 Cyrillic letters), which real letters rarely keep to.
fn rfc822_part(raw: &[u8], n: usize) -> SinglePart {
    let disposition = ContentDisposition::attachment(&format!("letter-{n}.eml"));
    let crlf = to_crlf(raw);
    let line_safe = !crlf.contains(&0)
        && crlf
            .split(|&b| b == b'\n')
            .all(|l| l.len() <= 999 && !l.strip_suffix(b"\r").unwrap_or(l).contains(&b'\r'));
    match ContentType::parse("message/rfc822") {
        Ok(ct) if line_safe => {
            let encoding = if crlf.is_ascii() {
                ContentTransferEncoding::SevenBit
            } else {
                ContentTransferEncoding::EightBit
            };
            SinglePart::builder()
                .header(ct)
                .header(disposition)
                .body(Body::dangerous_pre_encoded(crlf, encoding))
        }
        _ => SinglePart::builder()
            // A constant, valid MIME type: parsing it cannot fail.
            .header(ContentType::parse("application/octet-stream").expect("valid MIME type"))
            .header(disposition)
            .body(Body::new(raw.to_vec())),
    }
}

/// Bare LF line ends as CRLF (Maildir files often have LF only); CRLF stays.
fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 32);
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> Address {
        Address::parse(s).unwrap()
    }

    #[test]
    fn message_ids_carry_128_random_bits() {
        let from = addr("support@school.test");
        let ids: std::collections::HashSet<String> = (0..1000)
            .map(|_| new_message_id("forward", Some(7), &from))
            .collect();
        assert_eq!(ids.len(), 1000);
        for id in &ids {
            let (local, domain) = id.split_once('@').unwrap();
            assert_eq!(domain, "school.test");
            let random = local.strip_prefix("duty-desk.7.forward.").unwrap();
            assert_eq!(random.len(), 32, "{id}");
            assert!(random.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        // Every bit position takes both values: no constant part posing as random.
        let bits =
            |id: &String| u128::from_str_radix(&id[id.len() - 32 - 12..id.len() - 12], 16).unwrap();
        let (ones, zeros) = ids
            .iter()
            .map(bits)
            .fold((0u128, 0u128), |(o, z), b| (o | b, z | !b));
        assert_eq!(ones, u128::MAX);
        assert_eq!(zeros, u128::MAX);
    }

    #[test]
    fn addresses_lettre_refuses_are_not_deliverable() {
        assert!(deliverable("ivanova.m@mail.ru"));
        assert!(!deliverable("ivanova..m@mail.ru"));
        assert!(!deliverable("no-at-sign"));
    }

    #[test]
    fn reply_carries_loop_guards_and_threading() {
        let l = Letter {
            from: addr("Поддержка ЭлЖур <support@school.test>"),
            to: vec![addr("Иванова Мария <mama@mail.ru>")],
            reply_to: None,
            subject: "Re: Не могу войти [Заявка #7]".into(),
            body: "Здравствуйте!\nУкажите класс.\n".into(),
            message_id: "duty-desk.7.ask.1@school.test".into(),
            in_reply_to: Some("abc@mail.ru".into()),
            references: vec!["root@mail.ru".into(), "abc@mail.ru".into()],
            auto_submitted: AutoSubmitted::Replied,
            ticket: Some(7),
            date: Utc::now(),
            attachments: vec![],
        };
        let raw = l.build().unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(m.subject(), Some("Re: Не могу войти [Заявка #7]"));
        assert_eq!(m.message_id(), Some("duty-desk.7.ask.1@school.test"));
        assert_eq!(m.in_reply_to().as_text(), Some("abc@mail.ru"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-replied")
        );
        assert_eq!(m.header_raw("X-Duty-Desk-Ticket").map(str::trim), Some("7"));
        assert!(m.body_text(0).unwrap().contains("Укажите класс."));
    }

    #[test]
    fn forward_attaches_the_original_whole() {
        let original = b"From: a@mail.ru\r\nSubject: help\r\nMessage-ID: <o1@mail.ru>\r\n\r\n\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82\r\n".to_vec();
        let l = Letter {
            from: addr("support@school.test"),
            to: vec![addr("Бухер В.В. <bukher@school.test>")],
            reply_to: Some(addr("a@mail.ru")),
            subject: "[Заявка #1] Иванова М.П., 5А: help".into(),
            body: "summary".into(),
            message_id: new_message_id("forward", Some(1), &addr("support@school.test")),
            in_reply_to: None,
            references: vec![],
            auto_submitted: AutoSubmitted::Generated,
            ticket: Some(1),
            date: Utc::now(),
            attachments: vec![original],
        };
        let raw = l.build().unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        assert_eq!(
            m.reply_to()
                .and_then(|r| r.first())
                .and_then(|a| a.address()),
            Some("a@mail.ru")
        );
        let att = m.attachment(0).expect("an attachment");
        let inner = att.message().expect("message/rfc822");
        assert_eq!(inner.message_id(), Some("o1@mail.ru"));
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
    }

    #[test]
    fn real_letters_with_long_lines_are_attached_as_message_rfc822() {
        // A line of 120 Cyrillic letters is 240 octets: over lettre's 76, under 998.
        let line = "ж".repeat(120);
        let original = format!(
            "From: a@mail.ru\nSubject: help\nMessage-ID: <o2@mail.ru>\nContent-Type: text/plain; charset=utf-8\n\n{line}\n"
        );
        let mut cp1251 = b"From: b@mail.ru\r\nMessage-ID: <o3@mail.ru>\r\n\r\n".to_vec();
        cp1251.extend(std::iter::repeat_n(0xE6u8, 300));
        cp1251.extend_from_slice(b"\r\n");
        let l = Letter {
            from: addr("support@school.test"),
            to: vec![addr("bukher@school.test")],
            reply_to: None,
            subject: "[Заявка #2] x".into(),
            body: "summary".into(),
            message_id: new_message_id("forward", Some(2), &addr("support@school.test")),
            in_reply_to: None,
            references: vec![],
            auto_submitted: AutoSubmitted::Generated,
            ticket: Some(2),
            date: Utc::now(),
            attachments: vec![
                original.clone().into_bytes(),
                cp1251.clone(),
                b"a\0b".to_vec(),
            ],
        };
        let raw = l.build().unwrap();
        let m = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let inner = m
            .attachment(0)
            .and_then(|a| a.message())
            .expect("message/rfc822");
        assert_eq!(inner.message_id(), Some("o2@mail.ru"));
        assert_eq!(
            inner.raw_message(),
            original.replace('\n', "\r\n").as_bytes()
        );
        let inner = m
            .attachment(1)
            .and_then(|a| a.message())
            .expect("message/rfc822");
        assert_eq!(inner.message_id(), Some("o3@mail.ru"));
        assert_eq!(inner.raw_message(), &cp1251[..]);
        // A NUL cannot travel in a line: that one goes as base64.
        let att = m.attachment(2).expect("third attachment");
        assert!(att.message().is_none());
        assert_eq!(att.contents(), b"a\0b");
    }
}
