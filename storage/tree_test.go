package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// stage writes a version's files and a manifest listing them (with their
// checksums, as a run writes it) into t's staging folder.
func stage(t *testing.T, tr *Tree, files map[string]string) {
	t.Helper()
	type output struct {
		Path   string `json:"path"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	m := struct {
		Format        string   `json:"format"`
		FormatVersion int      `json:"format_version"`
		Program       string   `json:"program"`
		TreeVersion   int64    `json:"tree_version"`
		Outputs       []output `json:"outputs"`
	}{Format: TreeFormat, FormatVersion: TreeFormatVersion, Program: "billcons", TreeVersion: tr.Next()}
	for name, body := range files {
		p := filepath.Join(tr.Dir(), filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(body))
		m.Outputs = append(m.Outputs, output{Path: name, Bytes: int64(len(body)), SHA256: hex.EncodeToString(sum[:])})
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tr.Dir(), "manifest.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTreeVersions: a second run on the same DIR is refused while the first
// holds it; an aborted run leaves DIR as it was; each commit publishes the
// next version, DIR's names read the latest, earlier versions stay
// readable, unchanged files are shared by hard links, and nothing is left
// beside DIR (CONTRACT.md, Nightly runs over months: Versions).
func TestTreeVersions(t *testing.T) {
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	first, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Begin(out); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Begin() = %v, want ErrLocked", err)
	}
	stage(t, first, map[string]string{"bills/a.parquet": "A1", "summary/s.parquet": "S1"})
	if err := first.Commit(); err != nil {
		t.Fatal(err)
	}

	aborted, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	stage(t, aborted, map[string]string{"bills/a.parquet": "XX"})
	aborted.Abort()
	if got := read(t, filepath.Join(out, "bills", "a.parquet")); got != "A1" {
		t.Fatalf("Abort() changed DIR: bills/a.parquet = %q", got)
	}

	next, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if next.BaseVersion() != 1 || next.Next() != 2 {
		t.Fatalf("base %d next %d, want 1 and 2", next.BaseVersion(), next.Next())
	}
	stage(t, next, map[string]string{"bills/a.parquet": "A1", "summary/s.parquet": "S2", "alerts/x.parquet": "X"})
	if err := next.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(out, "summary", "s.parquet")); got != "S2" {
		t.Errorf("DIR/summary/s.parquet = %q after the second commit, want S2", got)
	}
	if got := read(t, filepath.Join(out, "alerts", "x.parquet")); got != "X" {
		t.Errorf("a name new in version 2 reads %q, want X", got)
	}
	v1, err := Resolve(out, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(v1, "summary", "s.parquet")); got != "S1" {
		t.Errorf("version 1's summary = %q, want S1", got)
	}
	a1, _ := os.Stat(filepath.Join(v1, "bills", "a.parquet"))
	a2, _ := os.Stat(filepath.Join(out, "bills", "a.parquet"))
	if !os.SameFile(a1, a2) {
		t.Error("an unchanged file is not shared between versions")
	}
	if next.Shared != 2 {
		t.Errorf("Shared = %d bytes, want 2", next.Shared)
	}
	if p := CheckLinks(out); len(p) > 0 {
		t.Errorf("CheckLinks() = %v", p)
	}
	entries, _ := os.ReadDir(parent)
	if len(entries) != 1 {
		t.Errorf("beside DIR: %d entries, want DIR alone", len(entries))
	}
	if _, err := Resolve(out, 9); err == nil || !strings.Contains(err.Error(), "kept: 1 to 2") {
		t.Errorf("Resolve(9) = %v, want the kept versions named", err)
	}
}

// TestTreeKeep: versions beyond Keep are removed, oldest first; a file
// they share with a kept version stays.
func TestTreeKeep(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	for i := 0; i < 4; i++ {
		tr, err := Begin(out)
		if err != nil {
			t.Fatal(err)
		}
		tr.Keep = 2
		stage(t, tr, map[string]string{"same.parquet": "S", "n.parquet": strings.Repeat("n", i+1)})
		if err := tr.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	vs, err := KeptVersions(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Number != 3 || vs[1].Number != 4 || !vs[1].Latest {
		t.Fatalf("Versions() = %+v, want 3 and 4 (latest)", vs)
	}
	if got := read(t, filepath.Join(out, "same.parquet")); got != "S" {
		t.Fatalf("a file shared with pruned versions reads %q", got)
	}
}

// TestTreeTakesOverKilledRun: what a killed run leaves inside DIR (its
// staging folder, a version renamed into place but never published, a
// half-made link) is removed by the next run, and DIR reads the latest
// version throughout.
func TestTreeTakesOverKilledRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	tr, _ := Begin(out)
	stage(t, tr, map[string]string{"a.parquet": "1"})
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(out, StateDir)
	os.MkdirAll(filepath.Join(state, "staging-999999", "bills"), 0o755)
	os.MkdirAll(filepath.Join(state, "v", "000002", "bills"), 0o755)
	os.Symlink("v/000002", filepath.Join(state, "latest.tmp-999999"))

	again, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if again.Next() != 2 {
		t.Fatalf("Next() = %d, want 2: the unpublished version 2 must not count", again.Next())
	}
	for _, p := range []string{"staging-999999", "latest.tmp-999999"} {
		if _, err := os.Lstat(filepath.Join(state, p)); !os.IsNotExist(err) {
			t.Errorf("%s left by the killed run is still there", p)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "v", "000002", "bills")); !os.IsNotExist(err) {
		t.Error("the killed run's unpublished version is still there")
	}
	again.Abort()
	if got := read(t, filepath.Join(out, "a.parquet")); got != "1" {
		t.Fatalf("DIR reads %q, want the latest version", got)
	}
}

// TestTreeRefusesOthersFolders: a folder that is not empty and not a
// billcons tree is refused before anything is written, also when it
// holds a file named manifest.json that is not billcons' (a dbt target/);
// a first run that fails leaves no DIR behind.
func TestTreeRefusesOthersFolders(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"dbt target":      {"manifest.json": `{"metadata": {"dbt_schema_version": "v12"}}`, "run_results.json": "{}"},
		"web build":       {"index.html": "<html>"},
		"broken manifest": {"manifest.json": "{"},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			for f, body := range files {
				os.WriteFile(filepath.Join(out, f), []byte(body), 0o644)
			}
			if _, err := Begin(out); !errors.Is(err, ErrNotOurs) {
				t.Fatalf("Begin() = %v, want ErrNotOurs", err)
			}
			entries, _ := os.ReadDir(out)
			if len(entries) != len(files) {
				t.Fatalf("the refused folder now holds %d entries, want %d", len(entries), len(files))
			}
		})
	}
	out := filepath.Join(t.TempDir(), "new")
	tr, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	tr.Abort()
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed first run left %s behind: %v", out, err)
	}
}

// TestTreeMigratesUnversioned: a tree written before versions (its files
// right in DIR, a manifest with billcons' program name) becomes version 1,
// readable as before, and the next commit is version 2.
func TestTreeMigratesUnversioned(t *testing.T) {
	out := t.TempDir()
	old, _ := json.Marshal(map[string]any{"program": "billcons", "outputs": []any{}, "counts": map[string]any{}})
	os.WriteFile(filepath.Join(out, "manifest.json"), old, 0o644)
	os.MkdirAll(filepath.Join(out, "bills"), 0o755)
	os.WriteFile(filepath.Join(out, "bills", "a.parquet"), []byte("old"), 0o644)

	tr, err := Begin(out)
	if err != nil {
		t.Fatal(err)
	}
	if tr.BaseVersion() != 1 {
		t.Fatalf("BaseVersion() = %d, want 1 (the tree before versions)", tr.BaseVersion())
	}
	stage(t, tr, map[string]string{"bills/a.parquet": "new"})
	if err := tr.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(out, "bills", "a.parquet")); got != "new" {
		t.Errorf("DIR reads %q, want version 2", got)
	}
	v1, _ := Resolve(out, 1)
	if got := read(t, filepath.Join(v1, "bills", "a.parquet")); got != "old" {
		t.Errorf("version 1 reads %q, want the tree before versions", got)
	}
}
