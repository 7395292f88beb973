use super::*;

const GOOD: &str = r#"
[mailbox]
kind = "imap"
host = "imap.mail.ru"
port = 993
tls = "implicit"
username = "uvk-mtl@mail.ru"
password_file = "/run/credentials/duty-desk.service/imap"

[outbox]
kind = "smtp"
host = "smtp.mail.ru"
port = 465
tls = "implicit"
username = "uvk-mtl@mail.ru"
password_file = "/run/credentials/duty-desk.service/smtp"
from = "Поддержка ЭлЖур <uvk-mtl@mail.ru>"

[school]
timezone = "Europe/Moscow"
supervisor = "Костина Т.В. <director@example.org>"
fallback = ["admin@example.org"]

[schedule]
valid_from = "2021-09-01"
valid_until = "2022-05-31"

[[specialists]]
name = "Бамбуркин С.П."
email = "bamburkin@example.org"
duty = { tue = ["14:30-16:00"], thu = ["08:00-10:00"] }
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, Path::new("test.toml"), Path::new("/etc/duty-desk"))
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn good_config_validates() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.schedule.specialists().len(), 1);
    assert_eq!(c.from.email, "uvk-mtl@mail.ru");
    assert_eq!(
        c.state_path,
        PathBuf::from("/etc/duty-desk/../var/duty-desk.sqlite3")
    );
    assert!(matches!(c.mailbox, MailboxSource::Imap { idle: true, .. }));
}

#[test]
fn warn_before_end_is_days_default_14() {
    assert_eq!(parse(GOOD).unwrap().warn_before_end_days, 14);
    let with = |v: &str| {
        GOOD.replace(
            "valid_until = \"2022-05-31\"",
            &format!("valid_until = \"2022-05-31\"\nwarn_before_end = \"{v}\""),
        )
    };
    assert_eq!(parse(&with("30d")).unwrap().warn_before_end_days, 30);
    let text = with("36h");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "36h")), "{e}");
    assert!(e.message.contains("number of days"), "{e}");
}

#[test]
fn bad_window_is_reported_on_its_line() {
    let text = GOOD.replace("\"08:00-10:00\"", "\"08:00-25:00\"");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "25:00")), "{e}");
    assert!(e.message.contains("not a time of day"), "{e}");
    let text = GOOD.replace("\"08:00-10:00\"", "\"eight-ten\"");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "eight-ten")), "{e}");
}

#[test]
fn window_may_end_at_midnight_but_not_after() {
    assert_eq!(parse_window("22:00-24:00"), Ok((22 * 60, 24 * 60)));
    assert!(
        parse_window("22:00-24:01")
            .unwrap_err()
            .contains("time of day")
    );
    assert_eq!(parse_window("8.00-10.00"), Ok((480, 600)));
    assert!(parse_window("10:00-09:00").is_err());
}

#[test]
fn overlapping_windows_of_one_person_are_refused() {
    let text = GOOD.replace(
        "thu = [\"08:00-10:00\"]",
        "thu = [\"08:00-10:00\", \"09:30-11:00\"]",
    );
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("overlap"), "{e}");
    assert!(e.line.is_some());
}

#[test]
fn unknown_weekday_is_refused_with_line() {
    let text = GOOD.replace("thu = ", "thursdai = ");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("unknown weekday"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "thursdai")));
}

#[test]
fn unknown_timezone_is_refused_with_line() {
    let text = GOOD.replace("Europe/Moscow", "Europe/Atlantis");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("unknown time zone"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "Atlantis")));
}

#[test]
fn plain_text_only_to_loopback() {
    let text = GOOD.replacen("tls = \"implicit\"", "tls = \"none\"", 1);
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("loopback"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "tls = \"none\"")));
    let text = text.replacen("imap.mail.ru", "127.0.0.1", 1);
    parse(&text).unwrap();
}

#[test]
fn inline_password_is_refused() {
    let text = GOOD.replacen(
        "password_file = \"/run/credentials/duty-desk.service/smtp\"",
        "password = \"hunter2\"",
        1,
    );
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("password written in the config"), "{e}");
    assert_eq!(e.line, Some(line_of(&text, "hunter2")));
}

#[test]
fn specialist_without_address_is_refused() {
    let text = GOOD.replace("email = \"bamburkin@example.org\"\n", "");
    let e = parse(&text).unwrap_err();
    assert!(e.message.contains("no email"), "{e}");
    assert!(e.line.is_some());
}

#[test]
fn toml_syntax_error_has_line() {
    let text = GOOD.replace("port = 465", "port = = 465");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "port = = 465")), "{e}");
}

#[test]
fn durations_sizes_and_env() {
    assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
    assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
    assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
    assert_eq!(parse_duration("soon"), None);
    assert_eq!(parse_size("30MB"), Some(30 * 1024 * 1024));
    assert_eq!(parse_size("0"), None);
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("DD_TEST_CRED_DIR", "/run/creds") };
    assert_eq!(expand_env("${DD_TEST_CRED_DIR}/imap"), "/run/creds/imap");
    assert_eq!(expand_env("$DD_UNSET_VAR_X/imap"), "$DD_UNSET_VAR_X/imap");
}

#[test]
fn answers_topics_and_remind_after_have_defaults_and_clear_errors() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.answers, Answers::ViaDesk);
    assert_eq!(c.remind_after, Duration::from_secs(2 * 3600));
    assert!(c.schedule.specialists()[0].topics.is_empty());

    let text = GOOD.replace("fallback = [", "answers = \"direct\"\nfallback = [");
    assert_eq!(parse(&text).unwrap().answers, Answers::Direct);
    let text = GOOD.replace("fallback = [", "answers = \"by_phone\"\nfallback = [");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "by_phone")), "{e}");
    assert!(e.message.contains("via_desk, direct"), "{e}");

    let text = GOOD.replace(
        "email = \"bamburkin@example.org\"",
        "email = \"bamburkin@example.org\"\ntopics = [\"technical\", \"technical\"]",
    );
    assert_eq!(
        parse(&text).unwrap().schedule.specialists()[0].topics,
        [Topic::Technical]
    );
    let text = GOOD.replace(
        "email = \"bamburkin@example.org\"",
        "email = \"bamburkin@example.org\"\ntopics = [\"plumbing\"]",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "plumbing")), "{e}");
    assert!(e.message.contains("technical, methodological"), "{e}");

    let text = format!("{GOOD}\n[service]\nremind_after = \"soon\"\n");
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, Some(line_of(&text, "soon")), "{e}");
}
