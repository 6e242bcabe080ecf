package interop

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// account is a real local account a test creates, and removes when it
// ends, to run the CLI and curl as.
type account struct {
	login    string
	uid, gid int
}

// addAccount creates a local account (no home directory, no login shell)
// in the given extra groups, and deletes it when the test ends.
func addAccount(t *testing.T, login string, groups ...string) account {
	t.Helper()
	requireRoot(t, "creating local accounts")
	exec.Command("userdel", login).Run() // a leftover of a killed run
	args := []string{"-M", "-s", "/usr/sbin/nologin", "-U"}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	if out, err := exec.Command("useradd", append(args, login)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", login, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", login).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", login, err, out)
		}
	})
	u, err := user.Lookup(login)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return account{login: login, uid: uid, gid: gid}
}

// addGroup creates a local group and deletes it when the test ends.
func addGroup(t *testing.T, name string) {
	t.Helper()
	exec.Command("groupdel", name).Run()
	if out, err := exec.Command("groupadd", name).CombinedOutput(); err != nil {
		t.Fatalf("groupadd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", name).Run() })
}

// command runs prog as the account, with its groups, a neutral
// environment and no home directory of its own.
func (a account) command(prog string, args ...string) *exec.Cmd {
	return a.commandWith(nil, prog, args...)
}

// commandWith is command with more setpriv options, such as the
// capabilities to hand on.
func (a account) commandWith(opts []string, prog string, args ...string) *exec.Cmd {
	setpriv := append([]string{"--reuid=" + strconv.Itoa(a.uid), "--regid=" + strconv.Itoa(a.gid), "--init-groups"}, opts...)
	cmd := exec.Command("setpriv", append(append(setpriv, "--", prog), args...)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "LANG=C.UTF-8"}
	return cmd
}

// cliAs runs a messenger verb against d as the account; code is its exit
// status (0 when it succeeded).
func (d *daemon) cliAs(a account, args ...string) (stdout, stderr string, code int) {
	cmd := a.command(binary, append([]string{"--data-dir", d.dataDir}, args...)...)
	return runExit(d.t, cmd)
}

// sharedDir makes a data directory every account can traverse to, as
// /var/lib/messenger is: t.TempDir's parents are private to root.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "messenger-shared-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir + "/data"
}

// mustCode fails the test unless a CLI run ended with code.
func mustCode(t *testing.T, what string, stdout, stderr string, code, want int) {
	t.Helper()
	if code != want {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, code, want, stdout, stderr)
	}
}
