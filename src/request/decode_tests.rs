use super::super::html::tag_name;
use super::*;

#[test]
fn html_blocks_and_entities() {
    let t = html_to_text(
        "<html><head><style>p{}</style></head><body><div>Добрый день!<br><br>1&nbsp;&laquo;Г&raquo; класс</div><p>a</p><p>b</p><blockquote>old</blockquote></body></html>",
    );
    assert!(t.contains("Добрый день!\n\n1 «Г» класс"), "{t:?}");
    assert!(t.contains("\na\n"), "{t:?}");
    assert!(t.contains("> old"), "{t:?}");
    assert!(!t.contains("p{}"));
}

#[test]
fn cyrillic_candidates() {
    let text = "Здравствуйте, не могу войти в дневник";
    let cp = encoding_rs::WINDOWS_1251.encode(text).0;
    let koi = encoding_rs::KOI8_R.encode(text).0;
    assert_eq!(best_decoding(&cp, None).0, text);
    assert_eq!(best_decoding(&koi, None).0, text);
    // Mislabelled: KOI8-R bytes declared windows-1251.
    assert_eq!(best_decoding(&koi, Some("windows-1251")).0, text);
    assert_eq!(best_decoding(&cp, Some("koi8-r")).0, text);
    // A letter in capitals: its mojibake is lower case, yet of a scrambled
    // alphabet.
    let shouted = "ОПЯТЬ НЕТ ОЦЕНОК! С ПЕРВОГО МАРТА НЕ ПОЯВЛЯЕТСЯ НИ ОДНОЙ ОЦЕНКИ";
    for enc in [encoding_rs::WINDOWS_1251, encoding_rs::KOI8_R] {
        let bytes = enc.encode(shouted).0;
        assert_eq!(best_decoding(&bytes, Some(enc.name())).0, shouted);
        assert_eq!(best_decoding(&bytes, None).0, shouted);
    }
}

/// The shortcut that skips re-decoding: right readings pass, both
/// mojibakes of a mislabelled letter do not.
#[test]
fn right_reading_is_trusted_mojibake_is_not() {
    let text = "Здравствуйте, у дочки не открывается электронный дневник с телефона.";
    assert!(reads_as_russian(text));
    let cp = encoding_rs::WINDOWS_1251.encode(text).0;
    let koi = encoding_rs::KOI8_R.encode(text).0;
    let koi_as_cp = encoding_rs::WINDOWS_1251.decode(&koi).0;
    let cp_as_koi = encoding_rs::KOI8_R.decode(&cp).0;
    assert!(!reads_as_russian(&koi_as_cp), "{koi_as_cp}");
    assert!(!reads_as_russian(&cp_as_koi), "{cp_as_koi}");
    // Too little Cyrillic to tell: the full comparison runs.
    assert!(!reads_as_russian("Да"));
}

#[test]
fn normalize_spaces_invisibles_and_line_ends() {
    assert_eq!(
        normalize_text("a\u{00A0}b\t c\r\n\u{200B}d \u{0007} \nЁж\u{00AD}ик"),
        "a b  c\nd\nЁжик\n"
    );
    assert_eq!(normalize_text(""), "\n");
}

#[test]
fn tag_names() {
    let mut buf = [0u8; 16];
    assert_eq!(tag_name("/DIV class=x", &mut buf), b"div");
    assert_eq!(tag_name("o:p", &mut buf), b"o:p");
    assert_eq!(tag_name("br/", &mut buf), b"br");
    assert_eq!(tag_name("Дiv", &mut buf), b"");
    assert_eq!(
        tag_name("abcdefghijklmnopqrstuvwxyz", &mut buf),
        b"abcdefghijklmnop"
    );
    assert!(is_cyrillic_single_byte("Windows-1251"));
    assert!(!is_cyrillic_single_byte("utf-8"));
}

#[test]
fn header_block_stops_at_blank_line() {
    assert_eq!(header_block(b"A: b\r\n\r\nbody"), b"A: b\r\n");
    assert_eq!(header_block(b"A: b\n\nbody"), b"A: b\n");
}
