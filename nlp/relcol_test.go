package nlp

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// carSchema is car_1's shape: rows of cars in cars_data, their names and
// models in car_names (one per car), models in model_list, whose keys
// were inferred.
func carSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "car_makers", PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "maker", Type: "text", Kind: KindText},
			{Name: "fullname", Type: "text", Kind: KindText}}},
		{Name: "model_list", PrimaryKey: []string{"modelid"}, Columns: []*Column{
			{Name: "modelid", Type: "integer", Kind: KindInt}, {Name: "maker", Type: "integer", Kind: KindInt, Nullable: true},
			{Name: "model", Type: "text", Kind: KindText, Nullable: true}},
			ForeignKeys: []ForeignKey{{Columns: []string{"maker"}, RefTable: "car_makers", RefColumns: []string{"id"}, Inferred: true}}},
		{Name: "car_names", PrimaryKey: []string{"makeid"}, Columns: []*Column{
			{Name: "makeid", Type: "integer", Kind: KindInt}, {Name: "model", Type: "text", Kind: KindText, Nullable: true},
			{Name: "make", Type: "text", Kind: KindText, Nullable: true}},
			ForeignKeys: []ForeignKey{{Columns: []string{"model"}, RefTable: "model_list", RefColumns: []string{"model"}, Inferred: true}}},
		{Name: "cars_data", PrimaryKey: []string{"id"}, Columns: []*Column{
			{Name: "id", Type: "integer", Kind: KindInt}, {Name: "mpg", Type: "double precision", Kind: KindNumber, Nullable: true},
			{Name: "horsepower", Type: "integer", Kind: KindInt, Nullable: true}, {Name: "weight", Type: "integer", Kind: KindInt},
			{Name: "year", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"id"}, RefTable: "car_names", RefColumns: []string{"makeid"}}}},
	}}
	s.index()
	return s
}

// transitSchema: a trip has one station and one driver; tickets are
// unrelated. Zones are kept by stations and tickets, ranks by stations
// and drivers.
func transitSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "stations", PrimaryKey: []string{"station_id"}, Columns: []*Column{
			{Name: "station_id", Type: "integer", Kind: KindInt}, {Name: "zone", Type: "integer", Kind: KindInt},
			{Name: "rank", Type: "integer", Kind: KindInt}, {Name: "platforms", Type: "integer", Kind: KindInt}}},
		{Name: "drivers", PrimaryKey: []string{"driver_id"}, Columns: []*Column{
			{Name: "driver_id", Type: "integer", Kind: KindInt}, {Name: "rank", Type: "integer", Kind: KindInt}}},
		{Name: "tickets", PrimaryKey: []string{"ticket_id"}, Columns: []*Column{
			{Name: "ticket_id", Type: "integer", Kind: KindInt}, {Name: "zone", Type: "integer", Kind: KindInt}}},
		{Name: "trip_records", PrimaryKey: []string{"trip_id"}, Columns: []*Column{
			{Name: "trip_id", Type: "integer", Kind: KindInt}, {Name: "station_id", Type: "integer", Kind: KindInt},
			{Name: "driver_id", Type: "integer", Kind: KindInt}, {Name: "fare", Type: "numeric", Kind: KindNumber},
			{Name: "distance", Type: "numeric", Kind: KindNumber, Nullable: true}},
			ForeignKeys: []ForeignKey{{Columns: []string{"station_id"}, RefTable: "stations", RefColumns: []string{"station_id"}},
				{Columns: []string{"driver_id"}, RefTable: "drivers", RefColumns: []string{"driver_id"}}}},
	}}
	s.index()
	return s
}

type constructCase struct {
	schema  func(Dialect) *Schema
	q       string
	want    []string // fragments of the Postgres SQL
	not     []string // fragments it must not hold
	decline bool
}

func runConstructCases(t *testing.T, cases []constructCase) {
	t.Helper()
	tr := NewDeterministic()
	for _, c := range cases {
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: c.schema(Postgres)})
		if c.decline {
			var u *Unanswerable
			if !errors.As(err, &u) {
				t.Errorf("%q: want a refusal, got %v %+v", c.q, err, res)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(res.SQL, w) {
				t.Errorf("%q: SQL lacks %s:\n%s", c.q, w, res.SQL)
			}
		}
		for _, w := range c.not {
			if strings.Contains(res.SQL, w) {
				t.Errorf("%q: SQL holds %s:\n%s", c.q, w, res.SQL)
			}
		}
		if res.Confidence < AnswerThreshold {
			t.Errorf("%q: confidence %.2f (%s)", c.q, res.Confidence, res.Explanation)
		}
	}
}

// TestGenericTableHead: "cars" are the rows of cars_data, "trips" those
// of trip_records; two tables stripping to one word name neither.
func TestGenericTableHead(t *testing.T) {
	twoOrders := func(d Dialect) *Schema {
		s := &Schema{Dialect: d, Tables: []*Table{
			{Name: "order_data", PrimaryKey: []string{"id"}, Columns: []*Column{{Name: "id", Type: "integer", Kind: KindInt}, {Name: "total", Type: "numeric", Kind: KindNumber}}},
			{Name: "order_details", PrimaryKey: []string{"id"}, Columns: []*Column{{Name: "id", Type: "integer", Kind: KindInt}, {Name: "note", Type: "text", Kind: KindText}}},
		}}
		s.index()
		return s
	}
	runConstructCases(t, []constructCase{
		{schema: carSchema, q: "how many cars have a weight above 3000", want: []string{`FROM "cars_data" WHERE ("cars_data"."weight" > 3000.0)`}},
		{schema: transitSchema, q: "how many trips have a fare above 10", want: []string{`FROM "trip_records" WHERE ("trip_records"."fare" > 10.0)`}},
		{schema: twoOrders, q: "how many orders are there", decline: true},
	})
}

// TestRelatedColumn: a column of the one nearest table each row of the
// main table has one of; two such tables at one distance decline, as does
// a table whose rows are many per row.
func TestRelatedColumn(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: carSchema, q: "the model of the car with the highest mpg",
			want: []string{`"car_names"."model"`, `JOIN "car_names" ON ("cars_data"."id" = "car_names"."makeid")`}, not: []string{`"model_list"`}},
		{schema: transitSchema, q: "the zone of the trip with the longest distance",
			want: []string{`"stations"."zone"`, `JOIN "stations" ON ("trip_records"."station_id" = "stations"."station_id")`}},
		{schema: transitSchema, q: "the rank of the trip with the longest distance", decline: true},
		{schema: transitSchema, q: "the fare of each station with zone 3", decline: true},
	})
}

// TestRankedNonNull: the top rows on a nullable column are rows that have
// a value; a column without NULLs needs no condition.
func TestRankedNonNull(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: carSchema, q: "the car with the highest mpg", want: []string{`WHERE ("cars_data"."mpg" IS NOT NULL) ORDER BY "cars_data"."mpg" DESC LIMIT 1`}},
		{schema: transitSchema, q: "the trip with the shortest distance", want: []string{`WHERE ("trip_records"."distance" IS NOT NULL) ORDER BY "trip_records"."distance" ASC LIMIT 1`}},
		{schema: transitSchema, q: "the trip with the highest fare", want: []string{`ORDER BY "trip_records"."fare" DESC LIMIT 1`}, not: []string{"IS NOT NULL"}},
	})
}

// TestDistinctTableColumn: "distinct car models" are the distinct values
// of the column named after its table's word.
func TestDistinctTableColumn(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: carSchema, q: "which distinct car models have a weight above 3500",
			want: []string{`SELECT DISTINCT "car_names"."model" FROM "cars_data"`}},
		{schema: shopSchema, q: "the distinct product categories", want: []string{`SELECT DISTINCT "products"."category" FROM "products"`}},
	})
}

// TestCountColumn: "with 8 cylinders" is the count a column keeps; a
// number before a column that is no count stays unexplained.
func TestCountColumn(t *testing.T) {
	carsWith := func(d Dialect) *Schema {
		s := carSchema(d)
		s.Table("cars_data").Columns = append(s.Table("cars_data").Columns, &Column{Name: "cylinders", Type: "integer", Kind: KindInt})
		return s
	}
	runConstructCases(t, []constructCase{
		{schema: carsWith, q: "the average mpg of the cars with 4 cylinders", want: []string{`WHERE ("cars_data"."cylinders" = 4.0)`}},
		{schema: carsWith, q: "how many cars have more than 4 cylinders", want: []string{`WHERE ("cars_data"."cylinders" > 4.0)`}},
		{schema: transitSchema, q: "stations that have 2 platforms", want: []string{`WHERE ("stations"."platforms" = 2.0)`}},
		{schema: transitSchema, q: "trips with 3 fare", decline: true},
		{schema: carsWith, q: "the maximum mpg of the cars with 8 cylinders or a weight above 3000", decline: true},
	})
}

// TestValueAfterPlace: a lower-case place after "in"/"from" is a stored
// value when one table holds it; held by several tables it stays open.
func TestValueAfterPlace(t *testing.T) {
	makers := func(d Dialect) *Schema {
		s := &Schema{Dialect: d, Tables: []*Table{
			{Name: "countries", PrimaryKey: []string{"countryid"}, Columns: []*Column{
				{Name: "countryid", Type: "integer", Kind: KindInt},
				{Name: "countryname", Type: "text", Kind: KindText, Indexed: true, Values: []string{"france", "usa", "japan"}}}},
			{Name: "makers", PrimaryKey: []string{"id"}, Columns: []*Column{
				{Name: "id", Type: "integer", Kind: KindInt}, {Name: "fullname", Type: "text", Kind: KindText},
				{Name: "country", Type: "integer", Kind: KindInt}},
				ForeignKeys: []ForeignKey{{Columns: []string{"country"}, RefTable: "countries", RefColumns: []string{"countryid"}}}},
		}}
		s.index()
		return s
	}
	runConstructCases(t, []constructCase{
		{schema: makers, q: "how many makers are there in france", want: []string{`WHERE ("countries"."countryname" = 'france')`}},
		{schema: makers, q: "the makers from the usa", want: []string{`WHERE ("countries"."countryname" = 'usa')`}},
		{schema: shopSchema, q: "how many customers are in brazil", want: []string{`WHERE ("customers"."country" = 'Brazil')`}},
		{schema: billingSchema, q: "how many bills are there in kenya", decline: true},
	})
}

// TestNamesNoTable: "the names of the countries" asks for names, not for
// the rows of a table whose name ends with "names".
func TestNamesNoTable(t *testing.T) {
	withNames := func(d Dialect) *Schema {
		s := carSchema(d)
		s.Tables = append(s.Tables, &Table{Name: "countries", PrimaryKey: []string{"countryid"}, Columns: []*Column{
			{Name: "countryid", Type: "integer", Kind: KindInt}, {Name: "countryname", Type: "text", Kind: KindText}}})
		s.index()
		return s
	}
	runConstructCases(t, []constructCase{
		{schema: withNames, q: "what are the names of the countries", want: []string{`FROM "countries"`}, not: []string{"car_names"}},
		{schema: schoolSchema, q: "what are the names of the teachers", want: []string{`FROM "teacher"`}},
	})
}

// airlineSchema is flight_2's shape: flights refer to airlines by an
// inferred key; flight numbers are kept as flightno.
func airlineSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "airlines", PrimaryKey: []string{"uid"}, Columns: []*Column{
			{Name: "uid", Type: "integer", Kind: KindInt},
			{Name: "airline", Type: "text", Kind: KindText, Indexed: true, Values: []string{"JetBlue Airways", "United Airlines"}},
			{Name: "abbreviation", Type: "text", Kind: KindText}, {Name: "country", Type: "text", Kind: KindText}}},
		{Name: "flights", PrimaryKey: []string{"airline", "flightno"}, Columns: []*Column{
			{Name: "airline", Type: "integer", Kind: KindInt}, {Name: "flightno", Type: "integer", Kind: KindInt}},
			ForeignKeys: []ForeignKey{{Columns: []string{"airline"}, RefTable: "airlines", RefColumns: []string{"uid"}, Inferred: true}}},
	}}
	s.index()
	return s
}

func bandSchema(d Dialect) *Schema {
	s := &Schema{Dialect: d, Tables: []*Table{
		{Name: "bands", PrimaryKey: []string{"band_id"}, Columns: []*Column{
			{Name: "band_id", Type: "integer", Kind: KindInt},
			{Name: "name", Type: "text", Kind: KindText, Indexed: true, Values: []string{"Queen", "Abba"}},
			{Name: "genre", Type: "text", Kind: KindText}, {Name: "legno", Type: "integer", Kind: KindInt}}},
	}}
	s.index()
	return s
}

// TestAttributeVerbs: "belong to", "affiliated with", "corresponds to"
// next to the value that picks the row say only that the column asked is
// the row's; without such a value the verb stays unexplained.
func TestAttributeVerbs(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: airlineSchema, q: "What country is Jetblue Airways affiliated with?", want: []string{`"airlines"."country"`, `WHERE ("airlines"."airline" = 'JetBlue Airways')`}},
		{schema: airlineSchema, q: "Which abbreviation corresponds to United Airlines?", want: []string{`"airlines"."abbreviation"`, `WHERE ("airlines"."airline" = 'United Airlines')`}},
		{schema: bandSchema, q: "Which genre does Queen belong to?", want: []string{`WHERE ("bands"."name" = 'Queen')`}},
		{schema: bandSchema, q: "Which genre does the band belong to?", decline: true},
	})
}

// TestNumberName: "flightno" of flights is the flight number; a column
// whose first word is not its table's is not.
func TestNumberName(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: airlineSchema, q: "show the flight numbers for United Airlines", want: []string{`"flights"`, `WHERE ("airlines"."airline" = 'United Airlines')`}},
		{schema: bandSchema, q: "list the band numbers", decline: true},
	})
}

// TestOrConditions: an "or" between two conditions is not read as both.
func TestOrConditions(t *testing.T) {
	runConstructCases(t, []constructCase{
		{schema: transitSchema, q: "trips with a fare above 10 or a distance above 50", decline: true},
		{schema: transitSchema, q: "trips with a fare above 10 and a distance above 50", want: []string{`("trip_records"."fare" > 10.0)`, `("trip_records"."distance" > 50.0)`}},
		{schema: shopSchema, q: "products with a price above 10 or in the books category", decline: true},
		{schema: shopSchema, q: "products in the books or tools category", want: []string{`IN ('books', 'tools')`}},
	})
}

// TestKeyValue: a quoted key after its table or key column is compared
// with the table's text key, even when the rows referring to it hold the
// text otherwise; a table whose key is no text is not.
func TestKeyValue(t *testing.T) {
	airports := func(d Dialect) *Schema {
		s := &Schema{Dialect: d, Tables: []*Table{
			{Name: "airports", PrimaryKey: []string{"airportcode"}, Columns: []*Column{
				{Name: "airportcode", Type: "text", Kind: KindText}, {Name: "airportname", Type: "text", Kind: KindText},
				{Name: "city", Type: "text", Kind: KindText}}},
			{Name: "flights", PrimaryKey: []string{"flightno"}, Columns: []*Column{
				{Name: "flightno", Type: "integer", Kind: KindInt},
				{Name: "sourceairport", Type: "text", Kind: KindText, Indexed: true, Values: []string{" AKO", " APG"}}}},
		}}
		s.index()
		return s
	}
	languages := func(d Dialect) *Schema {
		s := &Schema{Dialect: d, Tables: []*Table{
			{Name: "languages", PrimaryKey: []string{"iso"}, Columns: []*Column{
				{Name: "iso", Type: "varchar(3)", Kind: KindText}, {Name: "speakers", Type: "integer", Kind: KindInt}}},
		}}
		s.index()
		return s
	}
	runConstructCases(t, []constructCase{
		{schema: airports, q: "What is the city of airport 'AKO'?", want: []string{`WHERE ("airports"."airportcode" = 'AKO')`}, not: []string{"flights"}},
		{schema: languages, q: "what is the number of speakers of the language 'eng'", want: []string{`WHERE ("languages"."iso" = 'eng')`}},
		{schema: shopSchema, q: "the orders of customer 'Bob'", decline: true},
	})
}

// TestHavingDropsEmpty: groups kept only with at least one joined row are
// the same over a LEFT and an INNER JOIN, so the empty-groups doubt does
// not apply; "fewer than" keeps the groups without rows, and the doubt.
func TestHavingDropsEmpty(t *testing.T) {
	tr := NewDeterministic()
	for _, c := range []struct {
		schema func(Dialect) *Schema
		q      string
		doubt  bool
	}{
		{shopSchema, "customers with at least 1 order", false},
		{shopSchema, "customers with more than 3 orders", false},
		{shopSchema, "customers with fewer than 3 orders", true},
		{schoolSchema, "teachers with at least 2 courses", false},
		{schoolSchema, "teachers with less than 2 courses", true},
	} {
		res, err := tr.Translate(context.Background(), Request{Question: c.q, Schema: c.schema(Postgres)})
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		if !strings.Contains(res.SQL, " LEFT JOIN ") || !strings.Contains(res.SQL, "HAVING") {
			t.Errorf("%q: not a count per group over a LEFT JOIN: %s", c.q, res.SQL)
		}
		if got := strings.Contains(res.Explanation, "groups without rows are counted as 0"); got != c.doubt {
			t.Errorf("%q: empty-groups doubt %v, want %v (%.2f, %s)", c.q, got, c.doubt, res.Confidence, res.Explanation)
		}
	}
}
