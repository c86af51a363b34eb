//! PlainBuffer codec tests: the documented vectors (docs/PLAINBUFFER.md §8), round trips of
//! every value type, and rejection of corrupt, truncated and malicious input.

use super::*;
use crate::protocol::pb;
use proptest::prelude::*;
use prost::Message;

/// Parses hex with optional spaces; test-only helper for the documented vectors.
fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

const V8_1: &str = "75000000010304030000007569640507000000030200000075310a2903040300000073657105090000000001000000000000000a4b020304030000006d73670507000000030200000068690a400304010000006e0509000000000700000000000000070068e5cf8b0100000ad50973";
const V8_2: &str = "7500000001030402000000706b05060000000301000000610ad40203040100000078050900000001000000000000f83f0ac6030401000000630603070068e5cf8b0100000a0e0304010000006406010aa6030403000000636e74050900000000010000000000000006040af7093a";
const V8_3: &str = "75000000 01 03 04 02000000 706b 05 09000000 00 0500000000000000 0a 00 08 09 07";
const V8_4: &str = "75000000 01 03 04 03000000 756964 05 01000000 09 0a 1d 03 04 03000000 736571 05 01000000 0a 0a 8c 09 79";
const V8_5: &str = "75000000 01 03 04 03000000 756964 05 07000000 03 02000000 7531 0a 29 03 04 03000000 736571 05 01000000 0b 0a 8b 02 03 04 01000000 62 05 02000000 02 01 0a 3e 03 04 03000000 62696e 05 07000000 07 02000000 0102 0a 00 09 69";
const V8_6: &str = "75000000010304030000007569640507000000030200000075310a2903040300000073657105090000000001000000000000000a4b09b5";

const TS: i64 = 1_700_000_000_000;

fn pk(name: &str, value: PrimaryKeyValue) -> PrimaryKeyColumn {
    PrimaryKeyColumn::new(name, value)
}

fn s(v: &str) -> String {
    v.to_owned()
}

fn uid_seq_pk() -> Vec<PrimaryKeyColumn> {
    vec![
        pk("uid", PrimaryKeyValue::String(s("u1"))),
        pk("seq", PrimaryKeyValue::Integer(1)),
    ]
}

fn row_8_1() -> Row {
    Row {
        primary_key: uid_seq_pk(),
        cells: vec![
            Cell::put("msg", ColumnValue::String(s("hi")), None),
            Cell::put("n", ColumnValue::Integer(7), Some(TS)),
        ],
        delete_marker: false,
    }
}

fn row_8_2() -> Row {
    Row {
        primary_key: vec![pk("pk", PrimaryKeyValue::String(s("a")))],
        cells: vec![
            Cell::put("x", ColumnValue::Double(1.5), None),
            Cell {
                name: s("c"),
                value: None,
                op: Some(CellOp::DeleteOneVersion),
                timestamp: Some(TS),
            },
            Cell {
                name: s("d"),
                value: None,
                op: Some(CellOp::DeleteAllVersions),
                timestamp: None,
            },
            Cell {
                name: s("cnt"),
                value: Some(ColumnValue::Integer(1)),
                op: Some(CellOp::Increment),
                timestamp: None,
            },
        ],
        delete_marker: false,
    }
}

fn row_8_3() -> Row {
    Row {
        primary_key: vec![pk("pk", PrimaryKeyValue::Integer(5))],
        cells: vec![],
        delete_marker: true,
    }
}

fn row_8_4() -> Row {
    Row {
        primary_key: vec![
            pk("uid", PrimaryKeyValue::InfMin),
            pk("seq", PrimaryKeyValue::InfMax),
        ],
        ..Row::default()
    }
}

fn row_8_5() -> Row {
    Row {
        primary_key: vec![
            pk("uid", PrimaryKeyValue::String(s("u1"))),
            pk("seq", PrimaryKeyValue::AutoIncrement),
        ],
        cells: vec![
            Cell::put("b", ColumnValue::Boolean(true), None),
            Cell::put("bin", ColumnValue::Binary(vec![1, 2]), None),
        ],
        delete_marker: false,
    }
}

fn vectors() -> Vec<(&'static str, &'static str, Row)> {
    vec![
        ("8.1", V8_1, row_8_1()),
        ("8.2", V8_2, row_8_2()),
        ("8.3", V8_3, row_8_3()),
        ("8.4", V8_4, row_8_4()),
        ("8.5", V8_5, row_8_5()),
        (
            "8.6",
            V8_6,
            Row {
                primary_key: uid_seq_pk(),
                ..Row::default()
            },
        ),
    ]
}

#[test]
fn documented_vectors_decode_to_expected_rows() {
    for (name, bytes, want) in vectors() {
        assert_eq!(decode_row(&hex(bytes)), Ok(want), "vector {name}");
    }
}

#[test]
fn documented_vectors_reencode_to_identical_bytes() {
    for (name, bytes, row) in vectors() {
        assert_eq!(encode_row(&row), hex(bytes), "vector {name}");
    }
}

#[test]
fn pre_encoded_cells_reproduce_the_documented_vectors() {
    for (name, bytes, row) in vectors().into_iter().filter(|(_, _, r)| !r.delete_marker) {
        let pk = row
            .primary_key
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_pk_ref()));
        let encoded = encode_row_with_cells(pk, &EncodedCells::new(&row.cells));
        assert_eq!(encoded, hex(bytes), "vector {name}");
    }
}

#[test]
fn primary_key_encoding_matches_vector_8_6() {
    assert_eq!(encode_primary_key(&uid_seq_pk()), hex(V8_6));
}

#[test]
fn single_row_vectors_decode_as_row_lists() {
    for (name, bytes, row) in vectors() {
        assert_eq!(decode_rows(&hex(bytes)), Ok(vec![row]), "vector {name}");
    }
}

// ---------------------------------------------------------------- 8.7 protobuf bodies

fn body(parts: &[&str]) -> Vec<u8> {
    hex(&parts.concat())
}

fn assert_reencodes<M: Message + Default + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> M {
    let msg = M::decode(bytes).expect("protobuf decodes");
    assert_eq!(
        msg.encode_to_vec(),
        bytes,
        "prost re-encodes the same bytes"
    );
    msg
}

#[test]
fn put_row_request_body_decodes() {
    let bytes = body(&["0a0174126f", V8_1, "1a02080022020801"]);
    let req: pb::PutRowRequest = assert_reencodes(&bytes);
    assert_eq!(req.table_name, "t");
    assert_eq!(decode_row(&req.row), Ok(row_8_1()));
    assert_eq!(
        req.condition.row_existence,
        pb::RowExistenceExpectation::Ignore as i32
    );
    let rc = req.return_content.expect("return_content");
    assert_eq!(rc.return_type, Some(pb::ReturnType::RtPk as i32));
}

#[test]
fn get_row_request_body_decodes() {
    let bytes = body(&["0a01741237", V8_6, "1a036d73672801"]);
    let req: pb::GetRowRequest = assert_reencodes(&bytes);
    assert_eq!(req.table_name, "t");
    assert_eq!(
        decode_row(&req.primary_key).map(|r| r.primary_key),
        Ok(uid_seq_pk())
    );
    assert_eq!(req.columns_to_get, vec![s("msg")]);
    assert_eq!(req.max_versions, Some(1));
    assert_eq!(req.transaction_id, None);
}

#[test]
fn delete_row_request_body_decodes() {
    let bytes = body(&["0a01741220", V8_3, "1a020801"]);
    let req: pb::DeleteRowRequest = assert_reencodes(&bytes);
    assert_eq!(decode_row(&req.primary_key), Ok(row_8_3()));
    assert_eq!(
        req.condition.row_existence,
        pb::RowExistenceExpectation::ExpectExist as i32
    );
}

#[test]
fn update_row_request_body_decodes_with_nested_filter() {
    let bytes = body(&[
        "0a0174126e",
        V8_2,
        "1a1c0800121808011214080112036d73671a070302000000686920002801",
    ]);
    let req: pb::UpdateRowRequest = assert_reencodes(&bytes);
    assert_eq!(decode_row(&req.row_change), Ok(row_8_2()));
    let cond = req.condition;
    assert_eq!(
        cond.row_existence,
        pb::RowExistenceExpectation::Ignore as i32
    );
    let filter = pb::Filter::decode(cond.column_condition.expect("condition").as_slice())
        .expect("Filter decodes");
    assert_eq!(filter.r#type, pb::FilterType::FtSingleColumnValue as i32);
    let single = pb::SingleColumnValueFilter::decode(filter.filter.as_slice())
        .expect("SingleColumnValueFilter decodes");
    assert_eq!(single.comparator, pb::ComparatorType::CtEqual as i32);
    assert_eq!(single.column_name, "msg");
    assert_eq!(
        decode_value(&single.column_value),
        Ok(ColumnValue::String(s("hi")))
    );
    assert!(!single.filter_if_missing);
    assert!(single.latest_version_only);
}

#[test]
fn get_range_request_body_decodes() {
    let start = encode_primary_key(&[
        pk("uid", PrimaryKeyValue::InfMin),
        pk("seq", PrimaryKeyValue::InfMin),
    ]);
    let end = encode_primary_key(&[
        pk("uid", PrimaryKeyValue::InfMax),
        pk("seq", PrimaryKeyValue::InfMax),
    ]);
    assert_eq!(start.len(), 0x29);
    let mut bytes = hex("0a01741000280130643a29");
    bytes.extend_from_slice(&start);
    bytes.extend_from_slice(&hex("4229"));
    bytes.extend_from_slice(&end);
    let req: pb::GetRangeRequest = assert_reencodes(&bytes);
    assert_eq!(req.direction, pb::Direction::Forward as i32);
    assert_eq!(req.max_versions, Some(1));
    assert_eq!(req.limit, Some(100));
    assert_eq!(
        req.data_block_type_hint(),
        pb::DataBlockType::DbtPlainBuffer
    );
    assert!(req.return_entire_primary_keys());
    let start_row = decode_row(&req.inclusive_start_primary_key).expect("start key");
    assert_eq!(start_row.primary_key[1].value, PrimaryKeyValue::InfMin);
    let end_row = decode_row(&req.exclusive_end_primary_key).expect("end key");
    assert_eq!(end_row.primary_key[0].value, PrimaryKeyValue::InfMax);
}

#[test]
fn required_empty_fields_are_always_encoded() {
    let consumed = pb::ConsumedCapacity {
        capacity_unit: pb::CapacityUnit {
            read: Some(1),
            write: Some(0),
        },
        capacity_data_size: None,
    };
    let resp = pb::GetRowResponse {
        consumed,
        row: vec![],
        next_token: None,
    };
    // 0a 06 { 0a 04 { 08 01 10 00 } } 12 00
    assert_eq!(resp.encode_to_vec(), hex("0a060a04080110001200"));
    let range = pb::GetRangeResponse {
        consumed,
        rows: vec![],
        ..Default::default()
    };
    assert!(range.encode_to_vec().ends_with(&[0x12, 0x00]));
    let err = pb::Error {
        code: s("OTSParameterInvalid"),
        message: None,
        access_denied_detail: None,
    };
    assert_eq!(err.encode_to_vec()[..2], [0x0a, 19]);
}

// ---------------------------------------------------------------- encoders

#[test]
fn rows_encoder_writes_one_header_and_nothing_when_empty() {
    assert!(RowsEncoder::new().finish().is_empty());
    let rows = vec![row_8_1(), row_8_4(), row_8_1()];
    let mut enc = RowsEncoder::new();
    for r in &rows {
        enc.push(r);
    }
    assert_eq!(enc.len(), 3);
    let bytes = enc.finish();
    assert_eq!(&bytes[..4], &[0x75, 0, 0, 0]);
    assert_eq!(
        bytes.windows(4).filter(|w| *w == [0x75, 0, 0, 0]).count(),
        1
    );
    assert_eq!(decode_rows(&bytes), Ok(rows));
}

#[test]
fn push_parts_matches_push_of_the_same_row() {
    let row = row_8_1();
    let mut a = RowsEncoder::new();
    a.push(&row);
    let mut b = RowsEncoder::with_capacity(128);
    b.push_parts(
        row.primary_key
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_pk_ref())),
        row.cells.iter().map(|c| CellRef {
            name: &c.name,
            value: c
                .value
                .as_ref()
                .map(ColumnValue::as_value_ref)
                .expect("put"),
            timestamp: c.timestamp,
        }),
    );
    assert_eq!(b.encoded_len(), hex(V8_1).len());
    assert_eq!(a.finish(), b.finish());
}

#[test]
fn lone_header_and_empty_buffer_are_zero_rows() {
    assert_eq!(decode_rows(&[]), Ok(vec![]));
    assert_eq!(decode_rows(&hex("75000000")), Ok(vec![]));
    assert!(decode_row(&[]).is_err());
    assert!(decode_row(&hex("75000000")).is_err());
}

#[test]
fn filter_value_is_type_byte_and_payload_only() {
    let v = ColumnValue::String(s("hi"));
    assert_eq!(encode_value(&v), hex("03 02000000 6869"));
    assert_eq!(decode_value(&hex("03 02000000 6869")), Ok(v));
    assert_eq!(
        decode_pk_value(&encode_pk_value(&PrimaryKeyValue::InfMin)),
        Ok(PrimaryKeyValue::InfMin)
    );
    assert_eq!(
        decode_pk_value(&hex("00 2a00000000000000")),
        Ok(PrimaryKeyValue::Integer(42))
    );
    assert!(
        decode_value(&hex("09")).is_err(),
        "INF_MIN is not a column value"
    );
    assert!(
        decode_pk_value(&hex("01 0000000000000000")).is_err(),
        "double PK"
    );
    assert!(
        decode_value(&hex("03 02000000 686900")).is_err(),
        "trailing byte"
    );
    // A bare key value tolerates the Node SDK's zero padding, and nothing else after it.
    let mut padded = encode_pk_value(&PrimaryKeyValue::InfMax);
    padded.push(0);
    assert_eq!(decode_pk_value(&padded), Ok(PrimaryKeyValue::InfMax));
    padded.push(1);
    assert!(decode_pk_value(&padded).is_err(), "non-zero trailing byte");
}

// ---------------------------------------------------------------- round trips

fn roundtrip(row: &Row) {
    let bytes = encode_row(row);
    assert_eq!(decode_row(&bytes).as_ref(), Ok(row));
}

#[test]
fn every_value_type_and_edge_round_trips() {
    let values = [
        ColumnValue::Integer(0),
        ColumnValue::Integer(i64::MIN),
        ColumnValue::Integer(i64::MAX),
        ColumnValue::Double(0.0),
        ColumnValue::Double(-0.0),
        ColumnValue::Double(f64::NAN),
        ColumnValue::Double(f64::from_bits(0x7ff8_dead_beef_0001)),
        ColumnValue::Double(f64::INFINITY),
        ColumnValue::Boolean(false),
        ColumnValue::Boolean(true),
        ColumnValue::String(String::new()),
        ColumnValue::String(s("多字节 ✓")),
        ColumnValue::Binary(vec![]),
        ColumnValue::Binary(vec![0x00, 0xff, 0x75, 0x09]),
    ];
    for v in values {
        roundtrip(&Row {
            primary_key: vec![pk("", PrimaryKeyValue::Binary(vec![0x00, 0xff]))],
            cells: vec![Cell::put("", v.clone(), Some(i64::MIN))],
            delete_marker: false,
        });
        assert_eq!(decode_value(&encode_value(&v)), Ok(v));
    }
    for p in [
        PrimaryKeyValue::Integer(i64::MIN),
        PrimaryKeyValue::Integer(i64::MAX),
        PrimaryKeyValue::String(String::new()),
        PrimaryKeyValue::Binary(vec![]),
        PrimaryKeyValue::InfMin,
        PrimaryKeyValue::InfMax,
        PrimaryKeyValue::AutoIncrement,
    ] {
        roundtrip(&Row {
            primary_key: vec![pk("k", p.clone())],
            ..Row::default()
        });
        assert_eq!(decode_pk_value(&encode_pk_value(&p)), Ok(p));
    }
}

#[test]
fn nan_doubles_compare_by_bits() {
    assert_eq!(ColumnValue::Double(f64::NAN), ColumnValue::Double(f64::NAN));
    assert_ne!(ColumnValue::Double(0.0), ColumnValue::Double(-0.0));
    assert_ne!(ColumnValue::Integer(1), ColumnValue::Double(1.0));
}

fn arb_pk_value() -> impl Strategy<Value = PrimaryKeyValue> {
    prop_oneof![
        any::<i64>().prop_map(PrimaryKeyValue::Integer),
        ".{0,8}".prop_map(PrimaryKeyValue::String),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(PrimaryKeyValue::Binary),
        Just(PrimaryKeyValue::InfMin),
        Just(PrimaryKeyValue::InfMax),
        Just(PrimaryKeyValue::AutoIncrement),
    ]
}

fn arb_value() -> impl Strategy<Value = ColumnValue> {
    prop_oneof![
        any::<i64>().prop_map(ColumnValue::Integer),
        any::<u64>().prop_map(|b| ColumnValue::Double(f64::from_bits(b))),
        any::<bool>().prop_map(ColumnValue::Boolean),
        ".{0,8}".prop_map(ColumnValue::String),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(ColumnValue::Binary),
    ]
}

fn arb_cell() -> impl Strategy<Value = Cell> {
    (
        ".{0,6}",
        proptest::option::of(arb_value()),
        proptest::option::of(prop_oneof![
            Just(CellOp::DeleteAllVersions),
            Just(CellOp::DeleteOneVersion),
            Just(CellOp::Increment),
        ]),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(name, value, op, timestamp)| Cell {
            name,
            value,
            op,
            timestamp,
        })
}

fn arb_row() -> impl Strategy<Value = Row> {
    (
        proptest::collection::vec(
            (".{0,6}", arb_pk_value()).prop_map(|(n, v)| PrimaryKeyColumn::new(n, v)),
            0..4,
        ),
        proptest::collection::vec(arb_cell(), 0..5),
        any::<bool>(),
    )
        .prop_map(|(primary_key, cells, delete_marker)| Row {
            primary_key,
            cells,
            delete_marker,
        })
}

proptest! {
    #[test]
    fn arbitrary_rows_round_trip(rows in proptest::collection::vec(arb_row(), 0..4)) {
        for r in &rows {
            prop_assert_eq!(decode_row(&encode_row(r)), Ok(r.clone()));
        }
        let mut enc = RowsEncoder::new();
        for r in &rows {
            enc.push(r);
        }
        prop_assert_eq!(decode_rows(&enc.finish()), Ok(rows));
    }

    #[test]
    fn rows_with_pre_encoded_cells_match_encode_row(mut row in arb_row()) {
        row.delete_marker = false;
        let cells = EncodedCells::new(&row.cells);
        let pk = row.primary_key.iter().map(|c| (c.name.as_str(), c.value.as_pk_ref()));
        prop_assert_eq!(encode_row_with_cells(pk, &cells), encode_row(&row));
    }

    #[test]
    fn mutated_encodings_fail_or_round_trip(
        row in arb_row(),
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_row(&row);
        for (at, b) in edits {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        if let Ok(decoded) = decode_row(&bytes) {
            prop_assert_eq!(decode_row(&encode_row(&decoded)), Ok(decoded));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = decode_rows(&bytes);
        let _ = decode_row(&bytes);
        let _ = decode_value(&bytes);
        let _ = decode_pk_value(&bytes);
    }
}

// ---------------------------------------------------------------- rejection

fn err_of(bytes: &[u8]) -> DecodeError {
    decode_row(bytes).expect_err("must be rejected")
}

#[test]
fn every_single_byte_corruption_of_8_1_is_rejected_or_reparses() {
    let good = hex(V8_1);
    // The int32 value prefixes (after each TAG_CELL_VALUE) are bounds-checked but otherwise
    // ignored, like every SDK reader does (the SDKs disagree on what they count), so a
    // corrupted prefix that still fits the buffer goes unnoticed by design.
    let prefix_at = [15usize, 38, 64, 85];
    let in_prefix = |i: usize| prefix_at.iter().any(|&p| (p..p + 4).contains(&i));
    for i in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= flip;
            // Either an error or some other valid parse; never a panic, never the same row.
            if let Ok(row) = decode_row(&bad) {
                assert!(
                    row != row_8_1() || in_prefix(i),
                    "byte {i} ^ {flip:#x} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn every_truncation_is_rejected() {
    for (name, bytes, _) in vectors() {
        let full = hex(bytes);
        for len in 0..full.len() {
            assert!(decode_row(&full[..len]).is_err(), "{name} cut at {len}");
            if len > 4 {
                assert!(
                    decode_rows(&full[..len]).is_err(),
                    "{name} rows cut at {len}"
                );
            }
        }
    }
}

#[test]
fn checksum_mismatches_are_named() {
    let mut bad = hex(V8_1);
    // The first cell checksum byte (uid) sits right after its 0x0a tag.
    let cell_crc_at = bad
        .windows(2)
        .position(|w| w == [0x0a, 0x29])
        .expect("uid cell checksum")
        + 1;
    bad[cell_crc_at] ^= 0x10;
    let e = err_of(&bad);
    assert!(e.what.contains("cell checksum mismatch"), "{e}");
    assert_eq!(e.offset, cell_crc_at);

    let mut bad = hex(V8_1);
    let last = bad.len() - 1;
    bad[last] ^= 0x10;
    let e = err_of(&bad);
    assert!(e.what.contains("row checksum mismatch"), "{e}");
    assert_eq!(e.to_string(), format!("{} at offset {last}", e.what));
}

#[test]
fn malformed_structure_is_rejected_with_a_reason() {
    let cases: &[(&str, &str, &str)] = &[
        ("bad header", "76000000 01 09 00", "bad header"),
        ("unknown tag in row", "75000000 01 0b", "TAG_ROW_CHECKSUM"),
        (
            "negative name length",
            "75000000 01 03 04 ffffffff",
            "negative cell name length",
        ),
        (
            "overlong name length",
            "75000000 01 03 04 ffffff7f 6162",
            "exceeds",
        ),
        (
            "invalid utf-8 name",
            "75000000 01 03 04 01000000 ff 05 09000000 00 0000000000000000 0a 00 09 00",
            "invalid UTF-8",
        ),
        (
            "unknown value type",
            "75000000 01 03 04 01000000 6b 05 01000000 0c 0a 00 09 00",
            "unknown value type",
        ),
        (
            "null value",
            "75000000 01 03 04 01000000 6b 05 01000000 06 0a 00 09 00",
            "NULL",
        ),
        (
            "overlong string value",
            "75000000 01 03 04 01000000 6b 05 09000000 03 ffffff00 61 0a 00 09 00",
            "exceeds",
        ),
        (
            "unknown cell op",
            "75000000 01 02 03 04 01000000 6b 06 02 0a 00 09 00",
            "unknown cell op",
        ),
        (
            "duplicate timestamp",
            "75000000 01 02 03 04 01000000 6b 07 0000000000000000 07 0000000000000000 0a 00 09 00",
            "unexpected tag 0x07",
        ),
        (
            "boolean byte 2",
            "75000000 01 02 03 04 01000000 6b 05 02000000 02 02 0a 00 09 00",
            "BOOLEAN",
        ),
        ("second header", "75000000 01 09 00 75000000", "trailing"),
    ];
    for (name, bytes, want) in cases {
        let e = err_of(&hex(bytes));
        assert!(e.what.contains(want), "{name}: got {e}");
    }
}

#[test]
fn trailing_garbage_after_a_row_is_rejected_but_zero_padding_is_not() {
    let mut bytes = hex(V8_6);
    // The Node SDK pads rows that hold placeholders with unused zero bytes.
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(
        decode_row(&bytes).expect("padding"),
        decode_row(&hex(V8_6)).unwrap()
    );
    bytes.push(0x07);
    let e = err_of(&bytes);
    assert_eq!(e.offset, bytes.len() - 1);
    assert!(decode_rows(&bytes).is_err());
}

#[test]
fn huge_declared_lengths_fail_before_allocating() {
    // A blob claiming 2 GiB inside a 30-byte buffer is refused by the length check.
    let e = decode_value(&hex("07 ffffff7f 00")).expect_err("overlong");
    assert!(e.what.contains("BLOB length"), "{e}");
    assert_eq!(e.offset, 1);
}
