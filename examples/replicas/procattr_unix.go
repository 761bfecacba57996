//go:build unix

package main

import (
	"os/exec"
	"syscall"
)

// ownProcessGroup puts cmd in a process group of its own, so that Ctrl-C on
// the terminal (which signals the foreground group) does not stop it before
// the program has stopped what depends on it.
func ownProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
