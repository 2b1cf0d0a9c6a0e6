//! Reply parsing shared by the operations: shapes and scalars, never a panic.

use redis::Value;

/// A reply that does not have the shape a script returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected reply from {script} script: {detail}")]
pub struct ReplyError {
    script: &'static str,
    detail: String,
}

impl ReplyError {
    pub(crate) fn new(script: &'static str, detail: impl Into<String>) -> Self {
        ReplyError {
            script,
            detail: detail.into(),
        }
    }
}

pub(crate) fn array<'a, const N: usize>(
    script: &'static str,
    value: &'a Value,
) -> Result<&'a [Value; N], ReplyError> {
    match value {
        Value::Array(items) => <&[Value; N]>::try_from(items.as_slice()).map_err(|_| {
            ReplyError::new(
                script,
                format!("expected {N} elements, got {}", items.len()),
            )
        }),
        other => Err(ReplyError::new(
            script,
            format!("expected an array, got {}", describe(other)),
        )),
    }
}

pub(crate) fn int(script: &'static str, value: &Value) -> Result<i64, ReplyError> {
    match value {
        Value::Int(n) => Ok(*n),
        other => Err(ReplyError::new(
            script,
            format!("expected an integer, got {}", describe(other)),
        )),
    }
}

pub(crate) fn flag(script: &'static str, value: &Value) -> Result<bool, ReplyError> {
    match int(script, value)? {
        0 => Ok(false),
        1 => Ok(true),
        n => Err(ReplyError::new(script, format!("expected 0 or 1, got {n}"))),
    }
}

pub(crate) fn text(script: &'static str, value: &Value) -> Result<String, ReplyError> {
    match value {
        Value::BulkString(bytes) => String::from_utf8(bytes.clone())
            .map_err(|_| ReplyError::new(script, "expected UTF-8 text")),
        Value::SimpleString(s) => Ok(s.clone()),
        other => Err(ReplyError::new(
            script,
            format!("expected a string, got {}", describe(other)),
        )),
    }
}

/// A fencing counter: a decimal u64 stored as a string.
pub(crate) fn counter(script: &'static str, value: &Value) -> Result<u64, ReplyError> {
    let digits = match value {
        Value::BulkString(bytes) => bytes.as_slice(),
        Value::SimpleString(s) => s.as_bytes(),
        Value::Int(n) => {
            return u64::try_from(*n)
                .map_err(|_| ReplyError::new(script, format!("negative fencing counter {n}")));
        }
        other => {
            return Err(ReplyError::new(
                script,
                format!("expected a fencing counter, got {}", describe(other)),
            ));
        }
    };
    decimal(digits).ok_or_else(|| {
        ReplyError::new(
            script,
            format!(
                "fencing counter {:?} is not a u64",
                String::from_utf8_lossy(digits)
            ),
        )
    })
}

/// A non-empty run of ASCII digits that fits a u64, read in one pass (a fenced grant has
/// two of them; `str::parse` after a UTF-8 check and a digit check read each three times).
pub(crate) fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

pub(crate) fn describe(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Int(_) => "an integer",
        Value::BulkString(_) => "a bulk string",
        Value::Array(_) => "an array",
        Value::SimpleString(_) => "a simple string",
        Value::Okay => "OK",
        Value::ServerError(_) => "a server error",
        _ => "another reply type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_cover_all_of_u64() {
        let v = Value::BulkString(b"18446744073709551615".to_vec());
        assert_eq!(counter("t", &v), Ok(u64::MAX));
        assert!(counter("t", &Value::BulkString(b"18446744073709551616".to_vec())).is_err());
        assert!(counter("t", &Value::BulkString(b"-3".to_vec())).is_err());
        assert!(counter("t", &Value::BulkString(Vec::new())).is_err());
    }

    #[test]
    fn counters_read_as_digits_then_u64() {
        // The rule before the one-pass reader: UTF-8, only ASCII digits, then `parse`.
        let by_parse = |digits: &[u8]| {
            std::str::from_utf8(digits)
                .ok()
                .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|s| s.parse::<u64>().ok())
        };
        let cases: [&[u8]; 14] = [
            b"0",
            b"007",
            b"42",
            b"+5",
            b" 5",
            b"5 ",
            b"1a",
            b"/",
            b":",
            b"\xff1",
            b"99999999999999999999",
            b"18446744073709551615",
            b"18446744073709551616",
            b"1764576000123456",
        ];
        for digits in cases {
            assert_eq!(decimal(digits), by_parse(digits), "{digits:?}");
        }
    }

    #[test]
    fn flags_are_zero_or_one() {
        assert_eq!(flag("t", &Value::Int(1)), Ok(true));
        assert!(flag("t", &Value::Int(7)).is_err());
        assert!(flag("t", &Value::Nil).is_err());
    }
}
