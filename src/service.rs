//! Running as a service: signals, systemd notification and watchdog around the daemon.
//!
//! SIGTERM and SIGINT ask the daemon to stop at a safe point (it finishes an SMTP
//! transaction in flight and never commits half a letter); SIGHUP reloads config
//! and templates atomically, and a broken new config is refused with a log line
//! while the old one keeps running. Under systemd (`Type=notify`), READY comes
//! once the store is open and the mailbox logged in, STATUS carries a one-line
//! state, and WATCHDOG pings go out only while every loop shows life.

use std::path::Path;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tracing::{error, info, warn};

use crate::daemon::{self, RunOptions};

/// Runs the daemon for `run` until a stop signal (or, with `--once`, until done).
pub async fn serve(config_path: &Path, opts: RunOptions) -> anyhow::Result<()> {
    let shared = daemon::prepare(config_path, &opts)?;
    info!(config = %config_path.display(), once = opts.once, "duty-desk starting");
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    let sig_shared = shared.clone();
    let signals = tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = term.recv() => info!("SIGTERM: stopping at a safe point"),
                _ = int.recv() => info!("SIGINT: stopping at a safe point"),
                _ = hup.recv() => {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Reloading]);
                    match sig_shared.reload() {
                        Ok(()) => info!("SIGHUP: config and templates reloaded"),
                        Err(e) => error!(error = %format!("{e:#}"), "SIGHUP: the new config is refused; the old one keeps running"),
                    }
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Ready]);
                    continue;
                }
            }
            let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Stopping]);
            let _ = stop_tx.send(true);
            break;
        }
    });
    let mut usec = 0;
    let watchdog = sd_notify::watchdog_enabled(false, &mut usec).then(|| {
        let shared = shared.clone();
        let period = Duration::from_micros(usec);
        shared.set_watchdog(period);
        info!(period = ?period, "watchdog enabled");
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(period / 3).await;
                if shared.alive(period) {
                    let _ = sd_notify::notify(false, &[sd_notify::NotifyState::Watchdog]);
                } else {
                    warn!("a loop shows no life: withholding the watchdog ping");
                }
            }
        })
    });
    let result = daemon::run(shared, opts, stop_rx).await;
    signals.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
    match &result {
        Ok(()) => info!("duty-desk stopped"),
        Err(e) => error!(error = %daemon::redact(&format!("{e:#}")), "duty-desk failed"),
    }
    result
}
