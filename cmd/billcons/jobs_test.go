package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/billcons/billcons/writers"
)

// TestSameBytesWhateverJobs runs the same generated inputs (three cycles,
// several usage files, unsettled lines that hold changes back) with --jobs
// 1, 2 and 5 and checks that every output file has the same bytes: the
// contract's "byte for byte, whatever --jobs".
func TestSameBytesWhateverJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and runs a dataset three times")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustStep(t, nil, "gen", "--lines", "600000", "--members", "3000", "--format", "parquet", "--out", data, "--quiet")
	var want map[string]string
	for _, jobs := range []string{"1", "2", "5"} {
		out := filepath.Join(dir, "out-"+jobs)
		mustStep(t, nil, "run", "--usage", filepath.Join(data, "usage"), "--changes", filepath.Join(data, "changes.csv"),
			"--accounts", filepath.Join(data, "accounts.csv"), "--out", out, "--jobs", jobs, "--quiet")
		m, err := writers.ReadManifest(out)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		bills := 0
		for _, o := range m.Outputs {
			if o.Path == "views.sql" { // it names the tree's folder
				continue
			}
			if strings.HasPrefix(o.Path, "bills/") {
				bills++
			}
			got[o.Path] = o.SHA256
		}
		if bills < 3 {
			t.Fatalf("--jobs %s wrote %d bills files: want one per cycle at least, for the writers to overlap", jobs, bills)
		}
		if want == nil {
			want = got
			continue
		}
		for p, sum := range want {
			if got[p] != sum {
				t.Errorf("--jobs %s: %s differs from --jobs 1's", jobs, p)
			}
		}
		if len(got) != len(want) {
			t.Errorf("--jobs %s wrote %d files, --jobs 1 %d", jobs, len(got), len(want))
		}
	}
}
