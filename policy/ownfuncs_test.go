package policy

import (
	"slices"
	"testing"
)

func TestMySQLViewReads(t *testing.T) {
	funcs := map[string]bool{"secret_of": true}
	for _, c := range []struct {
		def  string
		want []string
	}{
		// As MariaDB stores them in information_schema.VIEWS.
		{"select `db`.`items`.`id` AS `id`,`db`.`items`.`secret` AS `secret` from `db`.`items`", []string{"items"}},
		{"select `v`.`id` AS `id` from (`db`.`v_items` `v` join `db`.`names` `n` on(`n`.`id` = `v`.`id`))", []string{"v_items", "names"}},
		{"select `db`.`names`.`id` AS `id`,`secret_of`(`db`.`names`.`id`) AS `s` from `db`.`names`", []string{"names", ViewOpaque}},
		{"select `other`.`f`(1) AS `x`", []string{ViewOpaque}},
		{"select concat(`db`.`names`.`name`,'x') AS `c` from `db`.`names` where `db`.`names`.`id` in (select `db`.`items`.`id` from `db`.`items`)", []string{"names", "items"}},
		{"", []string{ViewOpaque}},
		{"select from where", []string{ViewOpaque}},
	} {
		got := MySQLViewReads(c.def, funcs)
		slices.Sort(got)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", c.def, got, want)
		}
	}
}

func TestViewRule(t *testing.T) {
	tables := &Tables{Views: map[string][]string{
		"v_items":  {"items"},
		"v_sal":    {"salaries"},
		"v_fn":     {"names", ViewOpaque},
		"v_names":  {"names"},
		"v_orders": {"orders"},
	}}
	s := Subject{Tables: tables}
	for _, c := range []struct {
		role       Role
		view, want string
	}{
		{Role{Name: "r"}, "v_items", ""}, // no read rules
		{Role{Name: "r", MaskedColumns: []string{"items.secret"}}, "v_items", "items"},
		{Role{Name: "r", MaskedColumns: []string{"items.secret"}}, "v_names", ""},
		{Role{Name: "r", MaskedColumns: []string{"items.secret"}}, "v_fn", ViewOpaque},
		{Role{Name: "r", MaskedColumns: []string{"items.secret"}, AllowedTables: []string{"v_items", "v_fn"}}, "v_items", "items"},
		{Role{Name: "r", MaskedColumns: []string{"items.secret"}, AllowedTables: []string{"v_items", "v_fn"}}, "v_fn", ViewOpaque},
		{Role{Name: "r", DeniedTables: []string{"salaries"}}, "v_sal", "salaries"},
		{Role{Name: "r", DeniedTables: []string{"salaries"}}, "v_fn", ViewOpaque},
		{Role{Name: "r", AllowedTables: []string{"v_sal"}}, "v_sal", ""}, // named: meant to be read
		{Role{Name: "r", AllowedTables: []string{"v_names", "orders"}}, "v_names", ""},
		{Role{Name: "r", AllowedTables: []string{"v_fn"}}, "v_fn", ""},
		{Role{Name: "r", RowFilters: map[string]string{"orders": "x = 1"}}, "v_orders", "orders"},
		{Role{Name: "r", RowFilters: map[string]string{"orders": "x = 1", "V_Orders": "x = 1"}}, "v_orders", ""},
		{Role{Name: "r", RowFilters: map[string]string{"orders": "x = 1"}}, "v_names", ""},
		{Role{Name: "r", RowFilters: map[string]string{"orders": "x = 1"}}, "unknown", ""},
	} {
		if got := s.viewRule(c.view, &c.role); got != c.want {
			t.Errorf("%+v %s: %q, want %q", c.role, c.view, got, c.want)
		}
	}
}
