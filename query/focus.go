package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/billcons/billcons/parquetio"
	"github.com/billcons/billcons/writers"
	"github.com/parquet-go/parquet-go"
)

// FocusGap is a value FOCUS requires that the input lacks: the FOCUS
// column, the input column it comes from, and the rows without it.
type FocusGap struct {
	Column, From string
	Rows         int64
	Lines        []string // the first few rows' line (or credit) ids
}

func (g FocusGap) String() string {
	more := ""
	if g.Rows > int64(len(g.Lines)) {
		more = ", …"
	}
	return fmt.Sprintf("%s needs %s, which %s lack (%s%s)", g.Column, g.From, Plural(g.Rows, "row"), strings.Join(g.Lines, ", "), more)
}

// ErrFocusGaps is wrapped by ExportFOCUS's error when the input lacks
// values FOCUS requires and lenient was not asked for.
var ErrFocusGaps = errors.New("the input lacks values FOCUS requires")

// focusGapChecks are the values FOCUS 1.2 requires that only the input can
// give (docs/output.md, FOCUS): a quantity and unit on every Usage and
// Purchase row that is not a correction (PricingQuantity-C-005-C,
// PricingUnit-C-006-C), and, once the accounts give names at all, a name
// for every billing and sub account (BillingAccountName-C-003-C,
// SubAccountName-C-005-C under account naming).
var focusGapChecks = []struct {
	column, from, where string
	named               bool // only when some account has a name
}{
	{"PricingQuantity", "usage_quantity", "ChargeCategory IN ('Usage', 'Purchase') AND ChargeClass IS NULL AND PricingQuantity IS NULL", false},
	{"PricingUnit", "usage_unit", "PricingQuantity IS NOT NULL AND PricingUnit IS NULL", false},
	{"BillingAccountName", "account_name of the paying account (--accounts)", "BillingAccountName IS NULL", true},
	{"SubAccountName", "account_name of the member (--accounts)", "SubAccountName IS NULL", true},
}

// FocusGaps lists the values FOCUS requires that the tree's input lacked:
// one scan of the focus view per check, counting the rows and keeping the
// first few ids.
func (d *DB) FocusGaps(ctx context.Context) ([]FocusGap, error) {
	var named int64
	if err := d.conn.QueryRowContext(ctx, "SELECT count(account_name) FROM accounts").Scan(&named); err != nil {
		return nil, OneLine(err)
	}
	var gaps []FocusGap
	for _, c := range focusGapChecks {
		if c.named && named == 0 {
			continue
		}
		g := FocusGap{Column: c.column, From: c.from}
		var first any
		q := "SELECT count(*), list_sort(list_distinct(min(id, 5))) FROM (SELECT coalesce(x_LineId, 'credit ' || x_CreditId, SubAccountId) AS id FROM focus WHERE " + c.where + ")"
		if err := d.conn.QueryRowContext(ctx, q).Scan(&g.Rows, &first); err != nil {
			return nil, OneLine(err)
		}
		if g.Rows == 0 {
			continue
		}
		ids, _ := first.([]any)
		for _, id := range ids {
			g.Lines = append(g.Lines, fmt.Sprint(id))
		}
		gaps = append(gaps, g)
	}
	return gaps, nil
}

// ExportFOCUS writes the focus view to out as one Parquet file, ordered by
// billing account, cycle, sub account and line, and returns its row count
// and the gaps it wrote anyway. When the input lacks values FOCUS requires
// (FocusGaps) it writes nothing and fails, unless lenient. Every column
// FOCUS says is not null is REQUIRED in the file's schema. out is written
// beside itself first and renamed into place, so a reader never sees half
// a file.
func (d *DB) ExportFOCUS(ctx context.Context, out string, lenient bool) (int64, []FocusGap, error) {
	gaps, err := d.FocusGaps(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("checking the FOCUS columns: %w", err)
	}
	if len(gaps) > 0 && !lenient {
		msgs := make([]string, len(gaps))
		for i, g := range gaps {
			msgs[i] = g.String()
		}
		return 0, gaps, fmt.Errorf("%w: %s; nothing written (--lenient writes it anyway)", ErrFocusGaps, strings.Join(msgs, "; "))
	}
	base := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+strconv.Itoa(os.Getpid()))
	raw, tmp := base+"-duckdb", base
	defer os.Remove(raw)
	q := `COPY (SELECT * FROM focus ORDER BY BillingAccountId, x_BillingCycle, SubAccountId, x_LineId, x_CreditId)
		TO ` + Literal(raw) + ` (FORMAT parquet, COMPRESSION zstd)`
	if err := d.Exec(ctx, q); err != nil {
		return 0, gaps, fmt.Errorf("writing %s: %w", out, err)
	}
	n, err := requireColumns(raw, tmp)
	if err != nil {
		os.Remove(tmp)
		return 0, gaps, fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return 0, gaps, fmt.Errorf("writing %s: %w", out, err)
	}
	return n, gaps, nil
}

// requireColumns copies the Parquet file src, as DuckDB wrote it (every
// column OPTIONAL), to dst with the columns FOCUS says are not null
// REQUIRED, and returns the rows copied. A null in such a column is an
// error: the view broke a promise.
func requireColumns(src, dst string) (int64, error) {
	pf, f, err := parquetio.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	notNull := map[string]bool{}
	for _, c := range writers.FocusColumns {
		notNull[c.Name] = !c.Nullable
	}
	fields := pf.Schema().Fields()
	group := parquet.Group{}
	required := make([]bool, len(fields))
	for i, fl := range fields {
		node := parquet.Node(fl)
		if !fl.Leaf() {
			return 0, fmt.Errorf("column %s is not flat", fl.Name())
		}
		leaf := parquet.Leaf(fl.Type())
		if fl.Optional() && notNull[fl.Name()] {
			node, required[i] = parquet.Required(leaf), true
		} else if fl.Optional() {
			node = parquet.Optional(leaf)
		}
		if enc := fl.Encoding(); enc != nil {
			node = parquet.Encoded(node, enc)
		}
		group[fl.Name()] = node
	}
	schema := parquet.NewSchema("focus", group)
	// The group orders its fields by name; map the file's columns onto it.
	pos := make([]int, len(fields))
	for i, fl := range fields {
		for j, g := range schema.Fields() {
			if g.Name() == fl.Name() {
				pos[i] = j
			}
		}
	}
	o, err := os.Create(dst)
	if err != nil {
		return 0, err
	}
	w := parquet.NewWriter(o, schema, parquet.Compression(&parquet.Zstd), parquet.CreatedBy("billcons", writers.FormatVersion, writers.FormatBuild),
		parquet.PageBufferSize(1<<20), parquet.MaxRowsPerRowGroup(1<<20))
	var n int64
	buf := make([]parquet.Row, 1024)
	out := make([]parquet.Row, len(buf)) // the rows of buf, as dst's schema has them
	for i := range out {
		out[i] = make(parquet.Row, len(fields))
	}
	copyGroup := func(rows parquet.Rows) error {
		defer rows.Close()
		for {
			k, err := rows.ReadRows(buf)
			for i, row := range buf[:k] {
				for _, v := range row {
					c := v.Column()
					def := v.DefinitionLevel()
					if required[c] {
						if v.IsNull() {
							return fmt.Errorf("row %d: %s is null, and FOCUS says it may not be", n+int64(i)+1, fields[c].Name())
						}
						def = 0
					}
					out[i][pos[c]] = v.Level(0, def, pos[c])
				}
			}
			if _, werr := w.WriteRows(out[:k]); werr != nil {
				return werr
			}
			n += int64(k)
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	for _, rg := range pf.RowGroups() {
		if err := copyGroup(rg.Rows()); err != nil {
			o.Close()
			return 0, err
		}
	}
	if err := w.Close(); err != nil {
		o.Close()
		return 0, err
	}
	if err := o.Sync(); err != nil {
		o.Close()
		return 0, err
	}
	return n, o.Close()
}
