package admin

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 description of the admin API, served at
// GET /api/v1/openapi.json. test/admin_openapi_test.go checks real answers
// against it; keep it in step with the handlers.
//
//go:embed openapi.json
var openAPI []byte

// serveOpenAPI answers GET /api/v1/openapi.json, with or without the API
// enabled: the description needs no token.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_, _ = w.Write(openAPI)
}
