// Batch operations through the Node SDK: batchWriteRow mixing PUT / UPDATE / DELETE across two
// tables with per-row failures (condition, bad key, missing table) next to rows that succeed,
// returnContent per row; batchGetRow across two tables with a missing row, columnsToGet,
// maxVersions, per-row errors; and the request-level batch errors.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, expectExist, single, int,
  pkOf, cellsOf, attrsOf, isEmptyRow, expectError, freshTable, run,
} = require('./common');

const client = makeClient('node_batch');
const A = 'nb_users'; // PK (uid STRING)
const B = 'nb_events'; // PK (uid STRING, seq INTEGER)
const BASE = Math.floor(Date.now() / 1000) * 1000 - 600000;

const keyA = (uid) => [{ uid }];
const keyB = (uid, seq) => [{ uid }, { seq: int(seq) }];
const getA = async (uid) => (await call(client, 'getRow', { tableName: A, primaryKey: keyA(uid) })).row;
const getB = async (uid, seq) => (await call(client, 'getRow', { tableName: B, primaryKey: keyB(uid, seq) })).row;

async function setup() {
  await freshTable(client, A, [['uid', 'STRING']], { options: { maxVersions: 2 } });
  await freshTable(client, B, [['uid', 'STRING'], ['seq', 'INTEGER']]);
  const putA = (uid, cols) => call(client, 'putRow', { tableName: A, condition: ignore(), primaryKey: keyA(uid), attributeColumns: cols });
  await putA('u1', [{ name: 'one' }, { visits: int(1) }]);
  await putA('u2', [{ name: 'two' }]);
  await putA('u3', [{ name: 'three' }, { status: 'locked' }]);
  for (const seq of [1, 2, 3]) {
    await call(client, 'putRow', {
      tableName: B, condition: ignore(), primaryKey: keyB('u1', seq), attributeColumns: [{ kind: `k${seq}` }],
    });
  }
}

async function mixedWriteAcrossTwoTables() {
  const result = await call(client, 'batchWriteRow', {
    tables: [
      {
        tableName: A,
        rows: [
          { type: 'PUT', condition: ignore(), primaryKey: keyA('u4'), attributeColumns: [{ name: 'four' }],
            returnContent: { returnType: TableStore.ReturnType.Primarykey } },
          { type: 'UPDATE', condition: expectExist(), primaryKey: keyA('u1'),
            attributeColumns: [{ PUT: [{ name: 'ONE' }] }, { INCREMENT: [{ visits: int(2) }] }] },
          { type: 'DELETE', condition: ignore(), primaryKey: keyA('u2') },
          // Fails its column condition: status is 'locked', not 'open'.
          { type: 'UPDATE', condition: ignore(single('status', 'open', 'EQUAL')), primaryKey: keyA('u3'),
            attributeColumns: [{ PUT: [{ name: 'never' }] }] },
        ],
      },
      {
        tableName: B,
        rows: [
          { type: 'PUT', condition: ignore(), primaryKey: keyB('u4', 1), attributeColumns: [{ kind: 'signup' }] },
          { type: 'UPDATE', condition: ignore(single('kind', 'k2', 'EQUAL')), primaryKey: keyB('u1', 2),
            attributeColumns: [{ DELETE_ALL: ['kind'] }, { PUT: [{ seen: true }] }] },
          { type: 'DELETE', condition: expectExist(), primaryKey: keyB('u1', 3) },
          // Fails its existence expectation.
          { type: 'DELETE', condition: expectExist(), primaryKey: keyB('nobody', 1) },
        ],
      },
    ],
  });
  const rows = result.tables; // the SDK flattens tables → one list in request order
  assert.deepStrictEqual(rows.map((r) => [r.tableName, r.isOk]), [
    [A, true], [A, true], [A, true], [A, false],
    [B, true], [B, true], [B, true], [B, false],
  ]);
  for (const failed of [rows[3], rows[7]]) {
    assert.deepStrictEqual([failed.errorCode, failed.errorMessage], ['OTSConditionCheckFail', 'Condition check failed.']);
  }
  assert.deepStrictEqual(pkOf(rows[0]), { uid: 'u4' }, 'returnContent PK on a batch PUT row');
  assert.strictEqual(rows[1].primaryKey, null, 'no returnContent → no row');
  assert.ok(rows[0].capacityUnit && rows[0].capacityUnit.write >= 1, 'per-row consumed capacity');

  assert.deepStrictEqual(attrsOf(await getA('u4')), { name: 'four' });
  assert.deepStrictEqual(attrsOf(await getA('u1')), { name: 'ONE', visits: 3n });
  assert.ok(isEmptyRow(await getA('u2')));
  assert.deepStrictEqual(attrsOf(await getA('u3')), { name: 'three', status: 'locked' }, 'failed row unchanged');
  assert.deepStrictEqual(attrsOf(await getB('u4', 1)), { kind: 'signup' });
  assert.deepStrictEqual(attrsOf(await getB('u1', 2)), { seen: true });
  assert.ok(isEmptyRow(await getB('u1', 3)));
  assert.ok(isEmptyRow(await getB('nobody', 1)));
}

async function batchIncrementReturnsAfterModify() {
  const result = await call(client, 'batchWriteRow', { tables: [{ tableName: A, rows: [
    { type: 'UPDATE', condition: ignore(), primaryKey: keyA('u1'), attributeColumns: [{ INCREMENT: [{ visits: int(10) }] }],
      returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: ['visits'] } },
    { type: 'UPDATE', condition: ignore(), primaryKey: keyA('counter'), attributeColumns: [{ INCREMENT: [{ hits: int(1) }] }],
      returnContent: { returnType: TableStore.ReturnType.AfterModify, returnColumns: ['hits'] } },
  ] }] });
  assert.deepStrictEqual(result.tables.map((r) => [r.isOk, pkOf(r), attrsOf(r)]), [
    [true, { uid: 'u1' }, { visits: 13n }],
    [true, { uid: 'counter' }, { hits: 1n }],
  ]);
}

async function perRowKeyAndTableErrors() {
  const result = await call(client, 'batchWriteRow', {
    tables: [
      { tableName: B, rows: [
        { type: 'PUT', condition: ignore(), primaryKey: [{ uid: 'u5' }], attributeColumns: [{ a: 'x' }] },
        { type: 'PUT', condition: ignore(), primaryKey: keyB('u5', 1), attributeColumns: [{ a: 'ok' }] },
      ] },
      { tableName: 'nb_no_such_table', rows: [
        { type: 'PUT', condition: ignore(), primaryKey: keyA('u5'), attributeColumns: [{ a: 'x' }] },
      ] },
    ],
  });
  assert.deepStrictEqual(result.tables.map((r) => [r.isOk, r.errorCode, r.errorMessage]), [
    [false, 'OTSInvalidPK', 'Validate PK size fail. Input: 1, Meta: 2.'],
    [true, null, null],
    [false, 'OTSObjectNotExist', 'Requested table does not exist.'],
  ]);
  assert.deepStrictEqual(attrsOf(await getB('u5', 1)), { a: 'ok' });
}

async function batchGetAcrossTwoTables() {
  const got = await call(client, 'batchGetRow', {
    tables: [
      { tableName: A, primaryKey: [keyA('u1'), keyA('missing'), keyA('u4')] },
      { tableName: B, primaryKey: [keyB('u1', 1), keyB('u1', 3)], columnsToGet: ['kind'] },
    ],
  });
  assert.strictEqual(got.tables.length, 2, 'one entry per table, in request order');
  const [a, b] = got.tables;
  assert.deepStrictEqual(a.map((r) => [r.tableName, r.isOk]), [[A, true], [A, true], [A, true]]);
  assert.deepStrictEqual(a.map((r) => (r.primaryKey ? pkOf(r).uid : null)), ['u1', null, 'u4'], 'missing row has no row');
  assert.deepStrictEqual(attrsOf(a[0]), { name: 'ONE', visits: 13n });
  assert.deepStrictEqual(b.map((r) => (r.primaryKey ? attrsOf(r) : null)), [{ kind: 'k1' }, null]);
  assert.ok(a.every((r) => r.capacityUnit && r.capacityUnit.read >= 1), 'per-row consumed capacity');
}

async function batchGetMaxVersionsAndTimeRange() {
  for (const [ts, v] of [[BASE, 'first'], [BASE + 1000, 'second']]) {
    await call(client, 'updateRow', {
      tableName: A, condition: ignore(), primaryKey: keyA('hist'),
      updateOfAttributeColumns: [{ PUT: [{ v, timestamp: ts }] }],
    });
  }
  const two = await call(client, 'batchGetRow', { tables: [{ tableName: A, primaryKey: [keyA('hist')], maxVersions: 2 }] });
  assert.deepStrictEqual(cellsOf(two.tables[0][0]), [['v', 'second', BASE + 1000], ['v', 'first', BASE]]);
  const at = await call(client, 'batchGetRow', {
    tables: [{ tableName: A, primaryKey: [keyA('hist')], timeRange: { specificTime: BASE } }],
  });
  assert.deepStrictEqual(cellsOf(at.tables[0][0]), [['v', 'first', BASE]]);
}

async function batchGetPerRowErrors() {
  const got = await call(client, 'batchGetRow', {
    tables: [
      { tableName: B, primaryKey: [keyB('u1', 1), [{ uid: 'u1' }]] },
      { tableName: 'nb_no_such_table', primaryKey: [keyA('u1')] },
    ],
  });
  const rows = got.tables.flat();
  assert.deepStrictEqual(rows.map((r) => [r.isOk, r.errorCode, r.errorMessage]), [
    [true, null, null],
    [false, 'OTSInvalidPK', 'Validate PK size fail. Input: 1, Meta: 2.'],
    [false, 'OTSObjectNotExist', 'Requested table does not exist.'],
  ]);
}

async function concurrentRequestsOverKeepAlive() {
  // 60 single-row writes in flight at once, then 60 reads: each answer matches its request.
  const ids = Array.from({ length: 60 }, (_, i) => i);
  await Promise.all(ids.map((i) => call(client, 'putRow', {
    tableName: B, condition: ignore(), primaryKey: keyB('par', i), attributeColumns: [{ i: int(i) }],
  })));
  const rows = await Promise.all(ids.map((i) => getB('par', i)));
  assert.deepStrictEqual(rows.map((r) => attrsOf(r).i), ids.map(BigInt));
  const got = await call(client, 'batchGetRow', { tables: [{ tableName: B, primaryKey: ids.map((i) => keyB('par', i)) }] });
  assert.deepStrictEqual(got.tables[0].map((r) => attrsOf(r).i), ids.map(BigInt));
}

async function requestLevelErrors() {
  await expectError(call(client, 'batchGetRow', { tables: [] }), 400, 'OTSParameterInvalid',
    'No row specified in the request of BatchGetRow.');
  await expectError(call(client, 'batchWriteRow', { tables: [{ tableName: A, rows: [] }] }), 400, 'OTSParameterInvalid',
    `No operation is specified for table: '${A}'.`);
  const tooMany = Array.from({ length: 101 }, (_, i) => keyA(`k${i}`));
  await expectError(call(client, 'batchGetRow', { tables: [{ tableName: A, primaryKey: tooMany }] }),
    400, 'OTSParameterInvalid');
}

run([
  ['setup', setup],
  ['batchWriteRow PUT/UPDATE/DELETE across two tables, one failing condition per table', mixedWriteAcrossTwoTables],
  ['batchWriteRow INCREMENT with returnContent AfterModify', batchIncrementReturnsAfterModify],
  ['batchWriteRow per-row errors: bad PK, missing table', perRowKeyAndTableErrors],
  ['batchGetRow across two tables with a missing row', batchGetAcrossTwoTables],
  ['batchGetRow maxVersions and timeRange', batchGetMaxVersionsAndTimeRange],
  ['batchGetRow per-row errors: bad PK, missing table', batchGetPerRowErrors],
  ['concurrent requests over keep-alive', concurrentRequestsOverKeepAlive],
  ['batch request-level errors: 400', requestLevelErrors],
]);
