package nlp

import (
	"context"
	"strings"
	"testing"
)

// petsSchema: students, the pets they have through has_pet, pet types.
func petsSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "student", PrimaryKey: []string{"stuid"}, Columns: []*Column{
			{Name: "stuid", Type: "integer", Kind: KindInt}, {Name: "fname", Type: "text", Kind: KindText},
			{Name: "age", Type: "integer", Kind: KindInt}}},
		{Name: "pets", PrimaryKey: []string{"petid"}, Columns: []*Column{
			{Name: "petid", Type: "integer", Kind: KindInt}, {Name: "pet_age", Type: "integer", Kind: KindInt},
			{Name: "pettype", Type: "text", Kind: KindText, Indexed: true, Values: []string{"cat", "dog"}}}},
		{Name: "has_pet", Columns: []*Column{
			{Name: "stuid", Type: "integer", Kind: KindInt}, {Name: "petid", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"stuid"}, RefTable: "student", RefColumns: []string{"stuid"}},
				{Columns: []string{"petid"}, RefTable: "pets", RefColumns: []string{"petid"}}}},
	}}
	s.index()
	return s
}

// garageSchema: owners and their vehicles, of a kind.
func garageSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "owners", PrimaryKey: []string{"owner_id"}, Columns: []*Column{
			{Name: "owner_id", Type: "integer", Kind: KindInt}, {Name: "name", Type: "text", Kind: KindText}}},
		{Name: "vehicles", PrimaryKey: []string{"vehicle_id"}, Columns: []*Column{
			{Name: "vehicle_id", Type: "integer", Kind: KindInt}, {Name: "owner_id", Type: "integer", Kind: KindInt},
			{Name: "wheels", Type: "integer", Kind: KindInt},
			{Name: "kind", Type: "text", Kind: KindText, Indexed: true, Values: []string{"car", "bike"}}},
			ForeignKeys: []ForeignKey{{Columns: []string{"owner_id"}, RefTable: "owners", RefColumns: []string{"owner_id"}}}},
	}}
	s.index()
	return s
}

// The object of a verb of having is a stored value ("who have a dog");
// "a dog but not a cat" is two conditions, the negation reaching the
// value it precedes.
func TestPossessedValue(t *testing.T) {
	for _, d := range []Dialect{Postgres, MySQL} {
		for _, c := range []struct {
			s        *Schema
			question string
			want     []string
		}{
			{petsSchema(d), "What are the ids of students who have a dog?", []string{"WHERE EXISTS (", " = 'dog')"}},
			{petsSchema(d), "What are the first names of students who have both cats and dogs as pets?", []string{" = 'cat')) AND EXISTS (", " = 'dog'))"}},
			{petsSchema(d), "Find the first name of students who have a dog but do not have a cat.", []string{" = 'dog')) AND NOT EXISTS (", " = 'cat'))"}},
			{garageSchema(d), "Which owners own bikes?", []string{"WHERE EXISTS (", " = 'bike')"}},
			{garageSchema(d), "List the names of owners who have a car but do not have a bike.", []string{" = 'car')) AND NOT EXISTS (", " = 'bike'))"}},
		} {
			res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
			if err != nil {
				t.Errorf("%s %q: %v", d, c.question, err)
				continue
			}
			for _, w := range c.want {
				if !strings.Contains(res.SQL, w) {
					t.Errorf("%s %q: SQL %s lacks %s", d, c.question, res.SQL, w)
				}
			}
		}
	}
	// "a cat that is age 3": whose age is not read here.
	for _, c := range []struct {
		s        *Schema
		question string
	}{
		{petsSchema(Postgres), "Find the first name of the student who has a cat that is age 3."},
		{garageSchema(Postgres), "Which owners have a car that has 4 wheels?"},
	} {
		if res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s}); err == nil {
			t.Errorf("%q: answered %s, want a decline", c.question, res.SQL)
		}
	}
}

// After a superlative adjective a lone lower-case word is the noun it picks
// a row of: on the pets and on a zoo. Followed by another noun it is not.
func TestSuperlativeHeadValue(t *testing.T) {
	zoo := &Schema{Dialect: MySQL, Tables: []*Table{
		{Name: "animals", PrimaryKey: []string{"animal_id"}, Columns: []*Column{
			{Name: "animal_id", Type: "int", Kind: KindInt}, {Name: "age", Type: "int", Kind: KindInt},
			{Name: "weight", Type: "int", Kind: KindInt},
			{Name: "species", Type: "varchar(20)", Kind: KindText, Indexed: true, Values: []string{"lion", "zebra"}}}},
	}}
	zoo.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     []string
	}{
		{petsSchema(Postgres), "What is the id of the youngest dog?", []string{`("pets"."pettype" = 'dog')`, `ORDER BY "pets"."pet_age" ASC LIMIT 1`}},
		{zoo, "What is the weight of the oldest zebra?", []string{"(`animals`.`species` = 'zebra')", "ORDER BY `animals`.`age` DESC LIMIT 1"}},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(res.SQL, w) {
				t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, w)
			}
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "What is the age of the oldest zebra keeper?", Schema: zoo}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}

// A gender word names the code a sex or gender column stores: on the pets
// (sex 'F') and a clinic whose gender column stores Female; a schema with
// no such column declines it.
func TestGenderWords(t *testing.T) {
	pets := petsSchema(Postgres)
	pets.Tables[0].Columns = append(pets.Tables[0].Columns, &Column{Name: "sex", Type: "text", Kind: KindText, Indexed: true, Values: []string{"F", "M"}})
	pets.index()
	clinic := clinicSchema(MySQL)
	clinic.Tables[0].Columns = append(clinic.Tables[0].Columns, &Column{Name: "gender", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Female", "Male"}})
	clinic.index()
	for _, c := range []struct {
		s        *Schema
		question string
		want     string
	}{
		{pets, "How many dog pets are raised by female students?", `("student"."sex" = 'F')`},
		{clinic, "How many male patients are there?", "(`patients`.`gender` = 'Male')"},
	} {
		res, err := NewDeterministic().Translate(context.Background(), Request{Question: c.question, Schema: c.s})
		if err != nil {
			t.Errorf("%q: %v", c.question, err)
			continue
		}
		if !strings.Contains(res.SQL, c.want) {
			t.Errorf("%q: SQL %s lacks %s", c.question, res.SQL, c.want)
		}
	}
	if res, err := NewDeterministic().Translate(context.Background(), Request{Question: "How many female doctors are there?", Schema: clinicSchema(Postgres)}); err == nil {
		t.Errorf("answered %s, want a decline", res.SQL)
	}
}
