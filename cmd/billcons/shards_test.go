package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/billcons/billcons/fixtures"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/storage/s3fake"
	"github.com/billcons/billcons/storage/s3server"
	"github.com/billcons/billcons/verify"
	"github.com/billcons/billcons/writers"
)

// The sharded-run tests start every step as a child process, as an indexed
// scheduler would: split and shard with JOB_COMPLETION_INDEX=0..N-1, shards
// two at a time (this machine's cores), over a local folder, the in-process
// S3 server, and the same server speaking like Alibaba OSS. CONTRACT.md,
// Running on many machines.

// step runs one billcons step as a child and returns its exit status and
// stderr; stdout, when given, receives its standard output.
func step(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	return stepOut(t, nil, env, args...)
}

func stepOut(t *testing.T, stdout *bytes.Buffer, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "BILLCONS_TEST_MAIN=1"), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdout != nil {
		cmd.Stdout = stdout
	}
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stderr.String()
}

func mustStep(t *testing.T, env []string, args ...string) string {
	t.Helper()
	code, stderr := step(t, env, args...)
	if code != 0 {
		t.Fatalf("billcons %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	return stderr
}

func indexEnv(i int) []string { return []string{fmt.Sprintf("JOB_COMPLETION_INDEX=%d", i)} }

// parallel runs fn(0..n-1) at most two at a time.
func parallel(n int, fn func(i int)) {
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(i)
		}()
	}
	wg.Wait()
}

// shardInputs is the demo quarter plus a second usage file that repeats
// some of its line ids under other accounts: ids read in different shards,
// which commit must judge as a single run would.
func shardInputs(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(filepath.Join(demo, "usage.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	acct := slices.Index(rows[0], "account_id")
	extra := [][]string{rows[0]}
	for i := 1; i < len(rows) && len(extra) < 40; i += 37 {
		r := slices.Clone(rows[i])
		r[acct] = fmt.Sprintf("90000000000%05d", i) // a member of its own, in whichever shard
		extra = append(extra, r)
	}
	p := filepath.Join(dir, "usage-late.csv")
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.WriteAll(extra)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// The same rows again as typed Parquet (new line ids), which a split
	// step hands on with its timestamps and amounts as integers: one row
	// with no usage_start and one that ends before it starts are rejected,
	// their records rendered from the integers.
	typed := [][]string{extra[0]}
	lineID, start, end := slices.Index(rows[0], "line_id"), slices.Index(rows[0], "usage_start"), slices.Index(rows[0], "usage_end")
	for i, r := range extra[1:] {
		r = slices.Clone(r)
		r[lineID] = fmt.Sprintf("PQ%05d", i)
		switch i {
		case 3:
			r[start] = ""
		case 5:
			r[start], r[end] = r[end], r[start]
		}
		typed = append(typed, r)
	}
	pq := filepath.Join(dir, "usage-typed.parquet")
	b.Reset()
	w.WriteAll(typed)
	if err := fixtures.WriteTypedParquet(pq, b.Bytes()); err != nil {
		t.Fatal(err)
	}
	return []string{"--usage", filepath.Join(demo, "usage.csv"), "--usage", p, "--usage", pq,
		"--changes", filepath.Join(demo, "changes.csv"), "--accounts", filepath.Join(demo, "accounts.csv"),
		"--discounts", filepath.Join(demo, "discounts.csv"), "--credits", filepath.Join(demo, "credits.csv"),
		"--enterprises", filepath.Join(demo, "enterprises.csv"), "--balances", filepath.Join(demo, "balances.csv"),
		"--max-reject-ratio", "1"} // the typed file's bad rows are rejected on purpose
}

// sharded runs plan, split, shard and commit on out.
func sharded(t *testing.T, out string, shards, splits int, inputs []string) {
	t.Helper()
	mustStep(t, nil, append([]string{"plan", "--out", out, "--shards", fmt.Sprint(shards), "--splits", fmt.Sprint(splits), "--quiet"}, inputs...)...)
	parallel(splits, func(i int) { mustStep(t, indexEnv(i), "split", "--out", out) })
	parallel(shards, func(i int) { mustStep(t, indexEnv(i), "shard", "--out", out) })
	mustStep(t, nil, "commit", "--out", out)
}

// published fetches the newest published run at out, and checks it with
// verify.
func published(t *testing.T, out string) string {
	t.Helper()
	dir, err := storage.Materialize(context.Background(), out, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	problems, err := verify.Dir(dir)
	if err != nil || len(problems) > 0 {
		t.Fatalf("verify %s: %v %v", out, err, problems)
	}
	return dir
}

// sameRun compares a sharded run with a single one: bills row for row
// (whatever files they are in), the index's sums per cycle, payer and
// currency (whatever slices of files they are), and the summary, rejects,
// credits, alerts and accepted settlement inputs byte for byte.
func sameRun(t *testing.T, single, sharded string) {
	t.Helper()
	bills := func(dir string) []string {
		var rows []string
		err := writers.ReadBills(dir, func(r *writers.BillRecord) error {
			var b strings.Builder
			fmt.Fprintf(&b, "%s %s", r.Cycle, r.Payer)
			for _, c := range r.Columns {
				fmt.Fprintf(&b, " %s=%v", c, r.Values[c])
			}
			rows = append(rows, b.String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(rows)
		return rows
	}
	a, b := bills(single), bills(sharded)
	if len(a) != len(b) {
		t.Fatalf("single run billed %d lines, sharded %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("bills differ:\nsingle:  %s\nsharded: %s", a[i], b[i])
		}
	}
	m, err := writers.ReadManifest(single)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range m.Outputs {
		if strings.HasPrefix(o.Path, "bills/") || o.Path == "views.sql" || o.Path == writers.IndexPath {
			continue
		}
		x, err1 := os.ReadFile(filepath.Join(single, o.Path))
		y, err2 := os.ReadFile(filepath.Join(sharded, o.Path))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between the single and the sharded run (%v, %v)", o.Path, err1, err2)
		}
	}
	index := func(dir string) map[string]string {
		sums := map[string]*writers.IndexRow{}
		err := writers.ReadIndex(filepath.Join(dir, writers.IndexPath), func(r *writers.IndexRow) error {
			k := fmt.Sprint(r.Cycle, r.Payer, r.Currency)
			if sums[k] == nil {
				sums[k] = &writers.IndexRow{}
			}
			s := sums[k]
			s.LineCount += r.LineCount
			s.ListAmount.AddSum(r.ListAmount)
			s.Discount.AddSum(r.Discount)
			s.Effective.AddSum(r.Effective)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for k, s := range sums {
			out[k] = fmt.Sprint(s.LineCount, s.ListAmount, s.Discount, s.Effective)
		}
		return out
	}
	if x, y := index(single), index(sharded); !maps.Equal(x, y) || len(x) == 0 {
		t.Errorf("the index sums differ between the single run (%d payers' cycles and currencies) and the sharded run (%d)", len(x), len(y))
	}
	ms, err := writers.ReadManifest(sharded)
	if err != nil {
		t.Fatal(err)
	}
	if ms.Counts.UsageRead != m.Counts.UsageRead || ms.Counts.UsageRejected != m.Counts.UsageRejected || ms.Counts.CreditsApplied != m.Counts.CreditsApplied {
		t.Errorf("counts: single %+v, sharded %+v", m.Counts, ms.Counts)
	}
	for cur, tot := range m.Totals {
		if ms.Totals[cur] != tot {
			t.Errorf("%s totals: single %+v, sharded %+v", cur, tot, ms.Totals[cur])
		}
	}
}

func s3env(t *testing.T) *s3fake.Server {
	t.Helper()
	srv, err := s3fake.Start("bills")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	return srv
}

// TestShardedEqualsSingle is the equivalence test: for 1, 3 and 7 shards
// (on a folder, S3, and OSS), the committed run holds what billcons run
// writes, and verify passes on it.
func TestShardedEqualsSingle(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dozens of processes")
	}
	inputs := shardInputs(t)
	single := filepath.Join(t.TempDir(), "single")
	mustStep(t, nil, append([]string{"run", "--out", single, "--quiet"}, inputs...)...)
	srv := s3env(t)
	oss := s3env(t)
	oss.SetOSS(true)
	for _, c := range []struct {
		name           string
		out            string
		shards, splits int
	}{
		{"folder-1", filepath.Join(t.TempDir(), "runs"), 1, 1},
		{"s3-3", srv.URL("bills", "nightly"), 3, 1},
		{"oss-7", oss.URL("bills", "nightly"), 7, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			sharded(t, c.out, c.shards, c.splits, inputs)
			dir := published(t, c.out)
			sameRun(t, single, dir)
			// The shards' small files are merged: a cycle is one file,
			// whatever the shards.
			m, err := writers.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			perCycle := map[string][]string{}
			for _, o := range m.Outputs {
				if strings.HasPrefix(o.Path, "bills/") {
					perCycle[path.Dir(o.Path)] = append(perCycle[path.Dir(o.Path)], path.Base(o.Path))
				}
			}
			for cycle, files := range perCycle {
				want := "part-s00000-00000.parquet" // one shard: its own file
				if c.shards > 1 {
					want = "part-m00"
				}
				if len(files) != 1 || !strings.Contains(files[0], strings.TrimSuffix(want, ".parquet")) {
					t.Errorf("%s: bills files %v; want one, %s...", cycle, files, want)
				}
			}
		})
	}
	if oss.NotImplemented.Load() == 0 || oss.ForbidOverwrite.Load() == 0 {
		t.Errorf("the OSS run never met the 501 (%d) or never used x-oss-forbid-overwrite (%d)", oss.NotImplemented.Load(), oss.ForbidOverwrite.Load())
	}
	if srv.IfNoneMatch.Load() == 0 {
		t.Error("the S3 run never wrote with If-None-Match")
	}
	// The analysts' commands read a run in the bucket as they read a folder.
	var stdout bytes.Buffer
	code, stderr := stepOut(t, &stdout, []string{"BILLCONS_CACHE=" + t.TempDir()}, "query", srv.URL("bills", "nightly"), "SELECT count(*) FROM bills")
	if code != 0 || !strings.Contains(stdout.String(), "1720") {
		t.Errorf("billcons query s3://…: exit %d\n%s%s", code, &stdout, stderr)
	}
}

// TestShardedURLInputs: usage files given as an S3 prefix whose URL carries
// the store's options in its query (?endpoint=…&use_path_style=true), a
// zipped export among them, go through plan, split, shard and commit as
// local files do: the plan names each file by a URL that opens again (its
// key in the path, the query after it), and the committed run holds what
// billcons run writes from the same URLs, rejects naming the same files.
func TestShardedURLInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen processes")
	}
	ctx := context.Background()
	for _, srv := range s3server.All(t, "bills") {
		t.Run(srv.Name, func(t *testing.T) {
			late := filepath.Join(t.TempDir(), "late.csv")
			demoUsage, err := os.ReadFile(filepath.Join(demo, "usage.csv"))
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(demoUsage), "\n")
			os.WriteFile(late, []byte(lines[0]+strings.ReplaceAll(strings.Join(lines[1:40], ""), "\nL0", "\nZ0")), 0o644)
			zipped := filepath.Join(t.TempDir(), "export.zip")
			{
				var b bytes.Buffer
				z := zip.NewWriter(&b)
				w, _ := z.Create("late-b.csv")
				w.Write([]byte(lines[0] + strings.ReplaceAll(strings.Join(lines[40:80], ""), "\nL0", "\nY0")))
				z.Close()
				if err := os.WriteFile(zipped, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// An input URL may ask the SDK to validate response checksums,
			// which S3-compatible stores often do not send: the SDK then
			// printed a warning on every read.
			exports := srv.URL("bills", "exports") + "&response_checksum_validation=when_supported"
			b, p := srv.Place("bills", "exports")
			exportsBase := "s3://" + b + "/" + p
			s, err := storage.Open(ctx, exports)
			if err != nil {
				t.Fatal(err)
			}
			for key, p := range map[string]string{"usage-a.csv": filepath.Join(demo, "usage.csv"), "usage-b.csv": late, "usage-c.zip": zipped} {
				if _, err := s.PutFile(ctx, key, p); err != nil {
					t.Fatal(err)
				}
			}
			s.Close()
			rest := []string{"--changes", filepath.Join(demo, "changes.csv"), "--accounts", filepath.Join(demo, "accounts.csv"), "--max-reject-ratio", "1"}
			single := filepath.Join(t.TempDir(), "single")
			// billcons run from the same URLs: its rejects name the files by them too.
			if stderr := mustStep(t, nil, append([]string{"run", "--out", single, "--quiet", "--usage", exports}, rest...)...); strings.Contains(stderr, "checksum") {
				t.Errorf("the run warned of checksums:\n%s", stderr)
			}
			out := srv.URL("bills", "nightly")
			sharded(t, out, 2, 2, append([]string{"--usage", exports}, rest...))
			dir := published(t, out)
			sameRun(t, single, dir)
			m, err := writers.ReadManifest(dir)
			if err != nil {
				t.Fatal(err)
			}
			usage := 0
			for _, in := range m.Inputs {
				if in.Kind != "usage" {
					continue
				}
				usage++
				base, query, _ := strings.Cut(in.Path, "?")
				if !strings.HasPrefix(base, exportsBase+"/usage-") || !strings.HasPrefix(query, "endpoint=") || strings.Contains(query, "usage-") {
					t.Errorf("usage input recorded as %q: want %s/KEY?endpoint=…", in.Path, exportsBase)
				}
			}
			if usage != 3 {
				t.Errorf("%d usage inputs recorded, want 3", usage)
			}

			// verify --inputs fetches the URLs again: unchanged, then one changed.
			var stdout bytes.Buffer
			if code, stderr := stepOut(t, &stdout, nil, "verify", "--inputs", single); code != 0 || !strings.Contains(stdout.String(), "inputs are unchanged") {
				t.Fatalf("verify --inputs of a run from URLs: exit %d, %s%s", code, stdout.String(), stderr)
			}
			s, err = storage.Open(ctx, exports)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "usage-b.csv", []byte(lines[0]+lines[1])); err != nil {
				t.Fatal(err)
			}
			s.Close()
			code, stderr := step(t, nil, "verify", "--inputs", single)
			if code != 1 || !strings.Contains(stderr, exportsBase+"/usage-b.csv?endpoint=") || !strings.Contains(stderr, "changed since the run") {
				t.Errorf("verify --inputs after usage-b.csv changed in the bucket: exit %d\n%s", code, stderr)
			}
		})
	}
}
