package mongopipe

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
)

// Caps is what a backend runs of the aggregation framework exactly as
// MongoDB does. Split pushes a stage only when every part of it is
// covered here.
type Caps struct {
	// Backend names the server, for logs and errors.
	Backend string
	// All means the backend runs every stage and operator (MongoDB).
	All bool
	// Stages the backend runs, with their restrictions below.
	Stages map[string]bool
	// QueryOperators usable in a pushed $match.
	QueryOperators map[string]bool
	// Accumulators usable in a pushed $group.
	Accumulators map[string]bool
	// Operators are the expression operators a pushed stage may use.
	Operators map[string]bool
	// FieldPathValues: a bare "$path" value in $project/$addFields/$set
	// is evaluated (FerretDB 1.x stores the string "$path" instead).
	FieldPathValues bool
	// UnwindOptions: the document form of $unwind is understood.
	UnwindOptions bool
	// MaxGroupAccs, when > 0, is how many accumulators a pushed $group
	// may have.
	MaxGroupAccs int
	// DottedSortKeys: a $sort key through embedded documents ("a.b")
	// follows arrays on the way as MongoDB does.
	DottedSortKeys bool
	// DocumentEquality: a query comparing a field with a document value
	// also matches arrays that contain an equal document.
	DocumentEquality bool
	// DottedSetFields: $addFields/$set {"a.b": v} sets b inside a.
	DottedSetFields bool
	// Lookup: stages that read another collection ($lookup, $graphLookup,
	// $unionWith) may run on the backend. A pushed $lookup reads the
	// foreign collection without the policy's filters and masks, so the
	// policy layer clears this for tenants whose foreign collections it
	// must filter; the $lookup then runs here through Env.Lookup.
	Lookup bool
}

// FullCaps is MongoDB: every stage and operator runs on the server.
func FullCaps() Caps { return Caps{Backend: "mongodb", All: true, Lookup: true} }

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// FerretDB1Caps is FerretDB 1.x as checked against 1.24.2 by this
// package's tests: a handful of stages, $sum/$count accumulators, no
// expression operators. Some stages it accepts are not exact and are left
// out or restricted: its $unwind drops every field but _id and the
// unwound one, a $group with two or more accumulators gets 0 in all but
// the first, a bare "$path" in $project/$addFields is stored as the
// string "$path", a dotted $sort key does not look into arrays, a query
// equal to a document does not match an array holding it, and
// $addFields {"a.b": v} makes a field named "a.b".
func FerretDB1Caps() Caps {
	return Caps{
		Backend:      "ferretdb",
		Stages:       set("$match", "$group", "$sort", "$limit", "$skip", "$project", "$count", "$addFields", "$set", "$unset"),
		MaxGroupAccs: 1,
		QueryOperators: set("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin",
			"$and", "$or", "$nor", "$not", "$exists", "$regex", "$options"),
		Accumulators: set("$sum", "$count"),
		Operators:    map[string]bool{},
	}
}

// Detect asks the server who it is (buildInfo). A FerretDB server reports
// ferretdbVersion and gets FerretDB 1.x caps, narrowed to the stages it
// lists in ferretdbFeatures; any other server is taken as MongoDB.
func Detect(ctx context.Context, db *mongo.Database) (Caps, error) {
	var info struct {
		Version         string `bson:"version"`
		FerretDBVersion string `bson:"ferretdbVersion"`
		Features        struct {
			Stages []string `bson:"aggregationStages"`
		} `bson:"ferretdbFeatures"`
	}
	if err := db.RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return Caps{}, fmt.Errorf("mongopipe: buildInfo: %w", err)
	}
	if info.FerretDBVersion == "" {
		c := FullCaps()
		c.Backend = "mongodb " + info.Version
		return c, nil
	}
	// Any FerretDB version gets the 1.x caps: a newer server may run
	// more, but completing a stage here is exact, pushing one it does not
	// run exactly is not.
	c := FerretDB1Caps()
	c.Backend = "ferretdb " + info.FerretDBVersion
	if len(info.Features.Stages) > 0 {
		listed := set(info.Features.Stages...)
		for s := range c.Stages {
			if !listed[s] {
				delete(c.Stages, s)
			}
		}
	}
	return c, nil
}
