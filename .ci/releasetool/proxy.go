package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

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
