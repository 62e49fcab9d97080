package query

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/writers"
)

var (
	corrHistories = flag.Int("diff.histories", 200, "random histories with closes the corrections differential runs")
	corrFirst     = flag.Uint64("diff.history", 1, "the first history of the corrections differential")
)

func readSQL(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// correctionsSQL is CONTRACT.md's Corrections written as DuckDB SQL from the
// contract alone (testdata/corrections.sql).
var correctionsSQL = func() string {
	b, err := os.ReadFile("testdata/corrections.sql")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// mutateClosed makes the next night's inputs of a history whose cycles up
// to last are closed: amounts of closed lines corrected, closed lines
// spoiled (rejected now), missing or paid since, late lines of closed
// cycles, late trusteeship changes inside closed cycles and discount rates
// changed.
// It returns the cycles the night restates (their inputs whole).
func mutateClosed(r *rand.Rand, d dataset, last string, round int) (dataset, []string) {
	closed := func(row []string) bool { return row[4] <= last && len(row[4]) == 7 }
	// Spoiling the first row of a line_id on several rows makes another
	// row the line, perhaps of an open cycle: a line that changes cycle.
	var usage [][]string
	for _, row := range d.usage {
		row = slices.Clone(row)
		if closed(row) {
			switch x := r.IntN(100); {
			case x < 6:
				row[8] = fmt.Sprintf("%d.%03d", r.IntN(90), r.IntN(1000)) // a corrected amount
			case x < 9:
				row[8] = "x" + row[8] // spoiled: rejected now
			case x < 12:
				continue // missing from tonight's export
			case x < 30 && strings.EqualFold(row[10], "unsettled"):
				row[10], row[12] = "settled", row[11] // paid since, reported as paid at its issue: corrects nothing
			}
		}
		usage = append(usage, row)
	}
	var closedRows [][]string
	for _, row := range d.usage {
		if closed(row) {
			closedRows = append(closedRows, row)
		}
	}
	for i := 0; i < 1+r.IntN(4) && len(closedRows) > 0; i++ { // late lines
		row := slices.Clone(closedRows[r.IntN(len(closedRows))])
		row[1] = fmt.Sprintf("LATE%d-%d", round, i)
		row[8] = fmt.Sprintf("%d.5", r.IntN(50))
		usage = append(usage, row)
	}
	// The rows keep their order, late ones last: which of two rows with
	// one line_id is the line (the first read) stays as it was invoiced.
	for i := range usage {
		usage[i][0] = fmt.Sprint(i)
	}
	d.usage = usage

	changes := slices.Clone(d.changes)
	loc, _ := time.LoadLocation(d.tz)
	lastCycle, _ := billing.ParseCycle(last)
	members := map[string]bool{}
	for _, row := range d.usage {
		members[row[2]] = true
	}
	ms := slices.Sorted(func(yield func(string) bool) {
		for m := range members {
			if !yield(m) {
				return
			}
		}
	})
	for i := 0; i < r.IntN(3) && len(ms) > 0; i++ { // late changes, inside a closed cycle
		start := billing.Cycle(2024 * 12).Start(loc)
		end := (lastCycle + 1).Start(loc)
		at := start.Add(time.Duration(r.Int64N(int64(end.Sub(start)/time.Hour))) * time.Hour)
		row := []string{"", fmt.Sprintf("late%d-%d", round, i), ms[r.IntN(len(ms))], "trusteeship", []string{"MA", "MB", "MC"}[r.IntN(3)], at.Format(time.RFC3339)}
		if r.IntN(3) == 0 {
			row[3], row[4] = "none", ""
		}
		changes = append(changes, row)
	}
	for i := range changes {
		changes[i] = slices.Clone(changes[i])
		changes[i][0] = fmt.Sprint(i)
	}
	d.changes = changes

	if len(d.discounts) > 0 && r.IntN(3) == 0 { // a discount rate corrected
		ds := make([][]string, len(d.discounts))
		for i, row := range d.discounts {
			ds[i] = slices.Clone(row)
		}
		ds[r.IntN(len(ds))][3] = fmt.Sprintf("0.%02d", 1+r.IntN(40))
		d.discounts = ds
	}
	var restate []string
	if r.IntN(3) == 0 {
		restate = append(restate, last)
	}
	return d, restate
}

// history is one random history with closes: a night, a close of
// 2024-01, a night with mutated inputs, and sometimes a close of 2024-02
// and a third night. It returns what billcons and the SQL disagree on.
func history(t *testing.T, db *sql.DB, base string, seed uint64, corrSQL string, stats *corrStats) string {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0xc105e))
	d := generate(seed)
	dir := filepath.Join(base, fmt.Sprint(seed))
	defer os.RemoveAll(dir)
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	loc, err := billing.ParseZone(d.tz)
	if err != nil {
		t.Fatal(err)
	}
	timing, _ := rules.ParseTiming(d.timing)
	rounds := 2 + r.IntN(2)
	closedThrough := ""
	for round := 1; round <= rounds; round++ {
		var restate []string
		if round > 1 {
			closedThrough = fmt.Sprintf("2024-%02d", round-1)
			target, _ := billing.ParseCycle(closedThrough)
			m, err := writers.ReadManifest(out)
			if err != nil {
				t.Fatal(err)
			}
			var toClose []billing.Cycle // every open cycle with lines up to target, in order
			for _, ct := range m.Cycles {
				c, _ := billing.ParseCycle(ct.Cycle)
				if c <= target && !m.IsClosed(c) && !slices.Contains(toClose, c) {
					toClose = append(toClose, c)
				}
			}
			if len(toClose) == 0 || toClose[len(toClose)-1] != target {
				toClose = append(toClose, target)
			}
			for _, c := range toClose {
				if _, _, err := writers.CloseCycle(ctx, out, c, 7, 0); err != nil {
					t.Fatalf("seed %d: close %s: %v", seed, c, err)
				}
			}
			d, restate = mutateClosed(r, d, closedThrough, round)
		}
		in := filepath.Join(dir, fmt.Sprint("in", round))
		os.MkdirAll(in, 0o755)
		cfg, vars := nightInputs(t, in, out, d, loc, timing)
		for _, c := range restate {
			cy, _ := billing.ParseCycle(c)
			cfg.Restate = append(cfg.Restate, cy)
		}
		if _, err := pipeline.Run(ctx, cfg); err != nil {
			t.Fatalf("seed %d round %d: billcons run: %v", seed, round, err)
		}
		script := rulesSQL
		if round > 1 {
			// The invoiced statuses, between the inputs and the rules.
			script = readSQL("testdata/csv_inputs.sql") + strings.ReplaceAll(readSQL("testdata/invoiced_status.sql"), "{{last}}", Literal(closedThrough)) +
				readSQL("testdata/rules.sql") + readSQL("testdata/settlement_inputs.sql") + readSQL("testdata/settlement.sql")
		}
		for k, v := range vars {
			script = strings.ReplaceAll(script, k, v)
		}
		if _, err := conn.ExecContext(ctx, script); err != nil {
			t.Fatalf("seed %d round %d: rules.sql: %v", seed, round, OneLine(err))
		}
		if round == 1 {
			// What January invoices: the SQL's own lines, not billcons'.
			if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TABLE ledger AS
				SELECT e.line_id, e.billing_cycle AS row_cycle, e.billing_cycle AS corrects_cycle, 0 AS ord, NULL::VARCHAR AS reason,
				       e.payer, e.account_id, e.product_code, e.currency, e.list_amount, e.discount_amount, l.payment_status, l.settled_at
				FROM expected_discounts e JOIN lines l USING (line_id) WHERE e.billing_cycle <= '2024-01';
				CREATE OR REPLACE TABLE applied_ledger AS SELECT * FROM expected_applied WHERE billing_cycle <= '2024-01'`); err != nil {
				t.Fatal(OneLine(err))
			}
			continue
		}
		open := fmt.Sprintf("2024-%02d", round)
		list := "[]::VARCHAR[]"
		if len(restate) > 0 {
			list = "['" + strings.Join(restate, "','") + "']"
		}
		q := strings.NewReplacer("{{last}}", Literal(closedThrough), "{{open}}", Literal(open), "{{restate}}", list).Replace(corrSQL)
		if _, err := conn.ExecContext(ctx, q); err != nil {
			t.Fatalf("seed %d round %d: corrections.sql: %v", seed, round, OneLine(err))
		}
		if diff := compareNight(t, conn, out, closedThrough, open); diff != "" {
			return fmt.Sprintf("round %d (closed through %s, restate %v):\n%s", round, closedThrough, restate, diff)
		}
		var n int64
		conn.QueryRowContext(ctx, `SELECT count(*) FROM expected_corrections`).Scan(&n)
		stats.rows += n
		rows, err := conn.QueryContext(ctx, `SELECT reason, count(*) FROM expected_corrections GROUP BY 1`)
		if err != nil {
			t.Fatal(OneLine(err))
		}
		for rows.Next() {
			var reason string
			var k int64
			rows.Scan(&reason, &k)
			stats.reasons[reason] += k
		}
		rows.Close()
		// The open cycle's own lines and its corrections freeze with it
		// when it closes next round.
		if _, err := conn.ExecContext(ctx, `INSERT INTO ledger
			SELECT c.line_id, `+Literal(open)+`, c.corrects_cycle, c.ord, c.reason, c.payer, c.account_id, c.product_code, c.currency,
			       c.list_amount, c.discount_amount, l.payment_status, l.settled_at
			FROM expected_corrections c LEFT JOIN lines l USING (line_id);
			INSERT INTO ledger
			SELECT e.line_id, e.billing_cycle, e.billing_cycle, 0, NULL, e.payer, e.account_id, e.product_code, e.currency,
			       e.list_amount, e.discount_amount, l.payment_status, l.settled_at
			FROM expected_discounts e JOIN lines l USING (line_id) WHERE e.billing_cycle = `+Literal(open)); err != nil {
			t.Fatal(OneLine(err))
		}
	}
	stats.histories++
	return ""
}

type corrStats struct {
	histories, rows int64
	reasons         map[string]int64
}

// nightInputs writes a night's inputs to dir and returns billcons' config
// and the SQL's variables.
func nightInputs(t *testing.T, dir, out string, d dataset, loc *time.Location, timing rules.Timing) (pipeline.Config, map[string]string) {
	usage, changes := filepath.Join(dir, "usage.csv"), filepath.Join(dir, "changes.csv")
	if err := writeCSV(usage, usageHeader, d.usage); err != nil {
		t.Fatal(err)
	}
	if err := writeCSV(changes, changesHeader, d.changes); err != nil {
		t.Fatal(err)
	}
	cfg := pipeline.Config{Usage: []string{usage}, Changes: []string{changes}, Out: out,
		Timing: timing, Zone: loc, ZoneName: d.tz, MaxRejectRatio: -1}
	vars := map[string]string{"{{usage}}": Literal(usage), "{{changes}}": Literal(changes), "{{tz}}": Literal(d.tz), "{{timing}}": Literal(d.timing)}
	for kind, rows := range map[string][][]string{"accounts": d.accounts, "enterprises": d.enterprises, "discounts": d.discounts,
		"credits": d.credits, "balances": d.balances} {
		p := filepath.Join(dir, kind+".csv")
		if err := writeCSV(p, settleHeaders[kind], rows); err != nil {
			t.Fatal(err)
		}
		vars["{{"+kind+"}}"] = Literal(p)
		if rows == nil {
			continue
		}
		switch kind {
		case "accounts":
			cfg.Accounts = []string{p}
		case "enterprises":
			cfg.Enterprises = []string{p}
		case "discounts":
			cfg.Discounts = []string{p}
		case "credits":
			cfg.Credits = []string{p}
		case "balances":
			cfg.Balances = []string{p}
		}
	}
	return cfg, vars
}

// compareNight compares billcons' bills with the SQL's: the closed cycles
// row for row with the ledger (frozen), the open cycle's correction rows
// with expected_corrections, and the open cycles' own lines with the
// rules, each as a multiset, to the last digit; and the credits applied
// in the cycles closed first, in order, with what the SQL settled then.
func compareNight(t *testing.T, conn *sql.Conn, out, last, open string) string {
	bills := `read_parquet(` + Literal(out+"/bills/**/*.parquet") + `, hive_partitioning = true, hive_types = {'billing_cycle': VARCHAR}, union_by_name = true)`
	checks := []struct{ what, got, want string }{
		{"closed cycles (frozen)",
			`SELECT billing_cycle, payer_account_id, line_id, coalesce(correction_reason, ''), list_amount, discount_amount FROM ` + bills + ` WHERE billing_cycle <= ` + Literal(last),
			`SELECT row_cycle, payer, line_id, coalesce(reason, ''), list_amount, discount_amount FROM ledger`},
		{"correction rows",
			`SELECT payer_account_id, line_id, correction_reason, corrects_cycle, account_id, product_code, currency, list_amount, discount_amount FROM ` + bills +
				` WHERE charge_class = 'correction' AND billing_cycle = ` + Literal(open),
			`SELECT payer, line_id, reason, corrects_cycle, account_id, product_code, currency, list_amount, discount_amount FROM expected_corrections`},
		{"credits applied in the first closed cycles (frozen)",
			`SELECT n, billing_cycle, payer_account_id, account_id, product_code, currency, credit_id, kind, owner_account_id, amount
			 FROM (SELECT row_number() OVER () AS n, * FROM read_parquet(` + Literal(out+"/credits/applied.parquet") + `)) WHERE billing_cycle <= '2024-01'`,
			`SELECT n, billing_cycle, payer_account_id, account_id, product_code, currency, credit_id, kind, owner_account_id, amount
			 FROM expected_closed_applied WHERE billing_cycle <= '2024-01'`},
		{"open cycles' own lines",
			`SELECT billing_cycle, payer_account_id, line_id, list_amount, discount_amount FROM ` + bills + ` WHERE billing_cycle > ` + Literal(last) + ` AND charge_class IS NULL`,
			`SELECT billing_cycle, payer, line_id, list_amount, discount_amount FROM expected_discounts WHERE billing_cycle > ` + Literal(last)},
	}
	var diff strings.Builder
	for _, c := range checks {
		for _, side := range []struct{ name, a, b string }{{"billcons only", c.got, c.want}, {"SQL only", c.want, c.got}} {
			rows, err := conn.QueryContext(context.Background(), `SELECT * FROM ((`+side.a+`) EXCEPT ALL (`+side.b+`)) ORDER BY ALL LIMIT 8`)
			if err != nil {
				if strings.Contains(err.Error(), "No files found") {
					continue
				}
				t.Fatalf("%s: %v", c.what, OneLine(err))
			}
			cols, _ := rows.Columns()
			for rows.Next() {
				vals := make([]any, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				rows.Scan(ptrs...)
				fmt.Fprintf(&diff, "  %s, %s: %v\n", c.what, side.name, vals)
			}
			rows.Close()
		}
	}
	return diff.String()
}

// TestDifferentialCorrections runs random histories with closes through
// billcons and through corrections.sql, a reading of the contract's
// Corrections in DuckDB SQL that keeps its own ledger of what was
// invoiced: every closed row stays as invoiced, and every correction row,
// its payer, reason and amounts, agrees to the last digit.
func TestDifferentialCorrections(t *testing.T) {
	// Two halves at once, each with its own DuckDB: a history is mostly
	// one core's work (billcons' runs, then DuckDB's script).
	const parts = 2
	all := make([]*corrStats, parts)
	t.Run("histories", func(t *testing.T) {
		for part := range parts {
			stats := &corrStats{reasons: map[string]int64{}}
			all[part] = stats
			t.Run(fmt.Sprint(part), func(t *testing.T) {
				t.Parallel()
				db, err := sql.Open("duckdb", "")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				dir := t.TempDir()
				for seed := *corrFirst + uint64(part); seed < *corrFirst+uint64(*corrHistories); seed += parts {
					if diff := history(t, db, dir, seed, correctionsSQL, stats); diff != "" {
						t.Fatalf("seed %d: billcons and corrections.sql disagree, %s", seed, diff)
					}
				}
			})
		}
	})
	total := &corrStats{reasons: map[string]int64{}}
	for _, s := range all {
		total.histories += s.histories
		total.rows += s.rows
		for k, v := range s.reasons {
			total.reasons[k] += v
		}
	}
	t.Logf("%d histories, %d correction rows agree: %v", total.histories, total.rows, total.reasons)
	if *corrHistories >= 50 && !t.Failed() {
		for _, reason := range []string{"late_line", "line_withdrawn", "payer_changed", "amount_changed", "discount_changed"} {
			if total.reasons[reason] == 0 {
				t.Errorf("no history made a %s correction: the comparison proves nothing for it", reason)
			}
		}
	}
}

// TestDifferentialCorrectionsCatches: the comparison fails when the SQL
// reading is wrong in the ways the contract forbids: a + row to the
// invoiced payer instead of the payer now, a withdrawal of every missing
// line (not only restated or rejected ones), the discount ignored, or a
// closed cycle's credits recomputed from tonight's inputs.
func TestDifferentialCorrectionsCatches(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	for _, m := range []struct{ name, from, to string }{
		{"corrected to the wrong payer", "SELECT line_id, w_payer, w_account", "SELECT line_id, coalesce(n_payer, w_payer), w_account"},
		{"every missing line withdrawn", "WHEN w.line_id IS NULL AND (n.line_id IN", "WHEN w.line_id IS NULL AND (true OR n.line_id IN"},
		{"discount changes ignored", "WHEN n.discount_amount <> w.discount_amount THEN 'discount_changed'", "WHEN false THEN 'discount_changed'"},
		{"a closed cycle's credits recomputed", "SELECT * FROM applied_ledger;", "SELECT * FROM expected_applied;"},
	} {
		mutated := strings.Replace(correctionsSQL, m.from, m.to, 1)
		if mutated == correctionsSQL {
			t.Fatalf("%s: the mutation matches nothing", m.name)
		}
		caught := false
		stats := &corrStats{reasons: map[string]int64{}}
		for seed := uint64(1); seed <= 40 && !caught; seed++ {
			caught = history(t, db, dir, seed, mutated, stats) != ""
		}
		if !caught {
			t.Errorf("%s: 40 histories agree with the mutated SQL", m.name)
		}
	}
}
