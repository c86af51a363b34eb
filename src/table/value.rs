//! Attribute values and their stored form. The engine keeps values as opaque bytes; this
//! module owns the encoding: one tag byte, then the payload.
//!
//! ```text
//! value := 0x01 ‖ i64 LE          INTEGER
//!        | 0x02 ‖ f64 bits LE     DOUBLE
//!        | 0x03 ‖ 0x00|0x01       BOOLEAN
//!        | 0x04 ‖ utf-8 bytes     STRING
//!        | 0x05 ‖ bytes           BINARY
//! ```
//! These bytes reach disk: never renumber a tag.

use std::cmp::Ordering;

const TAG_INTEGER: u8 = 0x01;
const TAG_DOUBLE: u8 = 0x02;
const TAG_BOOLEAN: u8 = 0x03;
const TAG_STRING: u8 = 0x04;
const TAG_BINARY: u8 = 0x05;

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Signed 64-bit integer.
    Integer(i64),
    /// IEEE-754 double.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(String),
    /// Raw bytes.
    Binary(Vec<u8>),
}

/// A stored value borrowed from the engine's bytes, for reads that encode a response
/// without building an owned row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueView<'a> {
    /// Signed 64-bit integer.
    Integer(i64),
    /// IEEE-754 double.
    Double(f64),
    /// Boolean.
    Boolean(bool),
    /// UTF-8 string.
    String(&'a str),
    /// Raw bytes.
    Binary(&'a [u8]),
}

impl<'a> ValueView<'a> {
    /// Decodes a stored value in place.
    pub fn decode(bytes: &'a [u8]) -> Result<ValueView<'a>, ValueDecodeError> {
        let (&tag, payload) = bytes.split_first().ok_or(ValueDecodeError {
            what: "empty value",
        })?;
        let fixed8 = |what| -> Result<[u8; 8], ValueDecodeError> {
            payload.try_into().map_err(|_| ValueDecodeError { what })
        };
        Ok(match tag {
            TAG_INTEGER => {
                ValueView::Integer(i64::from_le_bytes(fixed8("integer is not 8 bytes")?))
            }
            TAG_DOUBLE => ValueView::Double(f64::from_bits(u64::from_le_bytes(fixed8(
                "double is not 8 bytes",
            )?))),
            TAG_BOOLEAN => match payload {
                [0] => ValueView::Boolean(false),
                [1] => ValueView::Boolean(true),
                _ => {
                    return Err(ValueDecodeError {
                        what: "boolean is not one 0/1 byte",
                    })
                }
            },
            TAG_STRING => {
                ValueView::String(std::str::from_utf8(payload).map_err(|_| ValueDecodeError {
                    what: "string is not UTF-8",
                })?)
            }
            TAG_BINARY => ValueView::Binary(payload),
            _ => {
                return Err(ValueDecodeError {
                    what: "unknown value tag",
                })
            }
        })
    }

    /// The owned value.
    pub fn to_value(self) -> Value {
        match self {
            ValueView::Integer(v) => Value::Integer(v),
            ValueView::Double(v) => Value::Double(v),
            ValueView::Boolean(v) => Value::Boolean(v),
            ValueView::String(s) => Value::String(s.to_owned()),
            ValueView::Binary(b) => Value::Binary(b.to_vec()),
        }
    }

    /// Size as Tablestore counts it, as `Value::payload_len`.
    pub fn payload_len(&self) -> usize {
        match self {
            ValueView::Integer(_) | ValueView::Double(_) => 8,
            ValueView::Boolean(_) => 1,
            ValueView::String(s) => s.len(),
            ValueView::Binary(b) => b.len(),
        }
    }
}

/// A stored value that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored value is malformed: {what}")]
pub struct ValueDecodeError {
    /// What is wrong.
    pub what: &'static str,
}

impl Value {
    /// The stored encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.payload_len());
        match self {
            Value::Integer(v) => {
                out.push(TAG_INTEGER);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Value::Double(v) => {
                out.push(TAG_DOUBLE);
                out.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            Value::Boolean(v) => {
                out.push(TAG_BOOLEAN);
                out.push(u8::from(*v));
            }
            Value::String(s) => {
                out.push(TAG_STRING);
                out.extend_from_slice(s.as_bytes());
            }
            Value::Binary(b) => {
                out.push(TAG_BINARY);
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// Decodes a stored value.
    pub fn decode(bytes: &[u8]) -> Result<Value, ValueDecodeError> {
        ValueView::decode(bytes).map(ValueView::to_value)
    }

    /// Size of the value as Tablestore counts it (8 for numbers, 1 for booleans, bytes otherwise).
    pub fn payload_len(&self) -> usize {
        match self {
            Value::Integer(_) | Value::Double(_) => 8,
            Value::Boolean(_) => 1,
            Value::String(s) => s.len(),
            Value::Binary(b) => b.len(),
        }
    }

    /// Compares two values of the same type (integers and doubles numerically, strings and
    /// binaries bytewise, false < true); `None` when the types differ or a double is NaN.
    pub fn compare(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
            (Value::Double(a), Value::Double(b)) => a.partial_cmp(b),
            (Value::Boolean(a), Value::Boolean(b)) => Some(a.cmp(b)),
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Binary(a), Value::Binary(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips() {
        for v in [
            Value::Integer(i64::MIN),
            Value::Integer(7),
            Value::Double(-1.5),
            Value::Boolean(true),
            Value::Boolean(false),
            Value::String(String::new()),
            Value::String("héllo".into()),
            Value::Binary(vec![0, 255, 1]),
        ] {
            assert_eq!(Value::decode(&v.encode()).unwrap(), v);
        }
    }

    #[test]
    fn malformed_values_are_errors() {
        for bad in [&b""[..], b"\x01\x00", b"\x03\x02", b"\x04\xff", b"\x09"] {
            assert!(Value::decode(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn comparison_is_per_type() {
        assert_eq!(
            Value::Integer(2).compare(&Value::Integer(10)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::String("b".into()).compare(&Value::String("ab".into())),
            Some(Ordering::Greater)
        );
        assert_eq!(Value::Integer(1).compare(&Value::Double(1.0)), None);
        assert_eq!(
            Value::Boolean(false).compare(&Value::Boolean(true)),
            Some(Ordering::Less)
        );
    }
}
