"""Client matrix checks for asyncpg (python3-asyncpg) with its default
settings: prepared statements for every query, its connect-time
introspection, cursors over portals, cancel on timeout. Run by
test/clients_pg_test.go; settings come from TP_* variables and every check
prints "PASS name" or "FAIL name: why".
"""
import asyncio
import datetime
import decimal
import os
import ssl

import asyncpg

ENV = os.environ


async def connect(**extra):
    kw = dict(host=ENV["TP_HOST"], port=int(ENV["TP_PORT"]), user=ENV["TP_USER"], database=ENV["TP_DB"])
    if ENV["TP_PASSWORD"]:
        kw["password"] = ENV["TP_PASSWORD"]
    kw.update(extra)
    return await asyncpg.connect(**kw)


async def check(name, fn):
    try:
        await fn()
        print("PASS", name, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")), flush=True)


def expect(got, want, what=""):
    if got != want:
        raise AssertionError("%s got %r, want %r" % (what, got, want))


async def login():
    c = await connect()
    expect(await c.fetchval("SELECT 1"), 1)
    await c.close()


async def probes():
    c = await connect()
    if "PostgreSQL" not in await c.fetchval("select pg_catalog.version()"):
        raise AssertionError("version()")
    expect(await c.fetchval("show standard_conforming_strings"), "on")
    expect(await c.fetchval("select current_schema()"), "public")
    await c.execute("SET extra_float_digits = 3")
    # A type asyncpg must introspect (its pg_type query) to decode.
    expect(await c.fetchval("SELECT ARRAY[1, 2]::int4[]"), [1, 2])
    await c.close()


async def known_answer():
    c = await connect()
    expect(await c.fetchval("SELECT name FROM items WHERE id = 2"), "banana")
    expect(await c.fetchval("SELECT count(*) FROM items"), 3)
    expect(await c.fetchval("SELECT sum(price) FROM items"), decimal.Decimal("4.75"))
    await c.close()


async def params_reused():
    c = await connect()
    got = [await c.fetchval("SELECT name FROM items WHERE id = $1", i) for i in (1, 2, 3, 2)]
    expect(got, ["apple", "banana", "cherry", "banana"])
    st = await c.prepare("SELECT name FROM items WHERE id = $1")
    expect([await st.fetchval(i) for i in (3, 1)], ["cherry", "apple"])
    await c.executemany("INSERT INTO tx (id, v) VALUES ($1, $2)", [(100, "a"), (101, "b")])
    expect(await c.fetchval("SELECT count(*) FROM tx WHERE id IN ($1, $2)", 100, 101), 2)
    await c.close()


async def rollback():
    c = await connect()
    tr = c.transaction()
    await tr.start()
    await c.execute("INSERT INTO tx (id, v) VALUES ($1, $2)", 1, "gone")
    expect(await c.fetchval("SELECT count(*) FROM tx WHERE id = 1"), 1, "inside the transaction")
    await tr.rollback()
    expect(await c.fetchval("SELECT count(*) FROM tx WHERE id = 1"), 0, "after rollback")
    await c.close()


async def error_codes():
    c = await connect()
    for sql, state in (("SELECT * FROM no_such_table", "42P01"),
                       ("INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", "23505"),
                       ("SELEC 1", "42601")):
        try:
            await c.execute(sql)
        except asyncpg.PostgresError as e:
            expect(e.sqlstate, state, sql)
        else:
            raise AssertionError("%s: no error" % sql)
    expect(await c.fetchval("SELECT 2"), 2, "after the errors")
    await c.close()


async def pool_8_over_3():
    async def worker(i):
        c = await connect()
        for j in range(3):
            async with c.transaction():
                await c.execute("INSERT INTO tx (id, v) VALUES ($1, $2)", 1000 + i * 10 + j, "w")
                expect(await c.fetchval("SELECT count(*) FROM items WHERE id <= $1", 3), 3)
        await c.close()
    await asyncio.wait_for(asyncio.gather(*(worker(i) for i in range(8))), 60)
    c = await connect()
    expect(await c.fetchval("SELECT count(*) FROM tx WHERE id >= 1000"), 24)
    await c.close()


async def types():
    vals = (9007199254740993, decimal.Decimal("12345.678901"), 0.1, "za\u017c\u00f3\u0142\u0107 \u2603 \U0001F600",
            b"\x00\x01\xfe\xff'\\", datetime.datetime(2024, 2, 29, 13, 45, 1, 250000, tzinfo=datetime.timezone.utc),
            datetime.date(1999, 12, 31), True, None)
    c = await connect()
    await c.execute("INSERT INTO types (id, i, d, f, s, b, ts, dd, bo, n) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", 1, *vals)
    got = tuple(await c.fetchrow("SELECT i, d, f, s, b, ts, dd, bo, n FROM types WHERE id = $1", 1))
    expect(got, vals)
    await c.close()


async def streaming():
    n = int(ENV["TP_BIG_ROWS"])
    c = await connect()
    count = total = 0
    async with c.transaction():
        # A cursor over a portal, fetched in batches of prefetch rows.
        async for r in c.cursor("SELECT n FROM big ORDER BY n", prefetch=500):
            count += 1
            total += r[0]
    expect((count, total), (n, n * (n + 1) // 2))
    expect(await c.fetchval("SELECT 3"), 3, "after the stream")
    await c.close()


async def cancel():
    c = await connect()
    try:
        await c.fetchval("SELECT pg_sleep(30)", timeout=0.7)
        raise AssertionError("no timeout")
    except asyncio.TimeoutError:
        pass  # asyncpg sent a CancelRequest and waits for the query to end
    expect(await asyncio.wait_for(c.fetchval("SELECT 4"), 10), 4, "after the cancel")
    await c.close()


async def tls():
    if ENV.get("TP_TLS_CA"):
        ctx = ssl.create_default_context(cafile=ENV["TP_TLS_CA"])
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    c = await connect(ssl=ctx)
    expect(await c.fetchval("SELECT 5"), 5)
    if c._transport.get_extra_info("sslcontext") is None:
        raise AssertionError("not a TLS connection")
    await c.close()


async def main():
    await check("login_first", login)
    await check("login_second", login)
    await check("connect_probes", probes)
    await check("known_answer", known_answer)
    await check("params_reused", params_reused)
    await check("rollback", rollback)
    await check("error_codes", error_codes)
    await check("pool_8_over_3", pool_8_over_3)
    await check("types", types)
    await check("streaming", streaming)
    await check("cancel", cancel)
    if ENV.get("TP_TLS"):
        await check("tls", tls)

asyncio.run(main())
