package query

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/pipeline"
	"github.com/billcons/billcons/rules"
)

// The differential test: the payer rules written twice, once as the Go
// engine (package rules, run through pipeline.Run) and once as DuckDB SQL
// (testdata/rules.sql after testdata/csv_inputs.sql, written from
// CONTRACT.md alone), run on many random
// datasets; every line must get the same payer_account_id, decided_by and
// held_by from both, and both must bill the same lines.

var (
	diffSeeds = flag.Int("diff.seeds", 200, "random datasets the differential test runs")
	diffFirst = flag.Uint64("diff.seed", 1, "the first seed of the differential test")
)

// dataset is one random input: rows of the usage and changes CSV files.
type dataset struct {
	tz      string
	timing  string
	usage   [][]string // without the header
	changes [][]string
}

var (
	usageHeader   = []string{"gen_seq", "line_id", "account_id", "product_code", "billing_cycle", "subscription_type", "usage_start", "usage_end", "list_amount", "currency", "payment_status", "issued_at", "settled_at"}
	changesHeader = []string{"gen_seq", "change_id", "account_id", "policy", "management_account_id", "changed_at"}
)

// generate makes a dataset built to land on the rules' edges: several
// changes per member and cycle, changes exactly on line boundaries and on
// month boundaries in the billing time zone, unsettled bills and bills
// settled after a change, and changes that must be rejected.
func generate(seed uint64) dataset {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	zones := []string{"Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata"}
	d := dataset{tz: zones[r.IntN(len(zones))], timing: []string{"end-time", "next-period"}[r.IntN(2)]}
	loc, _ := time.LoadLocation(d.tz)
	nMembers := 2 + r.IntN(5)
	members := make([]string, nMembers)
	for i := range members {
		members[i] = fmt.Sprintf("m%d", i+1)
	}
	managers := []string{"MA", "MB", "MC"}
	monthStart := func(m int) time.Time { return time.Date(2024, time.Month(1+m), 1, 0, 0, 0, 0, loc) }
	// Candidate instants: month starts, and hours within the three months.
	randInstant := func() time.Time {
		if r.IntN(4) == 0 {
			return monthStart(r.IntN(4))
		}
		return monthStart(0).Add(time.Duration(r.IntN(24*88)) * time.Hour)
	}
	rfc := func(t time.Time) string {
		if r.IntN(3) == 0 {
			return t.UTC().Format(time.RFC3339)
		}
		return t.Format(time.RFC3339)
	}

	// Changes.
	type chg struct {
		id, member, policy, mgmt string
		at                       time.Time
	}
	var changes []chg
	for _, m := range members {
		if r.IntN(5) > 0 { // most members start in trusteeship before the cycles
			changes = append(changes, chg{"", m, "trusteeship", managers[r.IntN(len(managers))], monthStart(0).Add(-time.Duration(1+r.IntN(200)) * time.Hour)})
		}
		for n := r.IntN(4); n > 0; n-- {
			c := chg{member: m, at: randInstant()}
			switch x := r.IntN(10); {
			case x < 6:
				c.policy, c.mgmt = "trusteeship", managers[r.IntN(len(managers))]
			case x < 8:
				c.policy = "none"
			case x < 9:
				c.policy, c.mgmt = "trusteeship", m // self: rejected
			default:
				c.policy, c.mgmt = "trusteeship", members[r.IntN(len(members))] // a chain, or self
			}
			changes = append(changes, c)
		}
	}
	for i := range changes {
		changes[i].id = fmt.Sprintf("k%d", i+1)
	}

	// Lines: hourly and daily, per member and product, some starting or
	// ending exactly at a change.
	line := 0
	var rows [][]string
	addLine := func(m, product string, start time.Time, dur time.Duration) {
		line++
		end := start.Add(dur)
		cycle := start.In(loc).Format("2006-01")
		issued := end.Add(time.Duration(1+r.IntN(3)) * time.Hour)
		status, settled := "settled", ""
		switch x := r.IntN(20); {
		case x < 3:
			status = "unsettled"
		case x < 4:
			// settled, no settled_at
		case x < 10 && len(changes) > 0:
			// settled just after a change of this member, if there is one
			for _, c := range changes {
				if c.member == m && r.IntN(2) == 0 {
					settled = rfc(c.at.Add(time.Duration(r.IntN(3)-1) * time.Hour))
					break
				}
			}
			if settled == "" {
				settled = rfc(issued.Add(time.Duration(r.IntN(400)) * time.Hour))
			}
		default:
			settled = rfc(issued.Add(time.Duration(r.IntN(400)) * time.Hour))
		}
		if settled != "" {
			if t, _ := time.Parse(time.RFC3339, settled); t.Before(issued) {
				settled = rfc(issued)
			}
		}
		amount := fmt.Sprintf("%d.%0*d", r.IntN(200)-20, 1+r.IntN(9), r.IntN(10))
		id := fmt.Sprintf("L%d", line)
		if line > 1 && r.IntN(30) == 0 {
			id = fmt.Sprintf("L%d", 1+r.IntN(line-1)) // a duplicate line id
		}
		sub := []string{"payasyougo", "payg", "subscription"}[r.IntN(3)]
		row := []string{"", id, m, product, cycle, sub, rfc(start), rfc(end), amount, "CNY", status, rfc(issued), settled}
		if r.IntN(40) == 0 {
			row[8] = "12,5" // malformed amount: rejected
		}
		rows = append(rows, row)
	}
	products := []string{"ecs", "oss"}
	for _, m := range members {
		for _, p := range products {
			for n := 3 + r.IntN(10); n > 0; n-- {
				dur := time.Hour
				if r.IntN(2) == 0 {
					dur = 24 * time.Hour
				}
				start := monthStart(0).Add(time.Duration(r.IntN(24*85)) * time.Hour)
				addLine(m, p, start, dur)
			}
		}
	}
	for _, c := range changes { // lines exactly on the change: ending at it, starting at it
		if r.IntN(2) == 0 {
			p := products[r.IntN(len(products))]
			addLine(c.member, p, c.at.Add(-time.Hour), time.Hour)
			addLine(c.member, p, c.at, time.Hour)
		}
	}
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for i := range rows {
		rows[i][0] = fmt.Sprint(i)
	}
	d.usage = rows

	// Changes to the file, with copies, ambiguous ids and times and a
	// malformed one mixed in.
	var crows [][]string
	for _, c := range changes {
		crows = append(crows, []string{"", c.id, c.member, c.policy, c.mgmt, rfc(c.at)})
		switch r.IntN(25) {
		case 0: // a copy, the instant spelled in another offset
			crows = append(crows, []string{"", c.id, c.member, strings.ToUpper(c.policy), c.mgmt, c.at.UTC().Format(time.RFC3339)})
		case 1: // the same id for another change
			crows = append(crows, []string{"", c.id, c.member, "none", "", rfc(c.at.Add(time.Hour))})
		case 2: // another change of the member at the same instant
			crows = append(crows, []string{"", c.id + "b", c.member, "trusteeship", managers[r.IntN(len(managers))], rfc(c.at)})
		case 3: // malformed
			crows = append(crows, []string{"", c.id + "x", c.member, "trusteeship", "MA", "2024-13-01T00:00:00Z"})
		}
	}
	r.Shuffle(len(crows), func(i, j int) { crows[i], crows[j] = crows[j], crows[i] })
	for i := range crows {
		crows[i][0] = fmt.Sprint(i)
	}
	d.changes = crows
	return d
}

func writeCSV(path string, header []string, rows [][]string) error {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(header)
	w.WriteAll(rows)
	if err := w.Error(); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// disagreement runs both implementations on d and returns what they
// disagree on, or "".
func disagreement(t *testing.T, db *sql.DB, base string, d dataset) string {
	t.Helper()
	// A fresh folder each time: DuckDB caches file contents by path and
	// modification time, which a rewrite within the same second can fool.
	runs++
	dir := filepath.Join(base, fmt.Sprint(runs))
	defer os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	usage, changes, out := filepath.Join(dir, "usage.csv"), filepath.Join(dir, "changes.csv"), filepath.Join(dir, "out")
	if err := writeCSV(usage, usageHeader, d.usage); err != nil {
		t.Fatal(err)
	}
	if err := writeCSV(changes, changesHeader, d.changes); err != nil {
		t.Fatal(err)
	}
	loc, err := billing.ParseZone(d.tz)
	if err != nil {
		t.Fatal(err)
	}
	timing, _ := rules.ParseTiming(d.timing)
	if _, err := pipeline.Run(context.Background(), pipeline.Config{Usage: []string{usage}, Changes: []string{changes}, Out: out,
		Timing: timing, Zone: loc, ZoneName: d.tz, MaxRejectRatio: -1}); err != nil {
		t.Fatalf("billcons run: %v", err)
	}
	script := rulesSQL
	for k, v := range map[string]string{"{{usage}}": Literal(usage), "{{changes}}": Literal(changes), "{{tz}}": Literal(d.tz), "{{timing}}": Literal(d.timing)} {
		script = strings.ReplaceAll(script, k, v)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), script); err != nil {
		t.Fatalf("rules.sql: %v", OneLine(err))
	}
	var diff strings.Builder
	rows, err := conn.QueryContext(context.Background(), `
		SELECT coalesce(e.line_id, g.line_id), e.payer_account_id, g.payer_account_id, e.decided_by, g.decided_by, e.held_by, g.held_by
		FROM expected e FULL JOIN read_parquet(`+Literal(out+"/bills/**/*.parquet")+`, hive_partitioning = true,
			hive_types = {'billing_cycle': VARCHAR, 'payer_account_id': VARCHAR}) g USING (line_id)
		WHERE e.payer_account_id IS DISTINCT FROM g.payer_account_id OR e.decided_by IS DISTINCT FROM g.decided_by
		   OR e.held_by IS DISTINCT FROM g.held_by
		ORDER BY 1 LIMIT 10`)
	if err != nil {
		if strings.Contains(err.Error(), "No files found") { // billcons billed nothing
			rows, err = conn.QueryContext(context.Background(), `SELECT line_id, payer_account_id, NULL, decided_by, NULL, held_by, NULL FROM expected LIMIT 10`)
		}
		if err != nil {
			t.Fatal(OneLine(err))
		}
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ep, gp, ed, gd, eh, gh sql.NullString
		rows.Scan(&id, &ep, &gp, &ed, &gd, &eh, &gh)
		fmt.Fprintf(&diff, "  line %s: SQL says payer %s decided_by %s held_by %s; billcons says payer %s decided_by %s held_by %s\n",
			id, ns(ep), ns(ed), ns(eh), ns(gp), ns(gd), ns(gh))
	}
	return diff.String()
}

func ns(s sql.NullString) string {
	if !s.Valid {
		return "null"
	}
	return s.String
}

var runs int

// rulesSQL is the differential's input script, then the rules.
var rulesSQL = func() string {
	var s string
	for _, f := range []string{"testdata/csv_inputs.sql", "testdata/rules.sql"} {
		b, err := os.ReadFile(f)
		if err != nil {
			panic(err)
		}
		s += string(b)
	}
	return s
}()

// shrink removes usage rows and changes one at a time while the two still
// disagree, to report the smallest dataset that does.
func shrink(t *testing.T, db *sql.DB, dir string, d dataset) dataset {
	for _, field := range []*[][]string{&d.changes, &d.usage} {
		for i := 0; i < len(*field); {
			trial := d
			rows := append(append([][]string(nil), (*field)[:i]...), (*field)[i+1:]...)
			if field == &d.changes {
				trial.changes = rows
			} else {
				trial.usage = rows
			}
			if disagreement(t, db, dir, trial) != "" {
				*field = rows
				continue
			}
			i++
		}
	}
	return d
}

func TestDifferentialRules(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dir := t.TempDir()
	var lines, held, moved int
	for seed := *diffFirst; seed < *diffFirst+uint64(*diffSeeds); seed++ {
		d := generate(seed)
		lines += len(d.usage)
		if diff := disagreement(t, db, filepath.Join(dir, "run"), d); diff != "" {
			small := shrink(t, db, filepath.Join(dir, "run"), d)
			var b strings.Builder
			fmt.Fprintf(&b, "seed %d (--tz %s --timing %s): billcons and rules.sql disagree:\n%s", seed, d.tz, d.timing, diff)
			fmt.Fprintf(&b, "smallest dataset that still disagrees:\nusage.csv:\n%s\nchanges.csv:\n%s%s",
				csvText(usageHeader, small.usage), csvText(changesHeader, small.changes), disagreement(t, db, filepath.Join(dir, "run"), small))
			t.Fatal(b.String())
		}
		var h, m int
		db.QueryRow(`SELECT count(*) FILTER (WHERE held_by IS NOT NULL), count(*) FILTER (WHERE payer_account_id <> (SELECT account_id FROM lines l WHERE l.line_id = e.line_id)) FROM expected e`).Scan(&h, &m)
		held += h
		moved += m
	}
	t.Logf("%d seeds, %d usage rows: every line agrees (%d held back by an unsettled bill, %d paid by a management account)", *diffSeeds, lines, held, moved)
}

func csvText(header []string, rows [][]string) string {
	var b strings.Builder
	b.WriteString(strings.Join(header, ",") + "\n")
	for _, r := range rows {
		b.WriteString(strings.Join(r, ",") + "\n")
	}
	return b.String()
}
