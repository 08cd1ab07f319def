//! `jobmon-tracker queue ...`: thin wrappers over [`crate::queue`] that print its results.

use super::{note, print, AddArgs, CliError, ListArgs, QueueArgs, QueueCommand, TimeFormatArg};
use crate::queue::{to_python_json, NewMessage, Queue, TimeFormat};
use std::io::{self, Read, Write};

impl From<TimeFormatArg> for TimeFormat {
    fn from(t: TimeFormatArg) -> Self {
        match t {
            TimeFormatArg::Utc => TimeFormat::Utc,
            TimeFormatArg::Epoche => TimeFormat::Epoche,
            TimeFormatArg::Localtime => TimeFormat::Localtime,
        }
    }
}

fn limit(args: &ListArgs) -> Option<u64> {
    (!args.all).then_some(args.max_items)
}

fn json_error(e: serde_json::Error) -> CliError {
    CliError::Runtime(format!("cannot render JSON: {e}"))
}

pub fn run(args: QueueArgs) -> Result<(), CliError> {
    let path = args.file.as_path();
    if args.verbose {
        note(&format!("queue file: {}", path.display()));
    }
    match args.command {
        QueueCommand::Add(add) => {
            let (msg, at) = new_message(add)?;
            let queue = Queue::open_or_create(path)?;
            let id = match at {
                Some(at) => queue.add_at(&msg, at)?,
                None => queue.add(&msg)?,
            };
            if args.verbose {
                note(&format!("added message {id}: {msg:?}"));
            }
            print(&format!("{id}\n"))
        }
        QueueCommand::List(list) => {
            let rows = Queue::open(path)?.list(limit(&list), list.timeformat.into())?;
            print(&format!("{}\n", to_python_json(&rows).map_err(json_error)?))
        }
        QueueCommand::Length => print(&format!("{}\n", Queue::open(path)?.length()?)),
        QueueCommand::Remove(list) => {
            let mut queue = Queue::open(path)?;
            let removed = queue.remove(limit(&list), list.timeformat.into(), |rows| {
                if rows.is_empty() {
                    // The 2016 tool printed nothing for an empty queue.
                    return Ok(());
                }
                let text = to_python_json(&rows).map_err(io::Error::other)?;
                let mut stdout = io::stdout().lock();
                writeln!(stdout, "{text}")?;
                stdout.flush()
            })?;
            if args.verbose {
                note(&format!("removed {} message(s)", removed.len()));
            }
            Ok(())
        }
        QueueCommand::Read(read) => {
            let mut text = String::new();
            let rows = if read.with_min {
                let window = Queue::open(path)?
                    .read_window(Some(read.after.saturating_add(1)), read.limit)?;
                let min = serde_json::json!({ "min_id": window.min_id });
                text.push_str(&min.to_string());
                text.push('\n');
                window.rows
            } else {
                Queue::open(path)?.read_after(read.after, read.limit)?
            };
            for row in &rows {
                text.push_str(&row.to_json_line());
                text.push('\n');
            }
            print(&text)
        }
        QueueCommand::Ack(ack) => {
            let mut queue = Queue::open(path)?;
            match ack.fingerprint {
                None => print(&format!("{}\n", queue.ack_through(ack.through)?)),
                Some(fp) => match queue.ack_through_if(ack.through, fp)? {
                    Some(deleted) => print(&format!("{deleted}\n")),
                    None => print("changed\n"),
                },
            }
        }
    }
}

/// The message from `-j JSON`, `-j -` (stdin) or the separate options, with the time of a
/// `"timestamp"` in the JSON. Like the 2016 tool, instance, job and event are required and
/// the message defaults to "".
fn new_message(
    add: AddArgs,
) -> Result<(NewMessage, Option<chrono::DateTime<chrono::Utc>>), CliError> {
    let mut at = None;
    let (instance, job, event, message) = match add.json {
        Some(json) => {
            let text = if json == "-" {
                let mut buf = String::new();
                io::stdin()
                    .read_to_string(&mut buf)
                    .map_err(|e| CliError::Runtime(format!("cannot read JSON from stdin: {e}")))?;
                buf
            } else {
                json
            };
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| CliError::Usage(format!("-j: not valid JSON ({e}): {text}")))?;
            let serde_json::Value::Object(object) = value else {
                return Err(CliError::Usage(format!(
                    "-j: expected a JSON object, found: {text}"
                )));
            };
            let field = |name: &str| -> Result<Option<String>, CliError> {
                match object.get(name) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(CliError::Usage(format!(
                        "-j: field \"{name}\" must be a string, found {other}"
                    ))),
                }
            };
            if let Some(t) = field("timestamp")? {
                let parsed = chrono::DateTime::parse_from_rfc3339(&t).map_err(|e| {
                    CliError::Usage(format!(
                        "-j: field \"timestamp\" is not a time such as \"2026-12-02T01:30:00.250Z\" (RFC 3339, as `list` prints it): {t} ({e})"
                    ))
                })?;
                at = Some(parsed.with_timezone(&chrono::Utc));
            }
            (
                field("instance")?,
                field("job")?,
                field("event")?,
                field("message")?,
            )
        }
        None => (add.instance, add.job, add.event, add.message),
    };
    let required = |value: Option<String>, name: &str| {
        value.ok_or_else(|| {
            CliError::Usage(format!(
                "message field \"{name}\" is required (--{name} or in the -j object)"
            ))
        })
    };
    Ok((
        NewMessage {
            instance: Some(required(instance, "instance")?),
            job: Some(required(job, "job")?),
            event: Some(required(event, "event")?),
            message: Some(message.unwrap_or_default()),
        },
        at,
    ))
}
