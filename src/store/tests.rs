use super::*;
use std::path::PathBuf;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2021-09-09T05:30:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn ticket() -> Ticket {
    Ticket {
        number: 0,
        requester: Some("mama@mail.ru".into()),
        requester_name: None,
        role: Some("parent".into()),
        full_name: Some("Смирнова Ольга".into()),
        class: None,
        description: Some("не входит".into()),
        subject: "вход".into(),
        state: TicketState::WaitingSender,
        assignee: None,
        assignee_name: None,
        created_at: now(),
        due_at: None,
        forwarded_at: None,
        sender_auth: None,
    }
}

#[test]
fn a_failed_transaction_leaves_nothing() {
    let mut s = Store::in_memory().unwrap();
    let r: anyhow::Result<()> = s.transaction(|tx| {
        tx.create_ticket(&ticket(), now())?;
        anyhow::bail!("crash in the middle")
    });
    assert!(r.is_err());
    assert!(s.read().ticket(1).unwrap().is_none());
    s.transaction(|tx| tx.create_ticket(&ticket(), now()).map(|_| ()))
        .unwrap();
    assert_eq!(
        s.read().ticket(1).unwrap().unwrap().full_name.as_deref(),
        Some("Смирнова Ольга")
    );
}

#[test]
fn replies_find_their_ticket_by_our_message_id() {
    let mut s = Store::in_memory().unwrap();
    s.transaction(|tx| {
        let n = tx.create_ticket(&ticket(), now())?;
        tx.queue(
            &NewOutgoing {
                message_id: "ask.1@school",
                ticket: Some(n),
                kind: "ask",
                auto_reply_to: Some("mama@mail.ru"),
                envelope_from: "support@school",
                recipients: &["mama@mail.ru".to_string()],
                raw: b"x",
                not_before: None,
            },
            now(),
        )
    })
    .unwrap();
    let r = s.read();
    assert_eq!(
        r.ticket_by_message_ids(&["other@x".into(), "ask.1@school".into()])
            .unwrap(),
        Some(1)
    );
    assert_eq!(r.ticket_by_message_ids(&["nope@x".into()]).unwrap(), None);
    assert_eq!(
        r.auto_replies_since("mama@mail.ru", now() - chrono::Duration::hours(1))
            .unwrap(),
        1
    );
    assert_eq!(r.ready_outgoing(now(), 10).unwrap().len(), 1);
}

#[test]
fn cursor_moves_forward_and_resets_on_new_uidvalidity() {
    let mut s = Store::in_memory().unwrap();
    s.transaction(|tx| tx.set_cursor("imap", 7, 10)).unwrap();
    s.transaction(|tx| tx.set_cursor("imap", 7, 5)).unwrap();
    assert_eq!(s.read().cursor("imap").unwrap(), Some((7, 10)));
    s.transaction(|tx| tx.set_cursor("imap", 8, 2)).unwrap();
    assert_eq!(s.read().cursor("imap").unwrap(), Some((8, 2)));
}

#[test]
fn corrupt_or_foreign_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sqlite3");
    std::fs::write(
        &bad,
        b"this is not a database, just some bytes that are long enough to look like one...",
    )
    .unwrap();
    let e = Store::open(&bad, true).err().expect("refused");
    assert!(
        format!("{e:#}").contains("refusing to start fresh"),
        "{e:#}"
    );
    let foreign = dir.path().join("foreign.sqlite3");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    let e = Store::open(&foreign, true).err().expect("refused");
    assert!(format!("{e:#}").contains("not a duty-desk store"), "{e:#}");
    let missing = dir.path().join("missing.sqlite3");
    assert!(Store::open(&missing, false).is_err());
    Store::open(&missing, true).unwrap();
    // Reopening an existing store keeps its schema.
    Store::open(&missing, false).unwrap();
}

/// Whether any of `needles` occurs in the store's files (database, WAL, SHM).
fn found_in_files(path: &Path, needles: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n.as_bytes()) {
                found.push(format!("{n:?} in {}", file.display()));
            }
        }
    }
    found
}

/// The personal data of one requester the purge test looks for.
const ADDRESS: &str = "zhirafova.beg@mail.ru";
const LOCAL: &str = "zhirafova.beg";
const NAME: &str = "Жирафова Бегемотина Носороговна";
const PHONE: &str = "+7 912 345-67-89";
const TEXT: &str = "дневник показывает фиолетовых жирафов";
const MID: &str = "zhirafova-7731@mail.ru";
const MID_IGNORED: &str = "otpusk-zhirafovoi-5512@mail.ru";

/// A store at `path` holding one forwarded ticket of [`ADDRESS`] with letters
/// (long ones in overflow pages, short ones in the cells), audit lines, sent,
/// failed and queued mail, and an ignored auto-reply of the same person.
fn store_with_personal_data(path: &Path) -> Store {
    let mut s = Store::open(path, true).unwrap();
    // Letters long enough to need overflow pages, and short ones in the cells.
    let letter = |n: usize| {
        let mut l = format!(
            "From: {NAME} <{ADDRESS}>\r\nMessage-ID: <{MID}>\r\n\r\nФИО: {NAME}\r\n\
             Телефон: {PHONE}\r\nПроблема: {TEXT}\r\n"
        );
        for i in 0..n {
            l.push_str(&format!("> {i}: {NAME}, {PHONE}, {TEXT}\r\n"));
        }
        l.into_bytes()
    };
    s.transaction(|tx| {
        let n = tx.create_ticket(
            &Ticket {
                requester: Some(ADDRESS.into()),
                requester_name: Some(NAME.into()),
                full_name: Some(NAME.into()),
                class: Some("5А".into()),
                description: Some(format!("{TEXT}; телефон {PHONE}")),
                subject: format!("{TEXT} {PHONE}"),
                state: TicketState::Forwarded,
                assignee: Some("bamburkin@example.org".into()),
                assignee_name: Some("Бамбуркин С.П.".into()),
                ..ticket()
            },
            now(),
        )?;
        for (key, mid, size) in [("maildir:1", MID, 200), ("maildir:2", "x@y", 2)] {
            tx.record_message(
                &SeenMessage {
                    source_key: key,
                    uid: None,
                    message_id: Some(mid),
                    sender: Some(ADDRESS),
                    ticket: Some(n),
                    verdict: "forward",
                    reason: &format!("complete; Message-ID <{MID}> from {ADDRESS}"),
                    folder: "Processed",
                    raw: Some(&letter(size)),
                },
                now(),
            )?;
        }
        tx.audit(
            now(),
            Some(n),
            Some(MID),
            "forward",
            &format!("{NAME} {PHONE}"),
        )?;
        for (id, kind, to) in [
            ("duty-desk.1.ack_now.1@school", "ack_now", ADDRESS),
            (
                "duty-desk.1.forward.2@school",
                "forward",
                "bamburkin@example.org",
            ),
            ("duty-desk.1.relay.3@school", "relay", ADDRESS),
        ] {
            tx.queue(
                &NewOutgoing {
                    message_id: id,
                    ticket: Some(n),
                    kind,
                    auto_reply_to: Some(ADDRESS),
                    envelope_from: "support@school",
                    recipients: &[to.to_string()],
                    raw: &letter(100),
                    not_before: None,
                },
                now(),
            )?;
        }
        tx.mark_sent(1, now())?;
        tx.mark_sent(2, now())?;
        let refusal = format!("550 5.1.1 <{ADDRESS}>: Recipient address rejected");
        tx.mark_failed(3, &refusal)?;
        tx.audit(
            now(),
            Some(n),
            Some("duty-desk.1.relay.3@school"),
            "send_failed",
            &refusal,
        )?;
        // An ignored letter (an auto-reply) of the same person: no ticket.
        tx.record_message(
            &SeenMessage {
                source_key: "maildir:3",
                uid: None,
                message_id: Some(MID_IGNORED),
                sender: Some(ADDRESS),
                ticket: None,
                verdict: "ignore",
                reason: &format!("auto-reply from {ADDRESS}"),
                folder: "Ignored",
                raw: Some(&letter(50)),
            },
            now(),
        )?;
        tx.audit(
            now(),
            None,
            Some(MID_IGNORED),
            "ignore",
            &format!("auto-reply from {ADDRESS}"),
        )?;
        Ok(())
    })
    .unwrap();
    s
}

#[test]
fn purge_erases_personal_data_from_the_file() {
    let needles = [
        ADDRESS,
        LOCAL,
        NAME,
        "Бегемотина",
        PHONE,
        "345-67-89",
        TEXT,
        "фиолетовых",
        MID,
        "zhirafova-7731",
        MID_IGNORED,
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("duty-desk.sqlite3");
    let mut s = store_with_personal_data(&path);
    let later = now() + chrono::Duration::days(40);
    s.checkpoint().unwrap();
    assert!(
        !found_in_files(&path, &needles).is_empty(),
        "the test's data is in the file"
    );

    s.transaction(|tx| {
        assert_eq!(tx.close_idle(now() + chrono::Duration::days(30), later)?, 1);
        let year_on = later + chrono::Duration::days(366);
        assert_eq!(
            tx.purge_closed(year_on - chrono::Duration::days(365), year_on)?,
            1
        );
        Ok(())
    })
    .unwrap();
    assert!(s.checkpoint().unwrap(), "nothing else reads the store");
    let found = found_in_files(&path, &needles);
    assert!(
        found.is_empty(),
        "still in the store after the purge: {found:#?}"
    );
    // Numbers, states, dates and decisions stay.
    let t = s.read().ticket(1).unwrap().unwrap();
    assert_eq!(t.state, TicketState::Closed);
    assert_eq!(t.created_at, now());
    assert_eq!(t.assignee_name.as_deref(), Some("Бамбуркин С.П."));
    let decisions = s
        .read()
        .rows("SELECT verdict FROM messages ORDER BY id", [], |r| {
            r.get::<_, String>(0)
        })
        .unwrap();
    assert_eq!(decisions, ["forward", "forward", "ignore"]);
    assert_eq!(s.read().recent_audit("%", 10).unwrap().len(), 3);
    // And after closing the store.
    drop(s);
    let found = found_in_files(&path, &needles);
    assert!(found.is_empty(), "in the store once closed: {found:#?}");
}

#[test]
fn a_store_purged_by_an_older_duty_desk_is_scrubbed_once() {
    const NAME: &str = "Жирафова Бегемотина Носороговна";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("duty-desk.sqlite3");
    let mut s = Store::open(&path, true).unwrap();
    // As an older duty-desk left it: no secure_delete, a letter purged by
    // nulling its column (its pages freed, not zeroed), no scrub mark.
    s.conn.pragma_update(None, "secure_delete", "OFF").unwrap();
    let raw = NAME.repeat(300);
    s.transaction(|tx| {
        tx.record_message(
            &SeenMessage {
                source_key: "k",
                uid: None,
                message_id: None,
                sender: None,
                ticket: None,
                verdict: "ignore",
                reason: "",
                folder: "Ignored",
                raw: Some(raw.as_bytes()),
            },
            now(),
        )?;
        tx.kv_delete(SCRUBBED_KEY)
    })
    .unwrap();
    s.conn
        .execute("UPDATE messages SET raw = NULL", [])
        .unwrap();
    s.checkpoint().unwrap();
    assert!(!found_in_files(&path, &[NAME]).is_empty());
    drop(s);
    let s = Store::open(&path, false).unwrap();
    assert!(found_in_files(&path, &[NAME]).is_empty());
    assert!(s.read().kv_get(SCRUBBED_KEY).unwrap().is_some());
}

#[cfg(unix)]
#[test]
fn the_store_its_wal_and_its_folders_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/duty-desk.sqlite3");
    let mut s = Store::open(&path, true).unwrap();
    s.transaction(|tx| tx.create_ticket(&ticket(), now()).map(drop))
        .unwrap();
    assert_eq!(mode(&dir.path().join("a")), 0o700);
    assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    assert_eq!(mode(&path), 0o600);
    // Open, in WAL mode: both side files exist, with the database file's mode.
    for side in ["duty-desk.sqlite3-wal", "duty-desk.sqlite3-shm"] {
        assert_eq!(mode(&dir.path().join("a/b").join(side)), 0o600, "{side}");
    }
}

#[test]
fn purge_keeps_numbers_and_dates() {
    let mut s = Store::in_memory().unwrap();
    s.transaction(|tx| {
        let n = tx.create_ticket(&ticket(), now())?;
        tx.record_message(
            &SeenMessage {
                source_key: "k1",
                uid: Some(1),
                message_id: Some("m1"),
                sender: Some("mama@mail.ru"),
                ticket: Some(n),
                verdict: "ask",
                reason: "",
                folder: "Waiting",
                raw: Some(b"letter"),
            },
            now(),
        )?;
        let later = now() + chrono::Duration::days(40);
        assert_eq!(tx.close_idle(now() + chrono::Duration::days(30), later)?, 1);
        assert_eq!(
            tx.purge_closed(later + chrono::Duration::days(1), later)?,
            1
        );
        Ok(())
    })
    .unwrap();
    let t = s.read().ticket(1).unwrap().unwrap();
    assert_eq!(t.state, TicketState::Closed);
    assert_eq!(t.full_name, None);
    assert_eq!(t.created_at, now());
    assert!(s.read().ticket_letters(1).unwrap().is_empty());
    assert!(s.read().oldest_personal_data().unwrap().is_none());
}
