// Secondary indexes through the Node SDK: createTable with indexMetas (a global index),
// describeTable listing the index meta, putRow / updateRow / deleteRow on the base kept current
// in the index (read back with getRange over the whole index key, getRow and batchGetRow by the
// full index key), createIndex with includeBaseData back-filling existing rows, dropIndex,
// writes addressed to an index refused, and deleteTable of the base taking its indexes along.
//
// The base table is keyed by (uid STRING, seq INTEGER), so an index on ['city'] has the primary
// key [city, uid, seq]: the base key columns the index does not list are appended in base order.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, int, pkOf, attrsOf, isEmptyRow, expectError,
  dropIfExists, run,
} = require('./common');

const client = makeClient('node_indexes');
const BASE = 'ni_base';
const BY_CITY = 'ni_by_city'; // declared with the table: key [city, uid, seq], covers name, age
const BY_AGE = 'ni_by_age'; // added later by createIndex: key [age, uid, seq], covers city
const CITY_KEY = ['city', 'uid', 'seq'];
const AGE_KEY = ['age', 'uid', 'seq'];
const { INF_MIN, INF_MAX } = TableStore;
const { DCT_STRING, DCT_INTEGER, DCT_DOUBLE } = TableStore.DefinedColumnType;

const baseKey = (uid, seq) => [{ uid }, { seq: int(seq) }];
const put = (uid, seq, attributeColumns) =>
  call(client, 'putRow', { tableName: BASE, condition: ignore(), primaryKey: baseKey(uid, seq), attributeColumns });
const update = (uid, seq, ops) =>
  call(client, 'updateRow', { tableName: BASE, condition: ignore(), primaryKey: baseKey(uid, seq), updateOfAttributeColumns: ops });
const del = (uid, seq) =>
  call(client, 'deleteRow', { tableName: BASE, condition: ignore(), primaryKey: baseKey(uid, seq) });

/** Index PK values → the SDK's key shape, e.g. cityKey('paris', 'u1', 1). */
const cityKey = (city, uid, seq) => [{ city }, { uid }, { seq: int(seq) }];

/** A row as [primary key values (Int64 as BigInt), { covered column: value }]. */
const entry = (row) => [Object.values(pkOf(row)), attrsOf(row)];

/**
 * Every row of an index, FORWARD from INF_MIN to INF_MAX on each of its key columns, following
 * nextStartPrimaryKey so a short page cannot hide rows. Checks the key column names too.
 */
async function scanIndex(indexName, keyNames) {
  const bound = (value) => keyNames.map((name) => ({ [name]: value }));
  const end = bound(INF_MAX);
  const out = [];
  let start = bound(INF_MIN);
  for (let calls = 1; start; calls += 1) {
    assert.ok(calls <= 20, 'paging terminates');
    const page = await call(client, 'getRange', {
      tableName: indexName,
      direction: TableStore.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: end,
    });
    for (const row of page.rows) {
      assert.deepStrictEqual(row.primaryKey.map((c) => c.name), keyNames, 'index key columns in order');
      out.push(entry(row));
    }
    start = page.nextStartPrimaryKey ? page.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value })) : null;
  }
  return out;
}

/** describeTable's index metas as { name: { primaryKey, definedColumn, indexType } }. */
async function describedIndexes(tableName) {
  const d = await call(client, 'describeTable', { tableName });
  return Object.fromEntries((d.indexMetas || []).map((m) =>
    [m.name, { primaryKey: [...m.primaryKey], definedColumn: [...m.definedColumn], indexType: m.indexType }]));
}

async function createTableWithIndex() {
  await dropIfExists(client, BASE); // drops a leftover base together with its indexes
  await call(client, 'createTable', {
    tableMeta: {
      tableName: BASE,
      primaryKey: [{ name: 'uid', type: 'STRING' }, { name: 'seq', type: 'INTEGER' }],
      definedColumn: [
        { name: 'city', type: DCT_STRING },
        { name: 'age', type: DCT_INTEGER },
        { name: 'name', type: DCT_STRING },
        { name: 'score', type: DCT_DOUBLE },
      ],
    },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    // Indexes require a single version and no TTL on the base table.
    tableOptions: { timeToLive: -1, maxVersions: 1 },
    indexMetas: [{
      name: BY_CITY, primaryKey: ['city'], definedColumn: ['name', 'age'],
      indexType: TableStore.IndexType.IT_GLOBAL_INDEX,
    }],
  });
}

async function describeShowsTheIndex() {
  // Described as declared: the listed key, not the completed [city, uid, seq].
  assert.deepStrictEqual(await describedIndexes(BASE), {
    [BY_CITY]: { primaryKey: ['city'], definedColumn: ['name', 'age'], indexType: TableStore.IndexType.IT_GLOBAL_INDEX },
  });
  const listed = (await call(client, 'listTable', {})).tableNames;
  assert.ok(listed.includes(BASE), 'the base table is listed');
  assert.ok(!listed.includes(BY_CITY), 'an index is not listed as a table');
}

async function putRowsAppearInIndexOrder() {
  await put('u1', 1, [{ city: 'paris' }, { name: 'A' }, { age: int(30) }, { score: 1.5 }]);
  await put('u2', 1, [{ city: 'berlin' }, { name: 'B' }]);
  await put('u1', 2, [{ city: 'paris' }, { age: int(40) }]);
  await put('u3', 1, [{ city: 'rome' }, { score: 2.5 }]); // score is not covered: no attributes
  await put('u4', 1, [{ name: 'D' }, { age: int(1) }]); // no city: not indexed at all
  assert.deepStrictEqual(await scanIndex(BY_CITY, CITY_KEY), [
    [['berlin', 'u2', 1n], { name: 'B' }],
    [['paris', 'u1', 1n], { name: 'A', age: 30n }],
    [['paris', 'u1', 2n], { age: 40n }],
    [['rome', 'u3', 1n], {}],
  ]);
}

async function updateRowMovesAndRewritesEntries() {
  // A new city moves the entry, and the covered columns follow it.
  await update('u2', 1, [{ PUT: [{ city: 'athens' }, { age: int(7) }] }]);
  // A covered column changed and another deleted: the entry stays, rewritten.
  await update('u1', 1, [{ PUT: [{ name: 'A2' }] }, { DELETE_ALL: ['age'] }]);
  // Gaining the index column brings a row in; losing it takes a row out.
  await update('u4', 1, [{ PUT: [{ city: 'lima' }] }]);
  await update('u1', 2, [{ DELETE_ALL: ['city'] }]);
  assert.deepStrictEqual(await scanIndex(BY_CITY, CITY_KEY), [
    [['athens', 'u2', 1n], { name: 'B', age: 7n }],
    [['lima', 'u4', 1n], { name: 'D', age: 1n }],
    [['paris', 'u1', 1n], { name: 'A2' }],
    [['rome', 'u3', 1n], {}],
  ]);
}

async function deleteRowRemovesTheEntry() {
  await del('u3', 1);
  assert.deepStrictEqual(await scanIndex(BY_CITY, CITY_KEY), [
    [['athens', 'u2', 1n], { name: 'B', age: 7n }],
    [['lima', 'u4', 1n], { name: 'D', age: 1n }],
    [['paris', 'u1', 1n], { name: 'A2' }],
  ]);
}

async function getRowAndBatchGetRowOnTheIndex() {
  const { row } = await call(client, 'getRow', { tableName: BY_CITY, primaryKey: cityKey('athens', 'u2', 1) });
  assert.deepStrictEqual(entry(row), [['athens', 'u2', 1n], { name: 'B', age: 7n }]);
  // The old key of a moved entry is gone.
  const old = await call(client, 'getRow', { tableName: BY_CITY, primaryKey: cityKey('berlin', 'u2', 1) });
  assert.ok(isEmptyRow(old.row), 'no entry under the old city');

  const got = await call(client, 'batchGetRow', {
    tables: [{ tableName: BY_CITY, primaryKey: [cityKey('paris', 'u1', 1), cityKey('rome', 'u3', 1)] }],
  });
  const [rows] = got.tables;
  assert.deepStrictEqual(rows.map((r) => [r.tableName, r.isOk]), [[BY_CITY, true], [BY_CITY, true]]);
  assert.deepStrictEqual(entry(rows[0]), [['paris', 'u1', 1n], { name: 'A2' }]);
  assert.ok(isEmptyRow(rows[1]), 'the deleted base row has no entry');
}

async function createIndexBackfillsExistingRows() {
  await call(client, 'createIndex', {
    mainTableName: BASE,
    indexMeta: { name: BY_AGE, primaryKey: ['age'], definedColumn: ['city'] },
    includeBaseData: true,
  });
  const described = await describedIndexes(BASE);
  assert.deepStrictEqual(Object.keys(described).sort(), [BY_AGE, BY_CITY]);
  assert.deepStrictEqual(described[BY_AGE],
    { primaryKey: ['age'], definedColumn: ['city'], indexType: TableStore.IndexType.IT_GLOBAL_INDEX });
  // Base rows now: u1/1 (paris, no age), u1/2 (age 40, no city), u2/1 (athens, 7), u4/1 (lima, 1).
  assert.deepStrictEqual(await scanIndex(BY_AGE, AGE_KEY), [
    [[1n, 'u4', 1n], { city: 'lima' }],
    [[7n, 'u2', 1n], { city: 'athens' }],
    [[40n, 'u1', 2n], {}],
  ]);
  // And it is maintained from then on.
  await put('u5', 1, [{ age: int(7) }, { city: 'oslo' }]);
  assert.deepStrictEqual(await scanIndex(BY_AGE, AGE_KEY), [
    [[1n, 'u4', 1n], { city: 'lima' }],
    [[7n, 'u2', 1n], { city: 'athens' }],
    [[7n, 'u5', 1n], { city: 'oslo' }],
    [[40n, 'u1', 2n], {}],
  ]);
}

async function dropIndexRemovesIt() {
  await call(client, 'dropIndex', { mainTableName: BASE, indexName: BY_AGE });
  assert.deepStrictEqual(Object.keys(await describedIndexes(BASE)), [BY_CITY]);
  await expectError(scanIndex(BY_AGE, AGE_KEY), 404, 'OTSObjectNotExist');
  // The other index carries on.
  assert.deepStrictEqual((await scanIndex(BY_CITY, CITY_KEY)).map(([key]) => key), [
    ['athens', 'u2', 1n], ['lima', 'u4', 1n], ['oslo', 'u5', 1n], ['paris', 'u1', 1n],
  ]);
}

async function writesToAnIndexAreRefused() {
  const refused = (promise) => expectError(promise, 400, 'OTSParameterInvalid', /index/i);
  const primaryKey = cityKey('zagreb', 'u9', 1);
  await refused(call(client, 'putRow', {
    tableName: BY_CITY, condition: ignore(), primaryKey, attributeColumns: [{ name: 'x' }],
  }));
  await refused(call(client, 'updateRow', {
    tableName: BY_CITY, condition: ignore(), primaryKey, updateOfAttributeColumns: [{ PUT: [{ name: 'x' }] }],
  }));
  await refused(call(client, 'deleteRow', {
    tableName: BY_CITY, condition: ignore(), primaryKey: cityKey('paris', 'u1', 1),
  }));
  // Nothing reached the index.
  assert.deepStrictEqual((await scanIndex(BY_CITY, CITY_KEY)).map(([key]) => key), [
    ['athens', 'u2', 1n], ['lima', 'u4', 1n], ['oslo', 'u5', 1n], ['paris', 'u1', 1n],
  ]);
}

async function deleteTableTakesItsIndexes() {
  await call(client, 'deleteTable', { tableName: BASE });
  await expectError(scanIndex(BY_CITY, CITY_KEY), 404, 'OTSObjectNotExist');
  await expectError(call(client, 'getRow', { tableName: BY_CITY, primaryKey: cityKey('paris', 'u1', 1) }),
    404, 'OTSObjectNotExist');
  await expectError(call(client, 'describeTable', { tableName: BY_CITY }), 404, 'OTSObjectNotExist');
  const listed = (await call(client, 'listTable', {})).tableNames;
  assert.ok(!listed.includes(BASE) && !listed.includes(BY_CITY), 'neither base nor index listed');
}

run([
  ['createTable with indexMetas (a global index)', createTableWithIndex],
  ['describeTable shows the index meta; listTable does not list it', describeShowsTheIndex],
  ['putRow on the base: index rows in index key order with covered columns', putRowsAppearInIndexOrder],
  ['updateRow on the base moves, rewrites, adds and removes entries', updateRowMovesAndRewritesEntries],
  ['deleteRow on the base removes the entry', deleteRowRemovesTheEntry],
  ['getRow / batchGetRow on the index by full index key', getRowAndBatchGetRowOnTheIndex],
  ['createIndex with includeBaseData back-fills existing rows', createIndexBackfillsExistingRows],
  ['dropIndex removes the index: getRange on it is 404', dropIndexRemovesIt],
  ['putRow / updateRow / deleteRow on an index: 400 OTSParameterInvalid', writesToAnIndexAreRefused],
  ['deleteTable of the base makes its index 404', deleteTableTakesItsIndexes],
]);
