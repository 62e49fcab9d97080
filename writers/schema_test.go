package writers

// The parquet-go schemas of the outputs as parquet-go wrote them, before
// billcons wrote its files itself (package parquetio): the reference TestFlatSchemas
// holds the files' schemas to.

import (
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
	optCount   = parquet.Optional(parquet.Int(64))
)
