//! AddDefinedColumn and DeleteDefinedColumn: change a table's predefined columns. Both answer
//! an empty message; DescribeTable shows the result.

use crate::api::convert::{decode_request, encode_response};
use crate::api::create_table::defined_type;
use crate::error::{OtsError, OtsResult};
use crate::protocol::pb;
use crate::table::schema::DefinedColumnSchema;
use crate::table::Catalog;

/// Handles AddDefinedColumn.
///
/// Errors: 404 for a missing table; 400 for no columns, a bad name or type, a name already
/// defined or used by the primary key, or more than 32 defined columns in all.
pub fn add_defined_column(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::AddDefinedColumnRequest = decode_request(body)?;
    catalog.table(instance, &req.table_name)?;
    if req.columns.is_empty() {
        return Err(OtsError::param("No defined column is specified to add."));
    }
    let mut added = Vec::with_capacity(req.columns.len());
    for col in req.columns {
        added.push(DefinedColumnSchema {
            column_type: defined_type(col.r#type)?,
            name: col.name,
        });
    }
    catalog.change_defined_columns(instance, &req.table_name, |columns| {
        columns.extend(added);
        Ok(())
    })?;
    Ok(encode_response(&pb::AddDefinedColumnResponse {}))
}

/// Handles DeleteDefinedColumn. Stored cells of a removed column stay readable as ordinary
/// attribute columns.
///
/// Errors: 404 for a missing table; 400 for no columns or a name that is not defined.
pub fn delete_defined_column(catalog: &Catalog, instance: &str, body: &[u8]) -> OtsResult<Vec<u8>> {
    let req: pb::DeleteDefinedColumnRequest = decode_request(body)?;
    catalog.table(instance, &req.table_name)?;
    if req.columns.is_empty() {
        return Err(OtsError::param("No defined column is specified to delete."));
    }
    catalog.change_defined_columns(instance, &req.table_name, |columns| {
        for name in &req.columns {
            let Some(at) = columns.iter().position(|c| &c.name == name) else {
                return Err(OtsError::param(format!(
                    "Defined column '{name}' does not exist."
                )));
            };
            columns.remove(at);
        }
        Ok(())
    })?;
    Ok(encode_response(&pb::DeleteDefinedColumnResponse {}))
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use crate::api::tests::open_with_table;
    use crate::api::{handle, Api};
    use crate::protocol::pb;
    use crate::table::Catalog;

    fn column(name: &str, t: pb::DefinedColumnType) -> pb::DefinedColumnSchema {
        pb::DefinedColumnSchema {
            name: name.into(),
            r#type: t as i32,
        }
    }

    fn add(catalog: &Catalog, columns: Vec<pb::DefinedColumnSchema>) -> Result<(), String> {
        let req = pb::AddDefinedColumnRequest {
            table_name: "t".into(),
            columns,
        };
        handle(catalog, Api::AddDefinedColumn, "inst", &req.encode_to_vec())
            .map(|_| ())
            .map_err(|e| e.message)
    }

    fn delete(catalog: &Catalog, table: &str, columns: &[&str]) -> Result<(), String> {
        let req = pb::DeleteDefinedColumnRequest {
            table_name: table.into(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
        };
        handle(
            catalog,
            Api::DeleteDefinedColumn,
            "inst",
            &req.encode_to_vec(),
        )
        .map(|_| ())
        .map_err(|e| e.message)
    }

    fn described(catalog: &Catalog) -> Vec<(String, i32)> {
        let req = pb::DescribeTableRequest {
            table_name: "t".into(),
        };
        let body = handle(catalog, Api::DescribeTable, "inst", &req.encode_to_vec()).unwrap();
        pb::DescribeTableResponse::decode(&body[..])
            .unwrap()
            .table_meta
            .defined_column
            .into_iter()
            .map(|c| (c.name, c.r#type))
            .collect()
    }

    #[test]
    fn added_and_deleted_columns_show_in_describe_table_and_survive_a_restart() {
        use pb::DefinedColumnType::{DctInteger, DctString};
        let (dir, catalog) = open_with_table();
        add(
            &catalog,
            vec![column("a", DctString), column("b", DctInteger)],
        )
        .unwrap();
        delete(&catalog, "t", &["a"]).unwrap();
        let want = vec![("b".to_string(), DctInteger as i32)];
        assert_eq!(described(&catalog), want);
        catalog.close().unwrap();
        drop(catalog);
        let catalog = Catalog::open(dir.path()).unwrap();
        assert_eq!(described(&catalog), want);
    }

    #[test]
    fn bad_requests_are_refused_and_change_nothing() {
        use pb::DefinedColumnType::DctString;
        let (_dir, catalog) = open_with_table();
        add(&catalog, vec![column("a", DctString)]).unwrap();
        let refused = [
            add(&catalog, vec![]),
            add(&catalog, vec![column("a", DctString)]),
            add(&catalog, vec![column("pk", DctString)]),
            add(&catalog, vec![column("1bad", DctString)]),
            add(
                &catalog,
                vec![pb::DefinedColumnSchema {
                    name: "c".into(),
                    r#type: 99,
                }],
            ),
            add(
                &catalog,
                (0..32)
                    .map(|i| column(&format!("c{i}"), DctString))
                    .collect(),
            ),
            delete(&catalog, "t", &[]),
            delete(&catalog, "t", &["a", "missing"]),
        ];
        for r in &refused {
            assert!(r.is_err(), "{refused:?}");
        }
        assert_eq!(
            refused[1].as_ref().unwrap_err(),
            "Duplicated defined column name: 'a'."
        );
        assert_eq!(
            refused[7].as_ref().unwrap_err(),
            "Defined column 'missing' does not exist."
        );
        assert_eq!(
            described(&catalog),
            vec![("a".to_string(), DctString as i32)]
        );
        let e = handle(
            &catalog,
            Api::DeleteDefinedColumn,
            "inst",
            &pb::DeleteDefinedColumnRequest {
                table_name: "nope".into(),
                columns: vec!["a".into()],
            }
            .encode_to_vec(),
        )
        .unwrap_err();
        assert_eq!(e.code.as_str(), "OTSObjectNotExist");
    }
}
