//! The daemon under test, two ways: [`Daemon`], the real `duty-desk` binary as a
//! child process (spawned by [`Home::spawn`](super::Home::spawn) and friends), and
//! [`InProcess`], `daemon::run` on a tokio task of the test itself with a shutdown
//! handle.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use duty_desk::daemon::{self, RunOptions, Shared};
use tokio::sync::watch;

/// `duty-desk …` as a child process. Its stdout and stderr are collected line by
/// line, as written, for [`Daemon::log`], and appended to the home's log file. SIGKILLed on drop if still running, so a
/// failing test leaves no daemon behind.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Daemon {
    /// Spawns `cmd` with its output captured; `file` also gets every line.
    pub fn spawn(mut cmd: Command, file: &Path) -> Daemon {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn duty-desk");
        let log = Arc::new(Mutex::new(String::new()));
        let out: Box<dyn Read + Send> = Box::new(child.stdout.take().expect("piped stdout"));
        let err: Box<dyn Read + Send> = Box::new(child.stderr.take().expect("piped stderr"));
        let readers = [out, err]
            .into_iter()
            .map(|stream| {
                let sink = log.clone();
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .expect("open the daemon log");
                std::thread::spawn(move || {
                    for line in BufReader::new(stream).lines() {
                        let Ok(line) = line else { break };
                        let line = format!("{line}\n");
                        let _ = std::io::Write::write_all(&mut file, line.as_bytes());
                        sink.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push_str(&line);
                    }
                })
            })
            .collect();
        Daemon {
            child,
            log,
            readers,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What this daemon wrote so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many decisions it logged so far.
    pub fn decisions(&self) -> usize {
        self.log()
            .lines()
            .filter(|l| l.contains("decision") && l.contains("verdict="))
            .count()
    }

    /// Waits until the log holds `needle` `times` times; panics with the log after
    /// `timeout` or if the daemon exits first.
    pub fn wait_log(&mut self, needle: &str, times: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().matches(needle).count() >= times {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.join_readers();
                if self.log().matches(needle).count() >= times {
                    return;
                }
                panic!(
                    "duty-desk exited ({status}) while we waited for {needle:?}:\n{}",
                    self.log()
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "waited {timeout:?} for {needle:?} x{times} in the log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Panics (with the log) if the daemon has exited.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            self.join_readers();
            panic!("duty-desk exited: {status}\n{}", self.log());
        }
    }

    /// Sends a signal by name (`TERM`, `HUP`, …) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill -{name} {} failed", self.pid());
    }

    /// Waits for the exit at most `timeout`; None if it is still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.join_readers();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        self.join_readers();
    }

    /// SIGTERM, and waits for the exit (up to 10 s, then SIGKILL).
    pub fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal("TERM");
        }
        if self.wait_exit(Duration::from_secs(10)).is_none() {
            self.kill();
        }
    }

    /// SIGTERM, and asserts a clean exit within 20 s (panics with the log otherwise).
    pub fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.signal("TERM");
        }
        match self.wait_exit(Duration::from_secs(20)) {
            Some(status) => assert!(
                status.success(),
                "duty-desk exited {status}\n{}",
                self.log()
            ),
            None => {
                self.kill();
                panic!("duty-desk did not stop on SIGTERM\n{}", self.log());
            }
        }
    }

    fn join_readers(&mut self) {
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `daemon::run` inside the test process, on a task of the test's tokio runtime:
/// the loops as the binary runs them, without signals or systemd, stopped through
/// the same shutdown value the service's signal handler sets.
pub struct InProcess {
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    /// Opens the store, loads `config` and starts the loops (call inside a tokio
    /// runtime). Panics if the config or the store cannot be opened.
    pub fn start(config: &Path, opts: RunOptions) -> InProcess {
        let shared = daemon::prepare(config, &opts)
            .unwrap_or_else(|e| panic!("daemon::prepare {}: {e:#}", config.display()));
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(daemon::run(shared.clone(), opts, stopped));
        InProcess { shared, stop, task }
    }

    /// Whether `run` has returned (on its own: an error, or `once` done).
    pub fn finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Asks the loops to stop at a safe point and returns what `run` returned.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.task.await.expect("the daemon task panicked")
    }
}

/// Peak resident set (VmHWM) and current (VmRSS) of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}
