// Package parquettest reads Parquet files back for tests, with parquet-go
// (an independent reader of the files package parquetio writes): their
// rows with each value rendered as text, and checks of their row groups'
// statistics against those rows; and the parquet-go schemas the outputs
// are held to.
package parquettest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/billcons/billcons/parquetio"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Open opens a Parquet file with parquet-go (parquetio.Open), closed when
// the test ends.
func Open(t testing.TB, path string) *parquet.File {
	t.Helper()
	pf, f, err := parquetio.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return pf
}

// Rows reads a flat Parquet file's rows (parquetio.Read), each value
// rendered by Render, in the schema's column order.
func Rows(t testing.TB, path string) [][]string {
	t.Helper()
	var got [][]string
	err := parquetio.Read(path, func(cols []string, v map[string]parquet.Value) error {
		row := make([]string, len(cols))
		for i, c := range cols {
			row[i] = Render(v[c])
		}
		got = append(got, row)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Render is a value as text: "null", "s:" and the bytes of a byte array,
// "b:" and the bytes of a fixed-length one, "i:" and an integer.
func Render(v parquet.Value) string {
	switch {
	case v.IsNull():
		return "null"
	case v.Kind() == parquet.ByteArray:
		return "s:" + string(v.ByteArray())
	case v.Kind() == parquet.FixedLenByteArray:
		return "b:" + string(v.ByteArray())
	default:
		return fmt.Sprint("i:", v.Int64())
	}
}

// CheckStats checks each column chunk's null count, minimum and maximum
// against the rows read back (rendered by Render); values longer than
// statsMax bytes may leave a chunk without a minimum and maximum.
func CheckStats(t testing.TB, pf *parquet.File, rows [][]string, statsMax int) {
	t.Helper()
	first := 0
	for g, rg := range pf.Metadata().RowGroups {
		n := int(rg.NumRows)
		for c, cc := range rg.Columns {
			md := cc.MetaData
			var nulls int64
			var lo, hi []byte
			for _, row := range rows[first : first+n] {
				v := row[c]
				if v == "null" {
					nulls++
					continue
				}
				var b []byte
				if strings.HasPrefix(v, "s:") || strings.HasPrefix(v, "b:") {
					b = []byte(v[2:])
				} else {
					var x int64
					fmt.Sscan(v[2:], &x)
					b = binary.LittleEndian.AppendUint64(nil, uint64(x))
				}
				if lo == nil || less(md.Type, b, lo) {
					lo = b
				}
				if hi == nil || less(md.Type, hi, b) {
					hi = b
				}
			}
			st := md.Statistics
			if st.NullCount != nulls {
				t.Errorf("row group %d, %s: null count %d, want %d", g, md.PathInSchema[0], st.NullCount, nulls)
			}
			if len(lo) > statsMax || len(hi) > statsMax {
				lo, hi = nil, nil
			}
			if !bytes.Equal(st.MinValue, lo) || !bytes.Equal(st.MaxValue, hi) {
				t.Errorf("row group %d, %s: min %q max %q, want %q %q", g, md.PathInSchema[0], st.MinValue, st.MaxValue, lo, hi)
			}
		}
		first += n
	}
	if first != len(rows) {
		t.Errorf("row groups hold %d rows, want %d", first, len(rows))
	}
}

// less orders two statistics values of a column of type typ as Parquet
// does: integers signed, 16-byte decimals as big-endian two's complement,
// text by its bytes.
func less(typ format.Type, a, b []byte) bool {
	switch typ {
	case format.Int64:
		return int64(binary.LittleEndian.Uint64(a)) < int64(binary.LittleEndian.Uint64(b))
	case format.FixedLenByteArray:
		if a[0] != b[0] { // the sign byte signed, the rest not
			return int8(a[0]) < int8(b[0])
		}
	}
	return bytes.Compare(a, b) < 0
}

// orderedGroup is a Parquet group whose columns keep the order they are
// given in (parquet.Group sorts them by name).
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// Column is one named column of a schema being built.
type Column struct {
	Name string
	Node parquet.Node
}

// Schema is the parquet-go schema of the columns, in their order.
func Schema(name string, cols []Column) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		g.Group[c.Name] = c.Node
		g.fields = append(g.fields, parquet.Group{c.Name: c.Node}.Fields()[0])
	}
	return parquet.NewSchema(name, g)
}

// The nodes of the kinds of column billcons writes, as parquet-go itself
// typed them when it wrote billcons' outputs.
var (
	Text     = parquet.String()
	OptText  = parquet.Optional(parquet.String())
	TS       = parquet.TimestampAdjusted(parquet.Microsecond, true)
	OptTS    = parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, true))
	Amount   = parquet.Decimal(9, 18, parquet.Int64Type)
	Sum      = parquet.Decimal(9, 38, parquet.FixedLenByteArrayType(16))
	Count    = parquet.Int(64)
	OptCount = parquet.Optional(parquet.Int(64))
)
