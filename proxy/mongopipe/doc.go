// Package mongopipe completes in the proxy the MongoDB aggregation
// pipeline stages a MongoDB-wire backend cannot run, so a pipeline returns
// the same documents on MongoDB and on a smaller server such as FerretDB
// 1.x.
//
// Detect reads a backend's capabilities (Caps) from buildInfo. Split cuts
// a pipeline into the longest prefix the backend runs exactly — stage by
// stage, down to the query and expression operators inside each stage —
// and the rest, which Eval evaluates over the backend's cursor. Nothing
// after a local stage is pushed: a $sort or $limit there would mean
// something else on the backend.
//
// Eval implements $match (query operators $eq $ne $gt $gte $lt $lte $in
// $nin $and $or $nor $not $exists $regex, and $expr), $project,
// $addFields/$set, $unset, $group (accumulators $sum $avg $min $max
// $count $first $last $push $addToSet), $sort, $limit, $skip, $unwind,
// $count, $lookup and $replaceRoot/$replaceWith, with the expression
// operators listed in the exprOps tables, following MongoDB's documented
// semantics: missing is not null, numeric results widen int32 → int64 →
// double, values of different types compare in the BSON type order. Any
// other stage, operator, variable or option is refused with an *Error
// naming it and carrying the code MongoDB uses: a stage is never skipped
// or approximated. Decimal128 arithmetic is refused for the same reason.
//
// Run ties it together: Split, the pushed part through the caller's
// aggregate (which adds the tenant's stages), Eval over the cursor.
//
// Memory is bounded: a blocking stage ($group, $sort, a $lookup batch and
// the arrays it builds) holds at most Env.MaxDocs documents, groups or
// accumulated values (DefaultMaxDocs when zero) and fails with
// ExceededMemoryLimit beyond that. A $sort directly followed by $limit
// keeps only what the limit needs. The context is checked on every
// document.
//
// $lookup never reads a collection itself: Env.Lookup, supplied by the
// policy layer, runs the foreign read as a query of the tenant on the
// foreign collection, so its row filters and masks apply. Input documents
// are served in batches (Env.LookupBatch, one call per batch of local
// values), not one query per document; a sub-pipeline's leading $match
// stages the backend runs (Env.Caps) go with that query, the rest runs
// here per input document, as the server would. A pushed $lookup would
// bypass the policy's filters, which is why Caps.Lookup is separate from
// Caps.All.
package mongopipe
