//! The header fields of a `Request`: sender, ids, subject, ticket tag,
//! date — decoded whatever the charset, raw 8-bit included.

use duty_desk::request::{Context, understand};

fn fixture(name: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn raw_8bit_headers_are_decoded() {
    for name in [
        "fwd-raw-8bit-headers-1251.eml",
        "fwd-raw-8bit-headers-koi8.eml",
    ] {
        let r = understand(&fixture(name), &Context::default());
        assert_eq!(r.subject, "Не открывается электронный дневник", "{name}");
        assert_eq!(
            r.sender_name.as_deref(),
            Some("Гордеева Алла Ивановна"),
            "{name}"
        );
        assert_eq!(r.sender.as_deref(), Some("gordeeva.ai@mail.ru"), "{name}");
    }
}

#[test]
fn reply_ids_and_ticket_tag() {
    let r = understand(
        &fixture("reply-thunderbird-quote-supplies-description.eml"),
        &Context::default(),
    );
    assert_eq!(r.in_reply_to, vec!["ask1042@gimn12-school.ru".to_string()]);
    assert_eq!(r.references, vec!["ask1042@gimn12-school.ru".to_string()]);
    assert_eq!(r.ticket_tag, Some(1042));
    assert!(r.is_reply());
    assert!(r.message_id.is_some_and(|m| !m.contains('<')));
    assert!(r.date.is_some());
}

#[test]
fn sender_is_bare_lower_case() {
    let raw = b"From: \"Ivanova, M.\" <Ivanova.M@Example.NET>\r\nSubject: =?UTF-8?Q?=D0=A2=D0=B5=D1=81=D1=82?=\r\n\r\nx";
    let r = understand(raw, &Context::default());
    assert_eq!(r.sender.as_deref(), Some("ivanova.m@example.net"));
    assert_eq!(r.subject, "Тест");
    // No From at all: the Return-Path is the fallback.
    let raw = b"Return-Path: <Bounce.Me@Example.net>\r\nSubject: x\r\n\r\nx";
    let r = understand(raw, &Context::default());
    assert_eq!(r.sender.as_deref(), Some("bounce.me@example.net"));
}
