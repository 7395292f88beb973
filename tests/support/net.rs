//! Loopback ports for the servers the tests start: picking free ones, waiting
//! until a server listens, and two servers that misbehave on purpose (one that
//! never says a word, an SMTP server that hangs after DATA).

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Port picking is serialised within a process so one port is not handed out twice.
static PORT_LOCK: Mutex<()> = Mutex::new(());

/// `n` distinct free loopback ports. The listeners are held until all are chosen.
pub fn free_ports(n: usize) -> Vec<u16> {
    let _guard = PORT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// One free loopback port.
pub fn free_port() -> u16 {
    free_ports(1)[0]
}

/// Waits until something accepts connections on loopback `port`. `exited` says
/// whether the server's process has ended (then waiting is pointless). The error
/// says which of the two went wrong; the caller adds the server's log.
pub fn wait_listening(
    port: u16,
    timeout: Duration,
    mut exited: impl FnMut() -> Option<ExitStatus>,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        if let Some(status) = exited() {
            return Err(format!("exited at start: {status}"));
        }
        if Instant::now() >= deadline {
            return Err(format!("did not listen on {port} in {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A TCP server on loopback that accepts connections and never says a word (a hung
/// mail server). Returns its port; the connections are held until the process ends.
pub fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

/// An SMTP server on loopback (no TLS) that takes AUTH and a whole message, then
/// never answers the final dot: a transaction hung in flight. Returns its port and a
/// receiver told each time a message's data has been read.
pub fn smtp_hanging_after_data() -> (u16, std::sync::mpsc::Receiver<()>) {
    use std::io::Write as _;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut w = conn.try_clone().expect("clone stream");
                let mut r = BufReader::new(conn);
                let _ = w.write_all(b"220 hang.test ESMTP\r\n");
                let mut line = String::new();
                loop {
                    line.clear();
                    if r.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let cmd = line.to_ascii_uppercase();
                    let reply: &[u8] = if cmd.starts_with("EHLO") {
                        b"250-hang.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
                    } else if cmd.starts_with("AUTH") {
                        b"235 2.7.0 ok\r\n"
                    } else if cmd.starts_with("DATA") {
                        let _ = w.write_all(b"354 go on\r\n");
                        loop {
                            line.clear();
                            if r.read_line(&mut line).unwrap_or(0) == 0 {
                                return;
                            }
                            if line == ".\r\n" {
                                break;
                            }
                        }
                        let _ = tx.send(());
                        // The reply never comes; hold the connection open.
                        std::thread::sleep(Duration::from_secs(600));
                        return;
                    } else {
                        b"250 ok\r\n"
                    };
                    let _ = w.write_all(reply);
                }
            });
        }
    });
    (port, rx)
}
