"""Client matrix checks for the Python MySQL drivers (PyMySQL, mysqlclient).

Run by test/clients_mysql_test.go: python3 mysql_check.py pymysql|mysqldb.
Connection settings come from TP_* environment variables; every check prints
"PASS name" or "FAIL name: why". Drivers keep their default settings.
"""
import datetime
import decimal
import os
import sys
import threading
import time

DRIVER = sys.argv[1]
if DRIVER == "pymysql":
    import pymysql as db
    import pymysql.cursors as cursors
else:
    import MySQLdb as db
    import MySQLdb.cursors as cursors

ENV = os.environ
HOST, PORT = ENV["TP_HOST"], int(ENV["TP_PORT"])
USER, PASSWORD, DB = ENV["TP_USER"], ENV["TP_PASSWORD"], ENV["TP_DB"]


def connect(**extra):
    kw = dict(host=HOST, port=PORT, user=USER, password=PASSWORD, database=DB)
    kw.update(extra)
    return db.connect(**kw)


def one(conn, sql, args=None):
    cur = conn.cursor()
    cur.execute(sql, args)
    row = cur.fetchone()
    cur.close()
    return row


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
    c = connect()
    expect(one(c, "SELECT 1")[0], 1)
    c.close()


def probes():
    # What SQLAlchemy's MySQL dialect and drivers ask at connect.
    c = connect()
    cur = c.cursor()
    for sql in ("SET NAMES utf8mb4", "SET autocommit=1", "SET SESSION time_zone = '+00:00'",
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"):
        cur.execute(sql)
    cur.execute("SHOW VARIABLES LIKE 'sql_mode'")
    expect(cur.fetchone()[0], "sql_mode")
    cur.execute("SHOW VARIABLES LIKE 'lower_case_table_names'")
    expect(len(cur.fetchall()), 1, "lower_case_table_names")
    try:  # MySQL 8 and MariaDB 11.1+; older servers know tx_isolation only
        iso = one(c, "SELECT @@session.transaction_isolation")[0]
    except db.MySQLError as e:
        expect(e.args[0], 1193, "unknown variable transaction_isolation")
        iso = one(c, "SELECT @@session.tx_isolation")[0]
    expect(iso, "READ-COMMITTED", "transaction isolation")
    expect(one(c, "SELECT @@session.time_zone")[0], "+00:00", "time_zone")
    expect(one(c, "SELECT CAST('test plain returns' AS CHAR(60)) AS anon_1")[0], "test plain returns")
    expect(one(c, "SELECT DATABASE()")[0], ENV["TP_EXPECT_DB"], "DATABASE()")
    c.close()


def known_answer():
    c = connect()
    expect(one(c, "SELECT name FROM items WHERE id = 2")[0], "banana")
    expect(one(c, "SELECT COUNT(*) FROM items")[0], 3)
    expect(one(c, "SELECT DATABASE()")[0], ENV["TP_EXPECT_DB"], "DATABASE()")
    expect(one(c, "SELECT SUM(price) FROM items")[0], decimal.Decimal("4.75"))
    c.close()


def params_reused():
    c = connect()
    cur = c.cursor()
    got = []
    for i in (1, 2, 3, 2):
        cur.execute("SELECT name FROM items WHERE id = %s", (i,))
        got.append(cur.fetchone()[0])
    expect(got, ["apple", "banana", "cherry", "banana"])
    cur.executemany("INSERT INTO tx (id, v) VALUES (%s, %s)", [(100, "a"), (101, "b")])
    c.commit()
    expect(one(c, "SELECT COUNT(*) FROM tx WHERE id IN (%s, %s)", (100, 101))[0], 2)
    c.close()


def rollback():
    c = connect()
    c.begin()
    cur = c.cursor()
    cur.execute("INSERT INTO tx (id, v) VALUES (%s, %s)", (1, "gone"))
    expect(one(c, "SELECT COUNT(*) FROM tx WHERE id = 1")[0], 1, "inside the transaction")
    c.rollback()
    expect(one(c, "SELECT COUNT(*) FROM tx WHERE id = 1")[0], 0, "after rollback")
    c.close()


def error_codes():
    c = connect()
    for sql, code in (("SELECT * FROM no_such_table", 1146),
                      ("INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", 1062),
                      ("SELEC 1", 1064)):
        try:
            one(c, sql)
        except db.MySQLError as e:
            expect(e.args[0], code, sql)
        else:
            raise AssertionError("%s: no error" % sql)
    expect(one(c, "SELECT 2")[0], 2, "after the errors")
    c.close()


def pool_8_over_3():
    errs, done = [], []

    def worker(i):
        try:
            c = connect()
            for j in range(3):
                c.begin()
                cur = c.cursor()
                cur.execute("INSERT INTO tx (id, v) VALUES (%s, %s)", (1000 + i * 10 + j, "w"))
                expect(one(c, "SELECT COUNT(*) FROM items WHERE id <= %s", (3,))[0], 3)
                c.commit()
            c.close()
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
    c = connect()
    expect(one(c, "SELECT COUNT(*) FROM tx WHERE id >= 1000")[0], 24)
    c.close()


def types():
    c = connect()
    cur = c.cursor()
    vals = (9007199254740993, decimal.Decimal("12345.678901"), 0.1, "za\u017c\u00f3\u0142\u0107 \u2603 \U0001F600",
            b"\x00\x01\xfe\xff'\\", datetime.datetime(2024, 2, 29, 13, 45, 1, 250000), datetime.date(1999, 12, 31), None)
    cur.execute("INSERT INTO types (id, i, d, f, s, b, dt, dd, n) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", (1,) + vals)
    c.commit()
    cur.execute("SELECT i, d, f, s, b, dt, dd, n FROM types WHERE id = %s", (1,))
    got = cur.fetchone()
    got = tuple(bytes(v) if isinstance(v, (bytearray, memoryview)) else v for v in got)
    expect(got, vals)
    c.close()


def streaming():
    c = connect()
    cur = c.cursor(cursors.SSCursor)
    cur.execute("SELECT n FROM big ORDER BY n")
    count, total = 0, 0
    for (n,) in cur:
        count += 1
        total += n
    cur.close()
    rows = int(ENV["TP_BIG_ROWS"])
    expect((count, total), (rows, rows * (rows + 1) // 2))
    expect(one(c, "SELECT 3")[0], 3, "after the stream")
    c.close()


def cancel():
    # A waits for a row lock that B holds; C kills A's statement.
    a, b, c = connect(), connect(), connect()
    aid = one(a, "SELECT CONNECTION_ID()")[0]
    b.begin()
    one(b, "SELECT name FROM items WHERE id = 3 FOR UPDATE")
    res = {}

    def waiter():
        t0 = time.time()
        try:
            cur = a.cursor()
            cur.execute("UPDATE items SET name = 'never' WHERE id = 3")
            res["done"] = True
        except db.MySQLError as e:
            res["err"] = e.args[0]
        res["secs"] = time.time() - t0
    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.7)
    cur = c.cursor()
    cur.execute("KILL QUERY %d" % aid)
    t.join(30)
    b.rollback()
    if t.is_alive() or res.get("secs", 99) > 20:
        raise AssertionError("the statement was not cancelled: %r" % res)
    expect(res.get("err"), 1317, "error of the killed statement")
    a.rollback()
    expect(one(a, "SELECT name FROM items WHERE id = 3")[0], "cherry", "after the cancel")
    for x in (a, b, c):
        x.close()


def tls():
    ca = ENV["TP_TLS_CA"]
    if DRIVER == "pymysql":
        c = connect(ssl={"ca": ca})
        import ssl as _ssl
        if not isinstance(c._sock, _ssl.SSLSocket):
            raise AssertionError("not a TLS connection")
    else:
        c = connect(ssl={"ca": ca})
    expect(one(c, "SELECT 5")[0], 5)
    c.close()


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
if ENV.get("TP_TLS_CA"):
    check("tls", tls)
