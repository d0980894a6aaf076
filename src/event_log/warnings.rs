//! The lines the event log's own work prints when it fails (SPEC section 6).

use crate::log::WarningLog;

/// The platform's message, cut to what a line keeps.
fn cut(error: &str) -> &str {
    error
        .get(..error.floor_char_boundary(200))
        .unwrap_or_default()
}

/// A write to the log that failed: how many statements, the platform's
/// message, and when it is tried again (none after the last try).
pub fn write_failed_line(statements: usize, error: &str, retry_in_ms: Option<i64>) -> String {
    WarningLog {
        warning: "event_log_write_failed",
        failed: Some(u32::try_from(statements).unwrap_or(u32::MAX)),
        error: Some(cut(error)),
        retry_in_ms,
        ..Default::default()
    }
    .line()
}

/// The log's own upkeep that failed: `retention` (a shard's drop or purge) or
/// anything else, `directory` (a shard's report of its figures, or the
/// directory read by the retention). Both are done again: the next write
/// reports, the next cron run retires.
pub fn upkeep_failed_line(what: &str, error: &str) -> String {
    WarningLog {
        warning: match what {
            "retention" => "event_log_retention_failed",
            _ => "event_log_directory_failed",
        },
        error: Some(cut(error)),
        ..Default::default()
    }
    .line()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_says_how_many_statements_and_when_it_is_tried_again() {
        let long = "é".repeat(300);
        let line: serde_json::Value =
            serde_json::from_str(&write_failed_line(3, &long, Some(1000))).unwrap();
        assert_eq!(line["warning"], "event_log_write_failed");
        assert_eq!(line["failed"], 3);
        assert_eq!(line["retry_in_ms"], 1000);
        assert!(line["error"].as_str().unwrap().len() <= 200);
        let last: serde_json::Value =
            serde_json::from_str(&write_failed_line(1, "busy", None)).unwrap();
        assert!(last.get("retry_in_ms").is_none());
    }

    #[test]
    fn upkeep_names_the_retention_or_else_the_directory() {
        for (what, warning) in [
            ("retention", "event_log_retention_failed"),
            ("directory", "event_log_directory_failed"),
            ("anything", "event_log_directory_failed"),
        ] {
            let line: serde_json::Value =
                serde_json::from_str(&upkeep_failed_line(what, "gone")).unwrap();
            assert_eq!(
                (line["warning"].as_str(), line["error"].as_str()),
                (Some(warning), Some("gone"))
            );
        }
    }
}
