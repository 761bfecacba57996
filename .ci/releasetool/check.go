package main

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
)

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
