//! One line per event on stderr: `event=NAME node=N key=value… message` for
//! people, or one JSON object per line for log collectors. No timestamp in
//! text: the container runtime and journald stamp every line already; JSON
//! carries `ts` (Unix seconds) for collectors that read files.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Log {
    pub format: LogFormat,
    pub node: String,
}

impl Log {
    /// Writes one event as one line; a message of several lines (an apply
    /// failure with its rollback) is joined with ` | `.
    pub fn event(&self, level: Level, event: &str, fields: &[(&str, String)], message: &str) {
        let line = self.line(level, event, fields, message);
        // A closed stderr leaves nobody to tell.
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn line(&self, level: Level, event: &str, fields: &[(&str, String)], message: &str) -> String {
        let message = message.trim_end().replace('\n', " | ");
        match self.format {
            LogFormat::Text => {
                let mut line = format!("level={} event={event} node={}", level.as_str(), self.node);
                for (key, value) in fields {
                    line += &format!(" {key}={}", quoted(value));
                }
                if !message.is_empty() {
                    line += &format!(" msg={}", quoted(&message));
                }
                line
            }
            LogFormat::Json => {
                let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                let mut object = serde_json::json!({
                    "ts": ts, "level": level.as_str(), "event": event, "node": self.node, "msg": message,
                });
                for (key, value) in fields {
                    object[*key] = serde_json::Value::from(value.as_str());
                }
                object.to_string()
            }
        }
    }
}

/// logfmt's rule: a value with a space, a quote or `=` is quoted.
fn quoted(value: &str) -> String {
    if value.is_empty() || value.contains([' ', '"', '=']) {
        format!("{value:?}")
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_is_one_line_in_either_format() {
        let log = Log { format: LogFormat::Text, node: "n1".into() };
        let line = log.line(Level::Warn, "refused", &[("digest", "sha256:ab".into())], "bad build\nrolled back");
        assert_eq!(line, r#"level=warn event=refused node=n1 digest=sha256:ab msg="bad build | rolled back""#);
        let log = Log { format: LogFormat::Json, ..log };
        let line = log.line(Level::Info, "applied", &[("digest", "d".into())], "ok");
        assert!(!line.contains('\n'));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (json["event"].as_str(), json["digest"].as_str(), json["node"].as_str()),
            (Some("applied"), Some("d"), Some("n1"))
        );
    }
}
