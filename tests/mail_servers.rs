//! The desk against servers laid out differently from our default Dovecot: each
//! case files 13 letters once in folders of the server's own hierarchy, leaves
//! nothing in INBOX, deletes nothing, handles nothing twice after a restart, and
//! sends every mail once.
//!
//! - Dovecot with the separator "." (`duty-desk.Processed`).
//! - Dovecot with a Courier-like "INBOX." namespace (`INBOX.duty-desk.Processed`);
//!   once more with NAMESPACE, MOVE and UIDPLUS withheld, so the layout comes from a
//!   refused top-level CREATE and moves are COPY + \Deleted + EXPUNGE.
//! - Hoodiecrow (a server that is not Dovecot) with the separator "|", without
//!   MOVE and UIDPLUS.
//! - GNU Mailutils imap4d: mbox folders, no MOVE or UIDPLUS, `* n EXPUNGED`, a
//!   `UID SEARCH UID n:*` that answers nothing.
//! - Cyrus IMAP with the classic layout (`INBOX.duty-desk.Processed`): a top-level
//!   CREATE is refused; once more with NAMESPACE, MOVE and UIDPLUS withheld.
//! - A server whose IDLE never pushes (imap4d again): a letter dropped while the
//!   desk idles is handled at the next renewal of IDLE, every `poll_interval`.
//! - Postfix taking mail from loopback without AUTH (`[outbox]` without username).
//! - An SMTP server without 8BITMIME and SMTPUTF8 (npm smtp-server).

mod support;
#[path = "support/svc.rs"]
#[allow(dead_code)]
mod svc;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::daemon::{Daemon, DaemonConfig, Mail, run_cli, run_once};
use support::others::{Cyrus, Hoodiecrow, Imap4d, SmtpSink};
use support::{Imap, MailStack, REQUESTERS, SUPPORT, StackOptions, password, users};
use svc::{request, request_without_class};

const TUE_0830: &str = "2021-09-07T08:30:00+03:00";
const TUE_0930: &str = "2021-09-07T09:30:00+03:00";
const ARRIVED: &str = "07-Sep-2021 08:00:00 +0300";

/// 13 letters from six senders: ten complete requests, three without the class.
fn thirteen() -> Vec<(String, Vec<u8>)> {
    (0..13)
        .map(|n| {
            let from = REQUESTERS[n % REQUESTERS.len()];
            if n % 5 == 4 {
                request_without_class(from, n)
            } else {
                request(from, n)
            }
        })
        .collect()
}

/// Message-ID of a letter.
fn id_of(raw: &[u8]) -> String {
    Mail::parse(raw).message_id
}

/// Rewrites the config file at `path` with `f`.
fn edit(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).expect("read config");
    std::fs::write(path, f(text)).expect("write config");
}

/// The `[outbox]` section replaced by `section`.
fn with_outbox(text: String, section: &str) -> String {
    let start = text.find("[outbox]").expect("[outbox]");
    let end = text.find("[school]").expect("[school]");
    format!("{}{section}\n\n{}", &text[..start], &text[end..])
}

/// Every message in the support mailbox's folders other than INBOX, by folder.
async fn filed(stack: &MailStack) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for f in stack.folders(SUPPORT).await {
        if f == "INBOX" {
            continue;
        }
        let ids: Vec<String> = stack
            .fetch(SUPPORT, &f)
            .await
            .iter()
            .map(|r| id_of(r))
            .collect();
        if !ids.is_empty() {
            out.insert(f, ids);
        }
    }
    out
}

/// Every letter in every inbox but the support one, after Postfix is done.
async fn delivered(stack: &MailStack) -> Vec<Mail> {
    stack.wait_postfix_idle(Duration::from_secs(30)).await;
    let mut all = Vec::new();
    for u in users().into_iter().filter(|u| *u != SUPPORT) {
        all.extend(Mail::all(&stack.fetch(u, "INBOX").await));
    }
    all
}

/// Each of `ids` exactly once across `filed`, every folder under `parent` + `sep`.
fn assert_filed_once(filed: &BTreeMap<String, Vec<String>>, ids: &[String], parent: &str) {
    let mut seen: Vec<&String> = filed.values().flatten().collect();
    seen.sort();
    let mut want: Vec<&String> = ids.iter().collect();
    want.sort();
    assert_eq!(seen, want, "each letter filed once: {filed:#?}");
    for folder in filed.keys() {
        assert!(
            folder.starts_with(parent),
            "{folder} is not under {parent}: {filed:#?}"
        );
    }
}

fn assert_no_duplicates(mails: &[Mail]) {
    let ids: BTreeSet<&String> = mails.iter().map(|m| &m.message_id).collect();
    assert_eq!(ids.len(), mails.len(), "a mail delivered twice");
}

/// The whole case on a Dovecot stack: 13 letters, a run, a second run (a
/// restart), the folders and the mail checked after each.
async fn files_thirteen_under(stack: &MailStack, config: &Path, parent: &str) {
    let letters = thirteen();
    for (_, raw) in &letters {
        stack.append(SUPPORT, "INBOX", ARRIVED, raw).await;
    }
    let ids: Vec<String> = letters.iter().map(|(id, _)| id.clone()).collect();
    run_once(config, TUE_0830);
    let first = filed(stack).await;
    assert_filed_once(&first, &ids, parent);
    assert_eq!(
        stack.fetch(SUPPORT, "INBOX").await.len(),
        0,
        "left in INBOX"
    );
    let mails = delivered(stack).await;
    // Ten forwards, ten acknowledgements, three questions at least.
    assert!(mails.len() >= 23, "{} mails", mails.len());
    assert_no_duplicates(&mails);

    run_once(config, TUE_0930);
    assert_eq!(
        filed(stack).await,
        first,
        "the second run changed the folders"
    );
    assert_eq!(delivered(stack).await.len(), mails.len(), "mail sent twice");
    assert_status_clean(config);
}

/// `status` reports no failure.
fn assert_status_clean(config: &Path) {
    let status = String::from_utf8_lossy(&run_cli(config, &["status"]).stdout).into_owned();
    assert!(!status.contains("FAILED"), "{status}");
}

/// A Dovecot stack with `options`, the desk's config for it, and the whole
/// case of [`files_thirteen_under`] `parent`.
async fn dovecot_files_thirteen(options: StackOptions, parent: &str) -> MailStack {
    let stack = MailStack::start_with(options);
    // The config's folder lives as long as `cfg`.
    let cfg = DaemonConfig::new();
    let config = cfg.write(&stack);
    files_thirteen_under(&stack, &config, parent).await;
    stack
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_with_the_dot_separator() {
    let stack = dovecot_files_thirteen(
        StackOptions {
            namespace: Some("separator = .".into()),
            ..StackOptions::default()
        },
        "duty-desk.",
    )
    .await;
    let folders = stack.folders(SUPPORT).await;
    assert!(
        folders.contains(&"duty-desk.Processed".to_string()),
        "{folders:?}"
    );
    assert!(!folders.iter().any(|f| f.contains('/')), "{folders:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_with_an_inbox_namespace() {
    dovecot_files_thirteen(
        StackOptions {
            namespace: Some("prefix = INBOX.\nseparator = .".into()),
            ..StackOptions::default()
        },
        "INBOX.duty-desk.",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dovecot_with_an_inbox_namespace_and_no_namespace_move_or_uidplus() {
    dovecot_files_thirteen(
        StackOptions {
            namespace: Some("prefix = INBOX.\nseparator = .".into()),
            imap_capability: Some("IMAP4rev1 LITERAL+ IDLE".into()),
            ..StackOptions::default()
        },
        "INBOX.duty-desk.",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_uidplus_someone_elses_deletion_is_never_expunged() {
    let stack = MailStack::start_with(StackOptions {
        imap_capability: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE".into()),
        ..StackOptions::default()
    });
    // A letter someone else flagged \Deleted (and may still unflag).
    let (_, theirs) = request(REQUESTERS[0], 99);
    stack
        .append(SUPPORT, "INBOX", "01-Jan-2020 10:00:00 +0000", &theirs)
        .await;
    let mut imap = stack.imap(SUPPORT).await;
    imap.command("SELECT INBOX").await.unwrap();
    imap.command("STORE 1 +FLAGS (\\Deleted)").await.unwrap();
    imap.logout().await;
    // The config's folder lives as long as `cfg`.
    let cfg = DaemonConfig::new();
    let config = cfg.write(&stack);
    edit(&config, |t| {
        t.replace("[mailbox]\n", "[mailbox]\nstart_from = \"2021-01-01\"\n")
    });
    let (id, raw) = request(REQUESTERS[1], 1);
    stack.append(SUPPORT, "INBOX", ARRIVED, &raw).await;
    run_once(&config, TUE_0830);

    // Ours is filed; both stay in INBOX (flagged), nothing is expunged.
    let processed = stack.fetch(SUPPORT, "duty-desk/Processed").await;
    assert_eq!(
        processed.iter().map(|r| id_of(r)).collect::<Vec<_>>(),
        vec![id]
    );
    assert_eq!(stack.fetch(SUPPORT, "INBOX").await.len(), 2);
    let status = String::from_utf8_lossy(&run_cli(&config, &["status"]).stdout).into_owned();
    assert!(status.contains("NOT EXPUNGED"), "{status}");
    assert!(status.contains("no UIDPLUS"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_prefix_by_hand_goes_out_in_modified_utf7() {
    let stack = MailStack::start();
    // The config's folder lives as long as `cfg`.
    let cfg = DaemonConfig::new();
    let config = cfg.write(&stack);
    edit(&config, |t| {
        t.replace(
            "folder = \"INBOX\"\n",
            "folder = \"INBOX\"\nfolder_prefix = \"Заявки\"\n",
        )
    });
    let (id, raw) = request(REQUESTERS[0], 1);
    stack.append(SUPPORT, "INBOX", ARRIVED, &raw).await;
    run_once(&config, TUE_0830);
    // "Заявки" in modified UTF-7, as Dovecot stores and lists it.
    let got = stack.fetch(SUPPORT, "&BBcEMARPBDIEOgQ4-/Processed").await;
    assert_eq!(got.iter().map(|r| id_of(r)).collect::<Vec<_>>(), vec![id]);
    assert!(
        !stack
            .folders(SUPPORT)
            .await
            .iter()
            .any(|f| f.starts_with("duty-desk"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_relay_without_auth() {
    let stack = MailStack::start();
    // The config's folder lives as long as `cfg`.
    let cfg = DaemonConfig::new();
    let config = cfg.write(&stack);
    let section = format!(
        "[outbox]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Поддержка ЭлЖур <{SUPPORT}>\"",
        stack.smtp_port()
    );
    edit(&config, |t| with_outbox(t, &section));
    let check = run_cli(&config, &["check-config"]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        check.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(said.contains("no authentication"), "{said}");
    files_thirteen_under(&stack, &config, "duty-desk/").await;
    // Postfix logged no SASL login for any of them.
    let log = std::fs::read_to_string(stack.dir().join("postfix/postfix.log")).unwrap_or_default();
    assert!(!log.contains("sasl_username"), "AUTH was used");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_server_without_8bitmime_and_smtputf8() {
    let stack = MailStack::start();
    let sink = SmtpSink::start();
    // The config's folder lives as long as `cfg`.
    let cfg = DaemonConfig::new();
    let config = cfg.write(&stack);
    let section = format!(
        "[outbox]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Поддержка ЭлЖур <{SUPPORT}>\"",
        sink.port()
    );
    edit(&config, |t| with_outbox(t, &section));
    // 13 letters; two from internationalised addresses: one with an ASCII local
    // part (answered at its punycode domain), one whose local part is Cyrillic
    // (its acknowledgement cannot go through this server: failed, shown in status).
    let mut letters = thirteen();
    for (n, from) in [(0usize, "mama@школа.рф"), (1, "родитель@школа.рф")] {
        let (id, raw) = request(from, 100 + n);
        letters[n] = (id, raw);
    }
    for (_, raw) in &letters {
        stack.append(SUPPORT, "INBOX", ARRIVED, raw).await;
    }
    let ids: Vec<String> = letters.iter().map(|(id, _)| id.clone()).collect();
    run_once(&config, TUE_0830);
    let first = filed(&stack).await;
    assert_filed_once(&first, &ids, "duty-desk/");
    assert_eq!(stack.fetch(SUPPORT, "INBOX").await.len(), 0);
    let got = sink.received();
    assert!(got.len() >= 22, "{} mails\n{}", got.len(), sink.log());
    for m in &got {
        assert!(
            m.raw.is_ascii(),
            "8-bit data sent:\n{}",
            String::from_utf8_lossy(&m.raw)
        );
    }
    // The envelope as the client wrote it (the sink's log of commands).
    let log = sink.log();
    let envelope: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("MAIL FROM:") || l.contains("RCPT TO:"))
        .collect();
    assert!(envelope.len() >= got.len() * 2, "{log}");
    assert!(envelope.iter().all(|l| l.is_ascii()), "{envelope:#?}");
    assert!(
        envelope
            .iter()
            .any(|l| l.contains("RCPT TO:<mama@xn--80atdl2c.xn--p1ai>")),
        "no acknowledgement to the punycode address: {envelope:#?}"
    );
    let ids: BTreeSet<String> = got.iter().map(|m| id_of(&m.raw)).collect();
    assert_eq!(ids.len(), got.len(), "a mail sent twice");
    // Forwards carry the originals whole, as octet-stream in base64.
    let forward = got
        .iter()
        .map(|m| Mail::parse(&m.raw))
        .find(|m| m.subject.starts_with("[Заявка #"))
        .expect("a forward");
    assert!(
        String::from_utf8_lossy(&forward.raw).contains("application/octet-stream"),
        "{}",
        String::from_utf8_lossy(&forward.raw)
    );
    let status = String::from_utf8_lossy(&run_cli(&config, &["status"]).stdout).into_owned();
    assert!(
        status.contains("FAILED") && status.contains("SMTPUTF8"),
        "{status}"
    );

    run_once(&config, TUE_0930);
    assert_eq!(filed(&stack).await, first);
    assert_eq!(
        sink.received().len(),
        got.len(),
        "mail sent again after a restart"
    );
}

/// Logs in to a server other than the stack's Dovecot and lists folder names
/// (but those that cannot hold messages) and message counts.
async fn server_folders(port: u16) -> BTreeMap<String, usize> {
    let mut imap = Imap::login(port, SUPPORT, &password(SUPPORT))
        .await
        .expect("login");
    let list = imap.command("LIST \"\" \"*\"").await.expect("LIST");
    let mut out = BTreeMap::new();
    for u in list {
        let line = String::from_utf8_lossy(&u.line).trim_end().to_string();
        if line.to_ascii_lowercase().contains("\\noselect") {
            continue;
        }
        let Some(name) = line.rsplit(' ').next() else {
            continue;
        };
        let name = name.trim_matches('"').to_string();
        let status = imap
            .command(&format!("STATUS \"{name}\" (MESSAGES)"))
            .await
            .expect("STATUS");
        let n = status
            .iter()
            .filter_map(|u| {
                let l = String::from_utf8_lossy(&u.line).to_string();
                let i = l.find("MESSAGES ")?;
                l[i + 9..]
                    .trim_end()
                    .trim_end_matches(')')
                    .parse::<usize>()
                    .ok()
            })
            .next()
            .unwrap_or(0);
        out.insert(name, n);
    }
    imap.logout().await;
    out
}

/// APPENDs `letters` to INBOX of the support mailbox on the server at `port`,
/// arrived at `date`.
/// The desk's config for an IMAP server on `port`, with the stack's Postfix
/// as the outbox; its folder lives as long as the `DaemonConfig`.
fn config_for(stack: &MailStack, port: u16) -> (DaemonConfig, PathBuf) {
    let cfg = DaemonConfig::new();
    let config = cfg.write_for(port, port, stack.smtps_port(), &stack.ca_file());
    (cfg, config)
}

/// How many letters the folders under `prefix` hold.
fn filed_under(folders: &BTreeMap<String, usize>, prefix: &str) -> usize {
    folders
        .iter()
        .filter(|(f, _)| f.starts_with(prefix))
        .map(|(_, n)| n)
        .sum()
}

/// A second run (a restart) changes no folder of the server on `port` and
/// sends nothing again.
async fn assert_second_run_changes_nothing(
    config: &Path,
    port: u16,
    first: &BTreeMap<String, usize>,
    stack: &MailStack,
    sent: usize,
) {
    run_once(config, TUE_0930);
    assert_eq!(
        &server_folders(port).await,
        first,
        "the second run changed the folders"
    );
    assert_eq!(delivered(stack).await.len(), sent, "mail sent twice");
}

async fn append_all(port: u16, date: &str, letters: &[(String, Vec<u8>)]) {
    let mut imap = Imap::login(port, SUPPORT, &password(SUPPORT))
        .await
        .expect("login");
    for (_, raw) in letters {
        let mut cmd = format!("APPEND INBOX \"{date}\" {{{}+}}\r\n", raw.len()).into_bytes();
        cmd.extend_from_slice(raw);
        imap.command_bytes(&cmd).await.expect("APPEND");
    }
    imap.logout().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hoodiecrow_with_the_bar_separator_and_no_move_or_uidplus() {
    let stack = MailStack::start(); // the outbox: Postfix and the people's inboxes
    let hc = Hoodiecrow::start("|", SUPPORT, &password(SUPPORT));
    let (_cfg, config) = config_for(&stack, hc.port());
    let letters = thirteen();
    append_all(hc.port(), ARRIVED, &letters).await;
    run_once(&config, TUE_0830);
    let first = server_folders(hc.port()).await;
    let desk = filed_under(&first, "duty-desk|");
    assert_eq!(desk, 13, "{first:?}\n{}", hc.log());
    assert_eq!(first.get("INBOX"), Some(&0), "{first:?}");
    assert!(!first.keys().any(|f| f.contains('/')), "{first:?}");
    let mails = delivered(&stack).await;
    assert!(mails.len() >= 23, "{}", mails.len());
    assert_no_duplicates(&mails);

    assert_second_run_changes_nothing(&config, hc.port(), &first, &stack, mails.len()).await;
}

/// GNU Mailutils imap4d: mbox folders (a plain `CREATE duty-desk` would make an
/// mbox file that can hold no children), no MOVE, no UIDPLUS, `* n EXPUNGED` for
/// EXPUNGE, and a `UID SEARCH UID n:*` that answers nothing for n > 1. A letter
/// from before `start_from` stays in INBOX (so INBOX keeps its UIDVALIDITY, which
/// an emptied mbox loses); ten letters, a run, three more, a run (`UID … 12:*`),
/// a run after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mailutils_imap4d() {
    let stack = MailStack::start(); // the outbox: Postfix and the people's inboxes
    let server = Imap4d::start(SUPPORT, &password(SUPPORT));
    let (_cfg, config) = config_for(&stack, server.port());
    edit(&config, |t| {
        t.replace("[mailbox]\n", "[mailbox]\nstart_from = \"2021-01-01\"\n")
    });
    let old = request(REQUESTERS[0], 99);
    append_all(server.port(), "01-Jan-2020 10:00:00 +0000", &[old]).await;
    let letters = thirteen();
    append_all(server.port(), ARRIVED, &letters[..10]).await;
    run_once(&config, TUE_0830);
    append_all(server.port(), ARRIVED, &letters[10..]).await;
    run_once(&config, TUE_0830);
    let first = server_folders(server.port()).await;
    let desk = filed_under(&first, "duty-desk/");
    assert_eq!(desk, 13, "{first:?}\n{}", server.log());
    assert_eq!(first.get("INBOX"), Some(&1), "{first:?}\n{}", server.log());
    let mails = delivered(&stack).await;
    assert!(mails.len() >= 23, "{}", mails.len());
    assert_no_duplicates(&mails);

    assert_second_run_changes_nothing(&config, server.port(), &first, &stack, mails.len()).await;
    assert_status_clean(&config);
}

/// The renewal of IDLE before it followed `poll_interval`.
const OLD_FIXED_RENEWAL: Duration = Duration::from_secs(60);

/// The desk's sessions in imap4d's transcript: those that sent IDLE.
fn idling_sessions(server: &Imap4d) -> Vec<Vec<String>> {
    server
        .sessions()
        .into_values()
        .filter(|lines| {
            lines
                .iter()
                .any(|l| l.starts_with("C: ") && l.ends_with(" IDLE"))
        })
        .collect()
}

/// imap4d's IDLE never pushes: a message APPENDed by another session is not
/// announced to one in IDLE (it says nothing until the client sends DONE). The
/// desk (poll_interval 2 s) is left idling, a letter is dropped, and it must be
/// handled at a renewal of IDLE. What tells a renewal every poll_interval from
/// the old fixed one is time, so the wait for the letter is bounded at half the
/// old 60 s (15 poll intervals: generous for a loaded machine, impossible for the
/// old code); the transcript then shows how it was found: no EXISTS while the
/// desk idled, IDLE sent again and again, the letter fetched after a DONE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_that_never_pushes_is_renewed_every_poll_interval() {
    let stack = MailStack::start(); // the outbox
    let server = Imap4d::start(SUPPORT, &password(SUPPORT));
    let (_cfg, config) = config_for(&stack, server.port()); // poll_interval = "2s"
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("poll_interval = \"2s\"")
    );
    let mut desk = Daemon::start(&config, TUE_0830, "desk.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    while idling_sessions(&server).is_empty() {
        desk.assert_running();
        assert!(
            Instant::now() < deadline,
            "the desk never idled\n{}\n{}",
            desk.log(),
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (id, raw) = request(REQUESTERS[0], 1);
    append_all(server.port(), ARRIVED, &[(id.clone(), raw)]).await;
    let bound = OLD_FIXED_RENEWAL / 2;
    let deadline = Instant::now() + bound;
    loop {
        let folders = server_folders(server.port()).await;
        if folders.get("duty-desk/Processed") == Some(&1) {
            break;
        }
        desk.assert_running();
        assert!(
            Instant::now() < deadline,
            "the letter was not handled within {bound:?} of its arrival although poll_interval is 2 s: {folders:?}\n{}",
            desk.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    desk.stop();

    let sessions = idling_sessions(&server);
    let mut idles = 0;
    let mut fetched_after_done = false;
    for lines in &sessions {
        let mut idling = false;
        let mut after_done = false;
        for l in lines {
            if l.starts_with("C: ") && l.ends_with(" IDLE") {
                idling = true;
                idles += 1;
            } else if l == "C: DONE" {
                idling = false;
                after_done = true;
            } else if idling && l.starts_with("S: * ") {
                panic!(
                    "imap4d pushed {l:?} during IDLE: this test needs a server that does not\n{lines:#?}"
                );
            } else if after_done && l.contains("BODY.PEEK[]") {
                fetched_after_done = true;
            }
        }
    }
    assert!(
        idles >= 2,
        "IDLE sent {idles} time(s): not renewed\n{sessions:#?}"
    );
    assert!(
        fetched_after_done,
        "the letter was not fetched after a DONE\n{sessions:#?}"
    );
}

/// 13 letters on a Cyrus with the classic layout (capabilities in `suppress`
/// withheld): filed once under `INBOX.duty-desk.`, INBOX empty, nothing again
/// after a restart.
async fn cyrus_files_thirteen(suppress: &str) {
    let stack = MailStack::start(); // the outbox
    let server = Cyrus::start(SUPPORT, &password(SUPPORT), suppress);
    let (_cfg, config) = config_for(&stack, server.port());
    let letters = thirteen();
    append_all(server.port(), ARRIVED, &letters).await;
    run_once(&config, TUE_0830);
    let first = server_folders(server.port()).await;
    let desk = filed_under(&first, "INBOX.duty-desk.");
    assert_eq!(desk, 13, "{first:?}\n{}", server.log());
    assert_eq!(first.get("INBOX"), Some(&0), "{first:?}\n{}", server.log());
    assert!(first.contains_key("INBOX.duty-desk.Processed"), "{first:?}");
    assert!(!first.keys().any(|f| f.contains('/')), "{first:?}");
    let mails = delivered(&stack).await;
    assert!(mails.len() >= 23, "{}", mails.len());
    assert_no_duplicates(&mails);

    assert_second_run_changes_nothing(&config, server.port(), &first, &stack, mails.len()).await;
    assert_status_clean(&config);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cyrus_with_the_classic_layout() {
    cyrus_files_thirteen("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cyrus_with_the_classic_layout_and_no_namespace_move_or_uidplus() {
    cyrus_files_thirteen("NAMESPACE MOVE UIDPLUS").await;
}
