// Column conditions and filters through the Node SDK: SingleColumnCondition and
// CompositeCondition (AND / OR / NOT) on putRow / updateRow / deleteRow, passing and failing
// (403 OTSConditionCheckFail, nothing changed), passIfMissing, latestVersionOnly, every value
// type, and the same conditions as columnFilter on getRow / getRange / batchGetRow, plus
// ColumnPaginationFilter.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, expectExist, single, composite, int,
  pkOf, cellsOf, attrsOf, isEmptyRow, expectError, freshTable, run,
} = require('./common');

const client = makeClient('node_conditions');
const T = 'nc_cond';
const BASE = Math.floor(Date.now() / 1000) * 1000 - 600000;

const key = (id) => [{ id }];
const get = (id, extra = {}) => call(client, 'getRow', { tableName: T, primaryKey: key(id), ...extra });
const putIf = (id, cond, attributeColumns) =>
  call(client, 'putRow', { tableName: T, condition: cond, primaryKey: key(id), attributeColumns });
const updateIf = (id, cond, ops) =>
  call(client, 'updateRow', { tableName: T, condition: cond, primaryKey: key(id), updateOfAttributeColumns: ops });
const conditionFailed = (promise) => expectError(promise, 403, 'OTSConditionCheckFail', 'Condition check failed.');

const ANN = [{ age: int(30) }, { name: 'ann' }, { score: 1.5 }, { flag: true }, { blob: Buffer.from([1, 2, 3]) }];

async function setup() {
  await freshTable(client, T, [['id', 'STRING']], { options: { maxVersions: 3 } });
  await putIf('ann', ignore(), ANN);
}

async function singleConditionOnPutRow() {
  await putIf('ann', expectExist(single('age', int(30), 'EQUAL')), [...ANN, { note: 'put passed' }]);
  assert.strictEqual(attrsOf((await get('ann')).row).note, 'put passed');
  await conditionFailed(putIf('ann', expectExist(single('age', int(100), 'GREATER_THAN')), [{ note: 'never' }]));
  assert.strictEqual(attrsOf((await get('ann')).row).note, 'put passed', 'failed put changed nothing');
  // A column condition alone (IGNORE existence) on a missing row: the column is missing too.
  await conditionFailed(putIf('nobody', ignore(single('age', int(1), 'EQUAL', false)), [{ a: 'x' }]));
  await putIf('newbie', ignore(single('age', int(1), 'EQUAL', true)), [{ a: 'x' }]);
  assert.deepStrictEqual(attrsOf((await get('newbie')).row), { a: 'x' });
}

async function singleConditionOnUpdateRow() {
  await updateIf('ann', expectExist(single('name', 'ann', 'EQUAL')), [{ PUT: [{ note: 'update passed' }] }]);
  assert.strictEqual(attrsOf((await get('ann')).row).note, 'update passed');
  await conditionFailed(updateIf('ann', ignore(single('name', 'bob', 'EQUAL')), [{ PUT: [{ note: 'never' }] }]));
  await conditionFailed(updateIf('ann', ignore(single('age', int(30), 'NOT_EQUAL')), [{ DELETE_ALL: ['note'] }]));
  assert.strictEqual(attrsOf((await get('ann')).row).note, 'update passed', 'failed update changed nothing');
}

async function everyComparatorAndType() {
  const passes = [
    single('age', int(30), 'EQUAL'), single('age', int(31), 'NOT_EQUAL'),
    single('age', int(29), 'GREATER_THAN'), single('age', int(30), 'GREATER_EQUAL'),
    single('age', int(31), 'LESS_THAN'), single('age', int(30), 'LESS_EQUAL'),
    single('age', int(-5), 'GREATER_THAN'),
    single('name', 'an', 'GREATER_THAN'), single('name', 'b', 'LESS_THAN'),
    single('score', 1.25, 'GREATER_THAN'), single('score', 1.5, 'EQUAL'),
    single('flag', true, 'EQUAL'), single('flag', false, 'GREATER_THAN'),
    single('blob', Buffer.from([1, 2, 3]), 'EQUAL'), single('blob', Buffer.from([1, 3]), 'LESS_THAN'),
  ];
  const fails = [
    single('age', int(30), 'NOT_EQUAL'), single('age', int(30), 'GREATER_THAN'),
    single('age', int(30), 'LESS_THAN'), single('name', 'ann', 'LESS_THAN'),
    single('score', 1.5, 'GREATER_THAN'), single('flag', false, 'EQUAL'),
    single('blob', Buffer.from([1, 2]), 'LESS_EQUAL'),
  ];
  for (const [i, cond] of passes.entries()) {
    await updateIf('ann', ignore(cond), [{ PUT: [{ hits: int(i) }] }]);
  }
  for (const cond of fails) {
    await conditionFailed(updateIf('ann', ignore(cond), [{ PUT: [{ hits: int(-1) }] }]));
  }
  assert.strictEqual(attrsOf((await get('ann')).row).hits, BigInt(passes.length - 1));
}

async function compositeConditions() {
  const and = composite('AND', [single('name', 'ann', 'EQUAL'), single('age', int(40), 'LESS_THAN')]);
  await updateIf('ann', expectExist(and), [{ PUT: [{ step: 'and' }] }]);
  const or = composite('OR', [single('age', int(1), 'EQUAL'), single('name', 'zed', 'EQUAL')]);
  await conditionFailed(updateIf('ann', ignore(or), [{ PUT: [{ step: 'or' }] }]));
  const not = composite('NOT', [single('age', int(1), 'EQUAL')]);
  await putIf('ann', expectExist(not), [...ANN, { step: 'not' }]);
  const nested = composite('AND', [
    composite('OR', [single('age', int(1), 'EQUAL'), single('flag', true, 'EQUAL')]),
    composite('NOT', [single('score', 2.0, 'GREATER_THAN')]),
  ]);
  await updateIf('ann', ignore(nested), [{ PUT: [{ step: 'nested' }] }]);
  const failingAnd = composite('AND', [single('name', 'ann', 'EQUAL'), single('age', int(30), 'GREATER_THAN')]);
  await conditionFailed(putIf('ann', ignore(failingAnd), [{ step: 'never' }]));
  assert.strictEqual(attrsOf((await get('ann')).row).step, 'nested');
}

async function passIfMissing() {
  await updateIf('ann', ignore(single('missing', 'x', 'EQUAL', true)), [{ PUT: [{ pim: 'passed' }] }]);
  await conditionFailed(updateIf('ann', ignore(single('missing', 'x', 'EQUAL', false)), [{ PUT: [{ pim: 'no' }] }]));
  assert.strictEqual(attrsOf((await get('ann')).row).pim, 'passed');
}

async function latestVersionOnly() {
  for (const [ts, v] of [[BASE, int(5)], [BASE + 1000, int(10)]]) {
    await updateIf('ann', ignore(), [{ PUT: [{ hist: v, timestamp: ts }] }]);
  }
  await conditionFailed(updateIf('ann', ignore(single('hist', int(5), 'EQUAL', true, true)), [{ PUT: [{ lv: 'x' }] }]));
  await updateIf('ann', ignore(single('hist', int(5), 'EQUAL', true, false)), [{ PUT: [{ lv: 'any version' }] }]);
  assert.strictEqual(attrsOf((await get('ann')).row).lv, 'any version');
}

async function conditionOnDeleteRow() {
  await putIf('victim', ignore(), [{ state: 'locked' }]);
  const del = (cond) => call(client, 'deleteRow', { tableName: T, condition: cond, primaryKey: key('victim') });
  await conditionFailed(del(expectExist(single('state', 'open', 'EQUAL'))));
  assert.ok(!isEmptyRow((await get('victim')).row), 'row survives a failed delete');
  await del(expectExist(single('state', 'locked', 'EQUAL')));
  assert.ok(isEmptyRow((await get('victim')).row));
}

async function filterOnGetRow() {
  const hit = await get('ann', { columnFilter: single('age', int(30), 'EQUAL') });
  assert.deepStrictEqual(pkOf(hit.row), { id: 'ann' });
  const miss = await get('ann', { columnFilter: single('age', int(31), 'EQUAL') });
  assert.ok(isEmptyRow(miss.row), 'a row failing the filter is not returned');
  const composed = await get('ann', {
    columnFilter: composite('AND', [single('flag', true, 'EQUAL'), single('score', 1.0, 'GREATER_THAN')]),
  });
  assert.ok(!isEmptyRow(composed.row));
  const dropMissing = await get('ann', { columnFilter: single('missing', 'x', 'EQUAL', false) });
  assert.ok(isEmptyRow(dropMissing.row), 'passIfMissing=false drops rows lacking the column');
  const keepMissing = await get('ann', { columnFilter: single('missing', 'x', 'EQUAL', true) });
  assert.ok(!isEmptyRow(keepMissing.row));
  // The filter sees the whole row even when columnsToGet projects it away.
  const projected = await get('ann', { columnsToGet: ['name'], columnFilter: single('age', int(30), 'EQUAL') });
  assert.deepStrictEqual(attrsOf(projected.row), { name: 'ann' });
}

async function filterOnGetRange() {
  for (let i = 0; i < 8; i += 1) {
    await putIf(`r${i}`, ignore(), [{ n: int(i) }, { even: i % 2 === 0 }]);
  }
  const scan = async (columnFilter) => {
    const page = await call(client, 'getRange', {
      tableName: T, direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: [{ id: 'r' }], exclusiveEndPrimaryKey: [{ id: 's' }],
      columnFilter,
    });
    assert.strictEqual(page.nextStartPrimaryKey, null);
    return page.rows.map((r) => pkOf(r).id);
  };
  assert.deepStrictEqual(await scan(single('n', int(5), 'GREATER_EQUAL')), ['r5', 'r6', 'r7']);
  assert.deepStrictEqual(await scan(composite('AND', [single('n', int(2), 'GREATER_EQUAL'), single('even', true, 'EQUAL')])),
    ['r2', 'r4', 'r6']);
  assert.deepStrictEqual(await scan(composite('NOT', [single('even', true, 'EQUAL')])), ['r1', 'r3', 'r5', 'r7']);
  assert.deepStrictEqual(await scan(single('n', int(100), 'EQUAL')), []);
}

async function filterOnBatchGetRow() {
  const got = await call(client, 'batchGetRow', {
    tables: [{
      tableName: T, primaryKey: [key('r1'), key('r2'), key('r3')],
      columnFilter: single('even', false, 'EQUAL'),
    }],
  });
  assert.deepStrictEqual(got.tables[0].map((r) => r.isOk), [true, true, true]);
  assert.deepStrictEqual(got.tables[0].map((r) => (r.primaryKey ? pkOf(r).id : null)), ['r1', null, 'r3']);
}

async function columnPagination() {
  await putIf('wide', ignore(), [{ c1: int(1) }, { c2: int(2) }, { c3: int(3) }, { c4: int(4) }, { c5: int(5) }]);
  const { row } = await get('wide', { columnFilter: new TableStore.ColumnPaginationFilter(2, 1) });
  assert.deepStrictEqual(cellsOf(row).map(([n, v]) => [n, v]), [['c2', 2n], ['c3', 3n]]);
  const page = await call(client, 'getRange', {
    tableName: T, direction: TableStore.Direction.FORWARD,
    inclusiveStartPrimaryKey: key('wide'), exclusiveEndPrimaryKey: key('widf'),
    columnFilter: new TableStore.ColumnPaginationFilter(1, 3),
  });
  assert.deepStrictEqual(page.rows.map((r) => cellsOf(r).map(([n]) => n)), [['c4']]);
}

run([
  ['setup', setup],
  ['SingleColumnCondition on putRow: pass and fail', singleConditionOnPutRow],
  ['SingleColumnCondition on updateRow: pass and fail', singleConditionOnUpdateRow],
  ['every comparator over Int64, string, double, boolean, binary', everyComparatorAndType],
  ['CompositeCondition AND / OR / NOT / nested', compositeConditions],
  ['passIfMissing', passIfMissing],
  ['latestVersionOnly', latestVersionOnly],
  ['conditions on deleteRow', conditionOnDeleteRow],
  ['columnFilter on getRow', filterOnGetRow],
  ['columnFilter on getRange', filterOnGetRange],
  ['columnFilter on batchGetRow', filterOnBatchGetRow],
  ['ColumnPaginationFilter on getRow and getRange', columnPagination],
]);
