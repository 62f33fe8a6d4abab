package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// The demo's servers listen where configs/demo.yaml expects them.
const (
	pgAddr = "127.0.0.1:5432"
	myAddr = "127.0.0.1:3306"
)

// engine is a backend engine the demo could prepare.
type engine int

const (
	enginePostgres engine = iota
	engineMySQL
)

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// asService runs a server program as user when the demo runs as root
// (initdb and mariadbd refuse to run as root).
func asService(user, path string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", user, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// tempDirFor makes a temporary directory owned by user (when root).
func tempDirFor(user, prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", user, dir).CombinedOutput(); err != nil {
			return "", fmt.Errorf("chown %s: %v %s", dir, err, out)
		}
	}
	return dir, nil
}

// ensurePostgres reports whether a Postgres answers on pgAddr, starting a
// throwaway instance there when the binaries are installed.
func ensurePostgres(ctx context.Context) bool {
	if listening(pgAddr) {
		return true
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		if p, err := exec.LookPath("initdb"); err == nil {
			bins = []string{p}
		}
	}
	if len(bins) == 0 {
		fmt.Println("PostgreSQL is not running on " + pgAddr + " and not installed: apt-get install postgresql (the Postgres tenants are left out)")
		return false
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := tempDirFor("postgres", "tenantproxy-demo-pg-")
	if err == nil {
		data := filepath.Join(dir, "data")
		fmt.Println("PostgreSQL is not running: starting a throwaway instance in " + dir)
		if out, e := asService("postgres", filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "--no-sync").CombinedOutput(); e != nil {
			err = fmt.Errorf("initdb: %v\n%s", e, out)
		} else if out, e := asService("postgres", filepath.Join(bin, "pg_ctl"), "-D", data, "-w", "-l", filepath.Join(dir, "log"),
			"-o", "-p 5432 -k "+dir+" -c listen_addresses=127.0.0.1", "start").CombinedOutput(); e != nil {
			err = fmt.Errorf("pg_ctl start: %v\n%s", e, out)
		} else {
			fmt.Printf("  stop it with: %s %s -D %s stop\n", map[bool]string{true: "runuser -u postgres --", false: ""}[os.Geteuid() == 0], filepath.Join(bin, "pg_ctl"), data)
		}
	}
	if err != nil {
		fmt.Println("demo: cannot start PostgreSQL:", err)
		return false
	}
	return waitFor(ctx, pgAddr)
}

// ensureMySQL reports whether a MariaDB or MySQL answers on myAddr,
// starting a throwaway MariaDB there when the binaries are installed.
func ensureMySQL(ctx context.Context) bool {
	if listening(myAddr) {
		return true
	}
	server, _ := exec.LookPath("mariadbd")
	if server == "" {
		if _, err := os.Stat("/usr/sbin/mariadbd"); err == nil {
			server = "/usr/sbin/mariadbd"
		}
	}
	install, _ := exec.LookPath("mariadb-install-db")
	if server == "" || install == "" {
		fmt.Println("MariaDB is not running on " + myAddr + " and not installed: apt-get install mariadb-server (the MySQL tenant is left out)")
		return false
	}
	dir, err := tempDirFor("mysql", "tenantproxy-demo-mariadb-")
	if err != nil {
		fmt.Println("demo: cannot start MariaDB:", err)
		return false
	}
	fmt.Println("MariaDB is not running: starting a throwaway instance in " + dir)
	data := filepath.Join(dir, "data")
	args := []string{"--no-defaults", "--datadir=" + data, "--auth-root-authentication-method=normal", "--skip-test-db"}
	user := []string{}
	if os.Geteuid() == 0 {
		user = []string{"--user=mysql"}
	}
	if out, err := exec.Command(install, append(args, user...)...).CombinedOutput(); err != nil {
		fmt.Printf("demo: mariadb-install-db: %v\n%s", err, out)
		return false
	}
	pid := filepath.Join(dir, "pid")
	cmd := exec.Command(server, append([]string{"--no-defaults", "--datadir=" + data, "--port=3306", "--bind-address=127.0.0.1",
		"--socket=" + filepath.Join(dir, "sock"), "--pid-file=" + pid, "--skip-log-bin", "--log-error=" + filepath.Join(dir, "log")}, user...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives the demo command
	if err := cmd.Start(); err != nil {
		fmt.Println("demo: cannot start MariaDB:", err)
		return false
	}
	_ = cmd.Process.Release()
	fmt.Printf("  stop it with: kill $(cat %s)\n", pid)
	if !waitFor(ctx, myAddr) {
		return false
	}
	// The port answers before the server accepts logins.
	db, _ := sql.Open("mysql", "root@tcp("+myAddr+")/")
	defer db.Close()
	for ctx.Err() == nil {
		if db.PingContext(ctx) == nil {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

func waitFor(ctx context.Context, addr string) bool {
	for ctx.Err() == nil {
		if listening(addr) {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println("demo: no server came up on " + addr)
	return false
}
