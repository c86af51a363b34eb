//! Instances -> tables: create, open, list, update and drop tables. Each instance is its own
//! namespace under `<data_dir>/<instance>/`, created on first use; each table lives in
//! `<instance>/<table>/` with `table.json` (schema and options) beside the engine's `engine/`.
//!
//! Crash safety: `table.json` is written to a temp file, fsynced, renamed, and the folder is
//! fsynced, so a table either has a complete meta file or is a leftover of an interrupted
//! create (no meta file) that `open` removes. A dropped table is first renamed to a dot-name
//! (`.dropped-<table>-<nanos>`), so a crash mid-removal never brings it back.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use serde::{Deserialize, Serialize};

use crate::engine::PkValue;
use crate::engine::{self, Engine};
use crate::error::{ErrorCode, OtsError, OtsResult};
use crate::table::index::{self, IndexMeta};
use crate::table::limits;
use crate::table::schema::{validate_pk, PkInput, PkUse};
use crate::table::schema::{
    validate_reserved, validate_table_name, CapacityUnits, DefinedColumnSchema, TableOptions,
    TableOptionsPatch, TableSchema,
};
use crate::table::transaction::{self, Transaction};
use crate::table::Table;

/// File holding a table's schema and options.
const META_FILE: &str = "table.json";
/// Folder of a table's engine.
const ENGINE_DIR: &str = "engine";
/// The file a running otsd locks in the data directory.
const DIR_LOCK_FILE: &str = "LOCK";
/// Version of the `table.json` layout.
const META_FORMAT: u32 = 1;

/// Everything about a table that is not row data; persisted as `table.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMeta {
    /// Layout version of this record.
    pub format: u32,
    /// Name, primary key and defined columns (fixed at creation).
    pub schema: TableSchema,
    /// Current options.
    pub options: TableOptions,
    /// Reserved read/write CU.
    pub reserved: CapacityUnits,
    /// When reserved throughput last went up (seconds since epoch); creation time at first.
    pub last_increase_time_secs: i64,
    /// When reserved throughput last went down (seconds since epoch), if ever.
    pub last_decrease_time_secs: Option<i64>,
    /// When the table was created, in microseconds since epoch.
    pub creation_time_us: i64,
    /// Secondary indexes, in creation order.
    #[serde(default)]
    pub indexes: Vec<IndexMeta>,
    /// The id the next index gets (ids are never reused).
    #[serde(default)]
    pub next_index_id: u32,
}

/// All instances and their tables under one data directory.
pub struct Catalog {
    data_dir: PathBuf,
    engine_options: engine::Options,
    // instance -> table name -> table. Lock order: this lock, then a table's locks.
    instances: RwLock<HashMap<String, BTreeMap<String, Arc<Table>>>>,
    // Open local transactions by id; a sweeper thread drops expired ones.
    transactions: Arc<Mutex<HashMap<String, OpenTransaction>>>,
    txn_timeout: Duration,
    /// Serializes CreateIndex and DropIndex (each allocates ids and names).
    index_ddl: Mutex<()>,
    /// Held for the catalog's life: one process per data directory.
    _dir_lock: fs::File,
}

/// Locks `data_dir` for this process, so a second otsd on it fails at start-up with a
/// clear message instead of serving the tables the first one does not have open.
fn lock_data_dir(data_dir: &Path) -> OtsResult<fs::File> {
    let path = data_dir.join(DIR_LOCK_FILE);
    engine::try_lock_file(&path)
        .map_err(|e| open_err("cannot open", &path, e))?
        .ok_or_else(|| {
            OtsError::new(
                ErrorCode::InternalServerError,
                format!(
                    "another otsd process is using it (it holds {})",
                    path.display()
                ),
            )
        })
}

/// A registered local transaction: where it lives and its state.
#[derive(Clone)]
struct OpenTransaction {
    instance: String,
    table: Arc<Table>,
    txn: Arc<Transaction>,
}

/// How often the sweeper looks for expired transactions.
const TXN_SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// Forgets expired transactions and frees their partitions.
fn sweep_transactions(registry: &Mutex<HashMap<String, OpenTransaction>>) {
    let open: Vec<OpenTransaction> = registry.lock().values().cloned().collect();
    for entry in open {
        if !entry.txn.is_live() {
            entry.table.release_partition(&entry.txn);
            registry.lock().remove(entry.txn.id());
        }
    }
}

fn start_sweeper(registry: Weak<Mutex<HashMap<String, OpenTransaction>>>) {
    let spawned = std::thread::Builder::new()
        .name("otsd-txn-sweep".into())
        .spawn(move || loop {
            std::thread::sleep(TXN_SWEEP_INTERVAL);
            match registry.upgrade() {
                Some(registry) => sweep_transactions(&registry),
                None => return,
            }
        });
    if let Err(e) = spawned {
        // Expiry is still checked lazily on every use; only idle memory stays longer.
        tracing::warn!(error = %e, "cannot start the transaction sweeper");
    }
}

fn new_transaction_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A failure while opening the data directory at start-up. Only the operator reads it (it
/// ends the process), so it says what failed where, unlike the generic answer a client gets.
fn open_err(what: &str, path: &Path, err: impl std::fmt::Display) -> OtsError {
    OtsError::new(
        ErrorCode::InternalServerError,
        format!("{what} {}: {err}", path.display()),
    )
}

fn io_err(what: &str, path: &Path, err: std::io::Error) -> OtsError {
    tracing::error!(path = %path.display(), error = %err, "{what}");
    if engine::error::is_disk_full(&err) {
        return OtsError::disk_full();
    }
    if engine::error::is_out_of_descriptors(&err) {
        return OtsError::out_of_descriptors();
    }
    OtsError::internal()
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The error for a table that is not there: 400 when `name` could never be a table name
/// (the service checks the name before looking it up), else 404.
fn missing_table(name: &str) -> OtsError {
    match validate_table_name(name) {
        Err(e) => e,
        Ok(()) => OtsError::table_not_exist(),
    }
}

/// Checks that an instance name is safe to use as a folder name.
///
/// Errors: 403 OTSAuthFailed "The instance is not found." (the service's answer for an
/// instance it does not have): a name that cannot be a folder can never be created.
pub fn validate_instance_name(instance: &str) -> OtsResult<()> {
    let ok = !instance.is_empty()
        && instance.len() <= 64
        && instance.as_bytes()[0].is_ascii_alphanumeric()
        && instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        tracing::debug!(instance, "malformed instance name");
        Err(OtsError::auth("The instance is not found."))
    }
}

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of the folder.
fn write_atomically(path: &Path, bytes: &[u8]) -> OtsResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let mut file = fs::File::create(&tmp).map_err(|e| io_err("create meta temp file", &tmp, e))?;
    file.write_all(bytes)
        .map_err(|e| io_err("write meta temp file", &tmp, e))?;
    file.sync_all()
        .map_err(|e| io_err("fsync meta temp file", &tmp, e))?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| io_err("rename meta file", path, e))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> OtsResult<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("fsync folder", dir, e))
}

/// Persists `meta` as the table's `table.json` (atomically).
pub(crate) fn persist_meta(dir: &Path, meta: &TableMeta) -> OtsResult<()> {
    let bytes = serde_json::to_vec_pretty(meta).map_err(|e| {
        tracing::error!(error = %e, "encode table meta");
        OtsError::internal()
    })?;
    write_atomically(&dir.join(META_FILE), &bytes)
}

fn read_meta(dir: &Path) -> OtsResult<Option<TableMeta>> {
    let path = dir.join(META_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(open_err("cannot read", &path, e)),
    };
    let meta: TableMeta =
        serde_json::from_slice(&bytes).map_err(|e| open_err("cannot parse", &path, e))?;
    if meta.format != META_FORMAT {
        let why = format!("format {} is not {META_FORMAT}", meta.format);
        return Err(open_err("unknown table meta layout in", &path, why));
    }
    Ok(Some(meta))
}

impl Catalog {
    /// Opens (or creates) the data directory and every table in it, with default engine options.
    pub fn open(data_dir: &Path) -> OtsResult<Catalog> {
        Catalog::open_with(data_dir, engine::Options::default())
    }

    /// Like `open`, with the engine options every table is opened with.
    pub fn open_with(data_dir: &Path, engine_options: engine::Options) -> OtsResult<Catalog> {
        fs::create_dir_all(data_dir).map_err(|e| open_err("cannot create", data_dir, e))?;
        let dir_lock = lock_data_dir(data_dir)?;
        let mut instances = HashMap::new();
        let entries = fs::read_dir(data_dir).map_err(|e| open_err("cannot list", data_dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| open_err("cannot list", data_dir, e))?;
            let Some(instance) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !entry.path().is_dir() || validate_instance_name(&instance).is_err() {
                continue;
            }
            let tables = Catalog::open_instance(&entry.path(), &instance, &engine_options)?;
            instances.insert(instance, tables);
        }
        let transactions = Arc::new(Mutex::new(HashMap::new()));
        start_sweeper(Arc::downgrade(&transactions));
        Ok(Catalog {
            data_dir: data_dir.to_path_buf(),
            engine_options,
            instances: RwLock::new(instances),
            transactions,
            txn_timeout: transaction::timeout_from_env(),
            index_ddl: Mutex::new(()),
            _dir_lock: dir_lock,
        })
    }

    fn open_instance(
        dir: &Path,
        instance: &str,
        options: &engine::Options,
    ) -> OtsResult<BTreeMap<String, Arc<Table>>> {
        let mut tables = BTreeMap::new();
        let entries = fs::read_dir(dir).map_err(|e| open_err("cannot list", dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| open_err("cannot list", dir, e))?;
            let path = entry.path();
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !path.is_dir() {
                continue;
            }
            if name.starts_with('.') {
                // A drop that crashed after its rename: finish it.
                if let Err(e) = fs::remove_dir_all(&path) {
                    tracing::warn!(path = %path.display(), error = %e, "could not remove dropped table");
                }
                continue;
            }
            match read_meta(&path)? {
                Some(meta) => {
                    // At start-up the operator reads this error: keep the engine's detail.
                    let table =
                        Catalog::open_table(instance, &path, meta, options).map_err(|e| {
                            OtsError::new(
                                ErrorCode::InternalServerError,
                                format!("cannot open table {}: {e}", path.display()),
                            )
                        })?;
                    let table = Arc::new(table);
                    for index in table.indexes().iter() {
                        let name = index.meta.name.clone();
                        tables.insert(name, Arc::new(table.index_table(&index.meta)));
                    }
                    tables.insert(name, table);
                }
                None => {
                    // A create that crashed before its meta file was renamed into place.
                    tracing::warn!(path = %path.display(), "removing table folder without table.json");
                    if let Err(e) = fs::remove_dir_all(&path) {
                        tracing::warn!(path = %path.display(), error = %e, "could not remove half-created table");
                    }
                }
            }
        }
        Ok(tables)
    }

    fn open_table(
        instance: &str,
        dir: &Path,
        meta: TableMeta,
        options: &engine::Options,
    ) -> engine::Result<Table> {
        let engine = Engine::open(
            &dir.join(ENGINE_DIR),
            options.clone(),
            meta.options.data_options(),
        )?;
        Ok(Table::new(
            instance.to_string(),
            dir.to_path_buf(),
            meta,
            engine,
        ))
    }

    /// The data directory this catalog lives in.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The table `name` of `instance`.
    ///
    /// Errors: 400 OTSParameterInvalid for a malformed name (empty, too long, bad charset),
    /// else 404 OTSObjectNotExist when it does not exist.
    pub fn table(&self, instance: &str, name: &str) -> OtsResult<Arc<Table>> {
        let found = self
            .instances
            .read()
            .get(instance)
            .and_then(|t| t.get(name))
            .cloned();
        // Names are checked only on a miss: a table that exists has a valid name.
        found.ok_or_else(|| missing_table(name))
    }

    /// Names of `instance`'s tables in ascending order.
    pub fn list_tables(&self, instance: &str) -> Vec<String> {
        self.instances
            .read()
            .get(instance)
            .map(|t| {
                t.iter()
                    .filter(|(_, table)| table.index_of().is_none())
                    .map(|(name, _)| name.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The base table `name` of `instance`, for an operation that an index table refuses.
    ///
    /// Errors: as `table`, and 400 OTSParameterInvalid naming `what` for an index table.
    fn base_table(&self, instance: &str, name: &str, what: &str) -> OtsResult<Arc<Table>> {
        let table = self.table(instance, name)?;
        match table.index_of() {
            None => Ok(table),
            Some(base) => Err(OtsError::param(format!(
                "'{name}' is an index table of '{base}': {what} applies to tables only."
            ))),
        }
    }

    /// Creates a table (schema already validated by the caller or here).
    ///
    /// Errors: 400 for a bad schema/options/throughput, 409 OTSObjectAlreadyExist, 403
    /// OTSQuotaExhausted past 64 tables, 500 on I/O failure.
    pub fn create_table(
        &self,
        instance: &str,
        schema: TableSchema,
        options: &TableOptionsPatch,
        reserved: CapacityUnits,
    ) -> OtsResult<()> {
        self.create_table_with_indexes(instance, schema, options, reserved, Vec::new())
    }

    /// Creates a table with secondary indexes (their ids are assigned here).
    ///
    /// Errors: as `create_table`, plus 400 for an index `IndexMeta::validate` or
    /// `index::check_base_options` refuses and 409 for an index name already taken.
    pub fn create_table_with_indexes(
        &self,
        instance: &str,
        schema: TableSchema,
        options: &TableOptionsPatch,
        reserved: CapacityUnits,
        mut indexes: Vec<IndexMeta>,
    ) -> OtsResult<()> {
        validate_instance_name(instance)?;
        schema.validate()?;
        let options = TableOptions::default().apply(options)?;
        validate_reserved(&reserved)?;
        if !indexes.is_empty() {
            index::check_base_options(&options)?;
        }
        for i in 0..indexes.len() {
            indexes[i].id = i as u32;
            indexes[i].validate(&schema, &indexes[..i])?;
        }
        let mut instances = self.instances.write();
        let tables = instances.entry(instance.to_string()).or_default();
        let names = std::iter::once(&schema.table_name).chain(indexes.iter().map(|i| &i.name));
        if names.clone().any(|name| tables.contains_key(name))
            || indexes.iter().any(|i| i.name == schema.table_name)
        {
            return Err(OtsError::table_exists());
        }
        if tables.len() >= limits::MAX_TABLES_PER_INSTANCE {
            return Err(OtsError::new(
                ErrorCode::QuotaExhausted,
                "Number of tables exceeded the quota.",
            ));
        }
        let instance_dir = self.data_dir.join(instance);
        fs::create_dir_all(&instance_dir)
            .map_err(|e| io_err("create instance dir", &instance_dir, e))?;
        let dir = instance_dir.join(&schema.table_name);
        if dir.exists() {
            // Leftover of an interrupted create or drop; nothing in it is live.
            fs::remove_dir_all(&dir).map_err(|e| io_err("remove stale table dir", &dir, e))?;
        }
        fs::create_dir(&dir).map_err(|e| io_err("create table dir", &dir, e))?;
        let created = now_us();
        let meta = TableMeta {
            format: META_FORMAT,
            schema,
            options,
            reserved,
            last_increase_time_secs: created / 1_000_000,
            last_decrease_time_secs: None,
            creation_time_us: created,
            next_index_id: indexes.len() as u32,
            indexes,
        };
        let name = meta.schema.table_name.clone();
        let opened = persist_meta(&dir, &meta)
            .and_then(|()| sync_dir(&instance_dir))
            .and_then(|()| {
                Catalog::open_table(instance, &dir, meta, &self.engine_options)
                    .map_err(OtsError::from)
            });
        match opened {
            Ok(table) => {
                let table = Arc::new(table);
                for index in table.indexes().iter() {
                    let name = index.meta.name.clone();
                    tables.insert(name, Arc::new(table.index_table(&index.meta)));
                }
                tables.insert(name, table);
                Ok(())
            }
            Err(e) => {
                let _ = fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Changes a table's options and/or reserved throughput; returns the resulting meta.
    ///
    /// Errors: 404 when missing, 400 for bad values or an empty request.
    pub fn update_table(
        &self,
        instance: &str,
        name: &str,
        options: &TableOptionsPatch,
        reserved: Option<CapacityUnits>,
    ) -> OtsResult<TableMeta> {
        let table = self.base_table(instance, name, "UpdateTable")?;
        table.update_meta(|meta| {
            meta.options = meta.options.apply(options)?;
            if !meta.indexes.is_empty() {
                index::check_base_options(&meta.options)?;
            }
            if let Some(cu) = reserved {
                validate_reserved(&cu)?;
                let now = now_us() / 1_000_000;
                if cu.read > meta.reserved.read || cu.write > meta.reserved.write {
                    meta.last_increase_time_secs = now;
                }
                if cu.read < meta.reserved.read || cu.write < meta.reserved.write {
                    meta.last_decrease_time_secs = Some(now);
                }
                meta.reserved = cu;
            }
            Ok(())
        })
    }

    /// AddDefinedColumn / DeleteDefinedColumn: applies `change` to the table's defined
    /// columns and keeps the result if the schema is still valid. Stored rows are not
    /// touched: a defined column only declares a name and type (for indexes).
    ///
    /// Errors: 404 when missing; 400 from `change` or for a schema `TableSchema::validate`
    /// refuses (a repeated name, a primary-key name, more than 32 columns).
    pub fn change_defined_columns(
        &self,
        instance: &str,
        name: &str,
        change: impl FnOnce(&mut Vec<DefinedColumnSchema>) -> OtsResult<()>,
    ) -> OtsResult<TableMeta> {
        let table = self.base_table(instance, name, "changing defined columns")?;
        table.update_meta(|meta| {
            change(&mut meta.schema.defined_columns)?;
            meta.schema.validate()?;
            // An index may not lose a column it reads, nor see its type change.
            for (i, index) in meta.indexes.iter().enumerate() {
                index.validate(&meta.schema, &meta.indexes[..i])?;
            }
            Ok(())
        })
    }

    /// CreateIndex: adds a secondary index to a table, filled from its stored rows when
    /// `include_base_data` is set (writes to the table wait meanwhile). The index is readable
    /// by its name from the start; rows written later are indexed as they commit.
    ///
    /// Errors: 404 for a missing table; 400 for an index table, options that do not allow
    /// indexes or an index `IndexMeta::validate` refuses; 409 OTSObjectAlreadyExist when a
    /// table or index has the name, 409 OTSRowOperationConflict while a local transaction
    /// is open on the table; engine and I/O failures.
    pub fn create_index(
        &self,
        instance: &str,
        table_name: &str,
        mut index: IndexMeta,
        include_base_data: bool,
    ) -> OtsResult<()> {
        let _ddl = self.index_ddl.lock();
        let table = self.base_table(instance, table_name, "CreateIndex")?;
        let meta = table.meta();
        index::check_base_options(&meta.options)?;
        index.id = meta.next_index_id;
        index.validate(&meta.schema, &meta.indexes)?;
        {
            let mut instances = self.instances.write();
            let tables = instances.entry(instance.to_string()).or_default();
            if tables.contains_key(&index.name) {
                return Err(OtsError::table_exists());
            }
            // The id is spent before any row is written: a crash mid-fill leaves rows only
            // in a key space no later index gets.
            table.update_meta(|m| {
                m.next_index_id = index.id + 1;
                Ok(())
            })?;
            tables.insert(index.name.clone(), Arc::new(table.index_table(&index)));
        }
        let installed = table.install_index(&index, include_base_data);
        if installed.is_err() {
            self.forget_index(instance, &index.name);
        }
        installed
    }

    /// DropIndex: removes a table's secondary index and its rows.
    ///
    /// Errors: 404 for a missing table or index, 400 for an index table; I/O failures.
    pub fn drop_index(&self, instance: &str, table_name: &str, index_name: &str) -> OtsResult<()> {
        let _ddl = self.index_ddl.lock();
        let table = self.base_table(instance, table_name, "DropIndex")?;
        let index = table.remove_index(index_name)?;
        self.forget_index(instance, index_name);
        table.clear_index(&index);
        Ok(())
    }

    /// Removes the index table `name` from `instance`'s names.
    fn forget_index(&self, instance: &str, name: &str) {
        if let Some(tables) = self.instances.write().get_mut(instance) {
            if tables.get(name).is_some_and(|t| t.index_of().is_some()) {
                tables.remove(name);
            }
        }
    }

    /// Sets the idle timeout of transactions started from now on (tests).
    pub fn set_transaction_timeout(&mut self, timeout: Duration) {
        self.txn_timeout = timeout;
    }

    /// StartLocalTransaction: holds the partition `key` (the partition-key column only) of
    /// a table and returns the new transaction id.
    ///
    /// Errors: 404 for a missing table, 400 OTSInvalidPK/OTSParameterInvalid for a bad key,
    /// 409 OTSRowOperationConflict when another transaction holds the partition.
    pub fn start_transaction(
        &self,
        instance: &str,
        table_name: &str,
        key: Vec<(String, PkInput)>,
    ) -> OtsResult<String> {
        let table = self.base_table(instance, table_name, "a transaction")?;
        let first = table
            .schema()
            .primary_key
            .first()
            .ok_or_else(OtsError::internal)?;
        if key.iter().any(|(_, v)| *v == PkInput::AutoIncrement) {
            return Err(OtsError::param(
                "Auto-increment is not allowed in a transaction.",
            ));
        }
        let partition_schema = crate::table::schema::TableSchema {
            table_name: table.schema().table_name.clone(),
            primary_key: vec![first.clone()],
            defined_columns: vec![],
        };
        validate_pk(&partition_schema, &key, PkUse::Exact)?;
        let value = match key.into_iter().next() {
            Some((_, PkInput::Value(v))) if !matches!(v, PkValue::InfMin | PkValue::InfMax) => v,
            _ => {
                return Err(OtsError::invalid_pk(
                    "Invalid partition key of a transaction.",
                ))
            }
        };
        let id = new_transaction_id();
        let txn = Arc::new(Transaction::new(id.clone(), value, self.txn_timeout));
        table.hold_partition(Arc::clone(&txn))?;
        self.transactions.lock().insert(
            id.clone(),
            OpenTransaction {
                instance: instance.to_string(),
                table,
                txn,
            },
        );
        Ok(id)
    }

    /// The open transaction `id` of `instance` and its table.
    ///
    /// Errors: 400 "TransactionID is invalid." for an unknown, finished, expired or
    /// foreign id.
    pub fn transaction(
        &self,
        instance: &str,
        id: &str,
    ) -> OtsResult<(Arc<Table>, Arc<Transaction>)> {
        let entry = self
            .transactions
            .lock()
            .get(id)
            .cloned()
            .ok_or_else(transaction::invalid_id)?;
        if entry.instance != instance {
            return Err(transaction::invalid_id());
        }
        if !entry.txn.is_live() {
            self.forget_transaction(&entry.table, &entry.txn);
            return Err(transaction::invalid_id());
        }
        Ok((entry.table, entry.txn))
    }

    fn forget_transaction(&self, table: &Table, txn: &Transaction) {
        table.release_partition(txn);
        self.transactions.lock().remove(txn.id());
    }

    /// CommitTransaction: applies the transaction's changes as one atomic engine write and
    /// frees its partition.
    ///
    /// Errors: 400 "TransactionID is invalid.", engine failures.
    pub fn commit_transaction(&self, instance: &str, id: &str) -> OtsResult<()> {
        let (table, txn) = self.transaction(instance, id)?;
        let result = {
            // Writers outside the transaction wait until the batch is in.
            let _gate = table.lock_partition(&txn);
            txn.finish().and_then(|batch| {
                if batch.is_empty() {
                    Ok(())
                } else {
                    table.engine().write(batch).map(|_| ()).map_err(Into::into)
                }
            })
        };
        self.forget_transaction(&table, &txn);
        result
    }

    /// AbortTransaction: discards the transaction's changes and frees its partition.
    ///
    /// Errors: 400 "TransactionID is invalid."
    pub fn abort_transaction(&self, instance: &str, id: &str) -> OtsResult<()> {
        let (table, txn) = self.transaction(instance, id)?;
        let result = txn.finish().map(|_| ());
        self.forget_transaction(&table, &txn);
        result
    }

    /// Drops a table: forgets it, closes its engine and removes its files.
    ///
    /// Errors: 404 when missing, 500 on I/O failure.
    pub fn delete_table(&self, instance: &str, name: &str) -> OtsResult<()> {
        let table = {
            let mut instances = self.instances.write();
            let tables = instances
                .get_mut(instance)
                .ok_or_else(|| missing_table(name))?;
            let table = tables.get(name).ok_or_else(|| missing_table(name))?;
            if let Some(base) = table.index_of() {
                return Err(OtsError::param(format!(
                    "'{name}' is an index table of '{base}': drop it with DropIndex."
                )));
            }
            // The indexes' rows live in the table's engine and go with it.
            for index in table.indexes().iter() {
                tables.remove(&index.meta.name);
            }
            tables.remove(name).ok_or_else(|| missing_table(name))?
        };
        self.transactions
            .lock()
            .retain(|_, open| !Arc::ptr_eq(&open.table, &table));
        if let Err(e) = table.engine().close() {
            tracing::warn!(table = name, error = %e, "closing dropped table");
        }
        let dir = table.dir().to_path_buf();
        let nanos = now_us();
        let graveyard = dir.with_file_name(format!(".dropped-{name}-{nanos}"));
        fs::rename(&dir, &graveyard).map_err(|e| io_err("rename dropped table", &dir, e))?;
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        fs::remove_dir_all(&graveyard).map_err(|e| io_err("remove dropped table", &graveyard, e))
    }

    /// Flushes every table's memtable and stops background work (graceful shutdown).
    pub fn close(&self) -> OtsResult<()> {
        let instances = self.instances.read();
        let mut result = Ok(());
        let bases = instances.values().flat_map(|t| t.values());
        for table in bases.filter(|t| t.index_of().is_none()) {
            if let Err(e) = table.engine().close() {
                tracing::error!(table = table.name(), error = %e, "closing table");
                result = Err(OtsError::internal());
            }
        }
        result
    }
}
