//! Value parsers for arguments clap cannot check by itself.
//!
//! Durations are written the human way (`500ms`, `10s`, `2m`); a wait may also be
//! `forever`. Resources must be non-empty. Rejecting these while parsing makes them usage
//! errors (exit 64) with a message that shows what is accepted, before any server is
//! contacted. Duration options accept values starting with `-` (clap would otherwise take
//! `-1s` for an option and suggest `--`), so that a negative duration gets its own message.

use std::time::Duration;

const DURATION_FORMS: &str = "write a number with a unit, e.g. 500ms, 10s, 2m or 1h30m";

/// A duration such as `500ms`, `10s`, `1m30s` or `0`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err(format!(
            "{text:?} is negative; durations are 0 or more: {DURATION_FORMS}"
        ));
    }
    humantime::parse_duration(text).map_err(|e| format!("{e}; {DURATION_FORMS}"))
}

/// A wait budget: a duration, or `forever` (also `inf`, `infinite`, `never`).
pub fn parse_wait(text: &str) -> Result<Duration, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "forever" | "inf" | "infinite" | "infinity" => Ok(Duration::MAX),
        _ => parse_duration(text).map_err(|e| format!("{e}, or `forever`")),
    }
}

/// A resource name: anything non-empty (the library checks the length).
pub fn parse_resource(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Err("the resource name is empty; give a non-empty name, e.g. orders:42".into());
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
    }

    #[test]
    fn waits() {
        assert_eq!(parse_wait("forever"), Ok(Duration::MAX));
        assert_eq!(parse_wait("0"), Ok(Duration::ZERO));
        assert_eq!(parse_wait("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_wait("later").unwrap_err().contains("forever"));
    }

    #[test]
    fn resources() {
        assert!(parse_resource("").is_err());
        assert_eq!(parse_resource("a b"), Ok("a b".to_owned()));
    }
}
