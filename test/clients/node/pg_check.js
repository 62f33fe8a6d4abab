// Client matrix checks for node-postgres (pg) with its default settings.
// Run by test/clients_pg_test.go; settings come from TP_* variables and
// every check prints "PASS name" or "FAIL name: why".
'use strict';
const fs = require('fs');
const pg = require('pg');

const env = process.env;
const base = {
  host: env.TP_HOST, port: Number(env.TP_PORT), user: env.TP_USER,
  password: env.TP_PASSWORD || undefined, database: env.TP_DB,
};
async function connect(extra) {
  const c = new pg.Client({ ...base, ...extra });
  await c.connect();
  return c;
}
async function val(c, text, values) {
  const r = await c.query({ text, values, rowMode: 'array' });
  return r.rows[0][0];
}
function expect(got, want, what) {
  const g = JSON.stringify(got), w = JSON.stringify(want);
  if (g !== w) throw new Error(`${what || ''} got ${g}, want ${w}`);
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
  expect(await val(c, 'SELECT 1'), 1);
  await c.end();
}

async function probes() {
  const c = await connect();
  if (!(await val(c, 'select pg_catalog.version()')).includes('PostgreSQL')) throw new Error('version()');
  expect(await val(c, 'show standard_conforming_strings'), 'on');
  expect(await val(c, 'select current_schema()'), 'public');
  await c.query('SET extra_float_digits = 3');
  await c.end();
}

async function knownAnswer() {
  const c = await connect();
  expect(await val(c, 'SELECT name FROM items WHERE id = 2'), 'banana');
  expect(await val(c, 'SELECT count(*) FROM items'), '3');
  expect(await val(c, 'SELECT sum(price) FROM items'), '4.75');
  await c.end();
}

async function paramsReused() {
  const c = await connect();
  const got = [];
  for (const id of [1, 2, 3, 2]) {
    // A named statement: parsed once, then bound and executed each time.
    const r = await c.query({ name: 'item_by_id', text: 'SELECT name FROM items WHERE id = $1', values: [id] });
    got.push(r.rows[0].name);
  }
  expect(got, ['apple', 'banana', 'cherry', 'banana']);
  for (const [id, v] of [[100, 'a'], [101, 'b']]) await c.query('INSERT INTO tx (id, v) VALUES ($1, $2)', [id, v]);
  expect(await val(c, 'SELECT count(*) FROM tx WHERE id IN ($1, $2)', [100, 101]), '2');
  await c.end();
}

async function rollback() {
  const c = await connect();
  await c.query('BEGIN');
  await c.query('INSERT INTO tx (id, v) VALUES ($1, $2)', [1, 'gone']);
  expect(await val(c, 'SELECT count(*) FROM tx WHERE id = 1'), '1', 'inside the transaction');
  await c.query('ROLLBACK');
  expect(await val(c, 'SELECT count(*) FROM tx WHERE id = 1'), '0', 'after rollback');
  await c.end();
}

async function errorCodes() {
  const c = await connect();
  for (const [sql, code] of [['SELECT * FROM no_such_table', '42P01'],
    ["INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", '23505'], ['SELEC 1', '42601']]) {
    let err = null;
    try { await c.query(sql); } catch (e) { err = e; }
    if (!err) throw new Error(sql + ': no error');
    expect(err.code, code, sql);
  }
  expect(await val(c, 'SELECT 2'), 2, 'after the errors');
  await c.end();
}

async function pool8over3() {
  // pg.Pool, as applications use it: 8 clients at once.
  const pool = new pg.Pool({ ...base, max: 8 });
  const work = async (i) => {
    const c = await pool.connect();
    try {
      for (let j = 0; j < 3; j++) {
        await c.query('BEGIN');
        await c.query('INSERT INTO tx (id, v) VALUES ($1, $2)', [1000 + i * 10 + j, 'w']);
        expect(await val(c, 'SELECT count(*) FROM items WHERE id <= $1', [3]), '3');
        await c.query('COMMIT');
      }
    } finally { c.release(); }
  };
  await Promise.all([...Array(8).keys()].map(work));
  expect((await pool.query('SELECT count(*) AS n FROM tx WHERE id >= 1000')).rows[0].n, '24');
  await pool.end();
}

async function types() {
  const c = await connect();
  await c.query("SET TIME ZONE 'UTC'");
  const blob = Buffer.from([0, 1, 0xfe, 0xff, 0x27, 0x5c]);
  const ts = new Date(Date.UTC(2024, 1, 29, 13, 45, 1, 250));
  const vals = ['9007199254740993', '12345.678901', 0.1, 'za\u017c\u00f3\u0142\u0107 \u2603 \u{1F600}', blob, ts, '1999-12-31', true, null];
  await c.query('INSERT INTO types (id, i, d, f, s, b, ts, dd, bo, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)', [1, ...vals]);
  const r = await c.query({ text: 'SELECT i, d, f, s, b, ts, dd::text, bo, n FROM types WHERE id = $1', values: [1], rowMode: 'array' });
  const norm = (v) => (Buffer.isBuffer(v) ? v.toString('hex') : v instanceof Date ? v.toISOString() : v);
  expect(r.rows[0].map(norm), vals.map(norm));
  await c.end();
}

async function streaming() {
  // Rows handled one by one as they arrive ('row' events of a Query).
  const c = await connect();
  const n = Number(env.TP_BIG_ROWS);
  const [count, total] = await new Promise((resolve, reject) => {
    let count = 0, total = 0;
    const q = c.query(new pg.Query('SELECT n FROM big ORDER BY n'));
    q.on('row', (r) => { count++; total += r.n; });
    q.on('error', reject);
    q.on('end', () => resolve([count, total]));
  });
  expect([count, total], [n, n * (n + 1) / 2]);
  await c.end();
}

async function cancel() {
  // node-postgres has no cancel call: its statement_timeout option has the
  // server cancel the statement.
  const c = await connect({ statement_timeout: 700 });
  const t0 = Date.now();
  let err = null;
  try { await c.query('SELECT pg_sleep(30)'); } catch (e) { err = e; }
  if (Date.now() - t0 > 15000) throw new Error('the statement was not cancelled');
  expect(err && err.code, '57014', 'cancelled statement');
  expect(await val(c, 'SELECT 4'), 4, 'after the cancel');
  await c.end();
}

async function tls() {
  const ssl = env.TP_TLS_CA ? { ca: fs.readFileSync(env.TP_TLS_CA) } : { rejectUnauthorized: false };
  const c = await connect({ ssl });
  expect(await val(c, 'SELECT 5'), 5);
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
  if (env.TP_TLS) await check('tls', tls);
  process.exit(0);
})().catch((e) => { console.log('crash: ' + e); process.exit(1); });
