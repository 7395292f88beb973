//! Waiting for new mail: IDLE renewed every `poll_interval`, or a poll.

use super::*;

impl ImapMailbox {
    /// See [`super::Mailbox::wait_for_new`].
    pub async fn wait_for_new(&mut self, max_wait: Duration) -> Result<(), MailboxError> {
        self.drain();
        if self.pending_new {
            return Ok(());
        }
        let host = self.settings.host.clone();
        let t = self.settings.timeout;
        if !self.uses_idle() {
            tokio::time::sleep(self.settings.poll_interval.min(max_wait)).await;
            self.cmd("NOOP", |sess, _| Box::pin(async move { sess.noop().await }))
                .await?;
            return Ok(());
        }
        let session = self.session.take().ok_or_else(|| lost(&host))?;
        let mut handle = session.idle();
        timed(&host, t, "IDLE", async {
            handle.init().await.map_err(|e| imap_err(&host, e))
        })
        .await?;
        // Renewed every poll_interval: a server whose IDLE never pushes is still
        // looked at that often.
        let renew = self.settings.poll_interval.max(Duration::from_secs(1));
        let (wait, stop) = handle.wait_with_timeout(max_wait.min(renew).min(IDLE_MAX));
        let woke = wait.await;
        drop(stop); // kept alive until here: dropping it interrupts the wait
        match woke {
            Ok(IdleResponse::NewData(data)) => {
                match data.parsed() {
                    Response::MailboxData(async_imap::imap_proto::MailboxDatum::Exists(n)) => {
                        self.exists = *n;
                    }
                    Response::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                    _ => {}
                }
                if let Response::Data {
                    status: Status::Bye,
                    outcome,
                    ..
                } = data.parsed()
                {
                    return Err(conn(
                        &host,
                        io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "server said BYE during IDLE: {}",
                                outcome.information.as_deref().unwrap_or("")
                            ),
                        ),
                    ));
                }
            }
            Ok(IdleResponse::Timeout) => {}
            Ok(IdleResponse::ManualInterrupt) => {
                // We never interrupt: the stream ended, the server closed the connection.
                return Err(conn(
                    &host,
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection during IDLE",
                    ),
                ));
            }
            Err(e) => return Err(imap_err(&host, e)),
        }
        let session = timed(&host, t, "DONE", async {
            handle.done().await.map_err(|e| imap_err(&host, e))
        })
        .await?;
        self.session = Some(session);
        self.drain();
        Ok(())
    }

    /// Empties the unsolicited-response channel (it is bounded and would drop extras),
    /// noting whether new messages were announced.
    pub(super) fn drain(&mut self) {
        let Some(session) = self.session.as_ref() else {
            return;
        };
        while let Ok(r) = session.unsolicited_responses.try_recv() {
            match r {
                UnsolicitedResponse::Exists(n) => {
                    self.exists = n;
                    self.pending_new = true;
                }
                UnsolicitedResponse::Recent(_) => self.pending_new = true,
                UnsolicitedResponse::Expunge(_) => self.exists = self.exists.saturating_sub(1),
                _ => {}
            }
        }
    }
}
