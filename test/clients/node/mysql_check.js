// Client matrix checks for node's mysql2 driver with its default settings.
// Run by test/clients_mysql_test.go; settings come from TP_* variables and
// every check prints "PASS name" or "FAIL name: why".
'use strict';
const fs = require('fs');
const mysql = require('mysql2/promise');

const env = process.env;
const base = {
  host: env.TP_HOST, port: Number(env.TP_PORT), user: env.TP_USER,
  password: env.TP_PASSWORD, database: env.TP_DB,
};
const connect = (extra) => mysql.createConnection({ ...base, ...extra });

function expect(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what || ''} got ${g}, want ${w}`);
}
async function one(c, sql, args) {
  const [rows] = await c.query({ sql, rowsAsArray: true }, args);
  return rows[0];
}
async function check(name, fn) {
  try {
    await fn();
    console.log('PASS ' + name);
  } catch (e) {
    console.log(`FAIL ${name}: ${(e && (e.stack || e.message) || String(e)).split('\n').slice(0, 2).join(' ')}`);
  }
}

async function login() {
  const c = await connect();
  expect(await one(c, 'SELECT 1'), [1]);
  await c.end();
}

async function probes() {
  // What ORMs and drivers ask at connect.
  const c = await connect();
  for (const sql of ['SET NAMES utf8mb4', 'SET autocommit=1', "SET SESSION time_zone = '+00:00'",
    'SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED']) await c.query(sql);
  const [rows] = await c.query({ sql: "SHOW VARIABLES LIKE 'sql_mode'", rowsAsArray: true });
  expect(rows[0][0], 'sql_mode');
  let iso;
  try { [iso] = await one(c, 'SELECT @@session.transaction_isolation'); } catch (e) {
    expect(e.errno, 1193, 'unknown variable transaction_isolation');
    [iso] = await one(c, 'SELECT @@session.tx_isolation');
  }
  expect(iso, 'READ-COMMITTED', 'transaction isolation');
  expect(await one(c, 'SELECT @@session.time_zone'), ['+00:00'], 'time_zone');
  expect(await one(c, 'SELECT DATABASE()'), [env.TP_EXPECT_DB], 'DATABASE()');
  await c.end();
}

async function knownAnswer() {
  const c = await connect();
  expect(await one(c, 'SELECT name FROM items WHERE id = 2'), ['banana']);
  expect(await one(c, 'SELECT COUNT(*) FROM items'), [3]);
  expect(await one(c, 'SELECT DATABASE()'), [env.TP_EXPECT_DB], 'DATABASE()');
  expect(await one(c, 'SELECT SUM(price) FROM items'), ['4.75']);
  await c.end();
}

async function paramsReused() {
  const c = await connect();
  const got = [];
  for (const id of [1, 2, 3, 2]) {
    // execute: a server-side prepared statement, cached and reused.
    const [rows] = await c.execute('SELECT name FROM items WHERE id = ?', [id]);
    got.push(rows[0].name);
  }
  expect(got, ['apple', 'banana', 'cherry', 'banana']);
  for (const [id, v] of [[100, 'a'], [101, 'b']]) await c.execute('INSERT INTO tx (id, v) VALUES (?, ?)', [id, v]);
  expect(await one(c, 'SELECT COUNT(*) FROM tx WHERE id IN (?, ?)', [100, 101]), [2]);
  await c.end();
}

async function rollback() {
  const c = await connect();
  await c.beginTransaction();
  await c.execute('INSERT INTO tx (id, v) VALUES (?, ?)', [1, 'gone']);
  expect(await one(c, 'SELECT COUNT(*) FROM tx WHERE id = 1'), [1], 'inside the transaction');
  await c.rollback();
  expect(await one(c, 'SELECT COUNT(*) FROM tx WHERE id = 1'), [0], 'after rollback');
  await c.end();
}

async function errorCodes() {
  const c = await connect();
  for (const [sql, code] of [['SELECT * FROM no_such_table', 1146],
    ["INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", 1062], ['SELEC 1', 1064]]) {
    let err = null;
    try { await c.query(sql); } catch (e) { err = e; }
    if (!err) throw new Error(sql + ': no error');
    expect(err.errno, code, sql);
  }
  expect(await one(c, 'SELECT 2'), [2], 'after the errors');
  await c.end();
}

async function pool8over3() {
  const work = async (i) => {
    const c = await connect();
    for (let j = 0; j < 3; j++) {
      await c.beginTransaction();
      await c.execute('INSERT INTO tx (id, v) VALUES (?, ?)', [1000 + i * 10 + j, 'w']);
      expect(await one(c, 'SELECT COUNT(*) FROM items WHERE id <= ?', [3]), [3]);
      await c.commit();
    }
    await c.end();
  };
  await Promise.all([...Array(8).keys()].map(work));
  const c = await connect();
  expect(await one(c, 'SELECT COUNT(*) FROM tx WHERE id >= 1000'), [24]);
  await c.end();
}

async function types() {
  const c = await connect({ supportBigNumbers: true, bigNumberStrings: true, dateStrings: true });
  const blob = Buffer.from([0, 1, 0xfe, 0xff, 0x27, 0x5c]);
  const vals = ['9007199254740993', '12345.678901', 0.1, 'za\u017c\u00f3\u0142\u0107 \u2603 \u{1F600}', blob, '2024-02-29 13:45:01.250000', '1999-12-31', null];
  await c.execute('INSERT INTO types (id, i, d, f, s, b, dt, dd, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', [1, ...vals]);
  for (const how of ['execute', 'query']) {
    const [rows] = await c[how]({ sql: 'SELECT i, d, f, s, b, dt, dd, n FROM types WHERE id = ?', rowsAsArray: true }, [1]);
    const got = rows[0].map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v));
    expect(got, vals.map((v) => (Buffer.isBuffer(v) ? v.toString('hex') : v)), how);
  }
  await c.end();
}

async function streaming() {
  // The callback API's row events: rows are handled as they arrive.
  const raw = require('mysql2').createConnection(base);
  const n = Number(env.TP_BIG_ROWS);
  const [count, total] = await new Promise((resolve, reject) => {
    let count = 0, total = 0;
    raw.query('SELECT n FROM big ORDER BY n')
      .on('result', (r) => { count++; total += r.n; })
      .on('error', reject)
      .on('end', () => resolve([count, total]));
  });
  expect([count, total], [n, n * (n + 1) / 2]);
  await raw.promise().end();
}

async function cancel() {
  const a = await connect(), b = await connect(), c = await connect();
  const [aid] = await one(a, 'SELECT CONNECTION_ID()');
  await b.beginTransaction();
  await b.query('SELECT name FROM items WHERE id = 3 FOR UPDATE');
  const t0 = Date.now();
  const waiting = a.query("UPDATE items SET name = 'never' WHERE id = 3").then(() => null, (e) => e);
  await new Promise((r) => setTimeout(r, 700));
  await c.query('KILL QUERY ' + aid);
  const err = await Promise.race([waiting, new Promise((r) => setTimeout(() => r('timeout'), 20000))]);
  await b.rollback();
  if (err === 'timeout' || Date.now() - t0 > 20000) throw new Error('the statement was not cancelled');
  expect(err && err.errno, 1317, 'error of the killed statement');
  expect(await one(a, 'SELECT name FROM items WHERE id = 3'), ['cherry'], 'after the cancel');
  for (const x of [a, b, c]) await x.end();
}

async function tls() {
  const c = await connect({ ssl: { ca: fs.readFileSync(env.TP_TLS_CA) } });
  expect(await one(c, 'SELECT 5'), [5]);
  if (!c.connection.stream.encrypted) throw new Error('not a TLS connection');
  await c.end();
}

(async () => {
  await check('login_first', login);
  await check('login_second', login);
  await check('connect_probes', probes);
  await check('known_answer', knownAnswer);
  await check('params_reused', paramsReused);
  await check('rollback', rollback);
  await check('error_codes', errorCodes);
  await check('pool_8_over_3', pool8over3);
  await check('types', types);
  await check('streaming', streaming);
  await check('cancel', cancel);
  if (env.TP_TLS_CA) await check('tls', tls);
  process.exit(0);
})().catch((e) => { console.log('crash: ' + e); process.exit(1); });
