package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
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
			if ev["stage"] == "read_usage" && ev["rows"] != float64(1681) {
				t.Errorf("read_usage rows = %v, want 1681", ev["rows"])
			}
		case "done":
			done = ev
		default:
			t.Errorf("unexpected event %v", ev)
		}
	}
	want := "hash_inputs read_accounts read_changes read_settlement read_usage find_duplicates assign_payers write_bills settle write_rejects commit"
	if got := strings.Join(stages, " "); got != want {
		t.Errorf("stages %q, want %q", got, want)
	}
	if done == nil || done["usage_billed"] != float64(1679) || done["exit"] != float64(0) {
		t.Errorf("done event %v", done)
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
