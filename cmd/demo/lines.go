package main

import (
	"fmt"
	"os/exec"
	"slices"
)

// printLines prints command lines that work pasted as they are once the
// proxy runs with configs/demo.yaml.
func printLines(ready []engine) {
	fmt.Println()
	fmt.Println("tenantproxy is starting with configs/demo.yaml. Connect with:")
	if slices.Contains(ready, enginePostgres) {
		fmt.Println("  psql 'postgres://alice:alice-secret@127.0.0.1:6432/alpha'   # admin on alpha (Postgres)")
		fmt.Println("  psql 'postgres://bob:bob-secret@127.0.0.1:6432/beta'        # viewer on beta: 100 rows at most, emails masked")
		missing("psql", "postgresql-client")
	}
	if slices.Contains(ready, engineMySQL) {
		fmt.Println("  mariadb -h 127.0.0.1 -P 6033 -u alice -palice-secret gamma  # admin on gamma (MySQL)")
		fmt.Println("  mariadb -h 127.0.0.1 -P 6033 -u bob -pbob-secret gamma      # viewer on gamma: 100 rows at most, emails masked")
		missing("mariadb", "mariadb-client")
	}
	tenant := "alpha"
	if !slices.Contains(ready, enginePostgres) {
		tenant = "gamma"
	}
	fmt.Println("  curl -s 127.0.0.1:8080/metrics | grep tenantproxy_")
	fmt.Printf("  TOKEN=$(curl -s -X POST 127.0.0.1:8080/api/v1/auth/login -d '{\"username\":\"alice\",\"password\":\"alice-secret\",\"tenant_id\":\"%s\"}' | cut -d'\"' -f4)\n", tenant)
	fmt.Println("  curl -s -H \"Authorization: Bearer $TOKEN\" -X POST 127.0.0.1:8080/api/v1/tenant/query -d '{\"query\":\"how many customers per country\"}'")
	fmt.Println("  curl -s 127.0.0.1:8080/api/v1/openapi.json                 # the API's description")
	fmt.Println("Stop with Ctrl-C (SIGTERM drains).")
	fmt.Println()
}

// missing prints one line when a client program is not installed.
func missing(prog, pkg string) {
	if _, err := exec.LookPath(prog); err != nil {
		fmt.Printf("  (%s is not installed: apt-get install %s)\n", prog, pkg)
	}
}
