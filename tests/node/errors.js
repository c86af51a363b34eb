// Error paths as the Node SDK surfaces them (err.code = HTTP status; the protobuf Error body
// decoded by common.serviceError): authentication, missing tables, invalid primary keys,
// invalid cells and timestamps, and APIs otsd does not serve.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, int, expectError, freshTable, run,
} = require('./common');

const INSTANCE = 'node_errors';
const client = makeClient(INSTANCE);
const T = 'ne_errors'; // PK (part STRING, seq INTEGER)
const MISSING = 'ne_no_such_table';
const { INF_MIN, PK_AUTO_INCR } = TableStore;

const key = (part, seq) => [{ part }, { seq: int(seq) }];
const getRow = (primaryKey, tableName = T) => call(client, 'getRow', { tableName, primaryKey });
const putRow = (primaryKey, attributeColumns = [{ v: 'x' }], tableName = T) =>
  call(client, 'putRow', { tableName, condition: ignore(), primaryKey, attributeColumns });

async function setup() {
  await freshTable(client, T, [['part', 'STRING'], ['seq', 'INTEGER']]);
}

async function wrongSecret() {
  const bad = makeClient(INSTANCE, { secretAccessKey: 'not-the-secret' });
  await expectError(call(bad, 'listTable', {}), 403, 'OTSAuthFailed', 'Signature mismatch.');
  await expectError(call(bad, 'getRow', { tableName: T, primaryKey: key('a', 1) }), 403, 'OTSAuthFailed',
    'Signature mismatch.');
}

async function unknownAccessKeyId() {
  const bad = makeClient(INSTANCE, { accessKeyId: 'nobody' });
  await expectError(call(bad, 'listTable', {}), 403, 'OTSAuthFailed', 'The AccessKeyID does not exist.');
}

async function skewedClock() {
  // The SDK stamps x-ots-date from TableStore.util.date.getDate(); move it 20 minutes back.
  const real = TableStore.util.date.getDate;
  TableStore.util.date.getDate = () => new Date(Date.now() - 20 * 60 * 1000);
  try {
    await expectError(call(client, 'listTable', {}), 403, 'OTSAuthFailed', /^Mismatch between system time and x-ots-date: /);
  } finally {
    TableStore.util.date.getDate = real;
  }
  await call(client, 'listTable', {});
}

async function stsTokenIsAccepted() {
  const sts = makeClient(INSTANCE, { stsToken: 'any-token' });
  assert.ok((await call(sts, 'listTable', {})).tableNames.includes(T));
}

async function missingTableOnEveryRowApi() {
  const notExist = (promise) => expectError(promise, 404, 'OTSObjectNotExist', 'Requested table does not exist.');
  await notExist(getRow(key('a', 1), MISSING));
  await notExist(putRow(key('a', 1), [{ v: 'x' }], MISSING));
  await notExist(call(client, 'updateRow', {
    tableName: MISSING, condition: ignore(), primaryKey: key('a', 1), updateOfAttributeColumns: [{ PUT: [{ v: 'x' }] }],
  }));
  await notExist(call(client, 'deleteRow', { tableName: MISSING, condition: ignore(), primaryKey: key('a', 1) }));
}

async function invalidPrimaryKeys() {
  // The service answers count/name/type mismatches with OTSInvalidPK (SEMANTICS §2).
  const invalidPk = (promise, message) => expectError(promise, 400, 'OTSInvalidPK', message);
  await invalidPk(getRow([{ part: 'a' }, { seq: '1' }]), 'Validate PK type fail. Input: STRING, Meta: INTEGER.');
  await invalidPk(putRow([{ part: int(1) }, { seq: int(1) }]), 'Validate PK type fail. Input: INTEGER, Meta: STRING.');
  await invalidPk(getRow([{ part: 'a' }]), 'Validate PK size fail. Input: 1, Meta: 2.');
  await invalidPk(putRow([{ part: 'a' }, { seq: int(1) }, { extra: 'x' }]), 'Validate PK size fail. Input: 3, Meta: 2.');
  await invalidPk(getRow([{ seq: int(1) }, { part: 'a' }]), 'Validate PK name fail. Input: seq, Meta: part.');
  await invalidPk(call(client, 'deleteRow', { tableName: T, condition: ignore(), primaryKey: [{ part: 'a' }, { sq: int(1) }] }),
    'Validate PK name fail. Input: sq, Meta: seq.');
  await invalidPk(call(client, 'updateRow', {
    tableName: T, condition: ignore(), primaryKey: [{ part: Buffer.from('a') }, { seq: int(1) }],
    updateOfAttributeColumns: [{ PUT: [{ v: 'x' }] }],
  }), 'Validate PK type fail. Input: BINARY, Meta: STRING.');
}

async function placeholderKeysOutsideTheirPlace() {
  await expectError(getRow([{ part: 'a' }, { seq: INF_MIN }]), 400, 'OTSParameterInvalid',
    'VT_INF_MIN is an invalid type for the primary key.');
  await expectError(putRow([{ part: 'a' }, { seq: PK_AUTO_INCR }]), 400, 'OTSParameterInvalid',
    'Column seq is not an auto increment primary key.');
  await expectError(getRow([{ part: 'a' }, { seq: PK_AUTO_INCR }]), 400, 'OTSParameterInvalid');
}

async function invalidNames() {
  await expectError(getRow(key('a', 1), 'bad name'), 400, 'OTSParameterInvalid', "Invalid table name: 'bad name'.");
  await expectError(putRow(key('a', 1), [{ 'bad col': 'x' }]), 400, 'OTSParameterInvalid', "Invalid column name: 'bad col'.");
}

async function invalidCells() {
  const now = Date.now();
  const badTs = /^Invalid timestamp/;
  await expectError(putRow(key('a', 1), [{ v: 'old', timestamp: now - 2 * 86400 * 1000 }]), 400, 'OTSParameterInvalid', badTs);
  await expectError(putRow(key('a', 1), [{ v: 'future', timestamp: now + 2 * 86400 * 1000 }]), 400, 'OTSParameterInvalid', badTs);
  const update = (ops) => call(client, 'updateRow', { tableName: T, condition: ignore(), primaryKey: key('a', 1), updateOfAttributeColumns: ops });
  await expectError(update([]), 400, 'OTSParameterInvalid');
  await expectError(update([{ DELETE: [{ v: null }] }]), 400, 'OTSParameterInvalid',
    'Timestamp must be given when type is DELETE_ONE_VERSION.');
  await expectError(update([{ INCREMENT: [{ n: int(1), timestamp: now }] }]), 400, 'OTSParameterInvalid',
    'Timestamp cannot be given when type is INCREMENT.');
  await expectError(putRow(key('a', 1), [{ big: 'x'.repeat(2 * 1024 * 1024 + 1) }]), 400, 'OTSParameterInvalid');
  assert.ok(!(await getRow(key('a', 1))).row.primaryKey, 'no failed write created the row');
}

async function bodyTooLarge() {
  await expectError(putRow(key('a', 1), [{ big: 'x'.repeat(6 * 1024 * 1024) }]), 413, 'OTSRequestBodyTooLarge',
    'The size of POST data is too large.');
}

async function allowUpdateFalse() {
  const name = 'ne_no_update';
  await freshTable(client, name, [['k', 'STRING']], { options: { allowUpdate: false } });
  await call(client, 'putRow', { tableName: name, condition: ignore(), primaryKey: [{ k: 'a' }], attributeColumns: [{ v: 'x' }] });
  await expectError(call(client, 'updateRow', {
    tableName: name, condition: ignore(), primaryKey: [{ k: 'a' }], updateOfAttributeColumns: [{ PUT: [{ v: 'y' }] }],
  }), 400, 'OTSParameterInvalid');
  await call(client, 'deleteTable', { tableName: name });
}

async function unsupportedApis() {
  const unsupported = (promise, api) =>
    expectError(promise, 400, 'OTSParameterInvalid', `Unsupported operation: '${api}'.`);
  await unsupported(call(client, 'listSearchIndex', { tableName: T }), 'ListSearchIndex');
  await unsupported(call(client, 'createSearchIndex', {
    tableName: T, indexName: 'ne_search',
    schema: { fieldSchemas: [{ fieldName: 'v', fieldType: TableStore.FieldType.KEYWORD }] },
  }), 'CreateSearchIndex');
  await unsupported(call(client, 'sqlQuery', { query: `select * from ${T}` }), 'SQLQuery');
}

run([
  ['setup', setup],
  ['wrong access key secret: 403 OTSAuthFailed', wrongSecret],
  ['unknown access key id: 403 OTSAuthFailed', unknownAccessKeyId],
  ['x-ots-date 20 min off: 403 OTSAuthFailed', skewedClock],
  ['an STS token is accepted', stsTokenIsAccepted],
  ['missing table on getRow/putRow/updateRow/deleteRow: 404 OTSObjectNotExist', missingTableOnEveryRowApi],
  ['invalid primary keys (type, count, name): 400 OTSInvalidPK', invalidPrimaryKeys],
  ['INF_MIN / PK_AUTO_INCR outside their place: 400 OTSParameterInvalid', placeholderKeysOutsideTheirPlace],
  ['invalid table and column names: 400', invalidNames],
  ['invalid timestamps and cell ops: 400', invalidCells],
  ['request body over 5 MB: 413', bodyTooLarge],
  ['allowUpdate=false refuses updateRow', allowUpdateFalse],
  ['unsupported APIs: 400 Unsupported operation', unsupportedApis],
]);
