// Drives a running otsd (endpoint in $OTSD_ENDPOINT) through the official Tablestore Node SDK:
// table operations, every row operation, an auto-increment key, a failed condition and the
// error it carries. Prints OK and exits 0 only if every check held.
'use strict';
const assert = require('assert');
const TableStore = require('tablestore');

const Long = TableStore.Long;
const client = new TableStore.Client({
  accessKeyId: 'otsd',
  secretAccessKey: 'otsd-secret',
  endpoint: process.env.OTSD_ENDPOINT,
  instancename: 'nodesdk',
  maxRetries: 0,
});
const call = (api, params) =>
  new Promise((resolve, reject) =>
    client[api](params, (err, data) => (err ? reject(Object.assign(err, { api })) : resolve(data))));
const ignore = () => new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null);
const attrs = (row) => Object.fromEntries(row.attributes.map((a) => [a.columnName, String(a.columnValue)]));

async function main() {
  const table = 'node_smoke';
  await call('createTable', {
    tableMeta: {
      tableName: table,
      primaryKey: [{ name: 'uid', type: 'STRING' }, { name: 'seq', type: 'INTEGER', option: 'AUTO_INCREMENT' }],
    },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
  assert.ok((await call('listTable', {})).tableNames.includes(table));
  const described = await call('describeTable', { tableName: table });
  assert.strictEqual(described.tableMeta.primaryKey[1].option, 1); // PKO_AUTO_INCREMENT

  // PutRow with the auto-increment placeholder (the SDK pads this row with a zero byte).
  const put = await call('putRow', {
    tableName: table,
    condition: ignore(),
    primaryKey: [{ uid: 'u1' }, { seq: TableStore.PK_AUTO_INCR }],
    attributeColumns: [{ text: 'hello' }, { n: Long.fromNumber(5) }],
    returnContent: { returnType: TableStore.ReturnType.Primarykey },
  });
  const seq = put.row.primaryKey[1].value;
  const key = [{ uid: 'u1' }, { seq }];
  assert.deepStrictEqual(attrs((await call('getRow', { tableName: table, primaryKey: key, maxVersions: 1 })).row),
    { text: 'hello', n: '5' });

  await call('updateRow', {
    tableName: table,
    condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, null),
    primaryKey: key,
    updateOfAttributeColumns: [{ PUT: [{ text: 'bye' }] }, { INCREMENT: [{ n: Long.fromNumber(2) }] }],
  });
  assert.deepStrictEqual(attrs((await call('getRow', { tableName: table, primaryKey: key, maxVersions: 1 })).row),
    { text: 'bye', n: '7' });

  const rows = [0, 1, 2, 3, 4].map((i) => ({
    type: 'PUT',
    condition: ignore(),
    primaryKey: [{ uid: 'u2' }, { seq: TableStore.PK_AUTO_INCR }],
    attributeColumns: [{ i: Long.fromNumber(i) }],
    returnContent: { returnType: TableStore.ReturnType.Primarykey },
  }));
  const written = await call('batchWriteRow', { tables: [{ tableName: table, rows }] });
  assert.strictEqual(written.tables.length, 5);
  assert.ok(written.tables.every((r) => r.isOk));

  // Forward range between INF_MIN and INF_MAX, paged by limit.
  const page = await call('getRange', {
    tableName: table,
    direction: TableStore.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{ uid: 'u2' }, { seq: TableStore.INF_MIN }],
    exclusiveEndPrimaryKey: [{ uid: 'u2' }, { seq: TableStore.INF_MAX }],
    limit: 3,
  });
  assert.deepStrictEqual(page.rows.map((r) => attrs(r).i), ['0', '1', '2']);
  assert.ok(page.nextStartPrimaryKey, 'a limited page names where the next one starts');

  const got = await call('batchGetRow', { tables: [{ tableName: table, primaryKey: [key], maxVersions: 1 }] });
  assert.ok(got.tables[0][0].isOk);
  assert.strictEqual(attrs(got.tables[0][0]).text, 'bye');

  await assert.rejects(
    call('putRow', {
      tableName: table,
      condition: new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, null),
      primaryKey: [{ uid: 'nobody' }, { seq: Long.fromNumber(1) }],
      attributeColumns: [{ a: 'x' }],
    }),
    (err) => err.code === 403 && /OTSConditionCheckFail/.test(err.message));

  await call('deleteRow', { tableName: table, condition: ignore(), primaryKey: key });
  const gone = await call('getRow', { tableName: table, primaryKey: key });
  assert.ok(!gone.row.primaryKey, 'deleted row reads back empty');

  await call('deleteTable', { tableName: table });
  assert.ok(!(await call('listTable', {})).tableNames.includes(table));
  console.log('OK');
}

main().catch((err) => {
  console.error('FAILED', err.api || '', err.code || '', err.message);
  process.exit(1);
});
