// Client matrix checks for pgJDBC with its default settings (server-side
// prepared statements from the 5th execution, extra_float_digits=3 at
// startup). Run by test/clients_pg_test.go as a single-file program
// (java -cp postgresql.jar PgJDBCCheck.java); settings come from TP_*
// variables and every check prints "PASS name" or "FAIL name: why".

import java.math.BigDecimal;
import java.sql.*;
import java.time.*;
import java.util.*;
import java.util.concurrent.*;

public class PgJDBCCheck {
    static final Map<String, String> env = System.getenv();

    static Connection connect(String extra) throws SQLException {
        String url = "jdbc:postgresql://" + env.get("TP_HOST") + ":" + env.get("TP_PORT") + "/" + env.get("TP_DB") + extra;
        Properties p = new Properties();
        p.setProperty("user", env.get("TP_USER"));
        if (!env.getOrDefault("TP_PASSWORD", "").isEmpty()) p.setProperty("password", env.get("TP_PASSWORD"));
        return DriverManager.getConnection(url, p);
    }

    static Object one(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) throw new SQLException("no row: " + sql);
                return rs.getObject(1);
            }
        }
    }

    static void expect(Object got, Object want, String what) {
        if (!Objects.deepEquals(got, want)) {
            throw new AssertionError(what + " got " + got + " (" + (got == null ? "null" : got.getClass().getSimpleName()) + "), want " + want);
        }
    }

    interface Check { void run() throws Exception; }

    static void check(String name, Check c) {
        try {
            c.run();
            System.out.println("PASS " + name);
        } catch (Throwable e) {
            String msg = e.toString().replace('\n', ' ');
            if (e instanceof SQLException) msg += " (SQLSTATE " + ((SQLException) e).getSQLState() + ")";
            System.out.println("FAIL " + name + ": " + msg);
        }
        System.out.flush();
    }

    static int n(Object o) { return ((Number) o).intValue(); }

    static void login() throws Exception {
        try (Connection c = connect("")) { expect(n(one(c, "SELECT 1")), 1, "SELECT 1"); }
    }

    static void probes() throws Exception {
        try (Connection c = connect("")) {
            expect(((String) one(c, "select pg_catalog.version()")).contains("PostgreSQL"), true, "version()");
            expect(one(c, "show standard_conforming_strings"), "on", "standard_conforming_strings");
            expect(one(c, "select current_schema()"), "public", "current_schema()");
            expect(one(c, "show extra_float_digits"), "3", "extra_float_digits (a startup parameter)");
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet rs = md.getTables(null, "public", "items", new String[] {"TABLE"})) {
                expect(rs.next(), true, "getTables finds items");
            }
            try (ResultSet rs = md.getColumns(null, "public", "items", "%")) {
                int cols = 0;
                while (rs.next()) cols++;
                expect(cols, 3, "getColumns");
            }
        }
    }

    static void knownAnswer() throws Exception {
        try (Connection c = connect("")) {
            expect(one(c, "SELECT name FROM items WHERE id = 2"), "banana", "name");
            expect(((Number) one(c, "SELECT count(*) FROM items")).longValue(), 3L, "count");
            expect(one(c, "SELECT sum(price) FROM items"), new BigDecimal("4.75"), "sum");
        }
    }

    static void paramsReused() throws Exception {
        try (Connection c = connect(""); PreparedStatement ps = c.prepareStatement("SELECT name FROM items WHERE id = ?")) {
            List<String> got = new ArrayList<>();
            // From the 5th execution pgJDBC uses a named server-side statement.
            for (int id : new int[] {1, 2, 3, 2, 1, 3, 2, 1}) {
                ps.setInt(1, id);
                try (ResultSet rs = ps.executeQuery()) { rs.next(); got.add(rs.getString(1)); }
            }
            expect(got, List.of("apple", "banana", "cherry", "banana", "apple", "cherry", "banana", "apple"), "names");
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                ins.setInt(1, 100); ins.setString(2, "a"); ins.addBatch();
                ins.setInt(1, 101); ins.setString(2, "b"); ins.addBatch();
                ins.executeBatch();
            }
            expect(n(one(c, "SELECT count(*) FROM tx WHERE id IN (?, ?)", 100, 101)), 2, "batch");
        }
    }

    static void rollback() throws Exception {
        try (Connection c = connect("")) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                ps.setInt(1, 1); ps.setString(2, "gone"); ps.executeUpdate();
            }
            expect(n(one(c, "SELECT count(*) FROM tx WHERE id = 1")), 1, "inside the transaction");
            c.rollback();
            c.setAutoCommit(true);
            expect(n(one(c, "SELECT count(*) FROM tx WHERE id = 1")), 0, "after rollback");
        }
    }

    static void errorCodes() throws Exception {
        try (Connection c = connect(""); Statement st = c.createStatement()) {
            String[][] cases = {{"SELECT * FROM no_such_table", "42P01"}, {"INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", "23505"}, {"SELEC 1", "42601"}};
            for (String[] k : cases) {
                try {
                    st.execute(k[0]);
                    throw new AssertionError(k[0] + ": no error");
                } catch (SQLException e) {
                    expect(e.getSQLState(), k[1], k[0]);
                }
            }
            expect(n(one(c, "SELECT 2")), 2, "after the errors");
        }
    }

    static void pool8over3() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(8);
        List<Future<?>> fs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            final int k = i;
            fs.add(ex.submit(() -> {
                try (Connection c = connect("")) {
                    for (int j = 0; j < 3; j++) {
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                            ps.setInt(1, 1000 + k * 10 + j); ps.setString(2, "w"); ps.executeUpdate();
                        }
                        expect(n(one(c, "SELECT count(*) FROM items WHERE id <= ?", 3)), 3, "count");
                        c.commit();
                        c.setAutoCommit(true);
                    }
                }
                return null;
            }));
        }
        for (Future<?> f : fs) f.get(60, TimeUnit.SECONDS);
        ex.shutdown();
        try (Connection c = connect("")) {
            expect(n(one(c, "SELECT count(*) FROM tx WHERE id >= 1000")), 24, "rows written");
        }
    }

    static void types() throws Exception {
        try (Connection c = connect("")) {
            byte[] blob = {0, 1, (byte) 0xfe, (byte) 0xff, '\'', '\\'};
            OffsetDateTime ts = OffsetDateTime.of(2024, 2, 29, 13, 45, 1, 250_000_000, ZoneOffset.UTC);
            LocalDate d = LocalDate.of(1999, 12, 31);
            String s = "za\u017c\u00f3\u0142\u0107 \u2603 \uD83D\uDE00";
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO types (id, i, d, f, s, b, ts, dd, bo, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 1); ps.setLong(2, 9007199254740993L); ps.setBigDecimal(3, new BigDecimal("12345.678901"));
                ps.setDouble(4, 0.1); ps.setString(5, s); ps.setBytes(6, blob); ps.setObject(7, ts); ps.setObject(8, d);
                ps.setBoolean(9, true); ps.setNull(10, Types.INTEGER);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT i, d, f, s, b, ts, dd, bo, n FROM types WHERE id = ?")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    expect(rs.getLong(1), 9007199254740993L, "int8");
                    expect(rs.getBigDecimal(2), new BigDecimal("12345.678901"), "numeric");
                    expect(rs.getDouble(3), 0.1, "float8");
                    expect(rs.getString(4), s, "text");
                    expect(rs.getBytes(5), blob, "bytea");
                    expect(rs.getObject(6, OffsetDateTime.class).toInstant(), ts.toInstant(), "timestamptz");
                    expect(rs.getObject(7, LocalDate.class), d, "date");
                    expect(rs.getBoolean(8), true, "bool");
                    rs.getInt(9);
                    expect(rs.wasNull(), true, "NULL");
                }
            }
        }
    }

    static void streaming() throws Exception {
        long total = Long.parseLong(env.get("TP_BIG_ROWS"));
        try (Connection c = connect("")) {
            c.setAutoCommit(false); // a fetch size streams through a portal only inside a transaction
            try (Statement st = c.createStatement()) {
                st.setFetchSize(500);
                long count = 0, sum = 0;
                try (ResultSet rs = st.executeQuery("SELECT n FROM big ORDER BY n")) {
                    while (rs.next()) { count++; sum += rs.getLong(1); }
                }
                expect(List.of(count, sum), List.of(total, total * (total + 1) / 2), "rows");
            }
            c.commit();
            c.setAutoCommit(true);
            expect(n(one(c, "SELECT 3")), 3, "after the stream");
        }
    }

    static void cancel() throws Exception {
        try (Connection c = connect("")) {
            Statement st = c.createStatement();
            ExecutorService ex = Executors.newSingleThreadExecutor();
            Future<String> f = ex.submit(() -> {
                try {
                    st.execute("SELECT pg_sleep(30)");
                    return "done";
                } catch (SQLException e) {
                    return e.getSQLState();
                }
            });
            Thread.sleep(700);
            st.cancel(); // a CancelRequest on a connection of its own
            String state;
            try {
                state = f.get(20, TimeUnit.SECONDS);
            } finally {
                ex.shutdownNow();
            }
            expect(state, "57014", "cancelled statement");
            expect(n(one(c, "SELECT 4")), 4, "after the cancel");
        }
    }

    static void tls() throws Exception {
        String ca = env.getOrDefault("TP_TLS_CA", "");
        String extra = ca.isEmpty() ? "?sslmode=require" : "?sslmode=verify-full&sslrootcert=" + ca;
        try (Connection c = connect(extra)) {
            expect(n(one(c, "SELECT 5")), 5, "SELECT 5");
        }
    }

    public static void main(String[] args) {
        DriverManager.setLoginTimeout(10);
        check("login_first", PgJDBCCheck::login);
        check("login_second", PgJDBCCheck::login);
        check("connect_probes", PgJDBCCheck::probes);
        check("known_answer", PgJDBCCheck::knownAnswer);
        check("params_reused", PgJDBCCheck::paramsReused);
        check("rollback", PgJDBCCheck::rollback);
        check("error_codes", PgJDBCCheck::errorCodes);
        check("pool_8_over_3", PgJDBCCheck::pool8over3);
        check("types", PgJDBCCheck::types);
        check("streaming", PgJDBCCheck::streaming);
        check("cancel", PgJDBCCheck::cancel);
        if (!env.getOrDefault("TP_TLS", "").isEmpty()) check("tls", PgJDBCCheck::tls);
        System.exit(0);
    }
}
