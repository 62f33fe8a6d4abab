package proxy

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/policy"
)

// TestMaskPath masks a field wherever its path reaches: nested documents,
// arrays of documents (a $lookup's output), any case; text by the role's
// style, other values as null; an absent field stays absent.
func TestMaskPath(t *testing.T) {
	in := func() bson.D {
		return bson.D{
			{Key: "name", Value: "Ann"},
			{Key: "Email", Value: "ann@x.example"},
			{Key: "age", Value: int32(31)},
			{Key: "address", Value: bson.D{{Key: "street", Value: "Main 1"}, {Key: "city", Value: "Lima"}}},
			{Key: "c", Value: bson.A{
				bson.D{{Key: "email", Value: "a@b"}, {Key: "n", Value: int32(1)}},
				bson.D{{Key: "n", Value: int32(2)}},
				bson.D{{Key: "email", Value: nil}},
			}},
		}
	}
	cases := []struct {
		paths []string
		style string
		want  string
	}{
		{[]string{"email"}, policy.MaskStars, `{"name":"Ann","Email":"****","age":31,"address":{"street":"Main 1","city":"Lima"},"c":[{"email":"a@b","n":1},{"n":2},{"email":null}]}`},
		{[]string{"address.street", "age"}, policy.MaskStars, `{"name":"Ann","Email":"ann@x.example","age":null,"address":{"street":"****","city":"Lima"},"c":[{"email":"a@b","n":1},{"n":2},{"email":null}]}`},
		{[]string{"c.email"}, policy.MaskNull, `{"name":"Ann","Email":"ann@x.example","age":31,"address":{"street":"Main 1","city":"Lima"},"c":[{"email":null,"n":1},{"n":2},{"email":null}]}`},
		{[]string{"c.email"}, policy.MaskHash, `{"name":"Ann","Email":"ann@x.example","age":31,"address":{"street":"Main 1","city":"Lima"},"c":[{"email":"7508d8b5018ea640","n":1},{"n":2},{"email":null}]}`},
		{[]string{"address"}, policy.MaskStars, `{"name":"Ann","Email":"ann@x.example","age":31,"address":null,"c":[{"email":"a@b","n":1},{"n":2},{"email":null}]}`},
		{[]string{"nothere.x"}, policy.MaskStars, `{"name":"Ann","Email":"ann@x.example","age":31,"address":{"street":"Main 1","city":"Lima"},"c":[{"email":"a@b","n":1},{"n":2},{"email":null}]}`},
	}
	for _, c := range cases {
		d := in()
		for _, p := range c.paths {
			maskPath(d, splitPath(p), c.style)
		}
		got, err := bson.MarshalExtJSON(d, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != c.want {
			t.Errorf("%v %s:\n got %s\nwant %s", c.paths, c.style, got, c.want)
		}
	}
}
