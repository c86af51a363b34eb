//! Every documented Tablestore limit, next to the check that raises its error. Values come
//! from the "limits on the wide-column model" page (SEMANTICS.md §3).

use crate::error::{OtsError, OtsResult};

/// Longest table or column name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Most primary-key columns in a table.
pub const MAX_PK_COLUMNS: usize = 4;
/// Most predefined columns in a table.
pub const MAX_DEFINED_COLUMNS: usize = 32;
/// Most tables in one instance.
pub const MAX_TABLES_PER_INSTANCE: usize = 64;
/// Smallest TTL other than -1, in seconds (one day).
pub const MIN_TIME_TO_LIVE_SECS: i32 = 86400;
/// Largest reserved read or write CU.
pub const MAX_RESERVED_CU: i32 = 100_000;
/// Longest STRING/BINARY primary-key value, in bytes.
pub const MAX_PK_VALUE_BYTES: usize = 1024;
/// Longest STRING/BINARY attribute value, in bytes.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 2 << 20;
/// Most attribute columns written to one row in one request.
pub const MAX_COLUMNS_PER_WRITE: usize = 1024;
/// Most names in columns_to_get.
pub const MAX_COLUMNS_TO_GET: usize = 128;
/// Most rows in one BatchGetRow.
pub const MAX_BATCH_GET_ROWS: usize = 100;
/// Most rows in one BatchWriteRow.
pub const MAX_BATCH_WRITE_ROWS: usize = 200;
/// Most rows in one GetRange response.
pub const MAX_RANGE_ROWS: usize = 5000;
/// Most PlainBuffer bytes in one GetRange response.
pub const MAX_RANGE_BYTES: usize = 4 << 20;
/// Most bytes of row data in one PutRow/UpdateRow/BatchWriteRow request.
pub const MAX_WRITE_REQUEST_BYTES: usize = 4 << 20;

/// Checks a STRING/BINARY primary-key value length.
pub fn check_pk_value_len(column: &str, len: usize) -> OtsResult<()> {
    if len > MAX_PK_VALUE_BYTES {
        return Err(OtsError::param(format!(
            "The length of primary key column: '{column}' exceeds the MaxLength: {MAX_PK_VALUE_BYTES} with CurrentLength: {len}."
        )));
    }
    Ok(())
}

/// Checks a STRING/BINARY attribute value length.
pub fn check_attribute_value_len(column: &str, len: usize) -> OtsResult<()> {
    if len > MAX_ATTRIBUTE_VALUE_BYTES {
        return Err(OtsError::param(format!(
            "The length of attribute column: '{column}' exceeded the MaxLength:{MAX_ATTRIBUTE_VALUE_BYTES} with Current Length:{len}."
        )));
    }
    Ok(())
}

/// Checks how many attribute columns one row write touches.
pub fn check_columns_per_write(count: usize) -> OtsResult<()> {
    if count > MAX_COLUMNS_PER_WRITE {
        return Err(OtsError::param(format!(
            "The number of attribute columns exceeds the limit, limit count: {MAX_COLUMNS_PER_WRITE}, column count: {count}."
        )));
    }
    Ok(())
}

/// Checks the length of columns_to_get.
pub fn check_columns_to_get(count: usize) -> OtsResult<()> {
    if count > MAX_COLUMNS_TO_GET {
        return Err(OtsError::param(format!(
            "The number of columns from the request exceeds the limit, limit count: {MAX_COLUMNS_TO_GET}, column count: {count}."
        )));
    }
    Ok(())
}

/// Checks the row count of a batch request against `limit`.
pub fn check_batch_rows(count: usize, limit: usize) -> OtsResult<()> {
    if count > limit {
        return Err(OtsError::param(format!(
            "Rows count exceeds the upper limit: {limit}."
        )));
    }
    Ok(())
}

/// Checks the row-data size of a write request named `api`.
pub fn check_write_request_bytes(api: &str, bytes: usize) -> OtsResult<()> {
    if bytes > MAX_WRITE_REQUEST_BYTES {
        return Err(OtsError::param(format!(
            "The total data size of {api} request exceeds the limit, limit size: {MAX_WRITE_REQUEST_BYTES}, data size: {bytes}."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_pass_at_the_boundary_and_fail_past_it() {
        assert!(check_pk_value_len("k", 1024).is_ok());
        assert!(check_pk_value_len("k", 1025).is_err());
        assert!(check_attribute_value_len("c", 2 << 20).is_ok());
        assert!(check_attribute_value_len("c", (2 << 20) + 1).is_err());
        assert!(check_columns_per_write(1024).is_ok());
        assert!(check_columns_per_write(1025).is_err());
        assert!(check_columns_to_get(128).is_ok());
        assert!(check_columns_to_get(129).is_err());
        assert!(check_batch_rows(100, MAX_BATCH_GET_ROWS).is_ok());
        assert_eq!(
            check_batch_rows(201, MAX_BATCH_WRITE_ROWS)
                .unwrap_err()
                .message,
            "Rows count exceeds the upper limit: 200."
        );
        assert!(check_write_request_bytes("PutRow", 4 << 20).is_ok());
        assert!(check_write_request_bytes("PutRow", (4 << 20) + 1).is_err());
    }
}
