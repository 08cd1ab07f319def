//! How messages become runs and steps in job_log/job_detail (pure; the store writes the
//! result). Per job (`JOB__ENV`), in queue order:
//! - the start keyword opens a run; if one is still open, that one first gets a CRITICAL step
//!   saying why and is ended as failed;
//! - the error keyword adds a CRITICAL step and counts against the run;
//! - the end keyword adds an OK step and ends the run: OK, or CRITICAL when it had errors;
//! - any other event adds a step with the event as its status.
//!
//! A message other than a start for a job with no open run opens one at its time, with a
//! WARNING step saying that no start message was received. Every message is a step, so the
//! producer's text is in job_detail. Keywords match case-insensitively.

use super::message::Message;
use crate::event::Keyword as Kind;
pub use crate::event::Keywords;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// pg_jobmon's alert codes (job_status_text): the run's final status is the text of one.
pub const CODE_OK: i32 = 1;
pub const CODE_CRITICAL: i32 = 3;

/// A run that a step or an end refers to: in job_log already, or opened by this batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunRef {
    Existing(i64),
    New(usize),
}

/// A job's open run and how many error events it has had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenRun {
    pub run: RunRef,
    pub errors: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRun {
    pub job_name: String,
    pub start: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub run: RunRef,
    pub action: String,
    pub status: String,
    pub message: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct End {
    pub run: RunRef,
    pub at: DateTime<Utc>,
    pub code: i32,
}

/// What a batch of messages does to job_log and job_detail.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub new_runs: Vec<NewRun>,
    /// In message order.
    pub steps: Vec<Step>,
    /// In message order, which the job_log trigger's failure counting relies on.
    pub ends: Vec<End>,
    /// The run each message went to (`None`: rejected).
    pub message_runs: Vec<Option<RunRef>>,
    /// Every job the batch touched, with its open run afterwards.
    pub open_after: HashMap<String, Option<OpenRun>>,
}

/// Plans `messages` (queue order) for source `source`. `open` must hold the open run (or
/// `None`) of every job name the usable messages carry.
///
/// Kept as one loop (about 90 lines) on purpose: it is the module documentation's state
/// machine written out, message by message (which run the message goes to, its step, the
/// run's state after it), and each part reads the same message, job and time.
pub fn plan(
    source: &str,
    messages: &[Message],
    keywords: &Keywords,
    open: &HashMap<String, Option<OpenRun>>,
) -> Plan {
    let mut p = Plan::default();
    for m in messages {
        let (Some(job_name), Some(at), Some(event)) = (m.job_name(), m.queued_at, &m.event) else {
            p.message_runs.push(None);
            continue;
        };
        let current = match p.open_after.get(&job_name) {
            Some(state) => *state,
            None => open.get(&job_name).copied().flatten(),
        };
        let step = |run, action: &str, status: &str, message: Option<String>| Step {
            run,
            action: action.to_owned(),
            status: status.to_owned(),
            message,
            at,
        };
        let kind = keywords.class(event);
        let mut run = match (&kind, current) {
            (Kind::Start, Some(old)) => {
                p.steps.push(step(
                    old.run,
                    "Run not finished",
                    "CRITICAL",
                    Some(format!(
                        "A new {event} message (queue id {} of source {source}) arrived \
                         before this run ended; closed as failed",
                        m.queue_id
                    )),
                ));
                p.ends.push(End {
                    run: old.run,
                    at,
                    code: CODE_CRITICAL,
                });
                open_new(&mut p, &job_name, at)
            }
            (Kind::Start, None) => open_new(&mut p, &job_name, at),
            (_, Some(open)) => open,
            (_, None) => {
                let run = open_new(&mut p, &job_name, at);
                p.steps.push(step(
                    run.run,
                    "Run without a start message",
                    "WARNING",
                    Some(format!(
                        "The first message of this run was {event} (queue id {} of source \
                         {source}); no {} message was received",
                        m.queue_id, keywords.start
                    )),
                ));
                run
            }
        };
        let status = match kind {
            Kind::Start | Kind::End => "OK",
            Kind::Error => "CRITICAL",
            Kind::Other => event.as_str(),
        };
        p.steps
            .push(step(run.run, event, status, m.message.clone()));
        p.message_runs.push(Some(run.run));
        let after = match kind {
            Kind::Error => {
                run.errors += 1;
                Some(run)
            }
            Kind::End => {
                let code = if run.errors > 0 {
                    CODE_CRITICAL
                } else {
                    CODE_OK
                };
                p.ends.push(End {
                    run: run.run,
                    at,
                    code,
                });
                None
            }
            Kind::Start | Kind::Other => Some(run),
        };
        p.open_after.insert(job_name, after);
    }
    p
}

fn open_new(p: &mut Plan, job_name: &str, start: DateTime<Utc>) -> OpenRun {
    p.new_runs.push(NewRun {
        job_name: job_name.to_owned(),
        start,
    });
    OpenRun {
        run: RunRef::New(p.new_runs.len() - 1),
        errors: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn keywords() -> Keywords {
        Keywords {
            start: "STARTED".into(),
            error: "ERROR".into(),
            end: "SUCCESS".into(),
        }
    }

    fn msg(id: i64, job: &str, event: &str, minute: u32) -> Message {
        Message {
            queue_id: id,
            fingerprint: 0,
            queued_at: Some(Utc.with_ymd_and_hms(2026, 11, 20, 2, minute, 0).unwrap()),
            instance: Some("p".into()),
            job: Some(job.into()),
            event: Some(event.into()),
            message: Some(format!("text {id}")),
            raw: None,
            reject_reason: None,
        }
    }

    fn summary(p: &Plan) -> Vec<String> {
        let steps = p
            .steps
            .iter()
            .map(|s| format!("{:?} {} {}", s.run, s.action, s.status));
        let ends = p.ends.iter().map(|e| format!("end {:?} {}", e.run, e.code));
        steps.chain(ends).collect()
    }

    #[test]
    fn a_clean_run_opens_steps_and_ends_ok() {
        let ms = [
            msg(1, "load", "STARTED", 0),
            msg(2, "load", "rows loaded", 1),
            msg(3, "load", "success", 2),
        ];
        let p = plan("dwh1", &ms, &keywords(), &HashMap::new());
        assert_eq!(p.new_runs.len(), 1);
        assert_eq!(p.new_runs[0].job_name, "LOAD__P");
        assert_eq!(
            summary(&p),
            [
                "New(0) STARTED OK",
                "New(0) rows loaded rows loaded",
                "New(0) success OK",
                "end New(0) 1"
            ]
        );
        assert_eq!(p.open_after["LOAD__P"], None);
        assert_eq!(p.message_runs, vec![Some(RunRef::New(0)); 3]);
    }

    #[test]
    fn errors_make_the_end_critical_and_continue_an_existing_open_run() {
        let open = HashMap::from([(
            "LOAD__P".to_string(),
            Some(OpenRun {
                run: RunRef::Existing(41),
                errors: 0,
            }),
        )]);
        let ms = [msg(4, "load", "ERROR", 5), msg(5, "load", "SUCCESS", 6)];
        let p = plan("dwh1", &ms, &keywords(), &open);
        assert!(p.new_runs.is_empty());
        assert_eq!(
            summary(&p),
            [
                "Existing(41) ERROR CRITICAL",
                "Existing(41) SUCCESS OK",
                "end Existing(41) 3"
            ]
        );
    }

    #[test]
    fn a_start_while_open_fails_the_open_run_first() {
        let ms = [msg(1, "load", "STARTED", 0), msg(2, "load", "STARTED", 9)];
        let p = plan("dwh1", &ms, &keywords(), &HashMap::new());
        assert_eq!(
            summary(&p),
            [
                "New(0) STARTED OK",
                "New(0) Run not finished CRITICAL",
                "New(1) STARTED OK",
                "end New(0) 3"
            ]
        );
        assert!(p.steps[1]
            .message
            .as_deref()
            .unwrap()
            .contains("queue id 2 of source dwh1"));
        assert_eq!(
            p.open_after["LOAD__P"],
            Some(OpenRun {
                run: RunRef::New(1),
                errors: 0
            })
        );
    }

    #[test]
    fn a_message_without_a_start_opens_a_run_with_a_warning_and_rejects_are_skipped() {
        let mut bad = msg(2, "x", "SUCCESS", 1);
        bad.reject_reason = Some("timestamp is NULL".into());
        let ms = [msg(1, "other", "ERROR", 0), bad];
        let p = plan("s", &ms, &keywords(), &HashMap::new());
        assert_eq!(
            summary(&p),
            [
                "New(0) Run without a start message WARNING",
                "New(0) ERROR CRITICAL"
            ]
        );
        assert_eq!(p.message_runs, vec![Some(RunRef::New(0)), None]);
        assert_eq!(p.open_after.len(), 1);
    }
}
