//! Before and after the timetable runs out, on the real stack: `[schedule]
//! warn_before_end` days (14 by default) before `valid_until` the admin gets one
//! mail saying when it ends and how to add the next school year; `check-config`,
//! `schedule` and `status` say the same; once it has ended, `status` and systemd's
//! STATUS line say so and the admin is reminded once a week.
//!
//! The clock is moved with `run --once --now`, as every other test does. The
//! harness's timetable is the regulation's: valid 2021-09-01 … 2022-05-31.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use support::{ADMIN, MailStack};
use support::{Home, Mail, run_cli, run_once};

/// The admin's letters about the timetable, oldest first.
async fn timetable_mail(stack: &MailStack) -> Vec<Mail> {
    stack.wait_postfix_idle(Duration::from_secs(30)).await;
    Mail::all(&stack.fetch(ADMIN, "INBOX").await)
        .into_iter()
        .filter(|m| m.subject.contains("график дежурств"))
        .collect()
}

fn stdout(config: &Path, args: &[&str]) -> String {
    let out = run_cli(config, args);
    assert!(
        out.status.success(),
        "duty-desk {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_warning_14_days_before_the_end_then_weekly_reminders_after_it() {
    let stack = MailStack::start();
    let desk = Home::new();
    let config = desk.write(&stack);

    // 15 days before the last day: nothing, anywhere.
    let early = "2022-05-16T09:00:00+03:00";
    run_once(&config, early);
    assert!(timetable_mail(&stack).await.is_empty());
    let check = stdout(&config, &["check-config", "--at", early]);
    assert!(!check.contains("warning"), "{check}");
    let table = stdout(&config, &["schedule", "--at", early]);
    assert!(!table.contains("ВНИМАНИЕ"), "{table}");

    // 14 days before: one mail saying when it ends and what to add.
    let warn_day = "2022-05-17T09:00:00+03:00";
    run_once(&config, warn_day);
    let mail = timetable_mail(&stack).await;
    assert_eq!(mail.len(), 1, "{mail:#?}");
    let m = &mail[0];
    assert_eq!(m.to, [ADMIN]);
    assert_eq!(
        m.subject,
        "duty-desk: график дежурств заканчивается 31 мая 2022"
    );
    for needle in [
        "по 31 мая 2022 включительно (осталось дней: 14)",
        "valid_from и valid_until",
        "holidays",
        "[[specialists]]",
        &format!("duty-desk --config {} check-config", config.display()),
    ] {
        assert!(m.body.contains(needle), "{needle:?} not in:\n{}", m.body);
    }
    assert!(
        m.body
            .lines()
            .any(|l| l.trim() == "systemctl reload duty-desk"),
        "{}",
        m.body
    );
    let warning = "warning: the timetable ends on 2022-05-31 (14 days left)";
    let check = stdout(&config, &["check-config", "--at", warn_day]);
    assert!(check.contains(warning), "{check}");
    let table = stdout(&config, &["schedule", "--at", warn_day]);
    assert!(table.contains("осталось дней: 14"), "{table}");
    assert!(table.contains(warning), "{table}");
    let status = stdout(&config, &["status", "--at", warn_day]);
    assert!(
        status.contains(warning.trim_start_matches("warning: ")),
        "{status}"
    );

    // The same day again, the next day, the last day: no second warning.
    for now in [
        "2022-05-17T18:00:00+03:00",
        "2022-05-18T09:00:00+03:00",
        "2022-05-31T09:00:00+03:00",
    ] {
        run_once(&config, now);
    }
    assert_eq!(timetable_mail(&stack).await.len(), 1);

    // It has ended: a reminder at once, none for a week, then the next.
    run_once(&config, "2022-06-01T09:00:00+03:00");
    let mail = timetable_mail(&stack).await;
    assert_eq!(mail.len(), 2, "{mail:#?}");
    assert_eq!(
        mail[1].subject,
        "duty-desk: график дежурств закончился 31 мая 2022"
    );
    assert!(mail[1].body.contains("раз в неделю"), "{}", mail[1].body);
    for now in ["2022-06-03T09:00:00+03:00", "2022-06-07T23:00:00+03:00"] {
        run_once(&config, now);
    }
    assert_eq!(timetable_mail(&stack).await.len(), 2);
    let week_later = "2022-06-08T09:00:00+03:00";
    run_once(&config, week_later);
    let mail = timetable_mail(&stack).await;
    assert_eq!(mail.len(), 3, "{mail:#?}");
    assert_eq!(mail[2].subject, mail[1].subject);

    let ended = "the timetable ENDED on 2022-05-31";
    let status = stdout(&config, &["status", "--at", week_later]);
    assert!(status.contains(ended), "{status}");
    let check = stdout(&config, &["check-config", "--at", week_later]);
    assert!(check.contains(ended), "{check}");

    // systemd's status line says so too.
    let sock_path = desk.dir().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind the notify socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("read timeout");
    let mut cmd = desk.command(&["run", "--now", "2022-06-09T09:00:00+03:00"]);
    cmd.env("NOTIFY_SOCKET", &sock_path);
    let mut daemon = desk.spawn_command(cmd);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let mut buf = vec![0u8; 4096];
    let line = loop {
        if let Ok(n) = sock.recv(&mut buf) {
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            if msg.contains("STATUS=IDLE") {
                break Some(msg);
            }
            seen.push(msg);
        }
        if Instant::now() >= deadline {
            break None;
        }
    };
    daemon.kill();
    let line = line.unwrap_or_else(|| panic!("no STATUS=IDLE line among {seen:#?}"));
    assert!(
        line.contains("; TIMETABLE ENDED 2022-05-31: every ticket goes to the fallback"),
        "{line}"
    );
}
