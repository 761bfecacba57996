// Command releasetool checks that every module of the repository agrees
// with the release version, and builds a Go module proxy on disk from the
// working tree, so that a fresh module outside the repository can `go get`
// each module as a user would. .ci/release and .ci/consumer run it.
//
//	releasetool check ROOT          print the tags to create, or every disagreement
//	releasetool proxy ROOT OUT WORK write a GOPROXY=file:// tree of every module
//	                                into OUT and one consumer program per module
//	                                into WORK
//
// The release version is read from one place, the file VERSION at ROOT.
// Modules are found by walking ROOT for go.mod files, so a module added
// later is covered without editing this program. It has a go.mod of its own
// (and lives under .ci, a directory the go command and module zips skip) so
// that golang.org/x/mod never enters the library's go.mod.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

func main() {
	if len(os.Args) < 3 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "check":
		if len(os.Args) != 3 {
			usage()
		}
		err = check(os.Args[2])
	case "proxy":
		if len(os.Args) != 5 {
			usage()
		}
		err = proxy(os.Args[2], os.Args[3], os.Args[4])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: releasetool check ROOT | releasetool proxy ROOT OUT WORK")
	os.Exit(2)
}

// A mod is one go.mod of the repository.
type mod struct {
	dir  string // slash-separated, relative to the root; "." for the root
	path string // the module path its go.mod declares
	data []byte // the go.mod as written
	file *modfile.File
}

// repo is what the working tree holds: the release version and its modules.
type repo struct {
	root    string
	version string
	core    string // the root module's path
	mods    []*mod // the root first, then by directory
}

// load reads VERSION and every go.mod under root.
func load(root string) (*repo, error) {
	r := &repo{root: root}
	v, err := os.ReadFile(filepath.Join(root, "VERSION"))
	if err != nil {
		return nil, fmt.Errorf("release: the release version is read from VERSION at the repository root: %w", err)
	}
	r.version = strings.TrimSpace(string(v))
	switch {
	case !semver.IsValid(r.version) || semver.Canonical(r.version) != r.version:
		return nil, fmt.Errorf("release: VERSION holds %q; want a canonical semantic version such as v0.3.0", r.version)
	case semver.Build(r.version) != "":
		return nil, fmt.Errorf("release: VERSION holds %q; a module version carries no +build suffix", r.version)
	case semver.Major(r.version) != "v0" && semver.Major(r.version) != "v1":
		return nil, fmt.Errorf("release: VERSION holds %q; a major version past v1 needs a /%s suffix on every module path, which this tool does not handle", r.version, semver.Major(r.version))
	}

	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			// The go command ignores these directories, and no module path
			// may have an element starting with a dot.
			name := d.Name()
			if p != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(p, data, nil)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		m := &mod{dir: filepath.ToSlash(rel), data: data, file: f}
		if f.Module != nil {
			m.path = f.Module.Mod.Path
		}
		r.mods = append(r.mods, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	sort.Slice(r.mods, func(i, j int) bool {
		if (r.mods[i].dir == ".") != (r.mods[j].dir == ".") {
			return r.mods[i].dir == "."
		}
		return r.mods[i].dir < r.mods[j].dir
	})
	if len(r.mods) == 0 || r.mods[0].dir != "." || r.mods[0].path == "" {
		return nil, errors.New("release: no go.mod with a module line at the repository root")
	}
	r.core = r.mods[0].path
	return r, nil
}

// ours reports whether p names a module of this repository (or claims to).
func (r *repo) ours(p string) bool {
	return p == r.core || strings.HasPrefix(p, r.core+"/")
}

// want is the module path a go.mod in dir must declare for its tags
// (<dir>/vX.Y.Z) to resolve.
func (r *repo) want(dir string) string {
	if dir == "." {
		return r.core
	}
	return r.core + "/" + dir
}

// tag is the git tag that releases the module in dir at the version.
func (r *repo) tag(dir string) string {
	if dir == "." {
		return r.version
	}
	return dir + "/" + r.version
}
