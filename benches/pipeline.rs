//! `cargo bench --bench pipeline`: duty-desk against the mail stack's own floor,
//! measured side by side in one run on a private Dovecot + Postfix.
//!
//! - latency: SMTP accept of a letter to the support inbox → the forward visible in
//!   the specialist's inbox (the release daemon `run --now`, IMAP IDLE), next to the
//!   floor: SMTP accept of a message sent straight to the specialist → a bare IDLE
//!   client on that inbox sees it (Dovecot's IDLE notice delay plus one delivery).
//!   Samples alternate, so both see the same machine.
//! - backlog: 1,000 waiting letters (complete, incomplete, robots, rude) handled by
//!   `run --once` to the last move, next to Postfix's own accept rate for the same
//!   1,000 messages over one SMTP connection.
//! - memory: peak RSS (VmHWM) of the daemon idle, during the backlog, and with one
//!   30 MB letter.
//!
//! Environment: `PIPELINE_SAMPLES` (latency samples, default 50),
//! `PIPELINE_BACKLOG` (default 1000). Without `--bench` (as `cargo test
//! --all-targets` runs it) a small smoke run: 3 samples, 20 letters, a 1 MB letter.

#[path = "../tests/support/mod.rs"]
mod support;
mod throughput;

use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use support::{
    Daemon, Home, Kind, MailStack, SPECIALISTS, SUPPORT, StackOptions, batch_letter, letter_id,
    password, rss_kib, sender, sender_users,
};

/// Tuesday 2021-09-07 12:30 Moscow: only Ткаченко Е.В. (the sixth specialist) on duty.
const TUE_1230: &str = "2021-09-07T12:30:00+03:00";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Conn = BufReader<TcpStream>;

async fn line(c: &mut Conn) -> String {
    let mut l = String::new();
    let n = tokio::time::timeout(Duration::from_secs(30), c.read_line(&mut l))
        .await
        .expect("read timed out")
        .expect("read");
    assert!(n > 0, "connection closed");
    l
}

async fn send_line(c: &mut Conn, s: &str) {
    c.get_mut().write_all(s.as_bytes()).await.expect("write");
}

/// A bare IMAP IDLE client on `user`'s INBOX.
struct Idler {
    c: Conn,
    exists: u32,
}

impl Idler {
    async fn start(port: u16, user: &str) -> Idler {
        let s = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        s.set_nodelay(true).expect("nodelay");
        let mut c = BufReader::new(s);
        line(&mut c).await;
        send_line(
            &mut c,
            &format!("a LOGIN \"{user}\" \"{}\"\r\n", password(user)),
        )
        .await;
        while !line(&mut c).await.starts_with("a ") {}
        send_line(&mut c, "b SELECT INBOX\r\n").await;
        let mut exists = 0;
        loop {
            let l = line(&mut c).await;
            if let Some(n) = l
                .strip_prefix("* ")
                .and_then(|r| r.strip_suffix(" EXISTS\r\n"))
            {
                exists = n.parse().expect("EXISTS count");
            }
            if l.starts_with("b ") {
                break;
            }
        }
        send_line(&mut c, "c IDLE\r\n").await;
        assert!(line(&mut c).await.starts_with('+'), "IDLE refused");
        Idler { c, exists }
    }

    /// Waits for the next EXISTS above the count seen so far.
    async fn next(&mut self) {
        loop {
            let l = line(&mut self.c).await;
            if let Some(n) = l
                .strip_prefix("* ")
                .and_then(|r| r.strip_suffix(" EXISTS\r\n"))
                .and_then(|n| n.parse::<u32>().ok())
                && n > self.exists
            {
                self.exists = n;
                return;
            }
        }
    }
}

/// Watches a mailbox by polling STATUS (no IDLE delay): the moment a message is
/// visible to any client that looks.
struct Watcher {
    imap: support::Imap,
    count: u32,
}

impl Watcher {
    async fn start(port: u16, user: &str) -> Watcher {
        let imap = support::Imap::login(port, user, &password(user))
            .await
            .expect("login");
        let mut w = Watcher { imap, count: 0 };
        w.count = w.messages().await;
        w
    }
    async fn messages(&mut self) -> u32 {
        let u = self
            .imap
            .command("STATUS INBOX (MESSAGES)")
            .await
            .expect("STATUS");
        u.iter()
            .find_map(|u| {
                let l = String::from_utf8_lossy(&u.line).into_owned();
                l.split("MESSAGES ")
                    .nth(1)
                    .and_then(|r| r.trim_end().trim_end_matches(')').parse().ok())
            })
            .expect("STATUS MESSAGES")
    }
    /// Polls (every ~1 ms) until one more message is there.
    async fn next(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let n = self.messages().await;
            if n > self.count {
                self.count = n;
                return;
            }
            assert!(Instant::now() < deadline, "nothing arrived in {timeout:?}");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

/// Sends `messages` (from, raw) over ONE SMTP connection; returns the time from the
/// first MAIL FROM to the last 250 after DATA.
async fn smtp_one_connection(port: u16, to: &str, messages: &[(String, Vec<u8>)]) -> Duration {
    let s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    s.set_nodelay(true).expect("nodelay");
    let mut c = BufReader::new(s);
    async fn reply(c: &mut Conn) -> String {
        loop {
            let l = line(c).await;
            if l.as_bytes().get(3) != Some(&b'-') {
                return l;
            }
        }
    }
    assert!(reply(&mut c).await.starts_with("220"));
    send_line(&mut c, "EHLO bench.test\r\n").await;
    assert!(reply(&mut c).await.starts_with("250"));
    let started = Instant::now();
    for (from, raw) in messages {
        send_line(&mut c, &format!("MAIL FROM:<{from}>\r\n")).await;
        assert!(reply(&mut c).await.starts_with("250"));
        send_line(&mut c, &format!("RCPT TO:<{to}>\r\n")).await;
        assert!(reply(&mut c).await.starts_with("250"));
        send_line(&mut c, "DATA\r\n").await;
        assert!(reply(&mut c).await.starts_with("354"));
        let mut data = Vec::with_capacity(raw.len() + 8);
        for l in raw.split_inclusive(|b| *b == b'\n') {
            if l.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(l);
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        c.get_mut().write_all(&data).await.expect("write DATA");
        let r = reply(&mut c).await;
        assert!(r.starts_with("250"), "DATA refused: {r}");
    }
    let took = started.elapsed();
    send_line(&mut c, "QUIT\r\n").await;
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(1), c.read_to_end(&mut rest)).await;
    took
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Waits until the support INBOX holds `n` messages.
async fn wait_inbox(port: u16, n: u32, timeout: Duration) {
    let mut w = Watcher::start(port, SUPPORT).await;
    let deadline = Instant::now() + timeout;
    while w.messages().await < n {
        assert!(Instant::now() < deadline, "support INBOX did not reach {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A complete letter with a ~`size` byte attachment (base64 of repeating bytes).
fn big_letter(i: usize, size: usize) -> Vec<u8> {
    let mut raw = String::from_utf8(batch_letter(i, Kind::Complete)).expect("utf-8");
    let head_end = raw.find("\r\n\r\n").expect("header end");
    let body = raw.split_off(head_end + 4);
    let head = raw
        .replace(
            "Content-Type: text/plain; charset=utf-8\r\n",
            "Content-Type: multipart/mixed; boundary=\"b1\"\r\n",
        )
        .replace("Content-Transfer-Encoding: 8bit\r\n", "");
    let mut out = head.into_bytes();
    out.extend_from_slice(
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n",
    );
    out.extend_from_slice(body.as_bytes());
    out.extend_from_slice(
        b"\r\n--b1\r\nContent-Type: application/pdf; name=\"scan.pdf\"\r\n\
          Content-Disposition: attachment; filename=\"scan.pdf\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    let line = b"JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFIvRmlsdGVyIC9GbGF0ZURlY29k\r\n";
    while out.len() + line.len() < size {
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b"--b1--\r\n");
    out
}

/// Samples VmHWM of `pid` until it exits; returns the last value seen (KiB).
fn peak_until_exit(child: &mut Daemon) -> (u64, std::process::ExitStatus) {
    let mut peak = 0;
    loop {
        if let Some((hwm, _)) = rss_kib(child.pid()) {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.wait_exit(Duration::ZERO) {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`. Without it (`cargo test --all-targets` runs
    // this too) a quick smoke run checks that the benchmark still works.
    let full = std::env::args().any(|a| a == "--bench");
    let samples = env_usize("PIPELINE_SAMPLES", if full { 50 } else { 3 });
    let backlog = env_usize("PIPELINE_BACKLOG", if full { 1000 } else { 20 });
    let big_size = if full { 30 * 1000 * 1000 } else { 1000 * 1000 };
    let specialist = SPECIALISTS[5];
    let latency_base = 0;
    let backlog_base = samples;
    let big_index = samples + backlog;
    let stack = MailStack::start_with(StackOptions {
        extra_users: sender_users(big_index + 1),
        ..StackOptions::default()
    });
    let d = Home::batch(&stack);
    eprintln!("pipeline bench: stack up; home {}", d.dir().display());

    // ---- latency, alternating with the floor --------------------------------------
    let mut daemon = d.start(TUE_1230);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !d.log().contains("mailbox: connected") {
        assert!(
            Instant::now() < deadline,
            "daemon did not connect\n{}",
            d.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_kib = rss_kib(daemon.pid()).map(|r| r.0).unwrap_or(0);
    let mut idler = Idler::start(stack.imap_port(), specialist).await;
    let mut watcher = Watcher::start(stack.imap_port(), specialist).await;
    let mut floor = Vec::new();
    let mut latency = Vec::new();
    for k in 0..samples {
        // Floor: straight to the specialist, seen by the bare IDLE client.
        let raw = format!(
            "From: {SUPPORT}\r\nTo: {specialist}\r\nSubject: floor {k}\r\nMessage-ID: <floor-{k}@bench>\r\n\r\nfloor\r\n"
        );
        stack
            .send(SUPPORT, specialist, raw.as_bytes())
            .await
            .expect("send floor");
        let t0 = Instant::now();
        idler.next().await;
        floor.push(ms(t0.elapsed()));
        watcher.count += 1; // the floor message, seen through IDLE
        tokio::time::sleep(Duration::from_millis(50)).await;
        watcher.count = watcher.messages().await;
        idler.exists = watcher.count;

        // Through duty-desk: to the support inbox → the forward visible.
        let i = latency_base + k;
        stack
            .send(&sender(i), SUPPORT, &batch_letter(i, Kind::Complete))
            .await
            .expect("send letter");
        let t0 = Instant::now();
        watcher.next(Duration::from_secs(30)).await;
        latency.push(ms(t0.elapsed()));
        // The IDLE client saw the forward too: keep its count in step.
        idler.next().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    daemon.terminate();

    // ---- backlog --------------------------------------------------------------------
    let letters: Vec<(String, Vec<u8>)> = (0..backlog)
        .map(|j| {
            let i = backlog_base + j;
            (sender(i), batch_letter(i, Kind::of(j)))
        })
        .collect();
    let accept = smtp_one_connection(stack.smtp_port(), SUPPORT, &letters).await;
    let accept_rate = backlog as f64 / accept.as_secs_f64();
    wait_inbox(stack.imap_port(), backlog as u32, Duration::from_secs(300)).await;
    let moved_before = d
        .query("SELECT count(*) FROM messages WHERE moved = 1")
        .unwrap_or(0);
    let mut once = d.spawn(&["run", "--once", "--now", TUE_1230]);
    let t0 = Instant::now();
    let mut last_move = None;
    let mut backlog_kib = 0;
    let status = loop {
        if let Some((hwm, _)) = rss_kib(once.pid()) {
            backlog_kib = backlog_kib.max(hwm);
        }
        if last_move.is_none()
            && d.query("SELECT count(*) FROM messages WHERE moved = 1")
                .unwrap_or(0)
                >= moved_before + backlog as i64
        {
            last_move = Some(t0.elapsed());
        }
        if let Some(status) = once.wait_exit(Duration::ZERO) {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let whole = t0.elapsed();
    assert!(status.success(), "run --once failed\n{}", d.log());
    let last_move = last_move.unwrap_or(whole);
    let handled_rate = backlog as f64 / last_move.as_secs_f64();
    let sent = d.outgoing("sent");

    // ---- one 30 MB letter -------------------------------------------------------------
    let big = big_letter(big_index, big_size);
    stack
        .append(SUPPORT, "INBOX", "07-Sep-2021 12:00:00 +0300", &big)
        .await;
    let mut once = d.spawn(&["run", "--once", "--now", TUE_1230]);
    let (big_kib, _) = peak_until_exit(&mut once);
    let big_verdict = d
        .query(&format!(
            "SELECT count(*) FROM messages WHERE message_id = '{}'",
            letter_id(big_index)
        ))
        .unwrap_or(0);

    // ---- the table --------------------------------------------------------------------
    floor.sort_by(f64::total_cmp);
    latency.sort_by(f64::total_cmp);
    let (f50, f99) = (percentile(&floor, 0.5), percentile(&floor, 0.99));
    let (l50, l99) = (percentile(&latency, 0.5), percentile(&latency, 0.99));
    // `inspect` alone, in this same run: understanding the fixtures against
    // mail-parser's bare parse of the same bytes.
    let inspect = if full {
        throughput::Throughput::measure(&throughput::fixtures(), 9, 20)
    } else {
        throughput::Throughput::measure(&throughput::fixtures(), 1, 1)
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC");
    println!(
        "duty-desk pipeline benchmark, {date}; load average {}",
        load.trim()
    );
    if full {
        println!("command: cargo bench --bench pipeline");
    } else {
        println!("smoke run (no --bench): figures are not meaningful");
    }
    println!();
    println!("| measure | duty-desk | floor (mail stack alone) | ratio / difference |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| latency p50, SMTP accept → forward visible ({samples} letters) | {l50:.1} ms | {f50:.1} ms (bare IDLE client) | +{:.1} ms |",
        l50 - f50
    );
    println!(
        "| latency p99 | {l99:.1} ms | {f99:.1} ms | +{:.1} ms |",
        l99 - f99
    );
    println!(
        "| backlog: {backlog} letters to the last move (`run --once`) | {handled_rate:.0} letters/s ({:.2} s) | {accept_rate:.0} msg/s Postfix accept, one connection ({:.2} s) | {:.2} |",
        last_move.as_secs_f64(),
        accept.as_secs_f64(),
        handled_rate / accept_rate
    );
    println!(
        "| backlog including sending its {sent} mails (process exit) | {:.0} letters/s ({:.2} s) | | {:.2} |",
        backlog as f64 / whole.as_secs_f64(),
        whole.as_secs_f64(),
        backlog as f64 / whole.as_secs_f64() / accept_rate
    );
    println!(
        "| `inspect` throughput on `fixtures/` ({} letters; `cargo bench --bench inspect` breaks it down) | {:.0} msg/s ({:.1} MB/s) | {:.0} msg/s ({:.1} MB/s) mail-parser's bare parse of the same bytes | {:.2} |",
        inspect.letters,
        inspect.per_second(inspect.understand),
        inspect.mb_per_second(inspect.understand),
        inspect.per_second(inspect.parse),
        inspect.mb_per_second(inspect.parse),
        inspect.ratio()
    );
    println!(
        "| peak RSS idle (VmHWM, IDLE on the inbox) | {:.1} MiB | | |",
        idle_kib as f64 / 1024.0
    );
    println!(
        "| peak RSS, {backlog}-letter backlog | {:.1} MiB | | |",
        backlog_kib as f64 / 1024.0
    );
    println!(
        "| peak RSS, one {:.0} MB letter | {:.1} MiB | | |",
        big.len() as f64 / 1e6,
        big_kib as f64 / 1024.0
    );
    assert_eq!(
        big_verdict,
        1,
        "the 30 MB letter must be decided\n{}",
        d.log()
    );
}
