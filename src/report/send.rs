//! Making a week's report from the store, and sending it once a week.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};

use super::{Figures, Week, figures, heatmap, render, rows};
use crate::config::{Config, ReportSettings};
use crate::store::{
    NewOutgoing, Queries, REPORT_SENT_KEY as SENT_KEY, REPORT_SINCE_KEY as SINCE_KEY, Store,
};

/// The outgoing mail's kind.
pub const KIND: &str = "weekly_report";
/// The content id of the heat map in the mail.
const PICTURE_CID: &str = "heatmap@duty-desk";

/// One week's report, made.
#[derive(Debug, Clone)]
pub struct Report {
    pub figures: Figures,
    pub subject: String,
    pub text: String,
    pub svg: String,
}

impl Report {
    /// The HTML page with the picture inside (`report --out FILE.html`).
    pub fn html_page(&self, tz: chrono_tz::Tz) -> String {
        let svg = self
            .svg
            .find("<svg")
            .map_or(self.svg.as_str(), |i| &self.svg[i..]);
        render::html(&self.subject, &self.figures, tz, svg)
    }

    /// The HTML part of the mail, the picture cited as an inline part.
    pub fn html_mail(&self, tz: chrono_tz::Tz) -> String {
        let img = format!(
            "<img src=\"cid:{PICTURE_CID}\" alt=\"Обращения по дням и часам\" width=\"980\" height=\"420\">"
        );
        render::html(&self.subject, &self.figures, tz, &img)
    }
}

/// The report of `week` from the store, as of `as_of`.
pub fn make(
    q: &impl Queries,
    config: &Config,
    week: Week,
    as_of: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let (from, until) = week.bounds();
    let recorded = config.answers == crate::config::Answers::ViaDesk;
    let rows = rows::load(q, from, until, as_of, recorded)?;
    let figures = figures(&rows, week, &config.schedule, as_of);
    let tz = config.schedule.tz();
    Ok(Report {
        subject: render::subject(&config.school_name, &figures),
        text: render::text(&figures, tz),
        svg: heatmap::svg(&figures)?,
        figures,
    })
}

/// The Monday of the week whose report is due at `now`: once this week's
/// `day` at `hour`:00 local time has come, the Monday–Sunday week before it.
pub fn due_week(r: &ReportSettings, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Option<NaiveDate> {
    let this = Week::of(now.with_timezone(&tz).date_naive(), tz);
    let day = this.monday + Duration::days(i64::from(r.day.num_days_from_monday()));
    let at = day.and_time(NaiveTime::from_hms_opt(r.hour, 0, 0)?);
    let moment = tz.from_local_datetime(&at).earliest()?.with_timezone(&Utc);
    (now >= moment).then(|| this.monday - Duration::days(7))
}

/// Queues the weekly report when it is due and not sent yet for that week (one
/// transaction: the mail and the note that the week is done); returns whether
/// it did. The daemon calls this from its due-queue loop.
pub fn send_weekly(store: &mut Store, config: &Config, now: DateTime<Utc>) -> anyhow::Result<bool> {
    let r = &config.report;
    if !r.enabled {
        return Ok(false);
    }
    let tz = config.schedule.tz();
    store.transaction(|tx| {
        let since = match tx.kv_get(SINCE_KEY)? {
            Some(s) => DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(now),
            None => {
                tx.kv_set(SINCE_KEY, &now.to_rfc3339())?;
                now
            }
        };
        let Some(monday) = due_week(r, tz, now) else {
            return Ok(false);
        };
        let key = monday.to_string();
        if tx.kv_get(SENT_KEY)?.is_some_and(|last| last >= key) {
            return Ok(false);
        }
        let week = Week { monday, tz };
        if since >= week.bounds().1 {
            // The desk started after that week: nothing of it to report.
            tx.kv_set(SENT_KEY, &key)?;
            return Ok(false);
        }
        let report = make(tx, config, week, now)?;
        let message_id = crate::letter::new_message_id(KIND, None, &config.from);
        let raw = crate::letter::Report {
            from: &config.from,
            to: &r.recipients,
            subject: &report.subject,
            text: &report.text,
            html: &report.html_mail(tz),
            inline: &[(
                PICTURE_CID.to_string(),
                "image/svg+xml".to_string(),
                report.svg.clone().into_bytes(),
            )],
            message_id: &message_id,
            date: now,
        }
        .build()?;
        let recipients: Vec<String> = r.recipients.iter().map(|a| a.email.clone()).collect();
        tx.queue(
            &NewOutgoing {
                message_id: &message_id,
                ticket: None,
                kind: KIND,
                auto_reply_to: None,
                envelope_from: &config.from.email,
                recipients: &recipients,
                raw: &raw,
                not_before: None,
            },
            now,
        )?;
        tx.kv_set(SENT_KEY, &key)?;
        tx.audit(
            now,
            None,
            None,
            KIND,
            &format!(
                "week {monday} – {}: {} letters, {} tickets; to {} recipient(s)",
                week.sunday(),
                report.figures.letters,
                report.figures.tickets_opened,
                recipients.len()
            ),
        )?;
        Ok(true)
    })
}
