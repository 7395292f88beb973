//! The second stage: a [`raw::File`] checked key by key into a [`Config`], every
//! error with the file, the line and what is wrong.

use super::*;

/// Checks a [`raw::File`] against the text it came from (for line numbers) and
/// turns it into a [`Config`].
pub(super) struct Validator<'a> {
    pub(super) text: &'a str,
    pub(super) file: &'a Path,
    pub(super) base: &'a Path,
}

type R<T> = Result<T, ConfigError>;

impl Validator<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Option<Range<usize>>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            // A zero-length span at 0 is a default value, not a place in the file.
            line: span.filter(|s| s.end > 0).map(|s| self.line_of(s.start)),
            message: message.into(),
        }
    }

    fn at<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        self.err(Some(s.span()), message)
    }

    /// The line of a section header, for errors about a missing key in it.
    fn section_line(&self, header: &str) -> Option<Range<usize>> {
        let needle = format!("[{header}]");
        self.text.find(&needle).map(|i| i..i + needle.len())
    }

    fn path(&self, p: &str) -> PathBuf {
        let expanded = expand_env(p);
        let p = Path::new(&expanded);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base.join(p)
        }
    }

    pub(super) fn validate(&self, raw: raw::File) -> R<Config> {
        let mailbox_raw = raw
            .mailbox
            .ok_or_else(|| self.err(None, "missing section [mailbox]"))?;
        let authserv_id = self.authserv_id(&mailbox_raw.authserv_id)?;
        let (mailbox, start_from) = self.mailbox(mailbox_raw)?;
        let outbox_raw = raw
            .outbox
            .ok_or_else(|| self.err(None, "missing section [outbox]"))?;
        let from = Address::parse(outbox_raw.from.get_ref()).ok_or_else(|| {
            self.at(
                &outbox_raw.from,
                format!(
                    "outbox.from {:?} is not an address like \"Name <box@example.org>\"",
                    outbox_raw.from.get_ref()
                ),
            )
        })?;
        let outbox = self.outbox(outbox_raw)?;
        let school = raw
            .school
            .ok_or_else(|| self.err(None, "missing section [school]"))?;
        let tz = self.timezone(&school.timezone)?;
        let supervisor = self.address(&school.supervisor, "school.supervisor")?;
        let fallback = school
            .fallback
            .iter()
            .map(|a| self.address(a, "school.fallback"))
            .collect::<R<Vec<_>>>()?;
        let admin = match &school.admin {
            Some(a) => Some(self.address(a, "school.admin")?),
            None => fallback.first().cloned(),
        };
        let specialists = raw
            .specialists
            .iter()
            .map(|s| self.specialist(s))
            .collect::<R<Vec<_>>>()?;
        if specialists.is_empty() {
            return Err(self.err(None, "no [[specialists]]: nobody could ever be on duty"));
        }
        let sched = raw
            .schedule
            .ok_or_else(|| self.err(None, "missing section [schedule]"))?;
        let warn_before_end_days =
            self.days_or(&sched.warn_before_end, "schedule.warn_before_end", 14)?;
        let schedule = self.schedule(sched, tz, specialists)?;
        let max_message_size = self.size(
            &raw.limits.max_message_size,
            "limits.max_message_size",
            "30MB",
        )?;
        let max_forward_size = self.size(
            &raw.limits.max_forward_size,
            "limits.max_forward_size",
            "20MB",
        )?;
        let stall_alert_after = self.duration_or(
            &raw.service.stall_alert_after,
            "service.stall_alert_after",
            Duration::from_secs(15 * 60),
        )?;
        let close_after = self.duration_or(
            &raw.service.close_after,
            "service.close_after",
            Duration::from_secs(30 * 86400),
        )?;
        let remind_after = self.duration_or(
            &raw.service.remind_after,
            "service.remind_after",
            Duration::from_secs(2 * 3600),
        )?;
        let answers = self.answers(&school.answers)?;
        let report = self.report(&raw.report, &supervisor)?;
        Ok(Config {
            file: self.file.to_path_buf(),
            mailbox,
            start_from,
            outbox,
            from,
            school_name: school.name.unwrap_or_default(),
            supervisor,
            fallback,
            admin,
            staff_domains: school
                .staff_domains
                .iter()
                .map(|d| d.trim().trim_start_matches('@').to_lowercase())
                .collect(),
            staff_addresses: school
                .staff_addresses
                .iter()
                .map(|a| a.trim().to_lowercase())
                .collect(),
            answers,
            schedule,
            warn_before_end_days,
            auto_replies_per_sender_per_day: raw.limits.auto_replies_per_sender_per_day,
            max_message_size,
            authserv_id,
            auto_replies_per_hour: raw.limits.auto_replies_per_hour,
            max_forward_size,
            exchanges_per_ticket_per_day: raw.limits.exchanges_per_ticket_per_day,
            state_path: self.path(
                raw.state
                    .path
                    .as_deref()
                    .unwrap_or("../var/duty-desk.sqlite3"),
            ),
            templates_dir: self.path(raw.templates.dir.as_deref().unwrap_or("templates")),
            stall_alert_after,
            purge_after_days: raw.service.purge_after_days.unwrap_or(365),
            close_after,
            remind_after,
            report,
        })
    }

    /// `[school] answers`: `via_desk` (the default) or `direct`.
    fn answers(&self, a: &Option<Spanned<String>>) -> R<Answers> {
        let Some(a) = a else {
            return Ok(Answers::ViaDesk);
        };
        match a.get_ref().trim() {
            "via_desk" => Ok(Answers::ViaDesk),
            "direct" => Ok(Answers::Direct),
            other => Err(self.at(
                a,
                format!("school.answers {other:?} is not one of via_desk, direct"),
            )),
        }
    }

    /// `[report]`, with its defaults: on, Monday 08:00, to the supervisor.
    fn report(&self, r: &raw::Report, supervisor: &Address) -> R<ReportSettings> {
        let day = match &r.day {
            None => Weekday::Mon,
            Some(d) => parse_weekday(d.get_ref()).ok_or_else(|| {
                self.at(
                    d,
                    format!(
                        "report.day {:?} is not a weekday (mon, tue, wed, thu, fri, sat, sun)",
                        d.get_ref()
                    ),
                )
            })?,
        };
        let hour = match &r.hour {
            None => 8,
            Some(h) if *h.get_ref() < 24 => *h.get_ref(),
            Some(h) => {
                return Err(self.at(
                    h,
                    format!(
                        "report.hour {} is not an hour of the day (0-23)",
                        h.get_ref()
                    ),
                ));
            }
        };
        let recipients = match &r.recipients {
            None => vec![supervisor.clone()],
            Some(list) if list.is_empty() => {
                return Err(self.err(
                    self.section_line("report"),
                    "report.recipients is empty; leave it out (the supervisor gets the report) or set enabled = false",
                ));
            }
            Some(list) => list
                .iter()
                .map(|a| self.address(a, "report.recipients"))
                .collect::<R<Vec<_>>>()?,
        };
        Ok(ReportSettings {
            enabled: r.enabled.unwrap_or(true),
            day,
            hour,
            recipients,
        })
    }

    /// `mailbox.authserv_id`: a server name, lower-cased.
    fn authserv_id(&self, s: &Option<Spanned<String>>) -> R<Option<String>> {
        Ok(match s {
            Some(s) if s.get_ref().trim().is_empty() || s.get_ref().contains([';', ' ']) => {
                return Err(self.at(
                    s,
                    format!(
                        "mailbox.authserv_id {:?} is not a server name like \"mxs.mail.ru\"",
                        s.get_ref()
                    ),
                ));
            }
            Some(s) => Some(s.get_ref().trim().to_lowercase()),
            None => None,
        })
    }

    /// `school.timezone`, an IANA name [default: Europe/Moscow].
    fn timezone(&self, s: &Option<Spanned<String>>) -> R<Tz> {
        Ok(match s {
            None => chrono_tz::Europe::Moscow,
            Some(s) => s.get_ref().parse::<Tz>().map_err(|_| {
                self.at(
                    s,
                    format!(
                        "unknown time zone {:?} (use an IANA name such as \"Europe/Moscow\")",
                        s.get_ref()
                    ),
                )
            })?,
        })
    }

    /// A size like "30MB" (`example` shows one in the error).
    fn size(&self, s: &Spanned<String>, key: &str, example: &str) -> R<usize> {
        parse_size(s.get_ref()).ok_or_else(|| {
            self.at(
                s,
                format!("{key} {:?} is not a size like \"{example}\"", s.get_ref()),
            )
        })
    }

    fn duration_or(
        &self,
        s: &Option<Spanned<String>>,
        key: &str,
        default: Duration,
    ) -> R<Duration> {
        match s {
            None => Ok(default),
            Some(s) => parse_duration(s.get_ref()).ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "{key} {:?} is not a duration like \"90s\", \"15m\", \"2h\" or \"30d\"",
                        s.get_ref()
                    ),
                )
            }),
        }
    }

    /// A whole number of days written as a duration ("14d").
    fn days_or(&self, s: &Option<Spanned<String>>, key: &str, default: u32) -> R<u32> {
        let Some(s) = s else {
            return Ok(default);
        };
        parse_duration(s.get_ref())
            .filter(|d| d.as_secs() % 86400 == 0)
            .and_then(|d| u32::try_from(d.as_secs() / 86400).ok())
            .ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "{key} {:?} is not a number of days like \"14d\"",
                        s.get_ref()
                    ),
                )
            })
    }

    fn address(&self, s: &Spanned<String>, key: &str) -> R<Address> {
        Address::parse(s.get_ref()).ok_or_else(|| {
            self.at(
                s,
                format!("{key} {:?} is not an e-mail address", s.get_ref()),
            )
        })
    }

    fn tls(&self, s: &Option<Spanned<String>>, host: &Spanned<String>, section: &str) -> R<Tls> {
        let tls = match s {
            None => Tls::Implicit,
            Some(s) => match s.get_ref().as_str() {
                "implicit" => Tls::Implicit,
                "starttls" => Tls::StartTls,
                "none" => Tls::None,
                other => {
                    return Err(self.at(
                        s,
                        format!("{section}.tls {other:?} is not one of implicit, starttls, none"),
                    ));
                }
            },
        };
        if tls == Tls::None && !is_loopback(host.get_ref()) {
            let span = s.as_ref().map(|s| s.span()).unwrap_or(host.span());
            return Err(self.err(
                Some(span),
                format!(
                    "{section}.tls = \"none\" is refused for {:?}: plain text is allowed only to a loopback host",
                    host.get_ref()
                ),
            ));
        }
        Ok(tls)
    }

    #[allow(clippy::too_many_arguments)]
    fn server(
        &self,
        section: &str,
        host: Option<&Spanned<String>>,
        port: Option<u16>,
        tls: &Option<Spanned<String>>,
        ca_file: Option<&str>,
        username: Option<&str>,
        password_file: Option<&str>,
        password_env: Option<&str>,
        password: Option<&Spanned<String>>,
        default_ports: (u16, u16, u16),
        login_required: bool,
    ) -> R<Server> {
        if let Some(p) = password {
            return Err(self.at(
                p,
                format!("{section}.password: a password written in the config file is refused; use password_file (systemd LoadCredential=) or password_env"),
            ));
        }
        let header = self.section_line(section);
        let host =
            host.ok_or_else(|| self.err(header.clone(), format!("{section}.host is missing")))?;
        if host.get_ref().trim().is_empty() {
            return Err(self.at(host, format!("{section}.host is empty")));
        }
        let tls = self.tls(tls, host, section)?;
        let port = port.unwrap_or(match tls {
            Tls::Implicit => default_ports.0,
            Tls::StartTls => default_ports.1,
            Tls::None => default_ports.2,
        });
        let password = match (password_file, password_env) {
            (Some(f), None) => Some(Secret::File(self.path(f))),
            (None, Some(v)) => Some(Secret::Env(v.to_string())),
            (Some(_), Some(_)) => {
                return Err(self.err(
                    header,
                    format!("{section}: give password_file or password_env, not both"),
                ));
            }
            (None, None) => None,
        };
        let login = match (username, password) {
            (Some(u), Some(password)) => Some(Login {
                username: u.to_string(),
                password,
            }),
            (Some(_), None) => {
                return Err(self.err(
                    header,
                    format!("{section}: password_file or password_env is required"),
                ));
            }
            (None, Some(_)) => {
                return Err(self.err(
                    header,
                    format!(
                        "{section}: a password without {section}.username; give the user name, or neither (no authentication)"
                    ),
                ));
            }
            (None, None) if login_required => {
                return Err(self.err(header, format!("{section}.username is missing")));
            }
            (None, None) => None,
        };
        Ok(Server {
            host: host.get_ref().trim().to_string(),
            port,
            tls,
            ca_file: ca_file.map(|c| self.path(c)),
            login,
        })
    }

    fn mailbox(
        &self,
        m: raw::Mailbox,
    ) -> R<(MailboxSource, Option<chrono::DateTime<chrono::Utc>>)> {
        let poll_interval = self.duration_or(
            &m.poll_interval,
            "mailbox.poll_interval",
            Duration::from_secs(60),
        )?;
        let start_from = match &m.start_from {
            None => None,
            Some(s) => Some(parse_instant(s.get_ref()).ok_or_else(|| {
                self.at(
                    s,
                    format!(
                        "mailbox.start_from {:?} is not a date (2021-09-01) or an RFC 3339 instant",
                        s.get_ref()
                    ),
                )
            })?),
        };
        let source = match m.kind.get_ref().as_str() {
            "imap" => MailboxSource::Imap {
                server: self.server(
                    "mailbox",
                    m.host.as_ref(),
                    m.port,
                    &m.tls,
                    m.ca_file.as_deref(),
                    m.username.as_deref(),
                    m.password_file.as_deref(),
                    m.password_env.as_deref(),
                    m.password.as_ref(),
                    (993, 143, 143),
                    true,
                )?,
                folder: m.folder.unwrap_or_else(|| "INBOX".to_string()),
                folder_prefix: self.folder_prefix(&m.folder_prefix)?,
                idle: m.idle.unwrap_or(true),
                poll_interval,
            },
            "maildir" => MailboxSource::Maildir {
                path: self.path(m.path.as_deref().ok_or_else(|| {
                    self.at(&m.kind, "mailbox.kind = \"maildir\" needs mailbox.path")
                })?),
                poll_interval,
            },
            other => {
                return Err(self.at(
                    &m.kind,
                    format!("mailbox.kind {other:?} is not one of imap, maildir"),
                ));
            }
        };
        Ok((source, start_from))
    }

    fn folder_prefix(&self, p: &Option<Spanned<String>>) -> R<Option<String>> {
        let Some(p) = p else {
            return Ok(None);
        };
        let text = p.get_ref().trim();
        if text.trim_matches('/').is_empty() || text.contains("//") {
            return Err(self.at(
                p,
                format!(
                    "mailbox.folder_prefix {:?} is not a folder name like \"duty-desk\" or \"INBOX/Заявки\" (levels separated by \"/\")",
                    p.get_ref()
                ),
            ));
        }
        if text.chars().any(|c| c.is_control() || c == '*' || c == '%') {
            return Err(self.at(
                p,
                format!("mailbox.folder_prefix {:?}: control characters, * and % are not allowed in a folder name", p.get_ref()),
            ));
        }
        Ok(Some(text.to_string()))
    }

    fn outbox(&self, o: raw::Outbox) -> R<OutboxSink> {
        match o.kind.get_ref().as_str() {
            "smtp" => Ok(OutboxSink::Smtp(self.server(
                "outbox",
                o.host.as_ref(),
                o.port,
                &o.tls,
                o.ca_file.as_deref(),
                o.username.as_deref(),
                o.password_file.as_deref(),
                o.password_env.as_deref(),
                o.password.as_ref(),
                (465, 587, 25),
                false,
            )?)),
            "maildir" => Ok(OutboxSink::Maildir(self.path(
                o.path.as_deref().ok_or_else(|| {
                    self.at(&o.kind, "outbox.kind = \"maildir\" needs outbox.path")
                })?,
            ))),
            other => Err(self.at(
                &o.kind,
                format!("outbox.kind {other:?} is not one of smtp, maildir"),
            )),
        }
    }

    fn date(&self, s: &Spanned<String>, key: &str) -> R<NaiveDate> {
        NaiveDate::parse_from_str(s.get_ref().trim(), "%Y-%m-%d").map_err(|_| {
            self.at(
                s,
                format!("{key} {:?} is not a date like 2021-09-01", s.get_ref()),
            )
        })
    }

    fn specialist(&self, s: &Spanned<raw::SpecialistEntry>) -> R<Specialist> {
        let e = s.get_ref();
        let span = Some(s.span());
        if e.name.trim().is_empty() {
            return Err(self.err(span, "a specialist without a name"));
        }
        let email = match &e.email {
            None => {
                return Err(self.err(
                    span,
                    format!("specialist {:?} has no email address", e.name),
                ));
            }
            Some(a) => Address::parse(a).ok_or_else(|| {
                self.err(
                    span.clone(),
                    format!("specialist {:?}: {a:?} is not an e-mail address", e.name),
                )
            })?,
        };
        let mut windows = Vec::new();
        for (day, list) in &e.duty {
            let line_span = self.find_in(s.span(), day);
            let weekday = parse_weekday(day).ok_or_else(|| {
                self.err(line_span.clone(), format!("specialist {:?}: unknown weekday {day:?} (use mon, tue, wed, thu, fri, sat, sun)", e.name))
            })?;
            let items: Option<Vec<&str>> = match list {
                toml::Value::Array(a) => a.iter().map(|v| v.as_str()).collect(),
                toml::Value::String(s) => Some(vec![s.as_str()]),
                _ => None,
            };
            let items = items.ok_or_else(|| {
                self.err(
                    line_span.clone(),
                    format!(
                        "specialist {:?}: duty.{day} must be a list of \"HH:MM-HH:MM\"",
                        e.name
                    ),
                )
            })?;
            for item in items {
                let (start, end) = parse_window(item).map_err(|why| {
                    self.err(
                        self.find_in(s.span(), item),
                        format!("specialist {:?}: window {item:?} on {day}: {why}", e.name),
                    )
                })?;
                windows.push(Window {
                    weekday,
                    start,
                    end,
                });
            }
        }
        windows.sort_by_key(|w| (w.weekday.num_days_from_monday(), w.start));
        for pair in windows.windows(2) {
            if pair[0].weekday == pair[1].weekday && pair[1].start < pair[0].end {
                return Err(self.err(
                    span,
                    format!(
                        "specialist {:?}: windows {} and {} on {} overlap",
                        e.name,
                        pair[0].label(),
                        pair[1].label(),
                        weekday_key(pair[0].weekday)
                    ),
                ));
            }
        }
        let supervisor = match &e.supervisor {
            None => None,
            Some(a) => Some(Address::parse(a).ok_or_else(|| {
                self.err(
                    self.find_in(s.span(), a),
                    format!(
                        "specialist {:?}: supervisor {a:?} is not an e-mail address",
                        e.name
                    ),
                )
            })?),
        };
        if supervisor
            .as_ref()
            .is_some_and(|a| a.email.eq_ignore_ascii_case(&email.email))
        {
            return Err(self.err(
                span,
                format!(
                    "specialist {:?} is their own supervisor: complaints about them would reach them",
                    e.name
                ),
            ));
        }
        let mut topics = Vec::new();
        for t in &e.topics {
            let topic = Topic::parse(t).ok_or_else(|| {
                self.err(
                    self.find_in(s.span(), t),
                    format!(
                        "specialist {:?}: topic {t:?} is not one of {}",
                        e.name,
                        Topic::ALL.map(Topic::as_str).join(", ")
                    ),
                )
            })?;
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
        Ok(Specialist {
            name: e.name.trim().to_string(),
            position: e.position.trim().to_string(),
            email,
            supervisor,
            topics,
            windows,
        })
    }

    /// The span of `needle` inside `within`, else `within` (for a precise line number).
    fn find_in(&self, within: Range<usize>, needle: &str) -> Option<Range<usize>> {
        let end = within.end.min(self.text.len());
        let hay = self.text.get(within.start..end)?;
        match hay.find(needle) {
            Some(i) => Some(within.start + i..within.start + i + needle.len()),
            None => Some(within),
        }
    }

    fn schedule(
        &self,
        s: raw::ScheduleSection,
        tz: Tz,
        specialists: Vec<Specialist>,
    ) -> R<Schedule> {
        let valid_from = self.date(&s.valid_from, "schedule.valid_from")?;
        let valid_until = self.date(&s.valid_until, "schedule.valid_until")?;
        if valid_until < valid_from {
            return Err(self.at(&s.valid_until, "schedule.valid_until is before valid_from"));
        }
        let holidays = s
            .holidays
            .iter()
            .map(|h| self.date(h, "schedule.holidays"))
            .collect::<R<BTreeSet<_>>>()?;
        let mut changes = Vec::new();
        for c in &s.changes {
            let e = c.get_ref();
            let span = Some(c.span());
            let date = NaiveDate::parse_from_str(e.date.trim(), "%Y-%m-%d").map_err(|_| {
                self.err(
                    span.clone(),
                    format!("schedule.changes: {:?} is not a date", e.date),
                )
            })?;
            let who = specialists
                .iter()
                .position(|sp| sp.name == e.name.trim())
                .ok_or_else(|| {
                    self.err(
                        span.clone(),
                        format!("schedule.changes: no specialist named {:?}", e.name),
                    )
                })?;
            let change = match (&e.replaced_by, &e.extra, e.cancelled) {
                (Some(r), None, false) => {
                    let by = specialists
                        .iter()
                        .position(|sp| sp.name == r.trim())
                        .ok_or_else(|| {
                            self.err(
                                span.clone(),
                                format!("schedule.changes: no specialist named {r:?}"),
                            )
                        })?;
                    Change::Replace { date, who, by }
                }
                (None, Some(w), false) => {
                    let (start, end) = parse_window(w).map_err(|why| {
                        self.err(
                            span.clone(),
                            format!("schedule.changes: window {w:?}: {why}"),
                        )
                    })?;
                    Change::Extra {
                        date,
                        who,
                        start,
                        end,
                    }
                }
                (None, None, true) => Change::Cancel { date, who },
                _ => {
                    return Err(self.err(
                        span,
                        "schedule.changes: give exactly one of replaced_by = \"…\", extra = \"HH:MM-HH:MM\", cancelled = true",
                    ));
                }
            };
            changes.push(change);
        }
        Ok(Schedule::new(
            tz,
            valid_from,
            valid_until,
            holidays,
            changes,
            specialists,
        ))
    }
}
