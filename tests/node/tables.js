// Table operations through the Node SDK: createTable with defined columns and options,
// describeTable reading everything back, updateTable (options and reserved throughput) with its
// echo, listTable per instance, deleteTable, and the table-level error paths.
//
// Not covered: ComputeSplitPointsBySize — the Node SDK 5.6.5 has no method for it
// (lib/client.js only has computeSplits, which is the search-index API).
'use strict';
const {
  assert, TableStore, makeClient, call, expectError, tableParams, dropIfExists, freshTable,
  run,
} = require('./common');

const INSTANCE = 'node_tables';
const OTHER_INSTANCE = 'node_tables_other';
const client = makeClient(INSTANCE);
const T = 'nt_meta';
const num = (v) => (v == null ? v : Number(v.toString()));

async function createWithDefinedColumns() {
  await dropIfExists(client, T);
  const params = tableParams(T, [['pk', 'STRING'], ['sort', 'INTEGER'], ['bin', 'BINARY']], {
    options: { timeToLive: -1, maxVersions: 2, maxTimeDeviation: 3600 },
    definedColumn: [
      { name: 'c_str', type: TableStore.DefinedColumnType.DCT_STRING },
      { name: 'c_int', type: TableStore.DefinedColumnType.DCT_INTEGER },
      { name: 'c_dbl', type: TableStore.DefinedColumnType.DCT_DOUBLE },
      { name: 'c_bool', type: TableStore.DefinedColumnType.DCT_BOOLEAN },
    ],
  });
  params.reservedThroughput = { capacityUnit: { read: 1, write: 2 } };
  const created = await call(client, 'createTable', params);
  assert.ok(created, 'createTable answers an (empty) message');
}

async function describeReadsEverythingBack() {
  const d = await call(client, 'describeTable', { tableName: T });
  assert.strictEqual(d.tableMeta.tableName, T);
  assert.deepStrictEqual(d.tableMeta.primaryKey.map((c) => [c.name, c.type]),
    [['pk', 2], ['sort', 1], ['bin', 3]]);
  assert.deepStrictEqual(d.tableMeta.definedColumn.map((c) => [c.name, c.type]),
    [['c_str', 4], ['c_int', 1], ['c_dbl', 2], ['c_bool', 3]]);
  assert.strictEqual(d.tableOptions.timeToLive, -1);
  assert.strictEqual(d.tableOptions.maxVersions, 2);
  assert.strictEqual(num(d.tableOptions.deviationCellVersionInSec), 3600);
  assert.strictEqual(d.tableStatus, 1, 'table_status ACTIVE');
  assert.strictEqual(d.reservedThroughputDetails.capacityUnit.read, 1);
  assert.strictEqual(d.reservedThroughputDetails.capacityUnit.write, 2);
  assert.ok(num(d.reservedThroughputDetails.lastIncreaseTime) > 0, 'last_increase_time set');
}

async function defaultOptionsWhenOmitted() {
  const name = 'nt_defaults';
  await dropIfExists(client, name);
  const params = tableParams(name, [['k', 'STRING']]);
  params.tableOptions = {}; // the SDK requires the object but every field may be absent
  await call(client, 'createTable', params);
  const d = await call(client, 'describeTable', { tableName: name });
  assert.strictEqual(d.tableOptions.timeToLive, -1);
  assert.strictEqual(d.tableOptions.maxVersions, 1);
  assert.strictEqual(num(d.tableOptions.deviationCellVersionInSec), 86400);
  await call(client, 'deleteTable', { tableName: name });
}

async function updateOptionsEchoAndDescribe() {
  const updated = await call(client, 'updateTable', {
    tableName: T,
    tableOptions: { timeToLive: 2 * 86400, maxVersions: 5 },
  });
  assert.strictEqual(updated.tableOptions.timeToLive, 2 * 86400);
  assert.strictEqual(updated.tableOptions.maxVersions, 5);
  assert.strictEqual(num(updated.tableOptions.deviationCellVersionInSec), 3600, 'untouched option kept');
  const d = await call(client, 'describeTable', { tableName: T });
  assert.strictEqual(d.tableOptions.timeToLive, 2 * 86400);
  assert.strictEqual(d.tableOptions.maxVersions, 5);
  assert.strictEqual(num(d.tableOptions.deviationCellVersionInSec), 3600);
}

async function updateOnlyMaxVersionsKeepsTtl() {
  await call(client, 'updateTable', { tableName: T, tableOptions: { maxVersions: 3 } });
  const d = await call(client, 'describeTable', { tableName: T });
  assert.strictEqual(d.tableOptions.timeToLive, 2 * 86400);
  assert.strictEqual(d.tableOptions.maxVersions, 3);
}

async function updateReservedThroughput() {
  const updated = await call(client, 'updateTable', {
    tableName: T,
    tableOptions: {},
    reservedThroughput: { capacityUnit: { read: 5, write: 6 } },
  });
  assert.strictEqual(updated.reservedThroughputDetails.capacityUnit.read, 5);
  assert.strictEqual(updated.reservedThroughputDetails.capacityUnit.write, 6);
  const d = await call(client, 'describeTable', { tableName: T });
  assert.strictEqual(d.reservedThroughputDetails.capacityUnit.read, 5);
  assert.strictEqual(d.reservedThroughputDetails.capacityUnit.write, 6);
  assert.strictEqual(d.tableOptions.maxVersions, 3, 'options untouched by a throughput update');
}

async function autoIncrementOptionDescribed() {
  const name = 'nt_autoinc';
  await freshTable(client, name, [['part', 'STRING'], ['id', 'INTEGER', 'AUTO_INCREMENT']]);
  const d = await call(client, 'describeTable', { tableName: name });
  const [part, id] = d.tableMeta.primaryKey;
  // protobufjs fills absent fields from prototype defaults: check presence, not just the value.
  assert.ok(!Object.prototype.hasOwnProperty.call(part, 'option'), 'no option on a plain column');
  assert.ok(Object.prototype.hasOwnProperty.call(id, 'option'), 'option sent for the auto-increment column');
  assert.strictEqual(id.option, TableStore.PrimaryKeyOption.AUTO_INCREMENT);
  await call(client, 'deleteTable', { tableName: name });
}

async function listTableIsPerInstance() {
  const mine = await call(client, 'listTable', {});
  assert.ok(mine.tableNames.includes(T));
  const other = makeClient(OTHER_INSTANCE);
  const theirs = await call(other, 'listTable', {});
  assert.ok(!theirs.tableNames.includes(T), 'another instance does not see the table');
  await expectError(call(other, 'describeTable', { tableName: T }), 404, 'OTSObjectNotExist');
}

async function createExistingTableFails() {
  await expectError(call(client, 'createTable', tableParams(T, [['pk', 'STRING']])),
    409, 'OTSObjectAlreadyExist', 'Requested table already exists.');
}

async function missingTableErrors() {
  const missing = 'nt_no_such_table';
  const notExist = (promise) => expectError(promise, 404, 'OTSObjectNotExist', 'Requested table does not exist.');
  await notExist(call(client, 'describeTable', { tableName: missing }));
  await notExist(call(client, 'deleteTable', { tableName: missing }));
  await notExist(call(client, 'updateTable', { tableName: missing, tableOptions: { maxVersions: 2 } }));
}

async function invalidTableParameters() {
  const bad = (params) => expectError(call(client, 'createTable', params), 400, 'OTSParameterInvalid');
  await bad(tableParams('nt_bad_ttl', [['k', 'STRING']], { options: { timeToLive: 100 } }));
  await bad(tableParams('nt_bad_versions', [['k', 'STRING']], { options: { maxVersions: 0 } }));
  await bad(tableParams('nt bad name', [['k', 'STRING']]));
  await bad(tableParams('nt_no_pk', []));
  await bad(tableParams('nt_dup_pk', [['k', 'STRING'], ['k', 'INTEGER']]));
  await bad(tableParams('nt_five_pk', [['a', 'STRING'], ['b', 'STRING'], ['c', 'STRING'], ['d', 'STRING'], ['e', 'STRING']]));
  await bad(tableParams('nt_autoinc_first', [['id', 'INTEGER', 'AUTO_INCREMENT']]));
  await expectError(call(client, 'updateTable', { tableName: T, tableOptions: { maxVersions: 0 } }),
    400, 'OTSParameterInvalid');
  const listed = (await call(client, 'listTable', {})).tableNames;
  assert.ok(!listed.some((n) => n.startsWith('nt_bad') || n.startsWith('nt_no_pk')), 'nothing was created');
}

// otsd serves no stream APIs, so a request to enable a stream is refused,
// never accepted and silently dropped; a request to keep streams disabled is accepted.
async function streamRequestsAreRefused() {
  const name = 'nt_stream';
  await dropIfExists(client, name);
  const params = tableParams(name, [['k', 'STRING']]);
  params.streamSpecification = { enableStream: true, expirationTime: 24 };
  const refused = [400, 'OTSParameterInvalid', 'Streams are not supported by otsd.'];
  await expectError(call(client, 'createTable', params), ...refused);
  assert.ok(!(await call(client, 'listTable', {})).tableNames.includes(name), 'refused table was created');
  params.streamSpecification = { enableStream: false };
  await call(client, 'createTable', params);
  const update = (enableStream) => call(client, 'updateTable', {
    tableName: name, tableOptions: {}, streamSpecification: { enableStream, expirationTime: 24 },
  });
  await expectError(update(true), ...refused);
  await update(false);
  await dropIfExists(client, name);
}

async function deleteTable() {
  await call(client, 'deleteTable', { tableName: T });
  assert.ok(!(await call(client, 'listTable', {})).tableNames.includes(T));
  await expectError(call(client, 'describeTable', { tableName: T }), 404, 'OTSObjectNotExist');
}

run([
  ['createTable with definedColumn, options and throughput', createWithDefinedColumns],
  ['describeTable reads meta, options, status and throughput back', describeReadsEverythingBack],
  ['default table options when none are given', defaultOptionsWhenOmitted],
  ['updateTable echoes and persists timeToLive/maxVersions', updateOptionsEchoAndDescribe],
  ['updateTable of one option keeps the others', updateOnlyMaxVersionsKeepsTtl],
  ['updateTable reserved throughput', updateReservedThroughput],
  ['auto-increment option is described', autoIncrementOptionDescribed],
  ['listTable is per instance', listTableIsPerInstance],
  ['createTable of an existing table: 409 OTSObjectAlreadyExist', createExistingTableFails],
  ['describe/delete/update of a missing table: 404 OTSObjectNotExist', missingTableErrors],
  ['invalid table parameters: 400 OTSParameterInvalid', invalidTableParameters],
  ['enabling a stream is refused, never silently dropped', streamRequestsAreRefused],
  ['deleteTable', deleteTable],
]);
