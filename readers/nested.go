package readers

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
)

// nestedTable reads a Parquet file that has nested or repeated columns
// (groups, lists, maps) row by row: flat columns render as in
// parquetTable, a nested one as JSON (CONTRACT.md, Values). Such files are
// rare as bill exports, so this path favours simplicity over speed; the
// contract's own columns must still be flat.
type nestedTable struct {
	name   string
	f      *os.File
	pf     *parquet.File
	header []string
	kinds  []ColumnKind
	render []renderFunc // by top-level field; nil for a nested one
	leaf   []int        // by top-level field: its column index, -1 if nested
	groups []parquet.RowGroup
	rows   parquet.Rows
	buf    []parquet.Row
	n      int64
	byCol  [][]parquet.Value
	fields []parquet.Field
	first  []int // by top-level field: the index of its first leaf column
	// formats, by top-level field: how each of its leaves renders into
	// JSON, found once when the file opens; nil for a flat one.
	formats [][]leafFormat
}

// leafFormat is how a leaf of a nested column renders into JSON.
type leafFormat struct {
	render renderFunc
	bare   bool // a number or boolean, written as is (else a JSON string)
}

func openNested(path string, f *os.File, pf *parquet.File) (Table, error) {
	t := &nestedTable{name: path, f: f, pf: pf, groups: pf.RowGroups(), buf: make([]parquet.Row, 1)}
	col := 0
	for _, field := range pf.Schema().Fields() {
		t.header = append(t.header, field.Name())
		t.fields, t.first = append(t.fields, field), append(t.first, col)
		if field.Leaf() && !field.Repeated() {
			kind, render, err := parquetRenderer(field.Type(), declaredLogical(pf, field.Name()))
			if err != nil {
				return nil, fmt.Errorf("%s: column %s: %w", path, field.Name(), err)
			}
			t.kinds, t.render, t.leaf = append(t.kinds, kind), append(t.render, render), append(t.leaf, col)
			t.formats = append(t.formats, nil)
			col++
			continue
		}
		t.kinds, t.render, t.leaf = append(t.kinds, KindNested), append(t.render, nil), append(t.leaf, -1)
		fmts := leafFormats(nil, field)
		t.formats = append(t.formats, fmts)
		col += len(fmts)
	}
	t.byCol = make([][]parquet.Value, col)
	return t, nil
}

// leafFormats appends how each leaf of n, in schema order, renders.
func leafFormats(dst []leafFormat, n parquet.Node) []leafFormat {
	if !n.Leaf() {
		for _, f := range n.Fields() {
			dst = leafFormats(dst, f)
		}
		return dst
	}
	kind, render, err := parquetRenderer(n.Type(), nil)
	if err != nil { // a type billcons cannot render (NULL): an error only if a value comes
		render = func([]byte, parquet.Value) ([]byte, error) { return nil, err }
	}
	return append(dst, leafFormat{render: render, bare: kind == KindInteger || kind == KindFloat || n.Type().Kind() == parquet.Boolean})
}

// countLeaves is how many leaf columns n has.
func countLeaves(n parquet.Node) int {
	if n.Leaf() {
		return 1
	}
	k := 0
	for _, f := range n.Fields() {
		k += countLeaves(f)
	}
	return k
}

func (t *nestedTable) Name() string        { return t.name }
func (t *nestedTable) Header() []string    { return t.header }
func (t *nestedTable) Kinds() []ColumnKind { return t.kinds }

func (t *nestedTable) Close() error {
	if t.rows != nil {
		t.rows.Close()
	}
	return t.f.Close()
}

func (t *nestedTable) Read(dst []Row) (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("%s: after row %d: not a readable Parquet file: %v", t.name, t.n, p)
		}
	}()
	for n < len(dst) {
		row, err := t.next()
		if err == io.EOF {
			if n > 0 {
				return n, nil
			}
			return 0, io.EOF
		}
		if err != nil {
			return n, fmt.Errorf("%s: row %d: not a readable Parquet file: %w", t.name, t.n+1, err)
		}
		t.n++
		r := Row{N: t.n, Fields: make([]string, len(t.header))}
		size := 0
		for _, v := range row {
			size += 8
			if k := v.Kind(); (k == parquet.ByteArray || k == parquet.FixedLenByteArray) && !v.IsNull() {
				size += len(v.ByteArray())
			}
		}
		if size > MaxRowBytes {
			r.Err = &FormatError{Code: "row_too_long", Msg: fmt.Sprintf("row holds %d bytes; billcons takes at most %d MiB per row", size, MaxRowBytes>>20)}
		} else if err := t.fill(&r, row); err != nil {
			r.Err = &FormatError{Code: "malformed_row", Msg: err.Error()}
		}
		dst[n] = r
		n++
	}
	return n, nil
}

// next returns the file's next row.
func (t *nestedTable) next() (parquet.Row, error) {
	for {
		if t.rows == nil {
			if len(t.groups) == 0 {
				return nil, io.EOF
			}
			t.rows = t.groups[0].Rows()
			t.groups = t.groups[1:]
		}
		k, err := t.rows.ReadRows(t.buf)
		if k == 1 {
			return t.buf[0], nil
		}
		if err != nil && err != io.EOF {
			return nil, err
		}
		t.rows.Close()
		t.rows = nil
	}
}

// fill renders row's values into r: flat columns by their renderers,
// nested ones as JSON.
func (t *nestedTable) fill(r *Row, row parquet.Row) error {
	clear(t.byCol)
	row.Range(func(c int, vals []parquet.Value) bool {
		if c < len(t.byCol) {
			t.byCol[c] = vals
		}
		return true
	})
	for i := range t.header {
		if c := t.leaf[i]; c >= 0 {
			if len(t.byCol[c]) == 0 || t.byCol[c][0].IsNull() {
				t.setNull(r, i)
				continue
			}
			b, err := t.render[i](nil, t.byCol[c][0])
			if err != nil {
				return fmt.Errorf("column %s: %v", t.header[i], err)
			}
			r.Fields[i] = string(b)
			continue
		}
		field := t.fields[i]
		lc := leafCols{vals: t.byCol[t.first[i] : t.first[i]+len(t.formats[i])], fmts: t.formats[i]}
		if len(lc.vals) == 0 || len(lc.vals[0]) == 0 {
			t.setNull(r, i)
			continue
		}
		def, rep := levelsOf(field, 0, 0)
		if !field.Repeated() && field.Optional() && lc.vals[0][0].DefinitionLevel() < def {
			t.setNull(r, i)
			continue
		}
		b, err := appendJSON(nil, field, lc, def, rep)
		if err != nil {
			return fmt.Errorf("column %s: %v", t.header[i], err)
		}
		r.Fields[i] = string(b)
	}
	return nil
}

func (t *nestedTable) setNull(r *Row, i int) {
	if r.Null == nil {
		r.Null = make([]bool, len(t.header))
	}
	r.Null[i] = true
}

// leafCols are the values of a node's leaf columns, in schema order, that
// belong to one instance of it, and how each leaf renders.
type leafCols struct {
	vals [][]parquet.Value
	fmts []leafFormat
}

// sub is the leaf columns [off, off+n).
func (l leafCols) sub(off, n int) leafCols {
	return leafCols{vals: l.vals[off : off+n], fmts: l.fmts[off : off+n]}
}

// present reports whether the instance has a value at definition level def.
func (l leafCols) present(def int) bool {
	return len(l.vals) > 0 && len(l.vals[0]) > 0 && l.vals[0][0].DefinitionLevel() >= def
}

// levelsOf returns the definition and repetition levels at which n is
// present and repeats, under a parent's def and rep.
func levelsOf(n parquet.Node, def, rep int) (int, int) {
	if n.Optional() || n.Repeated() {
		def++
	}
	if n.Repeated() {
		rep++
	}
	return def, rep
}

// appendJSON appends node's value as JSON, assembled from the values of
// its leaf columns (lc) that belong to this one instance of it; def and rep
// are the definition and repetition levels at which the node is present
// and repeats (Dremel record assembly). A repeated node is a JSON array; a
// LIST group the array of its elements; a MAP group an object keyed by the
// keys' text; any other group an object.
func appendJSON(b []byte, node parquet.Node, lc leafCols, def, rep int) ([]byte, error) {
	if !node.Repeated() {
		return appendInstance(b, node, lc, def, rep)
	}
	if !lc.present(def) {
		return append(b, "[]"...), nil
	}
	return appendElems(b, lc, rep, '[', ']', func(b []byte, ev leafCols) ([]byte, error) { return appendInstance(b, node, ev, def, rep) })
}

// appendElems appends the elements of a repeated node at rep, each by one,
// between open and close.
func appendElems(b []byte, lc leafCols, rep int, open, close byte, one func([]byte, leafCols) ([]byte, error)) ([]byte, error) {
	b = append(b, open)
	for e, ev := range splitRepeated(lc.vals, rep) {
		if e > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = one(b, leafCols{vals: ev, fmts: lc.fmts}); err != nil {
			return nil, err
		}
	}
	return append(b, close), nil
}

// appendInstance appends one (not repeated) instance of node.
func appendInstance(b []byte, node parquet.Node, lc leafCols, def, rep int) ([]byte, error) {
	if len(lc.vals) == 0 || len(lc.vals[0]) == 0 || (node.Optional() && !lc.present(def)) {
		return append(b, "null"...), nil
	}
	if node.Leaf() {
		v := lc.vals[0][0]
		if v.IsNull() {
			return append(b, "null"...), nil
		}
		f := lc.fmts[0]
		text, err := f.render(nil, v)
		if err != nil {
			return nil, err
		}
		if f.bare && json.Valid(text) { // NaN and Inf are not JSON numbers
			return append(b, text...), nil
		}
		q, _ := json.Marshal(string(text))
		return append(b, q...), nil
	}
	fields := node.Fields()
	var logical string
	if lt := node.Type().LogicalType(); lt != nil && lt.Value != nil {
		logical = lt.Value.String()
	}
	if (logical == "LIST" || logical == "MAP") && len(fields) == 1 && fields[0].Repeated() {
		inner := fields[0]
		d, r := levelsOf(inner, def, rep)
		switch {
		case logical == "MAP" && !inner.Leaf() && len(inner.Fields()) == 2:
			if !lc.present(d) {
				return append(b, "{}"...), nil
			}
			kv := inner.Fields()
			nk := countLeaves(kv[0])
			return appendElems(b, lc, r, '{', '}', func(b []byte, ev leafCols) ([]byte, error) {
				kd, kr := levelsOf(kv[0], d, r)
				key, err := appendJSON(nil, kv[0], ev.sub(0, nk), kd, kr)
				if err != nil {
					return nil, err
				}
				if key[0] != '"' { // a key that is not text: its JSON as text
					key, _ = json.Marshal(string(key))
				}
				vd, vr := levelsOf(kv[1], d, r)
				return appendJSON(append(append(b, key...), ':'), kv[1], ev.sub(nk, len(ev.vals)-nk), vd, vr)
			})
		case !lc.present(d):
			return append(b, "[]"...), nil
		case !inner.Leaf() && len(inner.Fields()) == 1: // list { element }
			el := inner.Fields()[0]
			ed, er := levelsOf(el, d, r)
			return appendElems(b, lc, r, '[', ']', func(b []byte, ev leafCols) ([]byte, error) { return appendJSON(b, el, ev, ed, er) })
		}
		return appendElems(b, lc, r, '[', ']', func(b []byte, ev leafCols) ([]byte, error) { return appendInstance(b, inner, ev, d, r) })
	}
	b = append(b, '{')
	off := 0
	for k, f := range fields {
		if k > 0 {
			b = append(b, ',')
		}
		name, _ := json.Marshal(f.Name())
		b = append(append(b, name...), ':')
		n := countLeaves(f)
		d, r := levelsOf(f, def, rep)
		var err error
		if b, err = appendJSON(b, f, lc.sub(off, n), d, r); err != nil {
			return nil, err
		}
		off += n
	}
	return append(b, '}'), nil
}

// splitRepeated splits the values of each leaf column into the elements
// of a repeated node whose repetition level is rep: an element starts at
// each value repeated at rep or above.
func splitRepeated(vals [][]parquet.Value, rep int) [][][]parquet.Value {
	var elems [][][]parquet.Value
	for c, col := range vals {
		e := 0
		start := 0
		for i := 1; i <= len(col); i++ {
			if i == len(col) || col[i].RepetitionLevel() <= rep {
				if e >= len(elems) {
					elems = append(elems, make([][]parquet.Value, len(vals)))
				}
				elems[e][c] = col[start:i]
				e++
				start = i
			}
		}
	}
	return elems
}
