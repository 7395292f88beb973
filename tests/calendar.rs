//! `duty-desk schedule --ics` read back by an independent iCalendar reader:
//! Python's `icalendar` parses the file and `recurring-ical-events` expands its
//! series (RRULE, EXDATE) and one-off events over the whole validity period;
//! the windows it finds must be exactly those `schedule --at … --json` gives,
//! one instant at a time, on the example's timetable with a replacement, an
//! extra window and a cancellation added. The Python packages are installed
//! from PyPI into tests/servers/python by scripts/install-python-tests.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::home::binary;

use chrono::{DateTime, Duration, Utc};

const EXPAND: &str = r#"
import datetime, json, sys
import icalendar, recurring_ical_events
text = open(sys.argv[1], "rb").read()
# Under its own TZID the zone is the reader's (tzdata); under a name no
# database knows, only the file's VTIMEZONE can say what its times mean.
if len(sys.argv) > 4:
    for key in (b"TZID=", b"TZID:"):
        text = text.replace(key + b"Europe/Moscow", key + sys.argv[4].encode())
cal = icalendar.Calendar.from_ical(text)
zones = cal.walk("VTIMEZONE")
assert len(zones) == 1, "one VTIMEZONE"
tz = zones[0].to_tz()
first = datetime.date.fromisoformat(sys.argv[2])
last = datetime.date.fromisoformat(sys.argv[3])
start = datetime.datetime.combine(first, datetime.time(), tz)
end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(), tz)
out = []
for ev in recurring_ical_events.of(cal).between(start, end):
    who = str(ev["ATTENDEE"]).removeprefix("mailto:")
    utc = datetime.timezone.utc
    out.append([who, ev["DTSTART"].dt.astimezone(utc).isoformat(),
                ev["DTEND"].dt.astimezone(utc).isoformat()])
print(json.dumps({"tzid": str(zones[0]["TZID"]),
                  "offset": start.utcoffset().total_seconds(),
                  "events": out}))
"#;

type Window = (String, DateTime<Utc>, DateTime<Utc>);

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python_packages() -> PathBuf {
    let status = Command::new("bash")
        .arg(root().join("scripts/install-python-tests"))
        .status()
        .expect("run scripts/install-python-tests");
    assert!(status.success(), "scripts/install-python-tests failed");
    root().join("tests/servers/python")
}

fn duty_desk(config: &Path, args: &[&str]) -> Vec<u8> {
    let out = binary()
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "duty-desk {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn instant(v: &serde_json::Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a time"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// Every window of the validity period as `schedule --at T --json` tells it:
/// from each window's opening (`next.from`) the windows on duty then; one not
/// seen before opened at that instant (one person's windows never overlap).
fn windows_from_json(config: &Path, before: &str) -> BTreeSet<Window> {
    let mut seen = BTreeSet::new();
    let mut at = before.to_string();
    loop {
        let v: serde_json::Value =
            serde_json::from_slice(&duty_desk(config, &["schedule", "--json", "--at", &at]))
                .expect("JSON");
        let now = instant(&v["at"]);
        for s in v["on_duty"].as_array().expect("on_duty") {
            let email = s["email"].as_str().expect("email").to_string();
            let until = instant(&s["until"]);
            if !seen
                .iter()
                .any(|(e, _, u): &Window| *e == email && *u == until)
            {
                seen.insert((email, now, until));
            }
        }
        if v["next"].is_null() {
            return seen;
        }
        at = v["next"]["from"].as_str().expect("from").to_string();
    }
}

#[test]
fn the_calendar_expands_to_the_same_windows_as_schedule_json() {
    let python_path = python_packages();
    let dir = tempfile::tempdir().expect("temp dir");
    let example = std::fs::read_to_string(root().join("config/duty-desk.example.toml"))
        .expect("the example config");
    // A replacement (Tuesday: Войтенко for Бухер), an extra window (Wednesday
    // evening) and a cancellation (Thursday: Бамбуркин, Макаренко stays).
    let config = dir.path().join("duty-desk.toml");
    std::fs::write(
        &config,
        format!(
            "{example}\n[[schedule.changes]]\ndate = \"2021-10-12\"\nname = \"Бухер В.В.\"\n\
             replaced_by = \"Войтенко Л.А.\"\n\n[[schedule.changes]]\ndate = \"2021-10-13\"\n\
             name = \"Ткаченко Е.В.\"\nextra = \"15:00-17:00\"\n\n[[schedule.changes]]\n\
             date = \"2021-10-14\"\nname = \"Бамбуркин С.П.\"\ncancelled = true\n"
        ),
    )
    .expect("write config");
    let ics = duty_desk(
        &config,
        &["schedule", "--ics", "--at", "2021-09-01T00:00:00+03:00"],
    );
    let file = dir.path().join("duty.ics");
    std::fs::write(&file, &ics).expect("write duty.ics");
    let text = String::from_utf8(ics).expect("UTF-8");
    // Six specialists × two weekly windows, each a series; the three changes.
    assert_eq!(text.matches("RRULE:FREQ=WEEKLY").count(), 12, "{text}");
    assert_eq!(text.matches("BEGIN:VEVENT").count(), 14, "{text}");

    let expand = |zone: &[&str]| -> serde_json::Value {
        let out = Command::new("python3")
            .arg("-c")
            .arg(EXPAND)
            .arg(&file)
            .args(["2021-09-01", "2022-05-31"])
            .args(zone)
            .env("PYTHONPATH", &python_path)
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "the iCalendar reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let read = expand(&[]);
    assert_eq!(read["tzid"], "Europe/Moscow");
    assert_eq!(read["offset"], 3.0 * 3600.0);
    let from_ics: Vec<Window> = read["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e[0].as_str().expect("who").to_string(),
                instant(&e[1]),
                instant(&e[2]),
            )
        })
        .collect();
    let expanded: BTreeSet<Window> = from_ics.iter().cloned().collect();
    assert_eq!(expanded.len(), from_ics.len(), "no window twice");
    let own_zone = expand(&["Duty-Desk-Zone"]);
    assert_eq!(own_zone["tzid"], "Duty-Desk-Zone");
    assert_eq!(own_zone["offset"], 3.0 * 3600.0, "the VTIMEZONE's offset");
    assert_eq!(
        own_zone["events"], read["events"],
        "read with the file's VTIMEZONE"
    );

    let from_json = windows_from_json(&config, "2021-08-31T00:00:00+03:00");
    assert!(from_json.len() > 400, "{}", from_json.len());
    let missing: Vec<_> = from_json.difference(&expanded).collect();
    let extra: Vec<_> = expanded.difference(&from_json).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the calendar: {missing:#?}\nonly in the calendar: {extra:#?}"
    );

    // The changes and a holiday, as a person would look them up.
    let at = |s: &str| instant(&serde_json::json!(s));
    let has = |who: &str, from: &str| expanded.iter().any(|(e, f, _)| e == who && *f == at(from));
    assert!(has("voitenko@example.org", "2021-10-12T08:00:00+03:00"));
    assert!(!has("bukher@example.org", "2021-10-12T08:00:00+03:00"));
    assert!(has("tkachenko@example.org", "2021-10-13T15:00:00+03:00"));
    assert!(!has("bamburkin@example.org", "2021-10-14T08:00:00+03:00"));
    assert!(has("makarenko@example.org", "2021-10-14T08:00:00+03:00"));
    assert!(!has("bamburkin@example.org", "2021-11-04T08:00:00+03:00"));
    assert!(has("bamburkin@example.org", "2021-11-11T08:00:00+03:00"));
    let last = from_json.iter().map(|w| w.2).max().expect("a window");
    assert!(last < at("2022-06-01T00:00:00+03:00") - Duration::hours(7));
}
