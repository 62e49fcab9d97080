package query

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/storage"
	"github.com/billcons/billcons/writers"
)

// TestDiffMovedAndShared: a late trusteeship change moves a member's
// lines from itself to a management account (seed 000, Scenario 2: the
// payer follows the change); the diff counts them moved out of the old
// payer and into the new one with equal and opposite list deltas, and
// leaving out the bills files both versions share gives the same groups
// as comparing every line.
func TestDiffMovedAndShared(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	out, run, late := demoNights(t, loc, "Asia/Shanghai")
	run("")
	// 1000000000000014 pays for itself in the demo; it joins
	// 2000000000000002 on 2024-03-01.
	run(late("late-01,1000000000000014,trusteeship,2000000000000002,2024-03-01T00:00:00+08:00"))
	v1, _ := storage.Resolve(out, 1)
	v2, _ := storage.Resolve(out, 2)

	d, err := OpenDiff(context.Background(), v1, v2, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(d.same) == 0 {
		t.Fatal("no bills file is shared between the versions: the test does not test leaving them out")
	}
	var got bytes.Buffer
	if _, err := d.Print(context.Background(), &got, CSV, false); err != nil {
		t.Fatal(err)
	}
	all, err := openDiff(context.Background(), v1, v2, t.TempDir(), false) // every line compared
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	var want bytes.Buffer
	all.Print(context.Background(), &want, CSV, false)
	if got.String() != want.String() {
		t.Fatalf("the diff without the shared files:\n%s\nwant, comparing every line:\n%s", &got, &want)
	}
	rows := strings.Split(strings.TrimSpace(got.String()), "\n")
	var out1, in2 []string
	for _, r := range rows[1:] {
		f := strings.Split(r, ",")
		if f[0] == "2024-03" && f[2] == "CNY" && f[1] == "1000000000000014" {
			out1 = f
		}
		if f[0] == "2024-03" && f[2] == "CNY" && f[1] == "2000000000000002" {
			in2 = f
		}
	}
	if out1 == nil || in2 == nil || out1[6] == "0" || out1[6] != in2[5] {
		t.Fatalf("want the member's March CNY lines moved out of 1000000000000014 and into 2000000000000002; got\n%s", &got)
	}
	// Nothing is lost between payers: the list deltas of all groups add up
	// to what the lines no longer billed (the member's refunds, which
	// trusteeship rejects) took away.
	var total, removed string
	d.conn.QueryRowContext(context.Background(), "SELECT CAST(sum(list_delta) AS VARCHAR) FROM diff_groups").Scan(&total)
	d.conn.QueryRowContext(context.Background(), "SELECT CAST(-coalesce(sum(from_list), 0) AS VARCHAR) FROM diff_lines WHERE change = 'removed'").Scan(&removed)
	if total == "" || total != removed {
		t.Fatalf("list deltas add up to %s, want %s (minus the removed lines)", total, removed)
	}
}

// TestDiffCorrections: once January is closed, a late change of January
// moves a member's January lines: February gets a − and + pair per line.
// The same night again differs in nothing; the diff of the night itself
// counts each correction (a pair's two rows, by payer) once, as added, and
// no line of January's own.
func TestDiffCorrections(t *testing.T) {
	out, run, late := demoNights(t, nil, "")
	run("")
	jan, _ := billing.ParseCycle("2024-01")
	if _, _, err := writers.CloseCycle(context.Background(), out, jan, 7, 0); err != nil {
		t.Fatal(err)
	}
	// 1000000000000014 pays for itself in the demo; late, it is found to
	// have joined 2000000000000002 on January 1.
	changes := late("late-01,1000000000000014,trusteeship,2000000000000002,2024-01-01T00:00:00+08:00")
	run(changes) // version 3
	run(changes) // version 4: the same
	diff := func(from, to int64) string {
		a, _ := storage.Resolve(out, from)
		b, _ := storage.Resolve(out, to)
		d, err := OpenDiff(context.Background(), a, b, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var got bytes.Buffer
		if _, err := d.Print(context.Background(), &got, CSV, true); err != nil {
			t.Fatal(err)
		}
		return got.String()
	}
	if got := diff(3, 4); strings.Count(got, "\n") != 1 {
		t.Errorf("the same night again differs:\n%s", got)
	}
	got := diff(2, 3)
	rows := strings.Split(strings.TrimSpace(got), "\n")[1:]
	if len(rows) == 0 {
		t.Fatal("the late change made no difference")
	}
	corrections := 0
	for _, r := range rows {
		switch {
		case strings.Contains(r, "(payer_changed of 2024-01, "):
			corrections++
			if !strings.Contains(r, ",added,") {
				t.Errorf("want each correction added once: %s", r)
			}
		case strings.Contains(r, ",2024-01,"):
			t.Errorf("a closed line differs: %s", r)
		}
	}
	if corrections == 0 {
		t.Error("no correction row in the diff")
	}
}

// demoNights runs the demo quarter's nights into one tree, out, in zone
// loc (nil: the default): run(changes) with the demo's changes ("") or
// with those late gives, the demo's changes and one more row.
func demoNights(t *testing.T, loc *time.Location, zone string) (out string, run func(changes string), late func(row string) string) {
	in, _ := filepath.Abs("../fixtures/demo")
	demoChanges, err := os.ReadFile(filepath.Join(in, "changes.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out = filepath.Join(t.TempDir(), "out")
	run = func(changes string) {
		t.Helper()
		if changes == "" {
			changes = filepath.Join(in, "changes.csv")
		}
		if _, err := pipeline.Run(context.Background(), pipeline.Config{Usage: []string{in + "/usage.csv"}, Changes: []string{changes},
			Out: out, Zone: loc, ZoneName: zone, MaxRejectRatio: -1}); err != nil {
			t.Fatal(err)
		}
	}
	late = func(row string) string {
		p := filepath.Join(t.TempDir(), "changes.csv")
		os.WriteFile(p, append(demoChanges, []byte(row+"\n")...), 0o644)
		return p
	}
	return out, run, late
}
