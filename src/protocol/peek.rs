//! Reads one field of an encoded protobuf message without decoding the message, so the
//! server can size up a request (a GetRange limit, a BatchGetRow row count) before it picks
//! where to run it. Malformed input gives `None`: the real decode reports the error.

/// Wire types of the protobuf encoding.
const VARINT: u64 = 0;
const FIXED64: u64 = 1;
const LEN: u64 = 2;
const FIXED32: u64 = 5;

/// Walks the top-level fields of one message.
struct Fields<'a> {
    buf: &'a [u8],
}

/// One field's number and payload (a varint's value, or a length-delimited slice).
enum Field<'a> {
    Varint(u32, u64),
    Bytes(u32, &'a [u8]),
    Other(u32),
}

impl Field<'_> {
    fn number(&self) -> u32 {
        match *self {
            Field::Varint(n, _) | Field::Bytes(n, _) | Field::Other(n) => n,
        }
    }
}

impl<'a> Fields<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.buf.split_first()?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Some(head)
    }

    /// The next field: `Some(None)` at the end, `None` on malformed input.
    fn next_field(&mut self) -> Option<Option<Field<'a>>> {
        if self.buf.is_empty() {
            return Some(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).ok()?;
        let field = match key & 7 {
            VARINT => Field::Varint(number, self.varint()?),
            LEN => {
                let len = usize::try_from(self.varint()?).ok()?;
                Field::Bytes(number, self.take(len)?)
            }
            FIXED64 => {
                self.take(8)?;
                Field::Other(number)
            }
            FIXED32 => {
                self.take(4)?;
                Field::Other(number)
            }
            _ => return None, // groups are not used by this protocol
        };
        Some(Some(field))
    }
}

/// The last value of varint field `number` at the top level of `message` (protobuf keeps
/// the last of repeated scalars), or `None` when absent or malformed.
pub fn varint_field(message: &[u8], number: u32) -> Option<u64> {
    let mut fields = Fields { buf: message };
    let mut found = None;
    while let Some(field) = fields.next_field()? {
        if let Field::Varint(n, v) = field {
            if n == number {
                found = Some(v);
            }
        }
    }
    found
}

/// Whether field `number` appears at the top level of `message` (`None` when malformed).
pub fn has_field(message: &[u8], number: u32) -> Option<bool> {
    let mut fields = Fields { buf: message };
    let mut found = false;
    while let Some(field) = fields.next_field()? {
        found |= field.number() == number;
    }
    Some(found)
}

/// How many `inner` fields the `outer` sub-messages of `message` hold together (e.g. the
/// primary keys of every table of a BatchGetRow), or `None` when malformed.
pub fn nested_count(message: &[u8], outer: u32, inner: u32) -> Option<usize> {
    let mut fields = Fields { buf: message };
    let mut count = 0;
    while let Some(field) = fields.next_field()? {
        let Field::Bytes(n, sub) = field else {
            continue;
        };
        if n != outer {
            continue;
        }
        let mut sub_fields = Fields { buf: sub };
        while let Some(sub_field) = sub_fields.next_field()? {
            count += usize::from(sub_field.number() == inner);
        }
    }
    Some(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::pb;
    use prost::Message;

    #[test]
    fn finds_the_limit_of_a_get_range_request() {
        let mut req = pb::GetRangeRequest {
            table_name: "t".into(),
            inclusive_start_primary_key: vec![1; 300],
            exclusive_end_primary_key: vec![2; 3],
            columns_to_get: vec!["a".into(), "b".into()],
            max_versions: Some(1),
            ..Default::default()
        };
        assert_eq!(varint_field(&req.encode_to_vec(), 6), None, "no limit");
        req.limit = Some(20);
        assert_eq!(varint_field(&req.encode_to_vec(), 6), Some(20));
        req.limit = Some(5000);
        req.filter = Some(vec![0xff; 200]);
        assert_eq!(varint_field(&req.encode_to_vec(), 6), Some(5000));
        assert_eq!(has_field(&req.encode_to_vec(), 10), Some(true), "a filter");
        req.filter = None;
        assert_eq!(has_field(&req.encode_to_vec(), 10), Some(false));
    }

    #[test]
    fn counts_the_rows_of_a_batch_get_row_request() {
        let table = |rows: usize| pb::TableInBatchGetRowRequest {
            table_name: "t".into(),
            primary_key: vec![vec![7; 40]; rows],
            columns_to_get: vec!["c".into()],
            max_versions: Some(1),
            ..Default::default()
        };
        let req = pb::BatchGetRowRequest {
            tables: vec![table(3), table(0), table(17)],
        };
        assert_eq!(nested_count(&req.encode_to_vec(), 1, 2), Some(20));
        assert_eq!(nested_count(&[], 1, 2), Some(0));
    }

    #[test]
    fn malformed_input_gives_none_and_never_panics() {
        let mut good = pb::GetRangeRequest {
            table_name: "t".into(),
            limit: Some(9),
            ..Default::default()
        }
        .encode_to_vec();
        good.extend_from_slice(&[0x3a, 0x80]); // field 7, length varint cut short
        assert_eq!(varint_field(&good, 6), None);
        assert_eq!(
            varint_field(&[0x0a, 0x05, 1, 2], 6),
            None,
            "length past the end"
        );
        assert_eq!(varint_field(&[0x0b], 6), None, "group wire type");
        assert_eq!(varint_field(&[0xff; 11], 6), None, "varint over ten bytes");
        for len in 0..good.len() {
            let _ = varint_field(&good[..len], 6);
            let _ = nested_count(&good[..len], 1, 2);
        }
    }
}
