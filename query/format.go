package query

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/billcons/billcons/billing"
	"github.com/duckdb/duckdb-go/v2"
	"github.com/shopspring/decimal"
)

// Formats of a result.
const (
	Table = "table"
	CSV   = "csv"
	JSON  = "json"
)

// Print runs q and writes its result to w: an aligned table (numbers to the
// right, NULL as NULL), CSV with a header (NULL as empty), or JSON lines (one
// object per row; decimals as exact strings, timestamps in RFC 3339 UTC).
// It returns the number of rows.
func (d *DB) Print(ctx context.Context, w io.Writer, format, q string) (int64, error) {
	if f := strings.Fields(strings.ToUpper(q)); len(f) > 0 && (f[0] == "SET" || f[0] == "RESET") {
		defer d.refreshZone(ctx)
	}
	rows, err := d.Rows(ctx, q)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, OneLine(err)
	}
	types, _ := rows.ColumnTypes()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	var table [][]string // a table is aligned once every width is known
	var cw *csv.Writer
	enc := json.NewEncoder(w)
	switch format {
	case Table:
	case CSV:
		cw = csv.NewWriter(w)
		cw.Write(cols)
	case JSON:
	default:
		return 0, fmt.Errorf("unknown format %q: want table, csv or json", format)
	}
	numeric := make([]bool, len(cols))
	zoned := make([]bool, len(cols)) // TIMESTAMPTZ: shown in the session's zone
	for i, t := range types {
		switch strings.SplitN(t.DatabaseTypeName(), "(", 2)[0] {
		case "DECIMAL", "BIGINT", "INTEGER", "SMALLINT", "TINYINT", "HUGEINT", "UBIGINT", "UINTEGER", "DOUBLE", "FLOAT":
			numeric[i] = true
		case "TIMESTAMPTZ":
			zoned[i] = true
		}
	}
	inZone := func(i int, v any) any {
		if t, ok := v.(time.Time); ok && zoned[i] {
			return zonedTime{t.In(d.zone)}
		}
		return v
	}
	cells := make([]string, len(cols))
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, OneLine(err)
		}
		n++
		switch format {
		case Table:
			row := make([]string, len(cols))
			for i, v := range vals {
				row[i] = Text(inZone(i, v), "NULL")
			}
			table = append(table, row)
		case CSV:
			for i, v := range vals {
				cells[i] = Text(inZone(i, v), "")
			}
			cw.Write(cells)
		case JSON:
			obj := make(jsonObject, len(cols))
			for i, v := range vals {
				obj[i] = jsonField{cols[i], jsonValue(inZone(i, v))}
			}
			if err := enc.Encode(obj); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, OneLine(err)
	}
	switch format {
	case Table:
		writeTable(w, cols, numeric, table)
	case CSV:
		cw.Flush()
		return n, cw.Error()
	}
	return n, nil
}

// writeTable prints rows under a header, each column as wide as its widest
// cell, numbers aligned right, then the row count.
func writeTable(w io.Writer, cols []string, numeric []bool, rows [][]string) {
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = utf8.RuneCountInString(c)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string, right func(i int) bool) {
		var b strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(c))
			if i > 0 {
				b.WriteString("  ")
			}
			if right(i) {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(cols, func(i int) bool { return numeric[i] })
	seps := make([]string, len(cols))
	for i := range cols {
		seps[i] = strings.Repeat("-", width[i])
	}
	line(seps, func(int) bool { return false })
	for _, r := range rows {
		line(r, func(i int) bool { return numeric[i] })
	}
	if len(rows) == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(rows))
	}
}

// Text renders a DuckDB value as text: decimals exactly at their scale,
// timestamps in RFC 3339 (UTC, or the session's zone for a TIMESTAMPTZ
// column Print shows), null as null.
func Text(v any, null string) string {
	switch x := v.(type) {
	case nil:
		return null
	case string:
		return x
	case []byte:
		return string(x)
	case duckdb.Decimal:
		if x.Value == nil {
			return null
		}
		return decimal.NewFromBigInt(x.Value, -int32(x.Scale)).StringFixed(int32(x.Scale))
	case *big.Int:
		return x.String()
	case zonedTime:
		return x.Format("2006-01-02T15:04:05.999999Z07:00")
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	case fmt.Stringer:
		return x.String()
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b) // numbers, booleans, lists, maps and structs
	}
	return fmt.Sprint(v)
}

// jsonValue keeps JSON's own types for booleans and small integers and
// renders the rest as Text does (exact decimals stay strings).
func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, int8, int16, int32, int64, uint8, uint16, uint32, float32, float64:
		return x
	case map[string]any, []any:
		return x
	}
	return Text(v, "")
}

type jsonField struct {
	Key   string
	Value any
}

// jsonObject keeps the columns in query order.
type jsonObject []jsonField

func (o jsonObject) MarshalJSON() ([]byte, error) {
	return billing.AppendJSONObject(nil, len(o), func(i int) (string, any) { return o[i].Key, o[i].Value })
}

// Plural says a count of a noun: "1 line", "2 lines".
func Plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// zonedTime is a TIMESTAMPTZ value in the zone it is shown in.
type zonedTime struct{ time.Time }
