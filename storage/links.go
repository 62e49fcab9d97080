package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Resolve returns the folder that holds version v of the tree in dir, to
// read it as one whole tree: the latest version when v is 0. A tree written
// before versions is its own latest (and only) version. A version that is
// not kept is an error that names the kept ones.
func Resolve(dir string, v int64) (string, error) {
	state := filepath.Join(dir, StateDir)
	latest, err := readLatest(state)
	if err != nil {
		return "", fmt.Errorf("%s: %w", dir, err)
	}
	if v == 0 {
		if latest > 0 {
			return versionDir(state, latest), nil
		}
		return dir, nil
	}
	if v < 0 {
		return "", fmt.Errorf("--version %d: versions are numbered from 1", v)
	}
	vdir := versionDir(state, v)
	if v <= latest {
		if _, err := os.Stat(filepath.Join(vdir, "manifest.json")); err == nil {
			return vdir, nil
		}
	}
	kept := listVersions(state)
	if latest == 0 {
		return "", fmt.Errorf("%s: version %d: the tree has no versions (written before versions, or not a billcons tree)", dir, v)
	}
	if len(kept) > 0 && kept[len(kept)-1] > latest {
		kept = kept[:len(kept)-1] // an unpublished attempt
	}
	return "", fmt.Errorf("%s: version %d is not kept; kept: %s", dir, v, rangeText(kept))
}

func rangeText(ns []int64) string {
	switch len(ns) {
	case 0:
		return "none"
	case 1:
		return fmt.Sprint(ns[0])
	}
	return fmt.Sprintf("%d to %d", ns[0], ns[len(ns)-1])
}

// LinkVersion puts the files of the version in src into dst by hard
// links, all but its manifest and those skip names (by relative path).
func LinkVersion(src, dst string, skip map[string]bool) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		switch {
		case rel == ".":
			return nil
		case d.IsDir():
			return os.Mkdir(to, 0o755)
		case rel == "manifest.json" || skip[filepath.ToSlash(rel)]:
			return nil
		}
		return os.Link(p, to)
	})
	return UnwrapPath(err)
}

// CheckLinks checks that the top-level names of a versioned tree lead to
// its latest version: one link per name of that version, and no other
// file beside them but the state folder. It returns one line per problem;
// none for a tree written before versions.
func CheckLinks(dir string) []string {
	state := filepath.Join(dir, StateDir)
	latest, err := readLatest(state)
	if err != nil {
		return []string{err.Error()}
	}
	if latest == 0 {
		return nil
	}
	var problems []string
	vdir := versionDir(state, latest)
	want := map[string]bool{}
	entries, err := os.ReadDir(vdir)
	if err != nil {
		return []string{fmt.Sprintf("version %d: %v", latest, UnwrapPath(err))}
	}
	for _, e := range entries {
		want[e.Name()] = true
	}
	have, _ := os.ReadDir(dir)
	for _, e := range have {
		name := e.Name()
		if name == StateDir {
			continue
		}
		target, err := os.Readlink(filepath.Join(dir, name))
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: not billcons' (not a link into %s)", name, StateDir))
		case target != filepath.Join(StateDir, "latest", name):
			problems = append(problems, fmt.Sprintf("%s: links to %s, want %s", name, target, filepath.Join(StateDir, "latest", name)))
		case !want[name]:
			problems = append(problems, fmt.Sprintf("%s: the latest version (%d) has no %s", name, latest, name))
		}
		delete(want, name)
	}
	for name := range want {
		problems = append(problems, fmt.Sprintf("%s: missing (the latest version, %d, has it)", name, latest))
	}
	return problems
}

// RealPath is p made absolute, with the links of its longest existing
// prefix resolved: the path a file at p has, or would have once made.
func RealPath(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := abs; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return abs, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

// Within reports whether path p is root or lies below it, links resolved.
func Within(root, p string) bool {
	r, err := RealPath(root)
	if err != nil {
		return false
	}
	rp, err := RealPath(p)
	if err != nil {
		return false
	}
	return rp == r || strings.HasPrefix(rp, r+string(filepath.Separator))
}

// TreeAround returns the billcons tree that p is in (p itself, or a folder
// above it), or "" when there is none: a file written there would sit
// among, or replace, a tree's published files. The tree is named as p
// names it where it can be, else with links resolved.
func TreeAround(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	starts := []string{abs}
	if real, err := RealPath(abs); err == nil && real != abs {
		starts = append(starts, real)
	}
	for _, dir := range starts {
		for {
			if st, err := os.Stat(filepath.Join(dir, StateDir)); (err == nil && st.IsDir()) || IsTree(dir) {
				return dir
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return ""
}

// KeptVersion is one kept version of a tree: its number and folder. A tree
// written before versions is version 0, in DIR itself.
type KeptVersion struct {
	Number int64
	Latest bool
	Dir    string
}

// KeptVersions lists the kept versions of the tree in dir, oldest first.
func KeptVersions(dir string) ([]KeptVersion, error) {
	state := filepath.Join(dir, StateDir)
	latest, err := readLatest(state)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if latest == 0 {
		return []KeptVersion{{Number: 0, Latest: true, Dir: dir}}, nil
	}
	var vs []KeptVersion
	for _, n := range listVersions(state) {
		if n <= latest {
			vs = append(vs, KeptVersion{Number: n, Latest: n == latest, Dir: versionDir(state, n)})
		}
	}
	return vs, nil
}
