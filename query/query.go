// Package query opens DuckDB in process over a billcons output tree, with
// the views of the tree's views.sql, and runs analysts' SQL, the invoice and
// the FOCUS export on it.
//
// It is the one package that links DuckDB (cgo; linking takes about half a
// minute), so that readers, rules, writers and pipeline build and test
// without it.
package query

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // registers the "duckdb" driver

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/writers"
)

// DB is DuckDB with a tree's views. It holds one connection: the tree's
// folder is a session variable the views read.
type DB struct {
	db   *sql.DB
	conn *sql.Conn
	Dir  string // the tree, absolute
	// zone is where Print shows TIMESTAMPTZ values: the session's TimeZone,
	// the run's --tz until a statement sets another.
	zone *time.Location
	// runTZ is the run's --tz as it gave it ("" when the manifest does not
	// say), runZone that zone (UTC then): where billing cycles are cut.
	runTZ   string
	runZone *time.Location
}

// Open opens an in-memory DuckDB over the output tree in dir and runs its
// views.sql with billcons_dir set to dir, wherever the tree now lives.
func Open(ctx context.Context, dir string) (*DB, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	views, err := os.ReadFile(filepath.Join(abs, "views.sql"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: no views.sql: not a billcons output tree, or one written before views.sql existed (run billcons again)", dir)
		}
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	d := &DB{db: db, conn: conn, Dir: abs, zone: time.UTC}
	d.runTZ, d.runZone = runZoneOf(abs)
	// The views, the invoice's queries and a payer export's read the same
	// files' footers again and again; DuckDB keeps each once read (and
	// reads a file again that changed since). A statement costs a third
	// less: docs/performance.md.
	if _, err := conn.ExecContext(ctx, "SET parquet_metadata_cache = true"); err != nil {
		d.Close()
		return nil, OneLine(err)
	}
	if _, err := conn.ExecContext(ctx, "SET VARIABLE billcons_dir = "+Literal(abs)); err != nil {
		d.Close()
		return nil, OneLine(err)
	}
	if _, err := conn.ExecContext(ctx, string(views)); err != nil {
		d.Close()
		return nil, fmt.Errorf("%s/views.sql: %w", dir, OneLine(err))
	}
	d.useRunZone(ctx)
	return d, nil
}

// Close releases DuckDB.
func (d *DB) Close() error {
	if d.conn != nil {
		d.conn.Close()
	}
	return d.db.Close()
}

// Exec runs statements that return no rows.
func (d *DB) Exec(ctx context.Context, q string, args ...any) error {
	_, err := d.conn.ExecContext(ctx, q, args...)
	return OneLine(err)
}

// Rows runs q and returns its rows.
func (d *DB) Rows(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	rows, err := d.conn.QueryContext(ctx, q, args...)
	return rows, OneLine(err)
}

// scanAll runs q and scans each row into a new T, by the pointers fields
// gives into it.
func scanAll[T any](ctx context.Context, d *DB, fields func(*T) []any, q string, args ...any) ([]T, error) {
	rows, err := d.Rows(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var x T
		if err := rows.Scan(fields(&x)...); err != nil {
			return nil, OneLine(err)
		}
		out = append(out, x)
	}
	return out, OneLine(rows.Err())
}

// Literal quotes s as an SQL string literal.
func Literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// OneLine folds a DuckDB error, which may span lines (the statement, a caret
// under the position), onto one line.
func OneLine(err error) error {
	if err == nil {
		return nil
	}
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" && strings.Trim(l, "^ ") != "" {
			parts = append(parts, l)
		}
	}
	return errors.New(strings.Join(parts, " "))
}

// PayerBills makes the temporary view payer_bills: the bills of payer in
// cycle ("" for every cycle), read from only the files the tree's index
// names for them, and in those only the row groups whose statistics can
// hold the payer. It returns the cycles the index lists for the payer,
// whatever cycle asked. A tree written before the index reads the bills
// view.
func (d *DB) PayerBills(ctx context.Context, payer, cycle string) ([]string, error) {
	hasIndex, err := d.hasView(ctx, "payers")
	if err != nil {
		return nil, err
	}
	from := "payers"
	if !hasIndex {
		from = "(SELECT DISTINCT billing_cycle, payer_account_id, NULL AS file FROM bills)"
	}
	rows, err := d.Rows(ctx, `SELECT billing_cycle, file FROM `+from+` WHERE payer_account_id = ? GROUP BY ALL ORDER BY ALL`, payer)
	if err != nil {
		return nil, err
	}
	var cycles, files []string
	for rows.Next() {
		var c string
		var f sql.NullString
		if err := rows.Scan(&c, &f); err != nil {
			rows.Close()
			return nil, OneLine(err)
		}
		if len(cycles) == 0 || cycles[len(cycles)-1] != c {
			cycles = append(cycles, c)
		}
		if f.Valid && (cycle == "" || c == cycle) {
			files = append(files, Literal(filepath.Join(d.Dir, filepath.FromSlash(f.String))))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, OneLine(err)
	}
	src := "bills"
	switch {
	case hasIndex && len(files) == 0:
		src = "(SELECT * FROM bills WHERE false)"
	case hasIndex:
		src = "read_parquet([" + strings.Join(files, ", ") + "], hive_partitioning = true, hive_types = {'billing_cycle': VARCHAR}, hive_types_autocast = false, union_by_name = true)"
	}
	q := "CREATE OR REPLACE TEMP VIEW payer_bills AS SELECT * FROM " + src + " WHERE payer_account_id = " + Literal(payer)
	if cycle != "" {
		q += " AND billing_cycle = " + Literal(cycle)
	}
	return cycles, d.Exec(ctx, q)
}

// runZoneOf is the billing time zone of the run that wrote the tree in dir
// (its --tz) and its name; UTC and "" when the manifest does not say.
func runZoneOf(dir string) (string, *time.Location) {
	if m, err := writers.ReadManifest(dir); err == nil {
		if tz, ok := m.Options["tz"].(string); ok && tz != "" {
			if loc, err := billing.ParseZone(tz); err == nil {
				return tz, loc
			}
		}
	}
	return "", time.UTC
}

// useRunZone makes the run's --tz the session's time zone, so that
// timestamps print as the billing cycles are cut. DuckDB names zones as
// IANA does: a whole-hour offset is Etc/GMT with the sign turned; another
// offset leaves DuckDB in UTC, and Print shows times at the offset itself.
func (d *DB) useRunZone(ctx context.Context) {
	tz, loc := d.runTZ, d.runZone
	if tz == "" {
		return
	}
	name := tz
	if strings.HasPrefix(tz, "+") || strings.HasPrefix(tz, "-") {
		_, off := time.Date(2024, 1, 1, 0, 0, 0, 0, loc).Zone()
		switch {
		case off == 0:
			name = "UTC"
		case off%3600 == 0:
			name = fmt.Sprintf("Etc/GMT%+d", -off/3600)
		default:
			name = ""
		}
	}
	if name != "" {
		if _, err := d.conn.ExecContext(ctx, "SET TimeZone = "+Literal(name)); err != nil {
			return
		}
	}
	d.zone = loc
}

// refreshZone follows a statement that may have set the session's time
// zone.
func (d *DB) refreshZone(ctx context.Context) {
	var name string
	if err := d.conn.QueryRowContext(ctx, "SELECT current_setting('TimeZone')").Scan(&name); err != nil {
		return
	}
	if loc, err := time.LoadLocation(name); err == nil && loc.String() != d.zone.String() {
		d.zone = loc
	}
}

// hasView reports whether the tree's views.sql defines the view name (trees
// written before a view existed lack it).
func (d *DB) hasView(ctx context.Context, name string) (bool, error) {
	var has bool
	err := d.conn.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_views() WHERE view_name = ? AND NOT internal`, name).Scan(&has)
	return has, OneLine(err)
}
