package pipeline

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/writers"
)

// CheckInputs says whether the inputs of a finished run are still what it
// read: it resolves the run's --usage, --changes and --accounts arguments
// again (relative to the current folder, as the run did) and compares the
// files found, their sizes and SHA-256 with the manifest. It returns one
// sentence per difference: a file changed, gone, or new since the run.
// fetch makes an argument that is a URL local (files, and the URL each is
// named by); nil reads only local arguments.
func CheckInputs(m *writers.Manifest, fetch func(arg string) (files []string, names map[string]string, err error)) ([]string, error) {
	var problems []string
	recorded := map[string]writers.Input{}
	for _, in := range m.Inputs {
		recorded[in.Kind+"\x00"+in.Path] = in
	}
	inputHashes := hashes{}
	seen := map[string]bool{}
	// Relative paths are the run's working folder's: resolved there, and
	// named as the run named them.
	wd, _ := m.Options["workdir"].(string)
	at := func(arg string) string {
		if wd == "" || filepath.IsAbs(arg) || strings.Contains(arg, "://") {
			return arg
		}
		return filepath.Join(wd, arg)
	}
	named := func(arg, f string) string {
		if at(arg) == arg {
			return f
		}
		if rel, err := filepath.Rel(wd, f); err == nil {
			return rel
		}
		return f
	}
	for _, kind := range []string{"usage", "changes", "accounts", "discounts", "enterprises", "credits", "balances"} {
		args, err := stringsOption(m.Options[kind])
		if err != nil {
			return nil, fmt.Errorf("manifest.json: options.%s: %w", kind, err)
		}
		for _, arg := range args {
			var files []string
			var names map[string]string
			if strings.Contains(arg, "://") && fetch != nil {
				files, names, err = fetch(arg)
			} else {
				files, err = expandAll([]string{at(arg)})
			}
			if errors.Is(err, fs.ErrNotExist) {
				continue // each file the run read there is said to be gone, below
			}
			if err != nil {
				problems = append(problems, fmt.Sprintf("--%s %s: %v", kind, arg, err))
				continue
			}
			for _, abs := range files {
				f := named(arg, abs)
				if n, ok := names[abs]; ok {
					f = n // fetched from a bucket: named by its URL
				}
				key := kind + "\x00" + f
				if seen[key] {
					continue
				}
				seen[key] = true
				in, ok := recorded[key]
				if !ok {
					problems = append(problems, fmt.Sprintf("%s: new since the run (--%s %s); a rerun would read it", f, kind, arg))
					continue
				}
				now, _, err := inputHashes.describe(kind, abs)
				if err != nil {
					problems = append(problems, err.Error())
					continue
				}
				if now.SHA256 != in.SHA256 || now.Bytes != in.Bytes {
					problems = append(problems, fmt.Sprintf("%s: changed since the run (%d bytes, sha256 %s; the run read %d bytes, sha256 %s)",
						f, now.Bytes, now.SHA256, in.Bytes, in.SHA256))
				}
			}
		}
	}
	for _, in := range m.Inputs {
		if !seen[in.Kind+"\x00"+in.Path] {
			where := ""
			if wd != "" && !filepath.IsAbs(in.Path) && !strings.Contains(in.Path, "://") {
				where = " (in " + wd + ", where the run started)"
			}
			problems = append(problems, fmt.Sprintf("%s%s: read by the run as %s, but no longer there: moved or removed", in.Path, where, in.Kind))
		}
	}
	return problems, nil
}

// stringsOption reads a list of strings back from the manifest's options.
func stringsOption(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	case []any:
		out := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("want a list of paths")
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a list of paths")
}
