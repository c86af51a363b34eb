// getRange through the Node SDK: FORWARD and BACKWARD scans, paging with nextStartPrimaryKey
// until it is null, limits, bounds inside a partition, maxVersions and columnsToGet on ranges,
// and the bound-order errors.
'use strict';
const {
  assert, TableStore, makeClient, call, ignore, single, int, pkOf, cellsOf, attrsOf, expectError, freshTable, run,
} = require('./common');

const client = makeClient('node_range');
const T = 'ng_range';
const N = 23; // rows in partition 'p' (seq 0..22)
const BASE = Math.floor(Date.now() / 1000) * 1000 - 600000;
const { INF_MIN, INF_MAX } = TableStore;

const pk = (part, seq) => [{ part }, { seq: typeof seq === 'number' ? int(seq) : seq }];
const seqs = (rows) => rows.map((r) => Number(pkOf(r).seq));
const range = (start, end, extra = {}) => call(client, 'getRange', {
  tableName: T,
  direction: TableStore.Direction.FORWARD,
  inclusiveStartPrimaryKey: start,
  exclusiveEndPrimaryKey: end,
  ...extra,
});
const backward = (start, end, extra = {}) => range(start, end, { direction: TableStore.Direction.BACKWARD, ...extra });

/** Follows nextStartPrimaryKey until null; returns the rows and the number of calls. */
async function scanAll(start, end, extra) {
  const rows = [];
  let next = start;
  let calls = 0;
  while (next) {
    const page = await range(next, end, extra);
    calls += 1;
    assert.ok(calls <= 50, 'paging terminates');
    if (extra && extra.limit) assert.ok(page.rows.length <= extra.limit, 'a page never exceeds the limit');
    rows.push(...page.rows);
    next = page.nextStartPrimaryKey ? page.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value })) : null;
  }
  return { rows, calls };
}

async function setup() {
  await freshTable(client, T, [['part', 'STRING'], ['seq', 'INTEGER']], { options: { maxVersions: 2 } });
  const put = (part, i) => ({
    type: 'PUT', condition: ignore(), primaryKey: pk(part, i),
    attributeColumns: [{ a: int(i) }, { b: `b${i}` }, { c: i % 2 === 0 }],
  });
  const rows = [];
  for (let i = 0; i < N; i += 1) rows.push(put('p', i));
  rows.push(put('o', 1), put('q', 1)); // neighbours on both sides of partition p
  const written = await call(client, 'batchWriteRow', { tables: [{ tableName: T, rows }] });
  assert.ok(written.tables.every((r) => r.isOk));
  // Two explicit versions of 'v' on seq 5.
  for (const [ts, v] of [[BASE, 'old'], [BASE + 1000, 'new']]) {
    await call(client, 'updateRow', {
      tableName: T, condition: ignore(), primaryKey: pk('p', 5),
      updateOfAttributeColumns: [{ PUT: [{ v, timestamp: ts }] }],
    });
  }
}

async function forwardWholePartition() {
  const page = await range(pk('p', INF_MIN), pk('p', INF_MAX));
  assert.deepStrictEqual(seqs(page.rows), [...Array(N).keys()]);
  assert.strictEqual(page.nextStartPrimaryKey, null, 'exhausted range: no next key');
  assert.deepStrictEqual(attrsOf(page.rows[3]), { a: 3n, b: 'b3', c: false });
  assert.ok(page.consumed.capacityUnit.read >= 1);
}

async function forwardPaging() {
  const { rows, calls } = await scanAll(pk('p', INF_MIN), pk('p', INF_MAX), { limit: 5 });
  assert.deepStrictEqual(seqs(rows), [...Array(N).keys()]);
  assert.ok(calls >= Math.ceil(N / 5), `paged in ${calls} calls`);
}

async function forwardFirstPageNamesNextKey() {
  const page = await range(pk('p', 3), pk('p', 20), { limit: 4 });
  assert.deepStrictEqual(seqs(page.rows), [3, 4, 5, 6]);
  assert.deepStrictEqual(pkOf({ primaryKey: page.nextStartPrimaryKey }), { part: 'p', seq: 7n });
}

async function backwardWholePartition() {
  const page = await backward(pk('p', INF_MAX), pk('p', INF_MIN));
  assert.deepStrictEqual(seqs(page.rows), [...Array(N).keys()].reverse());
  assert.strictEqual(page.nextStartPrimaryKey, null);
}

async function backwardPaging() {
  const rows = [];
  let next = pk('p', INF_MAX);
  for (let calls = 0; next; calls += 1) {
    assert.ok(calls < 50, 'paging terminates');
    const page = await backward(next, pk('p', INF_MIN), { limit: 6 });
    assert.ok(page.rows.length <= 6);
    rows.push(...page.rows);
    next = page.nextStartPrimaryKey ? page.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value })) : null;
  }
  assert.deepStrictEqual(seqs(rows), [...Array(N).keys()].reverse());
}

async function backwardBoundsAreStartInclusiveEndExclusive() {
  const page = await backward(pk('p', 10), pk('p', 5));
  assert.deepStrictEqual(seqs(page.rows), [10, 9, 8, 7, 6]);
  const limited = await backward(pk('p', 10), pk('p', 5), { limit: 2 });
  assert.deepStrictEqual(seqs(limited.rows), [10, 9]);
  assert.deepStrictEqual(pkOf({ primaryKey: limited.nextStartPrimaryKey }), { part: 'p', seq: 8n });
}

async function acrossPartitions() {
  const page = await range(pk('o', INF_MIN), pk('q', INF_MAX));
  assert.deepStrictEqual(page.rows.map((r) => pkOf(r).part),
    ['o', ...Array(N).fill('p'), 'q']);
  const back = await backward(pk('q', INF_MAX), pk('o', INF_MAX), { limit: 3 });
  assert.deepStrictEqual(back.rows.map((r) => [pkOf(r).part, Number(pkOf(r).seq)]), [['q', 1], ['p', 22], ['p', 21]]);
}

async function columnsToGetOnRange() {
  const page = await range(pk('p', 0), pk('p', 4), { columnsToGet: ['b'] });
  assert.deepStrictEqual(page.rows.map((r) => cellsOf(r).map(([n, v]) => [n, v])),
    [[['b', 'b0']], [['b', 'b1']], [['b', 'b2']], [['b', 'b3']]]);
  assert.deepStrictEqual(seqs(page.rows), [0, 1, 2, 3], 'PK columns always returned');
}

async function maxVersionsOnRange() {
  const one = await range(pk('p', 5), pk('p', 6), { columnsToGet: ['v'] });
  assert.deepStrictEqual(cellsOf(one.rows[0]), [['v', 'new', BASE + 1000]], 'default: newest version only');
  const two = await range(pk('p', 5), pk('p', 6), { columnsToGet: ['v'], maxVersions: 2 });
  assert.deepStrictEqual(cellsOf(two.rows[0]), [['v', 'new', BASE + 1000], ['v', 'old', BASE]]);
  const old = await range(pk('p', 5), pk('p', 6), { columnsToGet: ['v'], timeRange: { specificTime: BASE } });
  assert.deepStrictEqual(cellsOf(old.rows[0]), [['v', 'old', BASE]]);
}

async function emptyRange() {
  const page = await range(pk('p', 100), pk('p', 200));
  assert.deepStrictEqual(page.rows, []);
  assert.strictEqual(page.nextStartPrimaryKey, null);
}

async function scanBudgetOf5000Rows() {
  // 5200 rows: an unlimited scan stops at the 5000-row budget and names the next key; a filter
  // that drops most rows can answer a page with 0 rows and a next key (SEMANTICS §7, §11).
  const name = 'ng_budget';
  await freshTable(client, name, [['part', 'STRING'], ['seq', 'INTEGER']]);
  for (let batch = 0; batch < 26; batch += 1) {
    const rows = Array.from({ length: 200 }, (_, i) => ({
      type: 'PUT', condition: ignore(), primaryKey: pk('p', batch * 200 + i), attributeColumns: [{ n: int(batch * 200 + i) }],
    }));
    const written = await call(client, 'batchWriteRow', { tables: [{ tableName: name, rows }] });
    assert.ok(written.tables.every((r) => r.isOk));
  }
  const scan = async (columnFilter) => {
    const pages = [];
    let total = 0;
    let next = pk('p', INF_MIN);
    while (next) {
      assert.ok(pages.length < 10, 'paging terminates');
      const page = await call(client, 'getRange', {
        tableName: name, direction: TableStore.Direction.FORWARD,
        inclusiveStartPrimaryKey: next, exclusiveEndPrimaryKey: pk('p', INF_MAX), columnFilter,
      });
      pages.push(page.rows.length);
      total += page.rows.length;
      next = page.nextStartPrimaryKey ? page.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value })) : null;
    }
    return { pages, total };
  };
  const all = await scan(undefined);
  assert.deepStrictEqual(all, { pages: [5000, 200], total: 5200 });
  const filtered = await scan(single('n', int(5150), 'GREATER_EQUAL'));
  assert.deepStrictEqual(filtered, { pages: [0, 50], total: 50 });
  await call(client, 'deleteTable', { tableName: name });
}

async function keyOrderAcrossTypes() {
  // STRING orders by UTF-8 bytes (U+FF61 before U+1F600, unlike UTF-16), INTEGER signed,
  // BINARY unsigned bytewise with a prefix first.
  const name = 'ng_order';
  await freshTable(client, name, [['s', 'STRING'], ['i', 'INTEGER'], ['b', 'BINARY']]);
  const keys = [
    ['\u{1F600}', '3', '7f'], ['\uFF61', '7', '8000'], ['\uFF61', '-5', '80'], ['a', '0', '00'],
    ['\uFF61', '-9223372036854775808', 'ff'], ['', '-1', ''], ['\uFF61', '-5', '7fff'],
  ];
  for (const [s, i, b] of keys) {
    await call(client, 'putRow', {
      tableName: name, condition: ignore(), attributeColumns: [],
      primaryKey: [{ s }, { i: TableStore.Long.fromString(i) }, { b: Buffer.from(b, 'hex') }],
    });
  }
  const all = [{ s: INF_MIN }, { i: INF_MIN }, { b: INF_MIN }];
  const end = [{ s: INF_MAX }, { i: INF_MAX }, { b: INF_MAX }];
  const page = await call(client, 'getRange', {
    tableName: name, direction: TableStore.Direction.FORWARD, inclusiveStartPrimaryKey: all, exclusiveEndPrimaryKey: end,
  });
  const got = page.rows.map((r) => { const k = pkOf(r); return [k.s, String(k.i), k.b.toString('hex')]; });
  assert.deepStrictEqual(got, [
    ['', '-1', ''], ['a', '0', '00'],
    ['\uFF61', '-9223372036854775808', 'ff'], ['\uFF61', '-5', '7fff'], ['\uFF61', '-5', '80'], ['\uFF61', '7', '8000'],
    ['\u{1F600}', '3', '7f'],
  ]);
  const back = await call(client, 'getRange', {
    tableName: name, direction: TableStore.Direction.BACKWARD, inclusiveStartPrimaryKey: end, exclusiveEndPrimaryKey: all,
  });
  assert.deepStrictEqual(back.rows.map((r) => pkOf(r).s), [...got].reverse().map(([s]) => s));
  await call(client, 'deleteTable', { tableName: name });
}

async function boundOrderErrors() {
  await expectError(range(pk('p', 5), pk('p', 5)), 400, 'OTSParameterInvalid',
    'Begin key must less than end key in FORWARD');
  await expectError(range(pk('p', 6), pk('p', 5)), 400, 'OTSParameterInvalid',
    'Begin key must less than end key in FORWARD');
  await expectError(backward(pk('p', 5), pk('p', 6)), 400, 'OTSParameterInvalid',
    'Begin key must more than end key in BACKWARD');
}

async function missingTable() {
  await expectError(call(client, 'getRange', {
    tableName: 'ng_no_such_table', direction: TableStore.Direction.FORWARD,
    inclusiveStartPrimaryKey: pk('p', INF_MIN), exclusiveEndPrimaryKey: pk('p', INF_MAX),
  }), 404, 'OTSObjectNotExist', 'Requested table does not exist.');
}

run([
  ['setup: 25 rows over three partitions', setup],
  ['FORWARD over a whole partition', forwardWholePartition],
  ['FORWARD paging with nextStartPrimaryKey until done', forwardPaging],
  ['a limited page names the next key', forwardFirstPageNamesNextKey],
  ['BACKWARD over a whole partition', backwardWholePartition],
  ['BACKWARD paging with nextStartPrimaryKey until done', backwardPaging],
  ['BACKWARD bounds: start inclusive, end exclusive', backwardBoundsAreStartInclusiveEndExclusive],
  ['ranges across partitions, both directions', acrossPartitions],
  ['columnsToGet on a range', columnsToGetOnRange],
  ['maxVersions and timeRange on a range', maxVersionsOnRange],
  ['an empty range', emptyRange],
  ['the 5000-row scan budget, with and without a filter', scanBudgetOf5000Rows],
  ['key order: STRING by UTF-8 bytes, INTEGER signed, BINARY unsigned', keyOrderAcrossTypes],
  ['bound order errors: 400', boundOrderErrors],
  ['getRange on a missing table: 404', missingTable],
]);
