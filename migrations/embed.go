// Package migrations embeds Keyport's numbered SQL migrations. Files are
// named NNN_what.sql and applied in order by db.Migrate; a shipped file is
// never edited, only followed by a new one.
package migrations

import "embed"

// FS holds every *.sql migration.
//
//go:embed *.sql
var FS embed.FS
