// Local transactions through the Node SDK: startLocalTransaction / commitTransaction /
// abortTransaction, transactionId on putRow / updateRow / deleteRow / batchWriteRow / getRow /
// getRange, read isolation, partition locking (409 OTSRowOperationConflict) and invalid ids.
//
// Node SDK 5.6.5 quirk (not an otsd issue): abortTransaction decodes the (empty) response with
// the *request* message AbortTransactionRequest, whose transaction_id is required
// (lib/protocol/decoder.js decodeAbortTransaction), so protobufjs rejects every successful
// abort client-side with "missing required 'transactionId'". `abort` below tolerates exactly
// that error and the tests check the abort's effect on the server instead.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, expectExist, int, pkOf, attrsOf, isEmptyRow,
  expectError, freshTable, run,
} = require('./common');

const client = makeClient('node_txn');
const T = 'nx_txn';
const INVALID = 'TransactionID is invalid.';
const { INF_MIN, INF_MAX } = TableStore;

const key = (part, seq) => [{ part }, { seq: int(seq) }];
const start = async (part) =>
  (await call(client, 'startLocalTransaction', { tableName: T, primaryKey: [{ part }] })).transactionId;
const commit = (transactionId) => call(client, 'commitTransaction', { transactionId });
const put = (part, seq, v, transactionId) => call(client, 'putRow', {
  tableName: T, condition: ignore(), primaryKey: key(part, seq), attributeColumns: [{ v }], transactionId,
});
const value = async (part, seq, transactionId) => {
  const { row } = await call(client, 'getRow', { tableName: T, primaryKey: key(part, seq), transactionId });
  return isEmptyRow(row) ? null : attrsOf(row).v;
};

async function abort(transactionId) {
  try {
    await call(client, 'abortTransaction', { transactionId });
  } catch (err) {
    // The SDK's own decode failure (see the header); any service error still fails the test.
    if (err.code !== undefined || !/missing required 'transactionId'/.test(err.message)) throw err;
  }
}

async function setup() {
  await freshTable(client, T, [['part', 'STRING'], ['seq', 'INTEGER']]);
  await put('iso', 1, 'origin value');
  await put('com', 9, 'gone soon');
  await put('abt', 1, 'kept');
}

async function writesVisibleOnlyWithTheId() {
  const txn = await start('iso');
  assert.strictEqual(typeof txn, 'string');
  assert.ok(txn.length > 0);
  await put('iso', 1, 'new value', txn);
  await put('iso', 2, 'fresh', txn);
  assert.strictEqual(await value('iso', 1, txn), 'new value');
  assert.strictEqual(await value('iso', 1), 'origin value');
  assert.strictEqual(await value('iso', 2), null);
  const scan = async (transactionId) => (await call(client, 'getRange', {
    tableName: T, direction: TableStore.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{ part: 'iso' }, { seq: INF_MIN }],
    exclusiveEndPrimaryKey: [{ part: 'iso' }, { seq: INF_MAX }],
    transactionId,
  })).rows.map((r) => [Number(pkOf(r).seq), attrsOf(r).v]);
  assert.deepStrictEqual(await scan(txn), [[1, 'new value'], [2, 'fresh']]);
  assert.deepStrictEqual(await scan(undefined), [[1, 'origin value']]);
  await abort(txn);
}

async function commitAppliesEveryWrite() {
  const txn = await start('com');
  await put('com', 1, 'one', txn);
  await call(client, 'updateRow', {
    tableName: T, condition: expectExist(), primaryKey: key('com', 1), transactionId: txn,
    updateOfAttributeColumns: [{ PUT: [{ w: int(5) }] }, { INCREMENT: [{ n: int(3) }] }],
  });
  await call(client, 'deleteRow', { tableName: T, condition: ignore(), primaryKey: key('com', 9), transactionId: txn });
  const batch = await call(client, 'batchWriteRow', {
    transactionId: txn,
    tables: [{ tableName: T, rows: [
      { type: 'PUT', condition: ignore(), primaryKey: key('com', 2), attributeColumns: [{ v: 'two' }] },
      { type: 'UPDATE', condition: ignore(), primaryKey: key('com', 1), attributeColumns: [{ INCREMENT: [{ n: int(4) }] }] },
    ] }],
  });
  assert.ok(batch.tables.every((r) => r.isOk));
  assert.strictEqual(await value('com', 1), null, 'nothing visible before commit');
  assert.strictEqual(await value('com', 9), 'gone soon');
  await commit(txn);
  const { row } = await call(client, 'getRow', { tableName: T, primaryKey: key('com', 1) });
  assert.deepStrictEqual(attrsOf(row), { n: 7n, v: 'one', w: 5n });
  assert.strictEqual(await value('com', 2), 'two');
  assert.strictEqual(await value('com', 9), null);
  await expectError(commit(txn), 400, 'OTSParameterInvalid', INVALID);
  await put('com', 3, 'after', undefined); // the partition is free again
}

async function abortDiscardsWrites() {
  const txn = await start('abt');
  await put('abt', 1, 'dropped', txn);
  await abort(txn);
  assert.strictEqual(await value('abt', 1), 'kept');
  await expectError(value('abt', 1, txn), 400, 'OTSParameterInvalid', INVALID);
  await put('abt', 2, 'free again');
}

async function heldPartitionRefusesOthers() {
  const txn = await start('lock');
  await expectError(put('lock', 1, 'x'), 409, 'OTSRowOperationConflict');
  await expectError(start('lock'), 409, 'OTSRowOperationConflict');
  const batch = await call(client, 'batchWriteRow', { tables: [{ tableName: T, rows: [
    { type: 'PUT', condition: ignore(), primaryKey: key('lock', 2), attributeColumns: [{ v: 'x' }] },
    { type: 'PUT', condition: ignore(), primaryKey: key('free', 2), attributeColumns: [{ v: 'x' }] },
  ] }] });
  assert.deepStrictEqual(batch.tables.map((r) => [r.isOk, r.errorCode]), [[false, 'OTSRowOperationConflict'], [true, null]]);
  assert.strictEqual(await value('lock', 1), null, 'reads without the id are not blocked');
  await expectError(put('free', 1, 'y', txn), 400, 'OTSParameterInvalid', /./);
  await commit(txn);
  await put('lock', 1, 'x');
}

async function autoIncrementRefusedInsideTransaction() {
  const name = 'nx_autoinc';
  await freshTable(client, name, [['part', 'STRING'], ['id', 'INTEGER', 'AUTO_INCREMENT']]);
  const { transactionId } = await call(client, 'startLocalTransaction', { tableName: name, primaryKey: [{ part: 'a' }] });
  await expectError(call(client, 'putRow', {
    tableName: name, condition: ignore(), primaryKey: [{ part: 'a' }, { id: TableStore.PK_AUTO_INCR }],
    attributeColumns: [{ v: 'x' }], transactionId,
  }), 400, 'OTSParameterInvalid');
  await abort(transactionId);
}

async function invalidIdsAndKeys() {
  const bogus = 'no-such-transaction';
  await expectError(commit(bogus), 400, 'OTSParameterInvalid', INVALID);
  await expectError(call(client, 'abortTransaction', { transactionId: bogus }), 400, 'OTSParameterInvalid', INVALID);
  await expectError(put('z', 1, 'v', bogus), 400, 'OTSParameterInvalid', INVALID);
  await expectError(value('z', 1, bogus), 400, 'OTSParameterInvalid', INVALID);
  await expectError(call(client, 'startLocalTransaction', { tableName: T, primaryKey: key('z', 1) }),
    400, 'OTSInvalidPK');
  await expectError(call(client, 'startLocalTransaction', { tableName: 'nx_no_such_table', primaryKey: [{ part: 'z' }] }),
    404, 'OTSObjectNotExist');
}

run([
  ['setup', setup],
  ['writes are visible only with the transactionId (getRow, getRange)', writesVisibleOnlyWithTheId],
  ['commit applies put/update/delete/batchWrite at once', commitAppliesEveryWrite],
  ['abort discards the writes', abortDiscardsWrites],
  ['a held partition refuses other writers: 409 OTSRowOperationConflict', heldPartitionRefusesOthers],
  ['AUTO_INCREMENT is refused inside a transaction', autoIncrementRefusedInsideTransaction],
  ['invalid transaction ids and keys', invalidIdsAndKeys],
]);
