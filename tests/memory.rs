//! Bounded memory, never a lost ticket, on the Maildir
//! pipeline with the real binary (`run --once`): a Maildir inbox, a Maildir
//! outbox, the example's school and timetable, Thursday 2021-09-09 08:30 (two
//! specialists on duty).
//!
//! The daemon logs its own peak resident set (VmHWM) when it ends, at debug
//! level; the tests read it from there. No timing is asserted, only memory.

mod support;

use duty_desk::store::Queries;
use support::desk::{Desk, LIMIT, letter_with_scan, peak_rss_kib};

#[test]
fn fifty_letters_of_30_mb_are_handled_within_256_mib() {
    let desk = Desk::new();
    // Just under the limit: each is read, understood, kept and forwarded whole.
    let size = LIMIT - 4096;
    for n in 0..50 {
        desk.deliver(
            &format!("17000000{n:02}.scan{n}.host"),
            &letter_with_scan(n, size),
        );
    }
    let (out, log) = desk.run_once();
    assert!(out.status.success(), "run --once failed:\n{log}");
    let peak = peak_rss_kib(&log);
    eprintln!(
        "peak RSS with 50 letters of {size} bytes: {} MiB",
        peak / 1024
    );
    assert_eq!(desk.count(""), 0, "the inbox is empty");
    assert_eq!(
        desk.count("Processed"),
        50,
        "every letter forwarded:\n{log}"
    );
    assert_eq!(desk.count("Unreadable"), 0);
    assert!(
        peak <= 256 * 1024,
        "peak RSS {} MiB is over 256 MiB",
        peak / 1024
    );
    // Every forward and every acknowledgement written out.
    assert_eq!(desk.outbox(), 100);
}

#[test]
fn a_letter_over_the_limit_is_never_read_whole_nor_stored() {
    let desk = Desk::new();
    let big = letter_with_scan(1, 100 * 1024 * 1024);
    desk.deliver("1700000001.big.host", &big);
    // A robot's too-large letter (a bounce with the whole original) stays a robot's.
    let mut bounce = b"From: MAILER-DAEMON@mx.parents.test\r\nTo: support@school.test\r\n\
Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce-1@mx.parents.test>\r\n\
Auto-Submitted: auto-replied\r\n\r\n"
        .to_vec();
    bounce.resize(40 * 1024 * 1024, b'x');
    desk.deliver("1700000002.bounce.host", &bounce);
    drop((big, bounce));

    let (out, log) = desk.run_once();
    assert!(out.status.success(), "run --once failed:\n{log}");
    assert_eq!(desk.count("Unreadable"), 1, "{log}");
    assert_eq!(desk.count("Ignored"), 1, "{log}");
    assert_eq!(desk.count(""), 0);
    // Nor stored: the store keeps the header at most.
    assert!(
        desk.store_bytes() < 4 * 1024 * 1024,
        "the store holds {} bytes",
        desk.store_bytes()
    );
    let store = desk.store();
    let mut rows = store.read().messages_after(0).expect("messages");
    rows.sort_by(|a, b| a.source_key.cmp(&b.source_key));
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].source_key, "maildir:1700000001.big.host");
    assert_eq!(rows[0].folder, "Unreadable");
    assert!(
        rows[0].reason.starts_with("too large: ")
            && rows[0]
                .reason
                .ends_with("exceeds the limit of 31457280 bytes"),
        "{}",
        rows[0].reason
    );
    assert_eq!(rows[1].folder, "Ignored");
    assert!(rows[1].reason.starts_with("robot: "), "{}", rows[1].reason);
    let peak = peak_rss_kib(&log);
    eprintln!(
        "peak RSS with a 100 MB and a 40 MB letter: {} MiB",
        peak / 1024
    );
    // Neither was read whole: the process never held even the smaller one.
    assert!(
        peak < 40 * 1024,
        "peak RSS {} MiB: a too-large letter was read whole",
        peak / 1024
    );
}

#[test]
fn a_run_under_the_units_memory_cap_never_files_a_good_letter_as_unreadable() {
    let desk = Desk::new();
    for n in 0..5 {
        desk.deliver(
            &format!("17000000{n:02}.scan{n}.host"),
            &letter_with_scan(n, LIMIT - 4096),
        );
    }
    // The unit's MemoryMax=512M, as an address-space limit: an allocation past it
    // fails (Rust aborts; SQLite answers SQLITE_NOMEM). Whatever this run does —
    // finish, fail, or die — it must not file a good letter as unreadable.
    // (A guard, not a reproduction: this run usually aborts in Rust's allocator
    // before SQLite sees a failure; the path by which a store failure could file a
    // letter as unreadable is tested by tests/store_failures.rs.)
    let (_, log) = desk.run_once_under(&["prlimit", "--as=536870912", "--"]);
    assert_eq!(
        desk.count("Unreadable"),
        0,
        "a letter filed as unreadable under the cap:\n{log}"
    );
    // The next run, without the cap, finishes the work: each letter forwarded once.
    let (out, log) = desk.run_once();
    assert!(out.status.success(), "{log}");
    assert_eq!(desk.count("Processed"), 5, "{log}");
    assert_eq!(desk.count("Unreadable"), 0);
    assert_eq!(desk.count(""), 0);
    assert_eq!(desk.outbox(), 10, "a forward and an acknowledgement each");
}
