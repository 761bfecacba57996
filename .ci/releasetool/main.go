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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	modzip "golang.org/x/mod/zip"
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

// check prints the tags to create, or returns every way the tree disagrees
// with the release version.
func check(root string) error {
	r, err := load(root)
	if err != nil {
		return err
	}
	var bad []string
	known := map[string]bool{}
	for _, m := range r.mods {
		known[m.path] = true
	}
	for _, m := range r.mods {
		gm := path.Join(m.dir, "go.mod")
		if m.path != r.want(m.dir) {
			bad = append(bad, fmt.Sprintf("%s: module %q; want %q (the core's path plus the directory), or the tag %s would not find it", gm, m.path, r.want(m.dir), r.tag(m.dir)))
		}
		for _, req := range m.file.Require {
			p, v := req.Mod.Path, req.Mod.Version
			switch {
			case !r.ours(p):
			case !known[p]:
				bad = append(bad, fmt.Sprintf("%s: requires %s, which no go.mod in this repository declares", gm, p))
			case v != r.version:
				bad = append(bad, fmt.Sprintf("%s: requires %s %s; want %s (VERSION): a user's go get would look for %s@%s, which no tag provides", gm, p, v, r.version, p, v))
			}
		}
		for _, rep := range m.file.Replace {
			if r.ours(rep.Old.Path) && rep.New.Version != "" {
				bad = append(bad, fmt.Sprintf("%s: replaces %s with %s %s; a replace of this repository's module points at its directory, for local work only", gm, rep.Old.Path, rep.New.Path, rep.New.Version))
			}
		}
	}

	// Local work builds every module against the working tree through
	// go.work, whatever version the go.mod files name.
	if data, err := os.ReadFile(filepath.Join(root, "go.work")); err != nil {
		bad = append(bad, fmt.Sprintf("go.work: %v (local work builds every module against the working tree through it)", err))
	} else if wf, err := modfile.ParseWork("go.work", data, nil); err != nil {
		bad = append(bad, err.Error())
	} else {
		used := map[string]bool{}
		for _, u := range wf.Use {
			used[path.Clean(filepath.ToSlash(u.Path))] = true
		}
		for _, m := range r.mods {
			if !used[m.dir] {
				bad = append(bad, fmt.Sprintf("go.work: does not use ./%s; add it (go work use ./%s) so that go test work covers it and it builds against the working tree", m.dir, m.dir))
			}
		}
	}

	// A tag publishes every file git holds in a module's zip.
	if files, err := gitFiles(root); err != nil {
		bad = append(bad, err.Error())
	} else {
		for _, f := range files {
			if fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(f))); err == nil && fi.Size() > maxFile {
				bad = append(bad, fmt.Sprintf("%s: %d bytes; a tag would publish it in a module zip that every user downloads (a build output? add it to .gitignore)", f, fi.Size()))
			}
		}
	}

	// Every release has its entry.
	if cl, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md")); err != nil {
		bad = append(bad, fmt.Sprintf("CHANGELOG.md: %v", err))
	} else if !hasHeading(cl, r.version) {
		bad = append(bad, fmt.Sprintf("CHANGELOG.md: no heading \"## %s\" for the version in VERSION", r.version))
	}

	if len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "release: "+b)
		}
		return fmt.Errorf("release: %d disagreement(s) with VERSION %s; nothing to tag", len(bad), r.version)
	}
	fmt.Fprintf(os.Stderr, "release: %d modules agree on %s; the tags to create, on one commit:\n", len(r.mods), r.version)
	for _, m := range r.mods {
		fmt.Println(r.tag(m.dir))
	}
	return nil
}

// maxFile bounds the size of a file in a release. The largest source file
// is about 45 KB.
const maxFile = 1 << 20

func hasHeading(changelog []byte, version string) bool {
	for _, line := range strings.Split(string(changelog), "\n") {
		if line == "## "+version || strings.HasPrefix(line, "## "+version+" ") {
			return true
		}
	}
	return false
}

// proxy writes a GOPROXY=file:// tree of every module into out, at the
// version in VERSION, from the files git would publish (tracked, plus new
// files not ignored; a nested module's files belong to it alone), and, in
// work, one directory per module that has something to import or build:
// a main.go importing every public package, or a file COMMANDS listing the
// module's commands; a file MODULE names the module, DIR its directory.
func proxy(root, out, work string) error {
	r, err := load(root)
	if err != nil {
		return err
	}
	files, err := gitFiles(root)
	if err != nil {
		return err
	}
	// Each file belongs to the module with the longest directory above it.
	owned := map[*mod][]string{}
	for _, f := range files {
		var owner *mod
		for _, m := range r.mods {
			if (m.dir == "." || f == m.dir || strings.HasPrefix(f, m.dir+"/")) && (owner == nil || len(m.dir) > len(owner.dir)) {
				owner = m
			}
		}
		owned[owner] = append(owned[owner], f)
	}
	info, err := json.Marshal(struct{ Version, Time string }{r.version, time.Now().UTC().Format(time.RFC3339)})
	if err != nil {
		return err
	}
	for i, m := range r.mods {
		if m.path != r.want(m.dir) {
			return fmt.Errorf("proxy: %s/go.mod declares %q; want %q (run .ci/release)", m.dir, m.path, r.want(m.dir))
		}
		esc, err := module.EscapePath(m.path)
		if err != nil {
			return err
		}
		dir := filepath.Join(out, filepath.FromSlash(esc), "@v")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		base := filepath.Join(dir, r.version)
		var zf []modzip.File
		for _, f := range owned[m] {
			rel := f
			if m.dir != "." {
				rel = strings.TrimPrefix(f, m.dir+"/")
			}
			zf = append(zf, diskFile{rel: rel, abs: filepath.Join(root, filepath.FromSlash(f))})
		}
		var z bytes.Buffer
		if err := modzip.Create(&z, module.Version{Path: m.path, Version: r.version}, zf); err != nil {
			return fmt.Errorf("proxy: %s: %w", m.path, err)
		}
		for name, data := range map[string][]byte{
			filepath.Join(dir, "list"): []byte(r.version + "\n"),
			base + ".info":             info,
			base + ".mod":              m.data,
			base + ".zip":              z.Bytes(),
		} {
			if err := os.WriteFile(name, data, 0o644); err != nil {
				return err
			}
		}

		imports, commands, err := packages(root, m, owned[m])
		if err != nil {
			return err
		}
		kind := "nothing to import"
		if len(imports)+len(commands) > 0 {
			kind = fmt.Sprintf("%d packages, %d commands", len(imports), len(commands))
			if err := consumer(filepath.Join(work, fmt.Sprintf("%02d", i)), m, imports, commands); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "proxy: %s@%s: %d files, %d bytes zipped; %s\n", m.path, r.version, len(zf), z.Len(), kind)
	}
	return nil
}

// gitFiles lists, relative to root, the files a tag of the working tree
// would hold: tracked ones that still exist, and new ones git does not ignore.
func gitFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("proxy: git ls-files: %w", err)
	}
	var files []string
	seen := map[string]bool{}
	for _, f := range strings.Split(string(outb), "\x00") {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		if fi, err := os.Lstat(filepath.Join(root, filepath.FromSlash(f))); err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or not a regular file
		}
		files = append(files, f)
	}
	sort.Strings(files)
	return files, nil
}

// diskFile is one file of a module zip, read from the working tree.
type diskFile struct{ rel, abs string }

func (f diskFile) Path() string                 { return f.rel }
func (f diskFile) Lstat() (os.FileInfo, error)  { return os.Lstat(f.abs) }
func (f diskFile) Open() (io.ReadCloser, error) { return os.Open(f.abs) }

// packages lists the module's importable packages (not main, not internal,
// not under testdata or a directory the go command ignores) and its commands.
func packages(root string, m *mod, files []string) (imports, commands []string, err error) {
	names := map[string]string{} // package directory -> package name
	for _, f := range files {
		if !strings.HasSuffix(f, ".go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		rel := f
		if m.dir != "." {
			rel = strings.TrimPrefix(f, m.dir+"/")
		}
		d := path.Dir(rel)
		if _, ok := names[d]; ok || ignored(d) {
			continue
		}
		pf, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, filepath.FromSlash(f)), nil, parser.PackageClauseOnly)
		if err != nil {
			return nil, nil, err
		}
		names[d] = pf.Name.Name
	}
	for d, name := range names {
		p := m.path
		if d != "." {
			p += "/" + d
		}
		switch {
		case name == "main":
			commands = append(commands, p)
		case !internal(d):
			imports = append(imports, p)
		}
	}
	sort.Strings(imports)
	sort.Strings(commands)
	return imports, commands, nil
}

func ignored(dir string) bool {
	for _, e := range strings.Split(dir, "/") {
		if e == "testdata" || (e != "." && (strings.HasPrefix(e, ".") || strings.HasPrefix(e, "_"))) {
			return true
		}
	}
	return false
}

func internal(dir string) bool {
	for _, e := range strings.Split(dir, "/") {
		if e == "internal" {
			return true
		}
	}
	return false
}

// consumer writes the program a user of the module would start from.
func consumer(dir string, m *mod, imports, commands []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "MODULE"), []byte(m.path+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "DIR"), []byte(m.dir+"\n"), 0o644); err != nil {
		return err
	}
	if len(commands) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "COMMANDS"), []byte(strings.Join(commands, "\n")+"\n"), 0o644); err != nil {
			return err
		}
	}
	if len(imports) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// Command consumer imports every public package of %s, as a user's program would.\npackage main\n\nimport (\n", m.path)
	for _, p := range imports {
		fmt.Fprintf(&b, "\t_ %q\n", p)
	}
	b.WriteString(")\n\nfunc main() {}\n")
	return os.WriteFile(filepath.Join(dir, "main.go"), []byte(b.String()), 0o644)
}
