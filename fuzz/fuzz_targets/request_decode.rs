//! Fuzzes request decoding as the api layer does it: every request message through prost,
//! then the PlainBuffer and filter payloads they carry. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otsd::protocol::pb;
use otsd::protocol::plainbuffer::{decode_pk_value, decode_row, decode_value};
use prost::Message;

/// Decodes a serialized `Filter` and everything it carries.
fn filter_bytes(bytes: &[u8]) {
    if let Ok(f) = pb::Filter::decode(bytes) {
        filter(&f, 0);
    }
}

/// Decodes the sub-filter a `Filter` names, its operand and (recursively) its children.
fn filter(f: &pb::Filter, depth: u32) {
    if depth > 32 {
        return;
    }
    if let Ok(single) = pb::SingleColumnValueFilter::decode(f.filter.as_slice()) {
        let _ = decode_value(&single.column_value);
    }
    if let Ok(composite) = pb::CompositeColumnValueFilter::decode(f.filter.as_slice()) {
        for sub in &composite.sub_filters {
            filter(sub, depth + 1);
        }
    }
    let _ = pb::ColumnPaginationFilter::decode(f.filter.as_slice());
}

fn condition(c: &pb::Condition) {
    if let Some(cc) = &c.column_condition {
        filter_bytes(cc);
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the API so the fuzzer explores each message's shape.
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 12 {
        0 => {
            if let Ok(r) = pb::PutRowRequest::decode(body) {
                let _ = decode_row(&r.row);
                condition(&r.condition);
            }
        }
        1 => {
            if let Ok(r) = pb::UpdateRowRequest::decode(body) {
                let _ = decode_row(&r.row_change);
                condition(&r.condition);
            }
        }
        2 => {
            if let Ok(r) = pb::DeleteRowRequest::decode(body) {
                let _ = decode_row(&r.primary_key);
                condition(&r.condition);
            }
        }
        3 => {
            if let Ok(r) = pb::GetRowRequest::decode(body) {
                let _ = decode_row(&r.primary_key);
                if let Some(f) = &r.filter {
                    filter_bytes(f);
                }
            }
        }
        4 => {
            if let Ok(r) = pb::GetRangeRequest::decode(body) {
                let _ = decode_row(&r.inclusive_start_primary_key);
                let _ = decode_row(&r.exclusive_end_primary_key);
                if let Some(f) = &r.filter {
                    filter_bytes(f);
                }
            }
        }
        5 => {
            if let Ok(r) = pb::BatchGetRowRequest::decode(body) {
                for t in &r.tables {
                    for pk in &t.primary_key {
                        let _ = decode_row(pk);
                    }
                    if let Some(f) = &t.filter {
                        filter_bytes(f);
                    }
                }
            }
        }
        6 => {
            if let Ok(r) = pb::BatchWriteRowRequest::decode(body) {
                for t in &r.tables {
                    for row in &t.rows {
                        let _ = decode_row(&row.row_change);
                        condition(&row.condition);
                    }
                }
            }
        }
        7 => {
            if let Ok(r) = pb::CreateTableRequest::decode(body) {
                for p in &r.partitions {
                    let _ = decode_pk_value(&p.begin);
                    let _ = decode_pk_value(&p.end);
                }
            }
        }
        8 => {
            if let Ok(r) = pb::StartLocalTransactionRequest::decode(body) {
                let _ = decode_row(&r.key);
            }
        }
        9 => {
            let _ = pb::UpdateTableRequest::decode(body);
            let _ = pb::DescribeTableRequest::decode(body);
            let _ = pb::DeleteTableRequest::decode(body);
            let _ = pb::ListTableRequest::decode(body);
        }
        10 => {
            let _ = pb::ComputeSplitPointsBySizeRequest::decode(body);
            let _ = pb::CommitTransactionRequest::decode(body);
            let _ = pb::AbortTransactionRequest::decode(body);
        }
        _ => filter_bytes(body),
    }
});
