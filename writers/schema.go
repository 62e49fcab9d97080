package writers

import (
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// orderedGroup is a Parquet group whose columns keep the order they are
// given in (parquet.Group sorts them by name), so analysts see line_id first.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func (g orderedGroup) Fields() []parquet.Field { return g.fields }

// column is one named column of a schema being built.
type column struct {
	name string
	node parquet.Node
}

func newSchema(name string, cols []column) *parquet.Schema {
	g := orderedGroup{Group: parquet.Group{}}
	for _, c := range cols {
		g.Group[c.name] = c.node
		g.fields = append(g.fields, parquet.Group{c.name: c.node}.Fields()[0])
	}
	return parquet.NewSchema(name, g)
}

var (
	textNode   = parquet.String()
	optText    = parquet.Optional(parquet.String())
	tsNode     = parquet.TimestampAdjusted(parquet.Microsecond, true)
	optTS      = parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, true))
	amountNode = parquet.Decimal(9, 18, parquet.Int64Type)
	sumNode    = parquet.Decimal(9, 38, parquet.FixedLenByteArrayType(16))
	countNode  = parquet.Int(64)
)

// rowBuilder appends the values of one row, column by column.
type rowBuilder struct {
	row parquet.Row
	col int
}

func (b *rowBuilder) reset() { b.row, b.col = b.row[:0], 0 }

func (b *rowBuilder) text(s string) {
	b.row = append(b.row, parquet.ByteArrayValue(bytesOf(s)).Level(0, 0, b.col))
	b.col++
}

// bytesOf views s as bytes without copying. parquet-go only reads them (it
// copies values into its page buffers), and a string never changes.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

func (b *rowBuilder) optText(s string, valid bool) {
	if valid {
		b.row = append(b.row, parquet.ByteArrayValue(bytesOf(s)).Level(0, 1, b.col))
	} else {
		b.row = append(b.row, parquet.NullValue().Level(0, 0, b.col))
	}
	b.col++
}

func (b *rowBuilder) int64(v int64) {
	b.row = append(b.row, parquet.Int64Value(v).Level(0, 0, b.col))
	b.col++
}

func (b *rowBuilder) optInt64(v int64, valid bool) {
	if valid {
		b.row = append(b.row, parquet.Int64Value(v).Level(0, 1, b.col))
	} else {
		b.row = append(b.row, parquet.NullValue().Level(0, 0, b.col))
	}
	b.col++
}

func (b *rowBuilder) fixed(v []byte) {
	b.row = append(b.row, parquet.FixedLenByteArrayValue(v).Level(0, 0, b.col))
	b.col++
}
