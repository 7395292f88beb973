//! The `schedule` and `check-config` commands, driven through the real binary.

mod support;

use std::path::Path;

fn duty_desk(args: &[&str]) -> std::process::Output {
    support::home::binary()
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = duty_desk(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

#[test]
fn thursday_morning_two_on_duty_then_bukher() {
    let v = json(&["schedule", "--at", "2021-09-09T08:30:00+03:00", "--json"]);
    assert_eq!(v["at"], "2021-09-09T08:30:00+03:00");
    let names: Vec<&str> = v["on_duty"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Бамбуркин С.П.", "Макаренко С.О."]);
    assert_eq!(v["on_duty"][0]["until"], "2021-09-09T10:00:00+03:00");
    assert_eq!(v["next"]["name"], "Бухер В.В.");
    assert_eq!(v["next"]["from"], "2021-09-09T14:00:00+03:00");
    assert_eq!(v["next"]["until"], "2021-09-09T16:00:00+03:00");
}

#[test]
fn national_unity_day_nobody_on_duty() {
    let v = json(&["schedule", "--at", "2021-11-04T08:30:00+03:00", "--json"]);
    assert_eq!(v["on_duty"].as_array().unwrap().len(), 0);
    assert_eq!(v["next"]["from"], "2021-11-08T08:00:00+03:00");
}

#[test]
fn after_validity_next_is_null() {
    let v = json(&["schedule", "--at", "2022-06-15T09:00:00+03:00", "--json"]);
    assert!(v["next"].is_null());
    let out = duty_desk(&["schedule", "--at", "2022-06-15T09:00:00+03:00"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("истёк"), "{text}");
}

#[test]
fn week_table_shows_hours_gaps_and_expiry_warning() {
    let out = duty_desk(&["schedule", "--at", "2022-05-10T08:30:00+03:00"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Войтенко Л.А.  08:00–11:00"), "{text}");
    assert!(text.contains("24.0 ч"), "{text}");
    assert!(text.contains("Пн: 11:00–14:30"), "{text}");
    // 21 days left: the example warns 14 days before (`warn_before_end`).
    assert!(!text.contains("ВНИМАНИЕ"), "{text}");
    let out = duty_desk(&["schedule", "--at", "2022-05-20T08:30:00+03:00"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("осталось дней: 11"), "{text}");
}

#[test]
fn example_config_checks_out() {
    let out = duty_desk(&["--config", "config/duty-desk.example.toml", "check-config"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn broken_config_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let example = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config/duty-desk.example.toml"),
    )
    .unwrap();
    let broken = example
        .replace(
            "mon = [\"08:00-11:00\"]",
            "mon = [\"08:00-11:00\", \"10:30-12:00\"]",
        )
        .replace(
            "timezone = \"Europe/Moscow\"",
            "timezone = \"Europe/Moskva\"",
        );
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, &broken).unwrap();
    let out = duty_desk(&["--config", file.to_str().unwrap(), "check-config"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let line = broken.lines().position(|l| l.contains("Moskva")).unwrap() + 1;
    assert!(
        err.contains(&format!("broken.toml:{line}: unknown time zone")),
        "{err}"
    );
}
