//! `duty-desk demo` runs the whole pipeline over the bundled letters with no server.

mod support;

#[test]
fn demo_decides_and_sends_as_the_regulation_says() {
    let out = support::home::binary()
        .arg("demo")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{text}"))
            .to_string()
    };
    assert!(line("01-parent-complete").contains("forward"));
    assert!(line("02-parent-no-class").contains("ask"));
    assert!(line("04-vacation-autoreply").contains("ignore"));
    assert!(line("05-rude").contains("etiquette"));
    assert!(line("06-bounce").contains("ignore"));
    // Бамбуркин's answer reaches the parent from the desk; the other forward,
    // unanswered, is reminded and then passed to Friday's specialist.
    assert!(line("09-specialist-answer").contains("relayed"));
    assert!(line("relay      → smirnova.olga@mail.ru").contains("[Заявка #1]"));
    assert!(line("remind     → makarenko@example.org").contains("#3"));
    assert!(!text.contains("remind     → bamburkin"), "{text}");
    assert!(line("passed_on  → kravtsova@example.org").contains("[Заявка #3]"));
    // The parent's answer completes ticket #2, which waits for Friday's window.
    assert!(line("08-parent-answer").contains("held"));
    assert!(line("→ director@example.org").contains("[Заявка #4]"));
    assert!(line("Петрова Н.А., 4Б").contains("tkachenko@example.org"));
    // Nothing is sent to robots.
    assert!(!text.contains("→ MAILER-DAEMON"), "{text}");
    assert!(!text.contains("k.orlov@gmail.com"), "{text}");
}
