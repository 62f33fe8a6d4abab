package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// connectorJMain runs one query with MariaDB Connector/J's default
// settings and prints the column labels and the rows.
const connectorJMain = `import java.sql.*;
public class Main {
  public static void main(String[] a) throws Exception {
    try (Connection c = DriverManager.getConnection(a[0], a[1], a[2])) {
      for (int q = 3; q < a.length; q++) {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(a[q])) {
          ResultSetMetaData md = rs.getMetaData();
          StringBuilder b = new StringBuilder();
          for (int i = 1; i <= md.getColumnCount(); i++) b.append(i > 1 ? "," : "").append(md.getColumnLabel(i));
          System.out.println("labels " + b);
          while (rs.next()) {
            StringBuilder r = new StringBuilder();
            for (int i = 1; i <= md.getColumnCount(); i++) r.append(i > 1 ? "\t" : "").append(rs.getString(i));
            System.out.println("row " + r);
          }
        }
      }
    }
  }
}
`

// TestMySQLSecConnectorJDefaults: MariaDB Connector/J with its default
// settings sends `set autocommit=1, sql_mode = concat(@@sql_mode,
// ',STRICT_TRANS_TABLES')` at connect; it connects, keeps the labels of
// rewritten statements and gets masked values.
func TestMySQLSecConnectorJDefaults(t *testing.T) {
	java := requireTool(t, "java")
	jar := "/usr/share/java/mariadb-java-client.jar"
	if _, err := os.Stat(jar); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("MariaDB Connector/J is not installed (%s): apt-get install libmariadb-java", jar)
		}
		t.Skipf("MariaDB Connector/J is not installed (%s)", jar)
	}
	f := newMySecFixture(t)
	src := filepath.Join(t.TempDir(), "Main.java")
	if err := os.WriteFile(src, []byte(connectorJMain), 0o600); err != nil {
		t.Fatal(err)
	}
	url := "jdbc:mariadb://" + f.rp.MySQLAddr + "/alpha"
	out, err := runTool(t, 90*time.Second, nil, java, "-cp", jar, src, url, "vera", "vera-pw",
		"SELECT count(*) FROM customers", "SELECT id, email FROM customers WHERE id = 2", "SELECT @@sql_mode")
	if err != nil {
		t.Fatalf("Connector/J: %v\n%s", err, out)
	}
	for _, want := range []string{"labels count(*)\nrow 9\n", "labels id,email\nrow 2\t****\n", "STRICT_TRANS_TABLES"} {
		if !strings.Contains(out, want) {
			t.Errorf("Connector/J output lacks %q:\n%s", want, out)
		}
	}
}
