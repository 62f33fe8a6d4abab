package sqlerr

import (
	"fmt"
	"testing"
)

func TestEveryKindIsMapped(t *testing.T) {
	for k := Kind(0); k < numKinds; k++ {
		c := codes[k]
		if c.name == "" || len(c.sqlstate) != 5 || c.mysql == 0 || len(c.mysqlSQL) != 5 {
			t.Errorf("kind %d has an incomplete row %+v", k, c)
		}
		if k != Internal && c.mysql == 1105 {
			t.Errorf("kind %d maps to the bare MySQL 1105", k)
		}
	}
}

func TestAsThroughWrapping(t *testing.T) {
	err := fmt.Errorf("pool: acquire alpha: %w", New(PoolTimeout, "timed out"))
	e := As(err)
	if e == nil || e.SQLState() != "53300" || e.MySQLCode() != 1040 {
		t.Fatalf("As(%v) = %+v", err, e)
	}
	if !Is(err, PoolTimeout) || Is(err, AuthFailed) {
		t.Fatal("Is does not follow the kind")
	}
}
