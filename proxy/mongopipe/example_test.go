package mongopipe_test

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/tenantproxy/tenantproxy/proxy/mongopipe"
)

// A pipeline for FerretDB 1.x: the $match runs on the server, the
// computed $project and everything after it in the proxy.
func ExampleSplit() {
	p := []bson.D{
		{{Key: "$match", Value: bson.D{{Key: "status", Value: "paid"}}}},
		{{Key: "$project", Value: bson.D{{Key: "unit", Value: bson.D{{Key: "$divide", Value: bson.A{"$amount", "$qty"}}}}}}},
		{{Key: "$sort", Value: bson.D{{Key: "unit", Value: -1}}}},
	}
	push, local := mongopipe.Split(p, mongopipe.FerretDB1Caps())
	fmt.Println(len(push), "pushed,", len(local), "local")
	// Output: 1 pushed, 2 local
}

func ExampleEval() {
	ctx := context.Background()
	in := mongopipe.SliceIter([]bson.D{
		{{Key: "_id", Value: 1}, {Key: "amount", Value: 10}, {Key: "qty", Value: 4}},
		{{Key: "_id", Value: 2}, {Key: "amount", Value: 9}, {Key: "qty", Value: 2}},
	})
	local := []bson.D{
		{{Key: "$project", Value: bson.D{{Key: "unit", Value: bson.D{{Key: "$divide", Value: bson.A{"$amount", "$qty"}}}}}}},
		{{Key: "$sort", Value: bson.D{{Key: "unit", Value: -1}}}},
	}
	it, err := mongopipe.Eval(ctx, local, in, mongopipe.Env{})
	if err != nil {
		fmt.Println(err)
		return
	}
	docs, err := mongopipe.Collect(ctx, it, 0)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range docs {
		fmt.Println(d[0].Value, d[1].Value)
	}
	// Output:
	// 2 4.5
	// 1 2.5
}
