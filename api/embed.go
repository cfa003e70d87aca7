// Package apispec embeds api/openapi.yaml, the contract, as written.
package apispec

import _ "embed"

// YAML is the OpenAPI document served at /openapi.yaml.
//
//go:embed openapi.yaml
var YAML []byte
