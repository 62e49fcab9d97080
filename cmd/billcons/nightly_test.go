package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// These tests are the cases of CONTRACT.md, "Nightly runs over months":
// never someone else's data, versions, guards and diff, tried on the demo
// quarter as a user would.

// rewrite writes in/NAME again with every match of re replaced.
func rewrite(t *testing.T, name, re, repl string) {
	t.Helper()
	p := filepath.Join("in", name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	out := regexp.MustCompile(re).ReplaceAllString(string(b), repl)
	if out == string(b) {
		t.Fatalf("%s: %s matched nothing", name, re)
	}
	os.WriteFile(p, []byte(out), 0o644)
}

// TestNeverSomeoneElsesData: the refusals, each with nothing touched.
func TestNeverSomeoneElsesData(t *testing.T) {
	t.Chdir(t.TempDir())
	args := inputs(t, "in", false)

	// A dbt target/ holds a manifest.json of its own: refused, kept.
	os.MkdirAll("target", 0o755)
	os.WriteFile("target/manifest.json", []byte(`{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json"}}`), 0o644)
	os.WriteFile("target/run_results.json", []byte("{}"), 0o644)
	msg := billcons(t, exitFailed, append(args, "--out", "target")...)
	if !strings.Contains(msg, "not a billcons tree") {
		t.Errorf("--out target said %q", msg)
	}
	if names := mustReadDir(t, "target"); len(names) != 2 {
		t.Errorf("target/ holds %v after the refusal, want its two files", names)
	}

	// Inputs kept inside the tree: refused before anything is read.
	billcons(t, 0, append(args, "--out", "out")...)
	before := snapshot(t, "out")
	os.WriteFile("out/usage.csv", before["summary/summary.parquet"], 0o644)
	inside := append(append([]string{}, args...), "--out", "out")
	for i, a := range inside {
		if a == "--usage" {
			inside[i+1] = "out/usage.csv"
		}
	}
	msg = billcons(t, exitUsage, inside...)
	if !strings.Contains(msg, "--usage out/usage.csv is inside --out out") {
		t.Errorf("an input inside --out said %q", msg)
	}
	if _, err := os.Stat("out/usage.csv"); err != nil {
		t.Errorf("the input inside the tree is gone: %v", err)
	}
	os.Remove("out/usage.csv")

	// An export into the tree: refused, and the tree still reads.
	msg = billcons(t, exitUsage, "export", "--focus", "out", "out/summary/summary.parquet")
	if !strings.Contains(msg, "is inside the billcons tree") {
		t.Errorf("export into the tree said %q", msg)
	}
	billcons(t, exitUsage, "export", "--focus", "out", "out/focus.parquet")
	if d := sameTree(snapshot(t, "out"), before); d != "" {
		t.Fatalf("the tree changed: %s", d)
	}
	billcons(t, 0, "verify", "out")
	billcons(t, 0, "export", "--focus", "out", "focus.parquet")

	// A sharded run's store is never a tree, nor a folder of someone
	// else's files: plan refuses both, and so does run --out file://.
	for dir, want := range map[string]string{"out": "it is a billcons tree", "target": "the folder holds manifest.json"} {
		before := snapshot(t, dir)
		msg := billcons(t, exitFailed, append([]string{"plan", "--out", dir, "--shards", "2"}, args[1:]...)...)
		if !strings.Contains(msg, want) {
			t.Errorf("plan --out %s said %q; want %q", dir, msg, want)
		}
		abs, _ := filepath.Abs(dir)
		msg = billcons(t, exitFailed, append(args, "--out", "file://"+abs)...)
		if !strings.Contains(msg, want) {
			t.Errorf("run --out file://%s said %q; want %q", abs, msg, want)
		}
		if d := sameTree(snapshot(t, dir), before); d != "" {
			t.Errorf("%s changed: %s", dir, d)
		}
	}
	billcons(t, 0, "verify", "out")

	// No lock or temporary file beside the tree, after any of it.
	for _, n := range mustReadDir(t, ".") {
		if strings.HasPrefix(n, ".") {
			t.Errorf("left beside the trees: %s", n)
		}
	}
}

// TestFiveNights: five nightly runs of the demo, each with a different
// mistake in its export, leave the tree at the last good version; each
// guard says what tripped; diff explains the good nights' differences;
// rollback and --version read earlier versions.
func TestFiveNights(t *testing.T) {
	t.Chdir(t.TempDir())
	good := append(inputs(t, "in", false), "--out", "out")
	billcons(t, 0, good...) // version 1
	night := func(want int, wantLines ...string) string {
		t.Helper()
		msg := billcons(t, want, good...)
		for _, w := range wantLines {
			if !strings.Contains(msg, w) {
				t.Errorf("the run said %q, want %q", msg, w)
			}
		}
		return msg
	}
	latest := func() int64 {
		m, err := writers.ReadManifest("out")
		if err != nil {
			t.Fatal(err)
		}
		return m.TreeVersion
	}

	// 1. Amounts exported with a leading space, as spreadsheets write them.
	rewrite(t, "usage/a.csv", `,([0-9]+\.[0-9]+),(CNY|USD),`, ", $1,$2,")
	night(exitDataQuality, "guard tripped: reject_ratio", "guard tripped: missing_lines", "nothing published")
	inputs(t, "in", false)

	// 2. Changes exported without their offsets: every trusteeship rejected.
	rewrite(t, "changes.csv", `T([0-9:]+)\+08:00`, " $1")
	night(exitDataQuality, "guard tripped: missing_changes: 13 change row(s) accepted in version 1 are not accepted now: end-07, join-00")
	inputs(t, "in", false)

	// 3. A credit row lost from the export.
	b, _ := os.ReadFile("in/credits.csv")
	lines := strings.SplitAfter(string(b), "\n")
	os.WriteFile("in/credits.csv", []byte(lines[0]+strings.Join(lines[2:], "")), 0o644)
	night(exitDataQuality, "guard tripped: missing_credits: 1 credit row(s)")
	inputs(t, "in", false)

	// 4. A usage file missing from the folder, the day another arrives.
	os.Rename("in/usage/a.csv", "in/a.csv")
	b, _ = os.ReadFile("in/a.csv")
	ul := strings.SplitAfter(string(b), "\n")
	os.WriteFile("in/usage/c.csv", []byte(ul[0]+strings.Join(ul[1:40], "")), 0o644)
	night(exitDataQuality, "guard tripped: missing_lines", "guard tripped: missing_inputs: 1 input file(s) read by version 1 are not read now: usage in/usage/a.csv",
		"guard tripped: cycle_drop")
	os.Remove("in/usage/c.csv")
	os.Rename("in/a.csv", "in/usage/a.csv")

	// 5. The same usage file delivered twice: every line a duplicate.
	b, _ = os.ReadFile("in/usage/a.csv")
	os.WriteFile("in/usage/a-copy.csv", b, 0o644)
	night(exitDataQuality, "guard tripped: reject_ratio")
	os.Remove("in/usage/a-copy.csv")

	if v := latest(); v != 1 {
		t.Fatalf("after five bad nights the latest version is %d, want 1", v)
	}
	billcons(t, 0, "verify", "out")

	// A good night: late lines arrive (version 2), then a late line is
	// withdrawn on purpose (version 3, --accept-missing).
	good = append(inputs(t, "in", true), "--out", "out")
	var loud []string // without --quiet: the run ends with what it changed
	for _, a := range good {
		if a != "--quiet" {
			loud = append(loud, a)
		}
	}
	msg := billcons(t, 0, loud...)
	if !strings.Contains(msg, "version 2, 2024-01 against version 1: 74 lines added, 0 removed, 0 moved, 0 changed; CNY list +1013.733716081 due +0.000000000") {
		t.Errorf("the run said %q, want what it changed in 2024-01", msg)
	}
	if latest() != 2 {
		t.Fatalf("latest version %d, want 2", latest())
	}
	rewrite(t, "usage/b.csv", `(?m)^LATE000001,[^\n]*\n`, "")
	night(exitDataQuality, "missing_lines: 1 line(s) billed in version 2 are not billed now (0 of them rejected now): LATE000001")
	billcons(t, exitDataQuality, append(good, "--guard-report", "guards.txt")...)
	if b, _ := os.ReadFile("guards.txt"); !strings.Contains(string(b), "missing_lines\tLATE000001\n") {
		t.Errorf("--guard-report wrote %q, want the missing line's id", b)
	}
	os.Remove("guards.txt")
	billcons(t, 0, append(good, "--accept-missing", "--guard-report", "guards.txt")...)
	m, _ := writers.ReadManifest("out")
	if m.TreeVersion != 3 || len(m.Accepted) != 1 {
		t.Fatalf("version %d accepted %v, want version 3 with the missing line on record", m.TreeVersion, m.Accepted)
	}

	// diff explains: version 2 against 1 added the 199 late lines.
	out := billcons(t, 0, "diff", "out", "--from", "1", "--to", "2", "--format", "json")
	var added int64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var row struct {
			Added int64 `json:"lines_added"`
		}
		json.Unmarshal([]byte(l), &row)
		added += row.Added
	}
	if added != 199 {
		t.Errorf("diff 1 -> 2 added %d lines, want 199: %s", added, out)
	}
	out = billcons(t, 0, "diff", "out", "--lines", "--format", "csv")
	if !strings.Contains(out, "LATE000001,removed,2024-01,,") {
		t.Errorf("diff --lines of version 3 does not show the withdrawn line: %s", out)
	}
	billcons(t, exitDiffers, "diff", "out", "--exit-code")
	billcons(t, 0, "diff", "out", "--from", "2", "--to", "2", "--exit-code")

	// versions lists them; --version reads an older one; rollback publishes it.
	out = billcons(t, 0, "versions", "out")
	if !strings.Contains(out, "3*") || !strings.Contains(out, "\n1 ") {
		t.Errorf("versions said %q", out)
	}
	if b, _ := os.ReadFile("guards.txt"); !strings.Contains(string(b), "missing_lines\tLATE000001\n") {
		t.Errorf("--guard-report of an accepted loss wrote %q, want the line's id", b)
	}
	old := billcons(t, 0, "query", "out", "--version", "1", "--format", "csv", "SELECT count(*) AS n FROM bills")
	now := billcons(t, 0, "query", "out", "--format", "csv", "SELECT count(*) AS n FROM bills")
	if old != "n\n1683\n" || now != "n\n1881\n" {
		t.Errorf("bills in version 1 %q and latest %q, want 1683 and 1881", old, now)
	}
	billcons(t, 0, "verify", "out", "--version", "2")
	billcons(t, 0, "rollback", "out", "1")
	if d := sameTree(snapshot(t, "out"), snapshot(t, mustResolve(t, "out", 1))); d != "" {
		t.Errorf("after rollback to 1 the tree differs from version 1: %s", d)
	}
	billcons(t, 0, "verify", "out")
	if v := latest(); v != 4 {
		t.Errorf("rollback published version %d, want 4", v)
	}
	billcons(t, 1, "report", "out", "--version", "99")
}

func mustResolve(t *testing.T, dir string, v int64) string {
	t.Helper()
	d, err := storage.Resolve(dir, v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStoreVersions: the same nightly promises for a tree in a store
// (--out URL; a folder store here, the S3 server in shards_test): each run
// publishes the next version, sharing the objects whose bytes did not
// change; the guards compare with the store's latest version; versions,
// diff, --version and rollback read the published runs.
func TestStoreVersions(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Setenv("BILLCONS_CACHE", t.TempDir())
	abs, _ := filepath.Abs("store")
	u := "file://" + abs
	good := append(inputs(t, "in", false), "--out", u)
	billcons(t, 0, good...)
	objects := func() int {
		n := 0
		filepath.Walk("store", func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	first := objects()
	billcons(t, 0, good...)
	// Version 2 adds its manifest and pointer only: every file is shared.
	if added := objects() - first; added != 2 {
		t.Errorf("an unchanged night added %d objects to the store, want 2 (a manifest and a pointer)", added)
	}
	rewrite(t, "changes.csv", `T([0-9:]+)\+08:00`, " $1")
	msg := billcons(t, exitDataQuality, good...)
	if !strings.Contains(msg, "guard tripped: missing_changes: 13 change row(s) accepted in version 2") {
		t.Errorf("the store's guard said %q", msg)
	}
	inputs(t, "in", false)
	good = append(inputs(t, "in", true), "--out", u)
	billcons(t, 0, good...)
	out := billcons(t, 0, "versions", u, "--format", "csv")
	if !strings.Contains(out, "\n3,true,") {
		t.Errorf("versions of the store: %q, want 3 the latest", out)
	}
	billcons(t, exitDiffers, "diff", u, "--exit-code")
	old := billcons(t, 0, "query", u, "--version", "1", "--format", "csv", "SELECT count(*) AS n FROM bills")
	if old != "n\n1683\n" {
		t.Errorf("version 1 of the store holds %q bills, want 1683", old)
	}
	billcons(t, 0, "rollback", u, "1")
	now := billcons(t, 0, "query", u, "--format", "csv", "SELECT count(*) AS n FROM bills")
	if now != "n\n1683\n" {
		t.Errorf("after rollback to 1 the store's latest holds %q bills, want 1683", now)
	}
	billcons(t, 0, "verify", u)
}

// TestShardedGuards: a sharded run's commit holds the new run to the
// guards against the store's latest version, exits 3 and publishes
// nothing when an export lost its trusteeship changes; a good run after it
// publishes the next version.
func TestShardedGuards(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	t.Chdir(t.TempDir())
	t.Setenv("BILLCONS_CACHE", t.TempDir())
	out, _ := filepath.Abs("store")
	in := inputs(t, "in", false)[1:] // without "run"
	in = in[:len(in)-1]              // without --quiet
	sharded(t, out, 2, 1, in)
	rewrite(t, "changes.csv", `T([0-9:]+)\+08:00`, " $1")
	mustStep(t, nil, append([]string{"plan", "--out", out, "--shards", "2", "--quiet"}, in...)...)
	mustStep(t, indexEnv(0), "split", "--out", out)
	parallel(2, func(i int) { mustStep(t, indexEnv(i), "shard", "--out", out) })
	code, msg := step(t, nil, "commit", "--out", out)
	if code != exitDataQuality || !strings.Contains(msg, "billcons commit: guard tripped: missing_changes: 13 change row(s) accepted in version 1") {
		t.Fatalf("commit of a broken export: exit %d, %q; want 3 and the missing changes", code, msg)
	}
	inputs(t, "in", false)
	sharded(t, out, 2, 1, in)
	if vs := billcons(t, 0, "versions", out, "--format", "csv"); !strings.Contains(vs, "\n2,true,") {
		t.Fatalf("after a tripped and a good night the store's versions are %q, want 2 the latest", vs)
	}
}
