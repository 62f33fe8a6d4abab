"""Client matrix checks for psycopg 3 (python3-psycopg) with its default
settings, including SQLAlchemy's dialect probes. Run by
test/clients_pg_test.go; settings come from TP_* variables and every check
prints "PASS name" or "FAIL name: why".
"""
import datetime
import decimal
import os
import threading
import time

import psycopg
from psycopg import errors

ENV = os.environ


def conninfo(**extra):
    kw = dict(host=ENV["TP_HOST"], port=ENV["TP_PORT"], user=ENV["TP_USER"], dbname=ENV["TP_DB"])
    if ENV["TP_PASSWORD"]:
        kw["password"] = ENV["TP_PASSWORD"]
    kw.update(extra)
    return kw


def connect(**extra):
    return psycopg.connect(**conninfo(**extra))


def one(conn, sql, args=None):
    return conn.execute(sql, args).fetchone()


def check(name, fn):
    try:
        fn()
        print("PASS", name, flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        print("FAIL %s: %s: %s" % (name, type(e).__name__, str(e).replace("\n", " ")), flush=True)


def expect(got, want, what=""):
    if got != want:
        raise AssertionError("%s got %r, want %r" % (what, got, want))


def login():
    with connect() as c:
        expect(one(c, "SELECT 1")[0], 1)


def probes():
    # What SQLAlchemy's postgresql dialect and other drivers ask at connect.
    with connect(autocommit=True) as c:
        if "PostgreSQL" not in one(c, "select pg_catalog.version()")[0]:
            raise AssertionError("version()")
        expect(one(c, "show standard_conforming_strings")[0], "on", "standard_conforming_strings")
        expect(one(c, "select current_schema()")[0], "public", "current_schema()")
        c.execute("SET extra_float_digits = 3")
        expect(one(c, "show transaction isolation level")[0], "read committed", "isolation")
        expect(one(c, "select pg_catalog.current_setting('server_version_num')")[0][:2], str(c.info.server_version)[:2])
        # SQLAlchemy's psycopg dialect looks up the hstore type at connect.
        from psycopg.types import TypeInfo
        expect(TypeInfo.fetch(c, "hstore"), None, "hstore type info")
        expect(TypeInfo.fetch(c, "int4").oid, 23, "int4 type info")
        c.execute("SET application_name = 'matrix'")
        expect(one(c, "show application_name")[0], "matrix", "application_name")


def known_answer():
    with connect() as c:
        expect(one(c, "SELECT name FROM items WHERE id = 2")[0], "banana")
        expect(one(c, "SELECT count(*) FROM items")[0], 3)
        expect(one(c, "SELECT sum(price) FROM items")[0], decimal.Decimal("4.75"))


def params_reused():
    with connect() as c:
        got = []
        # psycopg prepares a query on the server from its 5th execution.
        for i in (1, 2, 3, 2, 1, 3, 2, 1):
            got.append(one(c, "SELECT name FROM items WHERE id = %s", (i,))[0])
        expect(got, ["apple", "banana", "cherry", "banana", "apple", "cherry", "banana", "apple"])
        with c.cursor() as cur:
            cur.executemany("INSERT INTO tx (id, v) VALUES (%s, %s)", [(100, "a"), (101, "b")])
        c.commit()
        expect(one(c, "SELECT count(*) FROM tx WHERE id IN (%s, %s)", (100, 101))[0], 2)


def rollback():
    with connect() as c:
        c.execute("INSERT INTO tx (id, v) VALUES (%s, %s)", (1, "gone"))
        expect(one(c, "SELECT count(*) FROM tx WHERE id = 1")[0], 1, "inside the transaction")
        c.rollback()
        expect(one(c, "SELECT count(*) FROM tx WHERE id = 1")[0], 0, "after rollback")


def error_codes():
    with connect(autocommit=True) as c:
        for sql, state in (("SELECT * FROM no_such_table", "42P01"),
                           ("INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", "23505"),
                           ("SELEC 1", "42601")):
            try:
                c.execute(sql)
            except psycopg.Error as e:
                expect(e.sqlstate, state, sql)
            else:
                raise AssertionError("%s: no error" % sql)
        expect(one(c, "SELECT 2")[0], 2, "after the errors")


def pool_8_over_3():
    errs, done = [], []

    def worker(i):
        try:
            with connect() as c:
                for j in range(3):
                    with c.transaction():
                        c.execute("INSERT INTO tx (id, v) VALUES (%s, %s)", (1000 + i * 10 + j, "w"))
                        expect(one(c, "SELECT count(*) FROM items WHERE id <= %s", (3,))[0], 3)
            done.append(i)
        except Exception as e:  # noqa: BLE001
            errs.append("%d: %s" % (i, e))
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    if errs or len(done) != 8:
        raise AssertionError("errors %s, done %d" % (errs, len(done)))
    with connect() as c:
        expect(one(c, "SELECT count(*) FROM tx WHERE id >= 1000")[0], 24)


def types():
    vals = (9007199254740993, decimal.Decimal("12345.678901"), 0.1, "za\u017c\u00f3\u0142\u0107 \u2603 \U0001F600",
            b"\x00\x01\xfe\xff'\\", datetime.datetime(2024, 2, 29, 13, 45, 1, 250000, tzinfo=datetime.timezone.utc),
            datetime.date(1999, 12, 31), True, None)
    with connect() as c:
        c.execute("SET TIME ZONE 'UTC'")
        c.execute("INSERT INTO types (id, i, d, f, s, b, ts, dd, bo, n) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", (1,) + vals)
        c.commit()
        for binary in (False, True):
            with c.cursor(binary=binary) as cur:
                got = cur.execute("SELECT i, d, f, s, b, ts, dd, bo, n FROM types WHERE id = %s", (1,)).fetchone()
            expect(tuple(bytes(v) if isinstance(v, memoryview) else v for v in got), vals, "binary" if binary else "text")


def streaming():
    n = int(ENV["TP_BIG_ROWS"])
    with connect() as c:
        # A server-side cursor: DECLARE, then FETCH in batches.
        with c.cursor(name="big_rows") as cur:
            cur.itersize = 500
            cur.execute("SELECT n FROM big ORDER BY n")
            count = total = 0
            for (v,) in cur:
                count += 1
                total += v
        c.commit()
        expect((count, total), (n, n * (n + 1) // 2))
        expect(one(c, "SELECT 3")[0], 3, "after the stream")


def cancel():
    with connect(autocommit=True) as c:
        res = {}

        def sleeper():
            t0 = time.time()
            try:
                c.execute("SELECT pg_sleep(30)")
                res["done"] = True
            except psycopg.Error as e:
                res["state"] = e.sqlstate
            res["secs"] = time.time() - t0
        t = threading.Thread(target=sleeper)
        t.start()
        time.sleep(0.7)
        c.cancel()  # a CancelRequest on a connection of its own
        t.join(20)
        if t.is_alive() or res.get("secs", 99) > 15:
            raise AssertionError("the query was not cancelled: %r" % res)
        expect(res.get("state"), "57014", "cancelled query")
        expect(one(c, "SELECT 4")[0], 4, "after the cancel")


def tls():
    extra = dict(sslmode="require")
    if ENV.get("TP_TLS_CA"):
        extra = dict(sslmode="verify-full", sslrootcert=ENV["TP_TLS_CA"])
    with connect(**extra) as c:
        expect(one(c, "SELECT 5")[0], 5)
        if not c.pgconn.ssl_in_use:
            raise AssertionError("not a TLS connection")


check("login_first", login)
check("login_second", login)
check("connect_probes", probes)
check("known_answer", known_answer)
check("params_reused", params_reused)
check("rollback", rollback)
check("error_codes", error_codes)
check("pool_8_over_3", pool_8_over_3)
check("types", types)
check("streaming", streaming)
check("cancel", cancel)
if ENV.get("TP_TLS"):
    check("tls", tls)
