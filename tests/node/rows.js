// Single-row operations through the Node SDK: putRow/getRow with every attribute type the SDK
// can send (string, Int64, double, boolean, Buffer), explicit cell timestamps, getRow with
// columnsToGet / maxVersions / timeRange, updateRow PUT / DELETE / DELETE_ALL / INCREMENT with
// returnContent, deleteRow, PK-only rows and a BINARY primary key.
'use strict';
const {
  assert, TableStore, Long, makeClient, call, ignore, expectExist, expectNotExist, int,
  pkOf, cellsOf, attrsOf, isEmptyRow, expectError, freshTable, run,
} = require('./common');

const client = makeClient('node_rows');
const T = 'nr_rows';
const BIN_T = 'nr_binary_pk';
// Explicit timestamps: recent (within the default 1-day deviation), whole seconds, distinct.
const BASE = Math.floor(Date.now() / 1000) * 1000 - 600000;
const TS = [BASE, BASE + 1000, BASE + 2000, BASE + 3000];

const key = (id) => [{ pk: id }, { n: int(1) }];
const get = (id, extra = {}) => call(client, 'getRow', { tableName: T, primaryKey: key(id), ...extra });
const put = (id, attributeColumns, extra = {}) =>
  call(client, 'putRow', { tableName: T, condition: ignore(), primaryKey: key(id), attributeColumns, ...extra });
const update = (id, ops, extra = {}) =>
  call(client, 'updateRow', { tableName: T, condition: ignore(), primaryKey: key(id), updateOfAttributeColumns: ops, ...extra });

const ALL_TYPES = {
  s: 'héllo wörld ✓',
  empty: '',
  i: -42n,
  big: 9007199254740993n, // 2^53 + 1: only exact as Int64
  i64max: 9223372036854775807n,
  i64min: -9223372036854775808n,
  d: 3.25,
  neg: -0.5,
  negzero: -0,
  t: true,
  f: false,
  bin: Buffer.from([0, 1, 2, 254, 255]),
  binempty: Buffer.alloc(0),
};

function sdkValue(v) {
  return typeof v === 'bigint' ? Long.fromString(v.toString()) : v;
}

async function setup() {
  await freshTable(client, T, [['pk', 'STRING'], ['n', 'INTEGER']], { options: { maxVersions: 3 } });
}

async function putAndGetEveryType() {
  const columns = Object.entries(ALL_TYPES).map(([name, v]) => ({ [name]: sdkValue(v) }));
  const before = Date.now();
  const put1 = await put('types', columns, { returnContent: { returnType: TableStore.ReturnType.Primarykey } });
  assert.deepStrictEqual(pkOf(put1.row), { pk: 'types', n: 1n }, 'RT_PK returns the primary key');
  assert.ok(put1.consumed.capacityUnit.write >= 1, 'write CU consumed');

  const { row, consumed } = await get('types');
  assert.ok(consumed.capacityUnit.read >= 1, 'read CU consumed');
  assert.deepStrictEqual(pkOf(row), { pk: 'types', n: 1n });
  const cells = cellsOf(row);
  const names = cells.map(([name]) => name);
  assert.deepStrictEqual(names, [...names].sort(), 'attribute columns come in name order');
  assert.deepStrictEqual(attrsOf(row), ALL_TYPES);
  const rawInt = row.attributes.find((a) => a.columnName === 'i').columnValue;
  assert.ok(rawInt instanceof int(0).constructor, 'integers decode as the SDK Int64 type');
  const stamps = new Set(cells.map(([, , ts]) => ts));
  assert.strictEqual(stamps.size, 1, 'cells of one write share the server timestamp');
  const [ts] = stamps;
  assert.ok(ts >= before - 5000 && ts <= Date.now() + 5000, `server timestamp ${ts} is now`);
}

async function putWithExplicitTimestamps() {
  await put('ts', [{ a: 'x', timestamp: TS[0] }, { b: int(7), timestamp: TS[1] }, { c: 1.5 }]);
  const cells = cellsOf((await get('ts')).row);
  assert.deepStrictEqual(cells.slice(0, 2), [['a', 'x', TS[0]], ['b', 7n, TS[1]]]);
  assert.strictEqual(cells[2][0], 'c');
  assert.ok(cells[2][2] > TS[1], 'a cell without timestamp gets the server time');
}

async function writeVersions() {
  // Four versions of v (the table keeps 3), two of w, one of x. A column may appear only once
  // per UpdateRow (SEMANTICS §8), so each version is its own update.
  const versions = [['v', 'v0', 0], ['v', 'v1', 1], ['v', 'v2', 2], ['v', 'v3', 3],
    ['w', int(0), 0], ['w', int(2), 2], ['x', true, 1]];
  for (const [name, value, t] of versions) {
    await update('ver', [{ PUT: [{ [name]: value, timestamp: TS[t] }] }]);
  }
  await expectError(update('ver', [{ PUT: [{ v: 'a', timestamp: TS[0] }, { v: 'b', timestamp: TS[1] }] }]),
    400, 'OTSParameterInvalid', "Duplicated column name: 'v' in UpdateRow.");
}

async function getDefaultReturnsNewestVersion() {
  const { row } = await get('ver');
  assert.deepStrictEqual(cellsOf(row), [['v', 'v3', TS[3]], ['w', 2n, TS[2]], ['x', true, TS[1]]]);
}

async function getMaxVersions() {
  const all = cellsOf((await get('ver', { maxVersions: 10 })).row);
  assert.deepStrictEqual(all, [
    ['v', 'v3', TS[3]], ['v', 'v2', TS[2]], ['v', 'v1', TS[1]], // table max_versions = 3
    ['w', 2n, TS[2]], ['w', 0n, TS[0]],
    ['x', true, TS[1]],
  ], 'versions newest first, only the newest 3 kept');
  const two = cellsOf((await get('ver', { maxVersions: 2 })).row);
  assert.deepStrictEqual(two.filter(([n]) => n === 'v').map(([, v]) => v), ['v3', 'v2']);
}

async function getColumnsToGet() {
  const { row } = await get('ver', { columnsToGet: ['x', 'w'], maxVersions: 3 });
  assert.deepStrictEqual(cellsOf(row), [['w', 2n, TS[2]], ['w', 0n, TS[0]], ['x', true, TS[1]]]);
  assert.deepStrictEqual(pkOf(row), { pk: 'ver', n: 1n }, 'PK always returned');
  const none = await get('ver', { columnsToGet: ['nope'] });
  assert.ok(isEmptyRow(none.row), 'no requested column present → no row');
}

async function getColumnRange() {
  // [startColumn, endColumn) over attribute names: v < w < x.
  const { row } = await get('ver', { startColumn: 'w', endColumn: 'x' });
  assert.deepStrictEqual(cellsOf(row), [['w', 2n, TS[2]]]);
  const open = await get('ver', { startColumn: 'w' });
  assert.deepStrictEqual(cellsOf(open.row).map(([n]) => n), ['w', 'x']);
}

async function getOnlyPrimaryKeyColumns() {
  const { row } = await get('ver', { columnsToGet: ['pk', 'n'] });
  assert.deepStrictEqual(pkOf(row), { pk: 'ver', n: 1n });
  assert.deepStrictEqual(cellsOf(row), [], 'only PK names asked: no attributes');
}

async function getSpecificTime() {
  const { row } = await get('ver', { timeRange: { specificTime: TS[2] } });
  assert.deepStrictEqual(cellsOf(row), [['v', 'v2', TS[2]], ['w', 2n, TS[2]]]);
  // No cell at that time: no cells come back (whether the bare PK does is not pinned down by
  // the protocol docs; otsd answers the PK when the row exists).
  const miss = await get('ver', { timeRange: { specificTime: TS[0] + 1 } });
  assert.deepStrictEqual(cellsOf(miss.row), []);
}

async function getTimeRange() {
  // [TS1, TS3): the SDK always sends max_versions (1 by default) along with the range.
  const newest = cellsOf((await get('ver', { timeRange: { startTime: TS[1], endTime: TS[3] } })).row);
  assert.deepStrictEqual(newest, [['v', 'v2', TS[2]], ['w', 2n, TS[2]], ['x', true, TS[1]]]);
  const every = cellsOf((await get('ver', { timeRange: { startTime: TS[1], endTime: TS[3] }, maxVersions: 5 })).row);
  assert.deepStrictEqual(every, [['v', 'v2', TS[2]], ['v', 'v1', TS[1]], ['w', 2n, TS[2]], ['x', true, TS[1]]]);
  const empty = await get('ver', { timeRange: { startTime: TS[3] + 1, endTime: TS[3] + 500 } });
  assert.deepStrictEqual(cellsOf(empty.row), []);
}

async function updatePutDeleteVersionDeleteAll() {
  await update('ver', [
    { PUT: [{ y: 'new' }, { z: Buffer.from('zz') }] },
    { DELETE: [{ v: TS[2] }] },
    { DELETE_ALL: ['w'] },
  ]);
  const cells = cellsOf((await get('ver', { maxVersions: 5 })).row);
  // The TS2 version is gone; the older v0 may become readable again as the table keeps the
  // 3 newest *remaining* versions (SEMANTICS §4: max_versions applies at read time).
  const versionsOfV = cells.filter(([n]) => n === 'v').map(([, v, ts]) => [v, ts]);
  assert.deepStrictEqual(versionsOfV.slice(0, 2), [['v3', TS[3]], ['v1', TS[1]]], 'DELETE removed the TS2 version');
  assert.ok(!versionsOfV.some(([v]) => v === 'v2'));
  assert.ok(!cells.some(([n]) => n === 'w'), 'DELETE_ALL removed every version of w');
  assert.deepStrictEqual(attrsOf((await get('ver')).row),
    { v: 'v3', x: true, y: 'new', z: Buffer.from('zz') });
}

async function updateIncrementReturnsAfterModify() {
  const inc = (delta, cols) => update('ver', [{ INCREMENT: [{ counter: int(delta) }] }],
    { returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: cols } });
  const first = await inc(5, ['counter']);
  assert.deepStrictEqual(pkOf(first.row), { pk: 'ver', n: 1n });
  assert.deepStrictEqual(cellsOf(first.row).map(([n, v]) => [n, v]), [['counter', 5n]], 'missing column counts as 0');
  const second = await inc(-7, ['counter']);
  assert.deepStrictEqual(cellsOf(second.row).map(([n, v]) => [n, v]), [['counter', -2n]]);
  assert.strictEqual(attrsOf((await get('ver')).row).counter, -2n);
  const plain = await update('ver', [{ INCREMENT: [{ counter: int(1) }] }]);
  assert.ok(isEmptyRow(plain.row), 'no returnContent → no row');
}

async function incrementOnNonInteger() {
  await expectError(update('ver', [{ INCREMENT: [{ y: int(1) }] }]), 400, 'OTSParameterInvalid');
  assert.strictEqual(attrsOf((await get('ver')).row).y, 'new', 'failed update changed nothing');
}

async function putReplacesWholeRow() {
  await put('ver', [{ only: 'this' }]);
  const { row } = await get('ver', { maxVersions: 5 });
  assert.deepStrictEqual(cellsOf(row).map(([n, v]) => [n, v]), [['only', 'this']]);
}

async function pkOnlyRow() {
  await put('pkonly', []);
  const { row } = await get('pkonly');
  assert.deepStrictEqual(pkOf(row), { pk: 'pkonly', n: 1n });
  assert.deepStrictEqual(cellsOf(row), []);
  await call(client, 'putRow', {
    tableName: T, condition: expectExist(), primaryKey: key('pkonly'), attributeColumns: [{ a: 'now exists' }],
  });
}

async function existenceExpectations() {
  await expectError(call(client, 'putRow', {
    tableName: T, condition: expectNotExist(), primaryKey: key('pkonly'), attributeColumns: [{ a: 'x' }],
  }), 403, 'OTSConditionCheckFail', 'Condition check failed.');
  await expectError(call(client, 'updateRow', {
    tableName: T, condition: expectExist(), primaryKey: key('nobody'), updateOfAttributeColumns: [{ PUT: [{ a: 'x' }] }],
  }), 403, 'OTSConditionCheckFail', 'Condition check failed.');
  await expectError(call(client, 'deleteRow', { tableName: T, condition: expectExist(), primaryKey: key('nobody') }),
    403, 'OTSConditionCheckFail', 'Condition check failed.');
  assert.ok(isEmptyRow((await get('nobody')).row), 'failed writes created nothing');
}

async function updateCreatesMissingRow() {
  await update('created', [{ PUT: [{ a: 'fresh' }] }]);
  assert.deepStrictEqual(attrsOf((await get('created')).row), { a: 'fresh' });
  await update('ghost', [{ DELETE_ALL: ['a'] }]);
  assert.ok(isEmptyRow((await get('ghost')).row), 'delete-only update on a missing row adds no row');
}

async function deleteRow() {
  const deleted = await call(client, 'deleteRow', {
    tableName: T, condition: expectExist(), primaryKey: key('created'),
    returnContent: { returnType: TableStore.ReturnType.Primarykey },
  });
  assert.deepStrictEqual(pkOf(deleted.row), { pk: 'created', n: 1n });
  assert.ok(isEmptyRow((await get('created')).row));
  await call(client, 'deleteRow', { tableName: T, condition: ignore(), primaryKey: key('created') });
}

async function getMissingRow() {
  const { row, consumed } = await get('never-written');
  assert.ok(isEmptyRow(row));
  assert.ok(consumed && consumed.capacityUnit, 'consumed always present');
}

async function autoIncrementKeyOnUpdateRow() {
  const name = 'nr_autoinc';
  await freshTable(client, name, [['part', 'STRING'], ['id', 'INTEGER', 'AUTO_INCREMENT']]);
  const returnPk = { returnType: TableStore.ReturnType.Primarykey };
  const placeholder = [{ part: 'a' }, { id: TableStore.PK_AUTO_INCR }];
  const first = await call(client, 'updateRow', {
    tableName: name, condition: ignore(), primaryKey: placeholder,
    updateOfAttributeColumns: [{ PUT: [{ v: 'via update' }] }], returnContent: returnPk,
  });
  const second = await call(client, 'putRow', {
    tableName: name, condition: ignore(), primaryKey: placeholder, attributeColumns: [{ v: 'via put' }], returnContent: returnPk,
  });
  const [id1, id2] = [pkOf(first.row).id, pkOf(second.row).id];
  assert.ok(typeof id1 === 'bigint' && id2 > id1, `generated ids increase: ${id1} < ${id2}`);
  const { row } = await call(client, 'getRow', { tableName: name, primaryKey: [{ part: 'a' }, { id: Long.fromString(id1.toString()) }] });
  assert.deepStrictEqual(attrsOf(row), { v: 'via update' });
  await expectError(call(client, 'deleteRow', { tableName: name, condition: ignore(), primaryKey: placeholder }),
    400, 'OTSParameterInvalid');
  await expectError(call(client, 'putRow', {
    tableName: name, condition: expectNotExist(), primaryKey: placeholder, attributeColumns: [{ v: 'x' }],
  }), 400, 'OTSParameterInvalid');
}

async function binaryPrimaryKey() {
  await freshTable(client, BIN_T, [['b', 'BINARY'], ['s', 'STRING']]);
  const k = [{ b: Buffer.from([0, 255, 10]) }, { s: 'ü' }];
  await call(client, 'putRow', { tableName: BIN_T, condition: ignore(), primaryKey: k, attributeColumns: [{ v: int(1) }] });
  const { row } = await call(client, 'getRow', { tableName: BIN_T, primaryKey: k });
  assert.deepStrictEqual(pkOf(row), { b: Buffer.from([0, 255, 10]), s: 'ü' });
  assert.deepStrictEqual(attrsOf(row), { v: 1n });
}

run([
  ['setup', setup],
  ['putRow/getRow with string, Int64, double, boolean, binary', putAndGetEveryType],
  ['putRow with explicit cell timestamps', putWithExplicitTimestamps],
  ['updateRow PUT with timestamps builds versions', writeVersions],
  ['getRow default returns the newest version', getDefaultReturnsNewestVersion],
  ['getRow maxVersions > 1 (and the table max_versions cap)', getMaxVersions],
  ['getRow columnsToGet', getColumnsToGet],
  ['getRow startColumn/endColumn', getColumnRange],
  ['getRow columnsToGet with only PK names', getOnlyPrimaryKeyColumns],
  ['getRow timeRange.specificTime', getSpecificTime],
  ['getRow timeRange start/end', getTimeRange],
  ['updateRow PUT + DELETE (one version) + DELETE_ALL', updatePutDeleteVersionDeleteAll],
  ['updateRow INCREMENT with returnContent AfterModify', updateIncrementReturnsAfterModify],
  ['INCREMENT on a string column: 400', incrementOnNonInteger],
  ['putRow replaces the whole row', putReplacesWholeRow],
  ['PK-only row', pkOnlyRow],
  ['row existence expectations: 403 OTSConditionCheckFail', existenceExpectations],
  ['updateRow on a missing row', updateCreatesMissingRow],
  ['deleteRow with returnContent', deleteRow],
  ['getRow of a missing row', getMissingRow],
  ['AUTO_INCREMENT key through updateRow and putRow', autoIncrementKeyOnUpdateRow],
  ['BINARY primary key', binaryPrimaryKey],
]);
