package nlp

import (
	"context"
	"strings"
	"testing"
)

// A note on how a flag is stored is consumed when the condition agrees
// with it, and declines the question when it does not: on a kennel and a
// staff list.
func TestEncodingNote(t *testing.T) {
	kennel := &Schema{Dialect: Postgres, Tables: []*Table{
		{Name: "dogs", PrimaryKey: []string{"dog_id"}, Columns: []*Column{
			{Name: "dog_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText},
			{Name: "abandoned_yn", Type: "integer", Kind: KindInt}}},
	}}
	kennel.index()
	staff := &Schema{Dialect: MySQL, Tables: []*Table{
		{Name: "members", PrimaryKey: []string{"member_id"}, Columns: []*Column{
			{Name: "member_id", Type: "int", Kind: KindInt}, {Name: "name", Type: "varchar(40)", Kind: KindText},
			{Name: "retired_yn", Type: "int", Kind: KindInt}}},
	}}
	staff.index()
	for _, c := range []struct {
		s        *Schema
		question string
		ok       bool
	}{
		{kennel, "List the names of the dogs who have been abandoned? 1 stands for yes, and 0 stands for no.", true},
		{kennel, "What are the names of the dogs that were abandoned? Note that 1 stands for yes, and 0 stands for no in the tables.", true},
		{staff, "Which members are retired? 1 stands for yes.", true},
		{kennel, "List the names of the dogs who have been abandoned? 0 stands for yes, and 1 stands for no.", false},
		{staff, "Which members are retired? 1 stands for no.", false},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if c.ok && err != nil {
			t.Errorf("%q: %v", c.question, err)
		}
		if c.ok && err == nil && !strings.Contains(res.SQL, " = 1)") {
			t.Errorf("%q: SQL %s", c.question, res.SQL)
		}
		if !c.ok && err == nil {
			t.Errorf("%q: answered %s, want a decline", c.question, res.SQL)
		}
	}
}
