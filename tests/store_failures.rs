//! A failure of the state store is the store's, never the letter's, on the
//! Maildir pipeline with the real binary: a letter whose decision cannot be
//! committed (the disk is full) stays in the inbox, untouched, `status`
//! says the store is failing, and the next run decides it as if nothing had
//! happened.

mod support;

use support::desk::{Desk, letter_with_scan};

#[test]
fn a_full_disk_during_a_decision_never_files_a_good_letter_as_unreadable() {
    let desk = Desk::new();
    // A first run with an empty inbox makes the store.
    let (out, log) = desk.run_once();
    assert!(out.status.success(), "{log}");
    // A complete request with a 1 MB scan: its decision writes the letter (1 MB) and
    // its forward (1.4 MB) into the store's write-ahead log.
    desk.deliver("1700000001.scan.host", &letter_with_scan(1, 1024 * 1024));

    // Files may grow to 1.8 MB only, as on a nearly full disk: the decision's
    // transaction cannot be written (SIGXFSZ ignored, so writes fail with EFBIG),
    // though a smaller one still could.
    let (out, log) = desk.run_once_under(&[
        "sh",
        "-c",
        "trap '' XFSZ; exec prlimit --fsize=1800000 -- \"$@\"",
        "sh",
    ]);
    assert!(
        !out.status.success(),
        "a run whose decision could not be stored must fail:\n{log}"
    );
    assert!(log.contains("the state store failed"), "{log}");
    assert_eq!(desk.count("Unreadable"), 0, "filed as unreadable:\n{log}");
    assert_eq!(desk.count(""), 1, "the letter stays in the inbox");
    assert_eq!(desk.outbox(), 0);
    let shown = desk.status();
    assert!(shown.contains("STATE STORE FAILING since"), "{shown}");

    // With room again, the next run decides it: forwarded and acknowledged.
    let (out, log) = desk.run_once();
    assert!(out.status.success(), "{log}");
    assert_eq!(desk.count("Processed"), 1, "{log}");
    assert_eq!(desk.count(""), 0);
    assert_eq!(desk.outbox(), 2, "forward and acknowledgement");
    let shown = desk.status();
    assert!(!shown.contains("STATE STORE FAILING"), "{shown}");
    assert!(
        shown.contains("store_error"),
        "the incident stays in the audit: {shown}"
    );
}
