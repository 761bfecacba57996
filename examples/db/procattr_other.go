//go:build !unix

package main

import "os/exec"

// asPostgresUser does nothing here: PostgreSQL runs as this program's user.
func asPostgresUser(cmd *exec.Cmd, dir string) error { return nil }
