package writers

// The parquet-go schemas of the outputs as parquet-go wrote them, before
// billcons wrote its files itself (package parquetio): the reference the
// tests hold the files' schemas to.

import (
	"github.com/billcons/billcons/parquetio/parquettest"
	"github.com/parquet-go/parquet-go"
)

// column is one named column of a schema being built.
type column struct {
	name string
	node parquet.Node
}

func newSchema(name string, cols []column) *parquet.Schema {
	pc := make([]parquettest.Column, len(cols))
	for i, c := range cols {
		pc[i] = parquettest.Column{Name: c.name, Node: c.node}
	}
	return parquettest.Schema(name, pc)
}

var (
	textNode   = parquettest.Text
	optText    = parquettest.OptText
	tsNode     = parquettest.TS
	optTS      = parquettest.OptTS
	amountNode = parquettest.Amount
	countNode  = parquettest.Count
	optCount   = parquettest.OptCount
)
