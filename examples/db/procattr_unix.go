//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// asPostgresUser prepares cmd to run PostgreSQL's programs. initdb and
// postgres refuse to run as root: when this program runs as root, they run
// as the operating-system user named postgres (Debian's package creates
// it), through the process credentials of exec.Cmd, and dir is given to
// that user. As any other user they run as that user. It also puts cmd in a
// process group of its own, so that Ctrl-C on the terminal stops the
// program first, which then stops PostgreSQL.
func asPostgresUser(cmd *exec.Cmd, dir string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return errors.New("postgres refuses to run as root, and there is no user named postgres to run it as (create one: useradd -r postgres)")
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("user postgres has uid %q, gid %q", u.Uid, u.Gid)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return err
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}
