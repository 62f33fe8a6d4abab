// Client matrix checks for MariaDB Connector/J with its default settings.
// Run by test/clients_mysql_test.go as a single-file program
// (java -cp mariadb-java-client.jar MariaDBCheck.java); settings come from
// TP_* variables and every check prints "PASS name" or "FAIL name: why".

import java.math.BigDecimal;
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;

public class MariaDBCheck {
    static final Map<String, String> env = System.getenv();

    static Connection connect(String extra) throws SQLException {
        String url = "jdbc:mariadb://" + env.get("TP_HOST") + ":" + env.get("TP_PORT") + "/" + env.get("TP_DB") + extra;
        return DriverManager.getConnection(url, env.get("TP_USER"), env.get("TP_PASSWORD"));
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
            if (e instanceof SQLException) msg += " (errno " + ((SQLException) e).getErrorCode() + ")";
            System.out.println("FAIL " + name + ": " + msg);
        }
        System.out.flush();
    }

    static void login() throws Exception {
        try (Connection c = connect("")) {
            expect(((Number) one(c, "SELECT 1")).intValue(), 1, "SELECT 1");
        }
    }

    static void probes() throws Exception {
        // What ORMs and pools ask at connect.
        try (Connection c = connect(""); Statement st = c.createStatement()) {
            for (String sql : new String[] {"SET NAMES utf8mb4", "SET autocommit=1", "SET SESSION time_zone = '+00:00'"}) st.execute(sql);
            expect(one(c, "SELECT @@session.time_zone"), "+00:00", "time_zone");
            expect(c.isValid(5), true, "isValid");
            // The driver picks the isolation variable by the greeting's version.
            expect(c.getTransactionIsolation(), Connection.TRANSACTION_REPEATABLE_READ, "getTransactionIsolation");
            DatabaseMetaData md = c.getMetaData();
            try (ResultSet rs = md.getColumns(null, null, "items", "%")) { // the current database
                int cols = 0;
                while (rs.next()) cols++;
                expect(cols, 3, "getColumns");
            }
        }
    }

    static void knownAnswer() throws Exception {
        try (Connection c = connect("")) {
            expect(one(c, "SELECT name FROM items WHERE id = 2"), "banana", "name");
            expect(((Number) one(c, "SELECT COUNT(*) FROM items")).intValue(), 3, "count");
            expect(one(c, "SELECT DATABASE()"), env.get("TP_EXPECT_DB"), "DATABASE()");
            expect(c.getCatalog(), env.get("TP_EXPECT_DB"), "getCatalog");
            expect(one(c, "SELECT SUM(price) FROM items"), new BigDecimal("4.75"), "sum");
        }
    }

    static void paramsReused() throws Exception {
        try (Connection c = connect(""); PreparedStatement ps = c.prepareStatement("SELECT name FROM items WHERE id = ?")) {
            List<String> got = new ArrayList<>();
            for (int id : new int[] {1, 2, 3, 2}) {
                ps.setInt(1, id);
                try (ResultSet rs = ps.executeQuery()) { rs.next(); got.add(rs.getString(1)); }
            }
            expect(got, List.of("apple", "banana", "cherry", "banana"), "names");
            try (PreparedStatement ins = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                ins.setInt(1, 100); ins.setString(2, "a"); ins.addBatch();
                ins.setInt(1, 101); ins.setString(2, "b"); ins.addBatch();
                ins.executeBatch();
            }
            expect(((Number) one(c, "SELECT COUNT(*) FROM tx WHERE id IN (?, ?)", 100, 101)).intValue(), 2, "batch");
        }
    }

    static void rollback() throws Exception {
        try (Connection c = connect("")) {
            c.setAutoCommit(false);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                ps.setInt(1, 1); ps.setString(2, "gone"); ps.executeUpdate();
            }
            expect(((Number) one(c, "SELECT COUNT(*) FROM tx WHERE id = 1")).intValue(), 1, "inside the transaction");
            c.rollback();
            c.setAutoCommit(true);
            expect(((Number) one(c, "SELECT COUNT(*) FROM tx WHERE id = 1")).intValue(), 0, "after rollback");
        }
    }

    static void errorCodes() throws Exception {
        try (Connection c = connect(""); Statement st = c.createStatement()) {
            Object[][] cases = {{"SELECT * FROM no_such_table", 1146}, {"INSERT INTO items (id, name, price) VALUES (1, 'dup', 1)", 1062}, {"SELEC 1", 1064}};
            for (Object[] k : cases) {
                try {
                    st.execute((String) k[0]);
                    throw new AssertionError(k[0] + ": no error");
                } catch (SQLException e) {
                    expect(e.getErrorCode(), k[1], (String) k[0]);
                }
            }
            expect(((Number) one(c, "SELECT 2")).intValue(), 2, "after the errors");
        }
    }

    static void pool8over3() throws Exception {
        ExecutorService ex = Executors.newFixedThreadPool(8);
        List<Future<?>> fs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            final int n = i;
            fs.add(ex.submit(() -> {
                try (Connection c = connect("")) {
                    for (int j = 0; j < 3; j++) {
                        c.setAutoCommit(false);
                        try (PreparedStatement ps = c.prepareStatement("INSERT INTO tx (id, v) VALUES (?, ?)")) {
                            ps.setInt(1, 1000 + n * 10 + j); ps.setString(2, "w"); ps.executeUpdate();
                        }
                        expect(((Number) one(c, "SELECT COUNT(*) FROM items WHERE id <= ?", 3)).intValue(), 3, "count");
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
            expect(((Number) one(c, "SELECT COUNT(*) FROM tx WHERE id >= 1000")).intValue(), 24, "rows written");
        }
    }

    static void types() throws Exception {
        try (Connection c = connect("")) {
            byte[] blob = {0, 1, (byte) 0xfe, (byte) 0xff, '\'', '\\'};
            Timestamp ts = Timestamp.valueOf("2024-02-29 13:45:01.25");
            java.sql.Date d = java.sql.Date.valueOf("1999-12-31");
            String s = "za\u017c\u00f3\u0142\u0107 \u2603 \uD83D\uDE00";
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO types (id, i, d, f, s, b, dt, dd, n) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                ps.setInt(1, 1); ps.setLong(2, 9007199254740993L); ps.setBigDecimal(3, new BigDecimal("12345.678901"));
                ps.setDouble(4, 0.1); ps.setString(5, s); ps.setBytes(6, blob); ps.setTimestamp(7, ts); ps.setDate(8, d);
                ps.setNull(9, Types.INTEGER);
                ps.executeUpdate();
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT i, d, f, s, b, dt, dd, n FROM types WHERE id = ?")) {
                ps.setInt(1, 1);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    expect(rs.getLong(1), 9007199254740993L, "bigint");
                    expect(rs.getBigDecimal(2), new BigDecimal("12345.678901"), "decimal");
                    expect(rs.getDouble(3), 0.1, "double");
                    expect(rs.getString(4), s, "text");
                    expect(rs.getBytes(5), blob, "blob");
                    expect(rs.getTimestamp(6), ts, "datetime");
                    expect(rs.getDate(7), d, "date");
                    rs.getInt(8);
                    expect(rs.wasNull(), true, "NULL");
                }
            }
        }
    }

    static void streaming() throws Exception {
        long n = Long.parseLong(env.get("TP_BIG_ROWS"));
        try (Connection c = connect(""); Statement st = c.createStatement()) {
            st.setFetchSize(100); // streams rows instead of reading the whole result
            long count = 0, total = 0;
            try (ResultSet rs = st.executeQuery("SELECT n FROM big ORDER BY n")) {
                while (rs.next()) { count++; total += rs.getLong(1); }
            }
            expect(List.of(count, total), List.of(n, n * (n + 1) / 2), "rows");
            expect(((Number) one(c, "SELECT 3")).intValue(), 3, "after the stream");
        }
    }

    static void cancel() throws Exception {
        try (Connection a = connect(""); Connection b = connect("")) {
            b.setAutoCommit(false);
            one(b, "SELECT name FROM items WHERE id = 3 FOR UPDATE");
            Statement st = a.createStatement();
            ExecutorService ex = Executors.newSingleThreadExecutor();
            Future<Integer> f = ex.submit(() -> {
                try {
                    st.executeUpdate("UPDATE items SET name = 'never' WHERE id = 3");
                    return 0;
                } catch (SQLException e) {
                    return e.getErrorCode();
                }
            });
            Thread.sleep(700);
            st.cancel(); // Connector/J sends KILL QUERY on a connection of its own
            int code;
            try {
                code = f.get(20, TimeUnit.SECONDS);
            } finally {
                b.rollback();
                ex.shutdownNow();
            }
            expect(code, 1317, "error of the cancelled statement");
            expect(one(a, "SELECT name FROM items WHERE id = 3"), "cherry", "after the cancel");
        }
    }

    static void tls() throws Exception {
        try (Connection c = connect("?useSsl=true&serverSslCert=" + env.get("TP_TLS_CA"))) {
            expect(((Number) one(c, "SELECT 5")).intValue(), 5, "SELECT 5");
        }
    }

    public static void main(String[] args) {
        DriverManager.setLoginTimeout(10);
        check("login_first", MariaDBCheck::login);
        check("login_second", MariaDBCheck::login);
        check("connect_probes", MariaDBCheck::probes);
        check("known_answer", MariaDBCheck::knownAnswer);
        check("params_reused", MariaDBCheck::paramsReused);
        check("rollback", MariaDBCheck::rollback);
        check("error_codes", MariaDBCheck::errorCodes);
        check("pool_8_over_3", MariaDBCheck::pool8over3);
        check("types", MariaDBCheck::types);
        check("streaming", MariaDBCheck::streaming);
        check("cancel", MariaDBCheck::cancel);
        if (env.getOrDefault("TP_TLS_CA", "") != "") check("tls", MariaDBCheck::tls);
        System.exit(0);
    }
}
