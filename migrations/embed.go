// Package migrations embeds the golang-migrate SQL files so the server binary
// can migrate its database without the source tree.
package migrations

import "embed"

// FS holds every NNNNNN_name.up.sql and .down.sql file of this folder.
//
//go:embed *.sql
var FS embed.FS
