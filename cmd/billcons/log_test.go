package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"
)

// TestLogFormatJSON: with --log-format json every line of stderr is one JSON
// event: one per stage with its duration and counts, then "done"; or, on
// failure, "failed" with the error and the exit status.
func TestLogFormatJSON(t *testing.T) {
	t.Chdir(t.TempDir())
	args := append(inputs(t, "in", false), "--out", "out", "--log-format", "json")
	var out, errb strings.Builder
	if code := Main(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var stages []string
	var done map[string]any
	var added float64 // over the "changed" events, one per cycle
	for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("not a JSON event: %q", l)
		}
		switch ev["msg"] {
		case "stage":
			if _, ok := ev["seconds"].(float64); !ok {
				t.Errorf("stage without seconds: %v", ev)
			}
			stages = append(stages, ev["stage"].(string))
			if ev["stage"] == "read_usage" && ev["rows"] != float64(1687) {
				t.Errorf("read_usage rows = %v, want 1687", ev["rows"])
			}
		case "changed":
			if ev["against"] != float64(0) || ev["billing_cycle"] == "" {
				t.Errorf("a first version's changed event: %v", ev)
			}
			added += ev["lines_added"].(float64)
		case "done":
			done = ev
		case "alert": // the demo's balances raise some: TestAlertEvents checks them
		default:
			t.Errorf("unexpected event %v", ev)
		}
	}
	want := "hash_inputs read_accounts read_changes read_settlement read_usage find_duplicates assign_payers write_bills settle write_rejects guards commit"
	if got := strings.Join(stages, " "); got != want {
		t.Errorf("stages %q, want %q", got, want)
	}
	if done == nil || done["usage_billed"] != float64(1683) || done["exit"] != float64(0) || done["version"] != float64(1) {
		t.Errorf("done event %v", done)
	}
	if added != 1683 {
		t.Errorf("the changed events add %v lines, want the 1683 billed", added)
	}

	// A failure is one event too, carrying the error and the exit status.
	errb.Reset()
	args = []string{"run", "--usage", "in/none.csv", "--changes", "in/changes.csv", "--out", "out", "--log-format", "json"}
	if code := Main(context.Background(), args, &out, &errb); code != exitFailed {
		t.Fatalf("exit %d, want %d", code, exitFailed)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(errb.String()), &ev); err != nil || ev["msg"] != "failed" || ev["exit"] != float64(1) ||
		!strings.Contains(ev["error"].(string), "in/none.csv: no such file or directory") {
		t.Errorf("failure logged as %q", errb.String())
	}
}

func TestCount(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestAlertEvents: each alert is one "alert" event in --log-format json and
// one line on stderr in text mode, and never fails the run (CONTRACT.md,
// alerts; seed 000: alerts go to the management account).
func TestAlertEvents(t *testing.T) {
	fixture := "../../fixtures/testdata/settlement-alerts.txtar"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			ar, err := txtar.ParseFile(fixture)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range ar.Files {
				if strings.HasPrefix(f.Name, "in/") {
					p := filepath.Join(dir, f.Name)
					os.MkdirAll(filepath.Dir(p), 0o755)
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Chdir(dir)
			args := []string{"run", "--usage", "in/usage.csv", "--changes", "in/changes.csv", "--discounts", "in/discounts.csv",
				"--balances", "in/balances.csv", "--out", "out", "--log-format", format}
			var out, errb strings.Builder
			if code := Main(context.Background(), args, &out, &errb); code != 0 {
				t.Fatalf("exit %d: %s", code, errb.String())
			}
			var alerts []string
			for _, l := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
				if format == "text" {
					if strings.HasPrefix(l, "billcons run: alert: ") {
						alerts = append(alerts, l)
					}
					continue
				}
				var ev map[string]any
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("not a JSON event: %q", l)
				}
				if ev["msg"] == "alert" {
					alerts = append(alerts, fmt.Sprintf("%v %v %v %v %v %v", ev["kind"], ev["billing_cycle"], ev["payer_account_id"], ev["amount_due"], ev["limit"], ev["members"]))
				}
			}
			want := []string{"spending 2024-01 MA 180.000000000 150.000000000 2", "low_credit 2024-02 MA 90.000000000 50.000000000 2",
				"low_credit 2024-02 T 0.000000000 -5.000000000 0"}
			if format == "text" {
				want = []string{
					"billcons run: alert: spending MA: MA owes 180.000000000 CNY in 2024-01, above its spending_alert of 150.000000000; it pays for 2 member(s)",
					"billcons run: alert: low_credit MA: MA owes 90.000000000 CNY in 2024-02, above its available credit of 50.000000000; it pays for 2 member(s)",
					"billcons run: alert: low_credit T: T owes 0.000000000 CNY in 2024-02, above its available credit of -5.000000000; it pays for 0 member(s)",
				}
			}
			if diff := cmp.Diff(want, alerts); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}
