package query

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/billcons/billcons/writers"
)

// Diff compares two versions of a tree, line by line (by line_id), in
// DuckDB. Open it with [OpenDiff]; it holds the temporary tables
// diff_lines (every line that differs and how) and diff_groups (per
// billing_cycle, payer_account_id and currency: lines added, removed,
// moved in and out, changed, and the deltas of the list, discount,
// effective and due amounts).
type Diff struct {
	db   *sql.DB
	conn *sql.Conn
	tmp  string
	// From and To are the folders compared; From is "" for a first run.
	From, To string

	from, to *writers.Manifest // nil for none
	// same are the bills files whose path and bytes both versions share:
	// their lines cannot differ, so the line diff leaves them out.
	same map[string]bool
}

// OpenDiff compares the version in folder from ("" for none: every line
// is added) with the version in folder to. DuckDB spills, if it must, to a
// folder under tmp that Close removes.
func OpenDiff(ctx context.Context, from, to, tmp string) (*Diff, error) {
	return openDiff(ctx, from, to, tmp, true)
}

// openDiff is OpenDiff; without share it compares the lines of every bills
// file, also those both versions share (for the test that leaving them out
// changes nothing).
func openDiff(ctx context.Context, from, to, tmp string, share bool) (*Diff, error) {
	spill, err := os.MkdirTemp(tmp, "diff-")
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		os.RemoveAll(spill)
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		os.RemoveAll(spill)
		return nil, err
	}
	d := &Diff{db: db, conn: conn, tmp: spill, From: from, To: to, same: map[string]bool{}}
	if err := d.readManifests(); err != nil {
		d.Close()
		return nil, err
	}
	if !share {
		d.same = map[string]bool{}
	}
	if err := d.build(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close releases DuckDB and its spill folder.
func (d *Diff) Close() error {
	d.conn.Close()
	err := d.db.Close()
	os.RemoveAll(d.tmp)
	return err
}

func (d *Diff) exec(ctx context.Context, q string) error {
	_, err := d.conn.ExecContext(ctx, q)
	return OneLine(err)
}

// readManifests reads each version's manifest once and finds the bills
// files the two share.
func (d *Diff) readManifests() (err error) {
	if d.From != "" {
		if d.from, err = writers.ReadManifest(d.From); err != nil {
			return err
		}
	}
	if d.to, err = writers.ReadManifest(d.To); err != nil {
		return err
	}
	if d.from == nil {
		return nil
	}
	have := make(map[string]string, len(d.from.Outputs))
	for _, o := range d.from.Outputs {
		have[o.Path] = o.SHA256
	}
	for _, o := range d.to.Outputs {
		if strings.HasPrefix(o.Path, "bills/") && have[o.Path] == o.SHA256 {
			d.same[o.Path] = true
		}
	}
	return nil
}

// files are the files of the version in dir (manifest m; none when m is
// nil) whose paths start with prefix, as absolute paths, less skip's.
func files(dir string, m *writers.Manifest, prefix string, skip map[string]bool) []string {
	if m == nil {
		return nil
	}
	var out []string
	for _, o := range m.Outputs {
		if strings.HasPrefix(o.Path, prefix) && !skip[o.Path] {
			out = append(out, filepath.Join(dir, filepath.FromSlash(o.Path)))
		}
	}
	return out
}

// lineTable makes table name of the bills lines of the version in dir
// (manifest m), less those of the files both versions share: a line
// that is in a shared file in one version is in it in the other too.
func (d *Diff) lineTable(ctx context.Context, name, dir string, m *writers.Manifest) error {
	cols := "line_id VARCHAR, billing_cycle VARCHAR, payer VARCHAR, currency VARCHAR, l DECIMAL(38,9), dis DECIMAL(38,9), e DECIMAL(38,9)"
	if err := d.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (%s)", name, cols)); err != nil {
		return err
	}
	files := files(dir, m, "bills/", d.same)
	if len(files) == 0 {
		return nil
	}
	src := fmt.Sprintf("read_parquet(%s, hive_partitioning = true, hive_types_autocast = false, union_by_name = true)", listLiteral(files))
	var corrections bool
	if err := d.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM (DESCRIBE SELECT * FROM `+src+`) WHERE column_name = 'charge_class'`).Scan(&corrections); err != nil {
		return OneLine(err)
	}
	if !corrections { // trees written before cycles closed
		return d.exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT line_id, billing_cycle, CAST(payer_account_id AS VARCHAR), currency,
			list_amount, coalesce(discount_amount, 0), coalesce(effective_amount, list_amount) FROM %s`, name, src))
	}
	// A line's correction rows (a − and + pair, or one row) are compared
	// as one per reason, corrected cycle and payer, by their sums: a line
	// has a row of its own once, its corrections beside it.
	return d.exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s SELECT line_id, billing_cycle, CAST(payer_account_id AS VARCHAR), currency,
			list_amount, coalesce(discount_amount, 0), coalesce(effective_amount, list_amount) FROM %[2]s WHERE charge_class IS NULL;
		INSERT INTO %[1]s SELECT line_id || ' (' || correction_reason || ' of ' || corrects_cycle || ', ' || payer_account_id || ')',
			billing_cycle, CAST(payer_account_id AS VARCHAR), currency, sum(list_amount), sum(discount_amount), sum(effective_amount)
		FROM %[2]s WHERE charge_class IS NOT NULL GROUP BY ALL`, name, src))
}

// dueTable makes table name of the amounts due per cycle, payer and
// currency of the version in dir (manifest m).
func (d *Diff) dueTable(ctx context.Context, name, dir string, m *writers.Manifest) error {
	if err := d.exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (billing_cycle VARCHAR, payer VARCHAR, currency VARCHAR, due DECIMAL(38,9))", name)); err != nil {
		return err
	}
	files := files(dir, m, "summary/", nil)
	if len(files) == 0 {
		return nil
	}
	return d.exec(ctx, fmt.Sprintf(`INSERT INTO %s SELECT billing_cycle, CAST(payer_account_id AS VARCHAR), currency, sum(due_amount)
		FROM read_parquet(%s, union_by_name = true) GROUP BY ALL`, name, listLiteral(files)))
}

func (d *Diff) build(ctx context.Context) error {
	for _, q := range []string{
		"SET memory_limit = '256MB'",
		"SET temp_directory = " + Literal(d.tmp),
		"SET preserve_insertion_order = false",
	} {
		if err := d.exec(ctx, q); err != nil {
			return err
		}
	}
	if err := d.lineTable(ctx, "a", d.From, d.from); err != nil {
		return fmt.Errorf("reading %s: %w", d.From, err)
	}
	if err := d.lineTable(ctx, "b", d.To, d.to); err != nil {
		return fmt.Errorf("reading %s: %w", d.To, err)
	}
	if err := d.dueTable(ctx, "due_a", d.From, d.from); err != nil {
		return fmt.Errorf("reading %s: %w", d.From, err)
	}
	if err := d.dueTable(ctx, "due_b", d.To, d.to); err != nil {
		return fmt.Errorf("reading %s: %w", d.To, err)
	}
	return d.exec(ctx, `
CREATE TEMP TABLE diff_lines AS
SELECT coalesce(b.line_id, a.line_id) AS line_id,
	CASE WHEN a.line_id IS NULL THEN 'added'
	     WHEN b.line_id IS NULL THEN 'removed'
	     WHEN a.payer <> b.payer OR a.billing_cycle <> b.billing_cycle THEN 'moved'
	     ELSE 'changed' END AS change,
	a.billing_cycle AS from_cycle, b.billing_cycle AS to_cycle,
	a.payer AS from_payer, b.payer AS to_payer,
	a.currency AS from_currency, b.currency AS to_currency,
	a.l AS from_list, b.l AS to_list,
	a.dis AS from_discount, b.dis AS to_discount,
	a.e AS from_effective, b.e AS to_effective
FROM a FULL OUTER JOIN b ON a.line_id = b.line_id
WHERE a.line_id IS NULL OR b.line_id IS NULL
	OR a.payer <> b.payer OR a.billing_cycle <> b.billing_cycle OR a.currency <> b.currency
	OR a.l <> b.l OR a.dis <> b.dis OR a.e <> b.e;

CREATE TEMP TABLE diff_groups AS
WITH ev AS (
	SELECT to_cycle AS c, to_payer AS p, to_currency AS cur, change, 1 AS side FROM diff_lines WHERE change <> 'removed'
	UNION ALL
	SELECT from_cycle, from_payer, from_currency, change, -1 FROM diff_lines WHERE change IN ('removed', 'moved')
), counts AS (
	SELECT c, p, cur,
		count(*) FILTER (WHERE change = 'added') AS lines_added,
		count(*) FILTER (WHERE change = 'removed') AS lines_removed,
		count(*) FILTER (WHERE change = 'moved' AND side = 1) AS lines_moved_in,
		count(*) FILTER (WHERE change = 'moved' AND side = -1) AS lines_moved_out,
		count(*) FILTER (WHERE change = 'changed') AS lines_changed
	FROM ev GROUP BY ALL
), sa AS (
	SELECT billing_cycle AS c, payer AS p, currency AS cur, sum(l) AS l, sum(dis) AS dis, sum(e) AS e FROM a GROUP BY ALL
), sb AS (
	SELECT billing_cycle AS c, payer AS p, currency AS cur, sum(l) AS l, sum(dis) AS dis, sum(e) AS e FROM b GROUP BY ALL
), keys AS (
	SELECT c, p, cur FROM sa UNION SELECT c, p, cur FROM sb
	UNION SELECT billing_cycle, payer, currency FROM due_a UNION SELECT billing_cycle, payer, currency FROM due_b
), g AS (
	SELECT k.c AS billing_cycle, k.p AS payer_account_id, k.cur AS currency,
		coalesce(n.lines_added, 0) AS lines_added, coalesce(n.lines_removed, 0) AS lines_removed,
		coalesce(n.lines_moved_in, 0) AS lines_moved_in, coalesce(n.lines_moved_out, 0) AS lines_moved_out,
		coalesce(n.lines_changed, 0) AS lines_changed,
		CAST(coalesce(sb.l, 0) - coalesce(sa.l, 0) AS DECIMAL(38,9)) AS list_delta,
		CAST(coalesce(sb.dis, 0) - coalesce(sa.dis, 0) AS DECIMAL(38,9)) AS discount_delta,
		CAST(coalesce(sb.e, 0) - coalesce(sa.e, 0) AS DECIMAL(38,9)) AS effective_delta,
		CAST(coalesce(db.due, 0) - coalesce(da.due, 0) AS DECIMAL(38,9)) AS due_delta
	FROM keys k
	LEFT JOIN counts n ON n.c = k.c AND n.p = k.p AND n.cur = k.cur
	LEFT JOIN sa ON sa.c = k.c AND sa.p = k.p AND sa.cur = k.cur
	LEFT JOIN sb ON sb.c = k.c AND sb.p = k.p AND sb.cur = k.cur
	LEFT JOIN due_a da ON da.billing_cycle = k.c AND da.payer = k.p AND da.currency = k.cur
	LEFT JOIN due_b db ON db.billing_cycle = k.c AND db.payer = k.p AND db.currency = k.cur
)
SELECT * FROM g
WHERE lines_added + lines_removed + lines_moved_in + lines_moved_out + lines_changed > 0
	OR list_delta <> 0 OR discount_delta <> 0 OR effective_delta <> 0 OR due_delta <> 0;`)
}

// GroupsQuery and LinesQuery are the diff's two tables as a user sees
// them, in order.
const (
	GroupsQuery = `SELECT * FROM diff_groups ORDER BY billing_cycle, payer_account_id, currency`
	LinesQuery  = `SELECT * FROM diff_lines ORDER BY coalesce(to_cycle, from_cycle), line_id`
)

// Print writes the groups (or, with lines, every differing line) in
// format (table, csv or json), and returns how many rows it wrote.
func (d *Diff) Print(ctx context.Context, w io.Writer, format string, lines bool) (int64, error) {
	db := &DB{db: d.db, conn: d.conn}
	q := GroupsQuery
	if lines {
		q = LinesQuery
	}
	return db.Print(ctx, w, format, q)
}

// CycleChange is what changed in one billing cycle, over its payers.
type CycleChange struct {
	Cycle                          string
	Added, Removed, Moved, Changed int64
	ListDelta, DueDelta            map[string]string // per currency, nonzero only
	currencies                     []string
}

// Currencies are the currencies with a nonzero delta, in order.
func (c *CycleChange) Currencies() []string { return c.currencies }

// Cycles sums the diff per billing cycle, in cycle order.
func (d *Diff) Cycles(ctx context.Context) ([]CycleChange, error) {
	rows, err := d.conn.QueryContext(ctx, `
SELECT billing_cycle, currency, sum(lines_added), sum(lines_removed), sum(lines_moved_in), sum(lines_changed),
	CAST(sum(list_delta) AS VARCHAR), CAST(sum(due_delta) AS VARCHAR), sum(list_delta) <> 0 OR sum(due_delta) <> 0
FROM diff_groups GROUP BY ALL ORDER BY billing_cycle, currency`)
	if err != nil {
		return nil, OneLine(err)
	}
	defer rows.Close()
	var out []CycleChange
	for rows.Next() {
		var cycle, cur, list, due string
		var added, removed, moved, changed int64
		var nonzero bool
		if err := rows.Scan(&cycle, &cur, &added, &removed, &moved, &changed, &list, &due, &nonzero); err != nil {
			return nil, OneLine(err)
		}
		if len(out) == 0 || out[len(out)-1].Cycle != cycle {
			out = append(out, CycleChange{Cycle: cycle, ListDelta: map[string]string{}, DueDelta: map[string]string{}})
		}
		c := &out[len(out)-1]
		c.Added += added
		c.Removed += removed
		c.Moved += moved
		c.Changed += changed
		if nonzero {
			c.ListDelta[cur], c.DueDelta[cur] = signed(list), signed(due)
			c.currencies = append(c.currencies, cur)
		}
	}
	return out, OneLine(rows.Err())
}

// FirstCycles is the change a first version makes: every line of each
// cycle added, its amounts the deltas.
func FirstCycles(cycles []writers.CycleTotals) []CycleChange {
	var out []CycleChange
	for _, c := range cycles {
		if len(out) == 0 || out[len(out)-1].Cycle != c.Cycle {
			out = append(out, CycleChange{Cycle: c.Cycle, ListDelta: map[string]string{}, DueDelta: map[string]string{}})
		}
		x := &out[len(out)-1]
		x.Added += c.Lines
		x.ListDelta[c.Currency], x.DueDelta[c.Currency] = signed(c.List), signed(c.Due)
		x.currencies = append(x.currencies, c.Currency)
	}
	return out
}

// signed prints a delta with its sign.
func signed(s string) string {
	if !strings.HasPrefix(s, "-") {
		return "+" + s
	}
	return s
}

// Removed returns how many lines of the old version are not billed in the
// new one, and the first max of their ids (in line_id order; all when max
// is negative) with how many of all of them are rejected in the new version.
func (d *Diff) Removed(ctx context.Context, max int) (n int64, ids []string, rejected int64, err error) {
	row := d.conn.QueryRowContext(ctx, `SELECT count(*) FROM diff_lines WHERE change = 'removed'`)
	if err := row.Scan(&n); err != nil || n == 0 {
		return 0, nil, 0, OneLine(err)
	}
	q := `SELECT line_id FROM diff_lines WHERE change = 'removed' ORDER BY line_id`
	if max >= 0 {
		q += fmt.Sprintf(" LIMIT %d", max)
	}
	ids, err = d.strings(ctx, q)
	if err != nil {
		return 0, nil, 0, err
	}
	if files := files(d.To, d.to, "rejects/usage.parquet", nil); len(files) > 0 {
		q := fmt.Sprintf(`SELECT count(*) FROM diff_lines JOIN (SELECT DISTINCT json_extract_string(record, '$.line_id') AS id FROM read_parquet(%s)) r
			ON r.id = diff_lines.line_id WHERE change = 'removed'`, listLiteral(files))
		if err := d.conn.QueryRowContext(ctx, q).Scan(&rejected); err != nil {
			rejected = 0 // the record of another profile names its id otherwise
		}
	}
	return n, ids, rejected, nil
}

func (d *Diff) strings(ctx context.Context, q string) ([]string, error) {
	rows, err := d.conn.QueryContext(ctx, q)
	if err != nil {
		return nil, OneLine(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s sql.NullString
		if err := rows.Scan(&s); err != nil {
			return nil, OneLine(err)
		}
		out = append(out, s.String)
	}
	return out, OneLine(rows.Err())
}

// Lost returns the ids in column col of output file path that the old
// version has and the new one lacks, in order.
func (d *Diff) Lost(ctx context.Context, path, col string) ([]string, error) {
	a := files(d.From, d.from, path, nil)
	if len(a) == 0 {
		return nil, nil
	}
	b := files(d.To, d.to, path, nil)
	q := fmt.Sprintf(`SELECT DISTINCT CAST(%s AS VARCHAR) AS id FROM read_parquet(%s) WHERE %s IS NOT NULL`, col, listLiteral(a), col)
	if len(b) > 0 {
		q += fmt.Sprintf(` EXCEPT SELECT CAST(%s AS VARCHAR) FROM read_parquet(%s)`, col, listLiteral(b))
	}
	return d.strings(ctx, "SELECT id FROM ("+q+") ORDER BY id")
}

func listLiteral(files []string) string {
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = Literal(f)
	}
	return "[" + strings.Join(q, ", ") + "]"
}
