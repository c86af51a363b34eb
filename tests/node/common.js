// Shared helpers for the Node SDK scripts in this directory. Each script drives a running otsd
// (endpoint in $OTSD_ENDPOINT) through the official Tablestore Node SDK, runs a list of named
// steps, and prints OK only if every step held.
//
// The Node SDK does not decode error bodies: a failed call rejects with `err.code` = the HTTP
// status (a number) and `err.message` = the raw protobuf `Error` body as text plus
// " requestId:<id>". `serviceError` turns that back into { status, code, message }.
'use strict';
const assert = require('assert');
const TableStore = require('tablestore');

const { Long } = TableStore;
const ACCESS_KEY_ID = 'otsd';
const ACCESS_KEY_SECRET = 'otsd-secret';

function endpoint() {
  const url = process.env.OTSD_ENDPOINT;
  if (!url) {
    console.error('set OTSD_ENDPOINT to a running otsd, e.g. http://127.0.0.1:8800');
    process.exit(2);
  }
  return url;
}

/** A client for one instance; `overrides` replaces any config key (e.g. a wrong secret). */
function makeClient(instance, overrides = {}) {
  return new TableStore.Client({
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: ACCESS_KEY_SECRET,
    endpoint: endpoint(),
    instancename: instance,
    maxRetries: 0,
    ...overrides,
  });
}

/** Calls `client[api](params)` and returns a promise; a rejection carries the API name. */
function call(client, api, params) {
  return new Promise((resolve, reject) => {
    client[api](params, (err, data) => (err ? reject(Object.assign(err, { api })) : resolve(data)));
  });
}

// ---- conditions ---------------------------------------------------------------------------

const condition = (existence, columnCondition = null) =>
  new TableStore.Condition(TableStore.RowExistenceExpectation[existence], columnCondition);
const ignore = (columnCondition) => condition('IGNORE', columnCondition);
const expectExist = (columnCondition) => condition('EXPECT_EXIST', columnCondition);
const expectNotExist = (columnCondition) => condition('EXPECT_NOT_EXIST', columnCondition);

/** SingleColumnCondition(column, value, comparator name, passIfMissing, latestVersionOnly). */
const single = (column, value, comparator, passIfMissing = true, latestVersionOnly = true) =>
  new TableStore.SingleColumnCondition(column, value, TableStore.ComparatorType[comparator],
    passIfMissing, latestVersionOnly);

/** CompositeCondition('AND' | 'OR' | 'NOT', [sub conditions]). */
function composite(operator, subs) {
  const cond = new TableStore.CompositeCondition(TableStore.LogicalOperator[operator]);
  subs.forEach((sub) => cond.addSubCondition(sub));
  return cond;
}

// ---- values and rows ----------------------------------------------------------------------

const int = (n) => Long.fromNumber(n);

/** SDK value → plain JS: Int64 → BigInt, Buffer/string/number/boolean unchanged. */
function plain(value) {
  if (value && typeof value === 'object' && !Buffer.isBuffer(value) && typeof value.toBuffer === 'function') {
    return BigInt(value.toString());
  }
  return value;
}

/** Primary key of a decoded row as { name: value }. */
const pkOf = (row) => Object.fromEntries((row.primaryKey || []).map((c) => [c.name, plain(c.value)]));

/** Attribute cells of a decoded row, in response order, as [name, value, timestamp(number)]. */
const cellsOf = (row) => (row.attributes || []).map((a) =>
  [a.columnName, plain(a.columnValue), a.timestamp == null ? null : Number(a.timestamp.toString())]);

/** Latest value of each attribute as { name: value } (first cell of a column wins: newest-first). */
function attrsOf(row) {
  const out = {};
  for (const [name, value] of cellsOf(row)) {
    if (!(name in out)) out[name] = value;
  }
  return out;
}

/** True if a GetRow answer held no row. */
const isEmptyRow = (row) => !row || !row.primaryKey || row.primaryKey.length === 0;

// ---- errors -------------------------------------------------------------------------------

function readVarint(buf, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const byte = buf[pos++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Decodes the protobuf `Error { 1: code, 2: message }` the SDK left as text in err.message. */
function decodeErrorBody(text) {
  const buf = Buffer.from(text, 'utf8');
  const fields = {};
  let pos = 0;
  while (pos < buf.length) {
    const [key, afterKey] = readVarint(buf, pos);
    if ((key & 7) !== 2) throw new Error('unexpected wire type');
    const [len, start] = readVarint(buf, afterKey);
    fields[key >> 3] = buf.subarray(start, start + len).toString('utf8');
    pos = start + len;
  }
  return { code: fields[1], message: fields[2] };
}

/** { status, code, message } of a service error as surfaced by the Node SDK. */
function serviceError(err) {
  const raw = String(err.message || '');
  const cut = raw.lastIndexOf(' requestId:');
  const body = cut >= 0 ? raw.slice(0, cut) : raw;
  let decoded;
  try {
    decoded = decodeErrorBody(body);
  } catch (_) {
    const match = /(OTS[A-Za-z]+)/.exec(body);
    decoded = { code: match ? match[1] : undefined, message: undefined };
  }
  return { status: err.code, ...decoded };
}

/**
 * Awaits `promise`, which must reject with HTTP `status` and error `code` (and `message` if
 * given: a string for equality or a RegExp). Returns the decoded error.
 */
async function expectError(promise, status, code, message) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected ${status} ${code}, but the call succeeded`);
  const got = serviceError(err);
  const shown = JSON.stringify(got);
  assert.strictEqual(got.status, status, `HTTP status: ${shown}`);
  assert.strictEqual(got.code, code, `error code: ${shown}`);
  if (typeof message === 'string') assert.strictEqual(got.message, message, `error message: ${shown}`);
  if (message instanceof RegExp) assert.match(got.message || '', message, `error message: ${shown}`);
  return got;
}

// ---- tables -------------------------------------------------------------------------------

/** pk: [[name, 'STRING' | 'INTEGER' | 'BINARY', option?], ...] */
function tableParams(name, pk, { options = {}, definedColumn } = {}) {
  const params = {
    tableMeta: {
      tableName: name,
      primaryKey: pk.map(([n, type, option]) => (option ? { name: n, type, option } : { name: n, type })),
    },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1, ...options },
  };
  if (definedColumn) params.tableMeta.definedColumn = definedColumn;
  return params;
}

/** Drops `name` if it exists (so a script can be rerun against the same server). */
async function dropIfExists(client, name) {
  try {
    await call(client, 'deleteTable', { tableName: name });
  } catch (err) {
    if (err.code !== 404) throw err;
  }
}

/** Creates a fresh table (dropping a leftover of an earlier run first). */
async function freshTable(client, name, pk, opts) {
  await dropIfExists(client, name);
  await call(client, 'createTable', tableParams(name, pk, opts));
  return name;
}

// ---- runner -------------------------------------------------------------------------------

function describeError(err) {
  if (err instanceof assert.AssertionError) return err.message;
  if (err && err.api) return `${err.api} failed: ${JSON.stringify(serviceError(err))}`;
  return (err && err.stack) || String(err);
}

/** Runs [name, async fn] steps in order; prints OK and exits 0 only if all held. */
async function run(steps) {
  const failed = [];
  for (const [name, fn] of steps) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (err) {
      failed.push(name);
      console.log(`FAIL ${name}: ${describeError(err)}`);
    }
  }
  if (failed.length) {
    console.log(`FAILED steps: [${failed.join(', ')}]`);
    process.exit(1);
  }
  console.log('OK');
}

module.exports = {
  assert,
  TableStore,
  Long,
  makeClient,
  call,
  ignore,
  expectExist,
  expectNotExist,
  single,
  composite,
  int,
  plain,
  pkOf,
  cellsOf,
  attrsOf,
  isEmptyRow,
  serviceError,
  expectError,
  tableParams,
  dropIfExists,
  freshTable,
  run,
};
