package executor_test

import (
	"os/exec"
	"strings"
	"testing"
)

// A copy of an Executor shares its pool but not its cleanup: once the
// original handle is collected the copy is closed under its user. go vet
// must therefore flag a copy, as it did when the Executor held its locks
// itself.
func TestVetFlagsCopies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go vet")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "vet", "./testdata/copyprobe").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "copies lock value") {
		t.Errorf("go vet ./testdata/copyprobe: %v\n%s\nwant it to flag the copied Executor", err, out)
	}
}
