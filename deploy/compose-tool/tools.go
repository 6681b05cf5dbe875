//go:build tools

// Package tools pins Docker Compose, built by scripts/compose-test.sh with
// `go build github.com/docker/compose/v5/cmd` (go install …@version refuses
// Compose's go.mod: it has replace directives).
package tools

import _ "github.com/docker/compose/v5/cmd"
