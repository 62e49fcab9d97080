package readers

import (
	"encoding/binary"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
	"github.com/parquet-go/parquet-go/format"
)

// A Parquet table is read column by column, page by page: each column's page is taken as the typed slices
// parquet-go decoded it into (int32, int64, or bytes and offsets, with a
// dictionary's indexes), and its values go straight into the rows' fields.
// Text is copied once into the read's buffer; a dictionary's entries are
// rendered once per column chunk and shared by the rows that name them; and
// the columns a decoder asks for typed (see [DeliverTyped]) are not rendered
// at all: their raw integers go to Row.Num, rendered only if a reject's
// record needs them ([Row.Text]). Other physical types (booleans, floats,
// fixed-length bytes) go through parquet-go's values, rendered as before.
// Chunks in the common encodings are not given to parquet-go at all:
// billcons reads their pages itself (pages.go), with the same fill.

// column reads one column chunk of a row group.
type column struct {
	pos    int // header position
	kind   ColumnKind
	render renderFunc
	typed  bool // deliver the raw integer in Row.Num, not text

	pages parquet.Pages
	page  parquet.Page
	defs  []byte // the page's definition levels; nil when it has no nulls
	rows  int    // rows in the page
	next  int    // the page's next row
	value int    // the page's next non-null value

	// The page's values, by physical kind.
	phys encoding.Kind
	idx  []int32 // a dictionary's indexes, when the page has one
	i32  []int32
	i64  []int64
	data []byte
	offs []uint32
	vals []parquet.Value // other kinds: one per row, nulls included
	// ascii says every byte of the page's text is ASCII, and so valid
	// UTF-8: its values need no check of their own.
	ascii bool

	stream    *stream // the chunk read by billcons itself (pages.go), when streaming
	streaming bool

	// The dictionary of the chunk, its entries rendered once.
	dict     parquet.Dictionary
	dictText []string
	dictErr  []error
	dictNum  []int64
}

// open starts the column on chunk cc of rows rows, whose metadata is md,
// of file f of size bytes: read by billcons itself when it can be
// (pages.go), else by parquet-go's pages.
func (c *column) open(cc parquet.ColumnChunk, md *format.ColumnChunk, f io.ReaderAt, size, rows int64, optional bool) error {
	c.close()
	if streamable(md) {
		if c.stream == nil {
			c.stream = new(stream)
		}
		c.stream.reset(f, size, md, rows, optional)
		c.streaming = true
		return nil
	}
	c.streaming = false
	if err := checkPages(f, size, md); err != nil {
		return err
	}
	c.pages = cc.Pages()
	return nil
}

// close releases the column's page and pages.
func (c *column) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
	c.rows, c.next = 0, 0
	c.dict = nil
	if c.stream != nil {
		c.stream.release()
	}
}

// nextPage reads the chunk's next page.
func (c *column) nextPage() error {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	p, err := c.pages.ReadPage()
	if err == io.EOF {
		return io.ErrUnexpectedEOF // the row group promised more rows
	}
	if err != nil {
		return err
	}
	if p.RepetitionLevels() != nil && len(p.RepetitionLevels()) > 0 {
		parquet.Release(p)
		return fmt.Errorf("column %d has repetition levels; billcons reads flat tables only", c.pos+1)
	}
	c.page = p
	c.rows = int(p.NumValues())
	c.next, c.value = 0, 0
	c.defs = nil
	if p.NumNulls() > 0 {
		c.defs = p.DefinitionLevels()
		if len(c.defs) != c.rows {
			return fmt.Errorf("page of %d values has %d definition levels", c.rows, len(c.defs))
		}
	}
	c.idx, c.i32, c.i64, c.data, c.offs, c.vals = nil, nil, nil, nil, nil, c.vals[:0]
	c.ascii = false
	data := p.Data()
	c.phys = data.Kind()
	if d := p.Dictionary(); d != nil {
		if d != c.dict {
			if err := c.readDictionary(d); err != nil {
				return err
			}
		}
		c.idx = data.Int32()
		return c.checkCount(len(c.idx))
	}
	switch c.phys {
	case encoding.Int32:
		c.i32 = data.Int32()
		return c.checkCount(len(c.i32))
	case encoding.Int64:
		c.i64 = data.Int64()
		return c.checkCount(len(c.i64))
	case encoding.ByteArray:
		c.data, c.offs = data.ByteArray()
		c.ascii = isASCII(c.data)
		return c.checkCount(len(c.offs) - 1)
	}
	c.phys = encoding.Undefined
	if cap(c.vals) < c.rows {
		c.vals = make([]parquet.Value, c.rows)
	}
	c.vals = c.vals[:c.rows]
	n, err := p.Values().ReadValues(c.vals)
	if err != nil && err != io.EOF {
		return err
	}
	if n != c.rows {
		return fmt.Errorf("page of %d values gave %d", c.rows, n)
	}
	return nil
}

// checkCount checks that a page holds a value for each of its non-null rows.
func (c *column) checkCount(n int) error {
	want := c.rows
	if c.defs != nil {
		want -= int(c.page.NumNulls())
	}
	if n < want {
		return fmt.Errorf("page of %d non-null values holds %d", want, n)
	}
	return nil
}

// readDictionary renders a chunk's parquet-go dictionary once.
func (c *column) readDictionary(d parquet.Dictionary) error {
	c.dict = d
	data := d.Page().Data()
	n := d.Len()
	switch data.Kind() {
	case encoding.Int32:
		c.loadDictionary(n, data.Int32(), nil, nil, nil, nil)
	case encoding.Int64:
		c.loadDictionary(n, nil, data.Int64(), nil, nil, nil)
	case encoding.ByteArray:
		b, offs := data.ByteArray()
		if len(offs) != n+1 {
			return fmt.Errorf("dictionary of %d values has %d offsets", n, len(offs))
		}
		c.loadDictionary(n, nil, nil, b, offs, nil)
	default:
		c.loadDictionary(n, nil, nil, nil, nil, d.Index)
	}
	return nil
}

// loadDictionary renders a dictionary of n values once: INT32 (i32),
// INT64 (i64), BYTE_ARRAY (b and its n+1 offsets) or any other type
// (index). A typed column keeps its integers instead.
func (c *column) loadDictionary(n int, i32 []int32, i64 []int64, b []byte, offs []uint32, index func(int32) parquet.Value) {
	c.dictText = resize(c.dictText, n)
	c.dictErr = resize(c.dictErr, n)
	clear(c.dictErr)
	if c.typed {
		c.dictNum = resize(c.dictNum, n)
	}
	var text []byte
	for i := range n {
		var v parquet.Value
		switch {
		case i32 != nil:
			if c.typed {
				c.dictNum[i] = int64(i32[i])
				continue
			}
			v = parquet.Int32Value(i32[i])
		case i64 != nil:
			if c.typed {
				c.dictNum[i] = i64[i]
				continue
			}
			v = parquet.Int64Value(i64[i])
		case offs != nil:
			v = parquet.ByteArrayValue(b[offs[i]:offs[i+1]])
		default:
			v = index(int32(i))
		}
		c.dictText[i], c.dictErr[i] = c.renderOne(&text, v)
	}
}

// renderOne renders v as a string of its own, for a dictionary entry.
func (c *column) renderOne(buf *[]byte, v parquet.Value) (string, error) {
	var err error
	*buf, err = c.render((*buf)[:0], v)
	s := string(*buf)
	if err == nil && c.kind == KindText && !utf8.ValidString(s) {
		err = errInvalidUTF8
	}
	return s, err
}

var errInvalidUTF8 = fmt.Errorf("not valid UTF-8")

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// batch is the rows one Read fills, column by column.
type batch struct {
	t     *parquetTable
	rows  []Row
	text  []byte // the rows' text; never written again once viewed
	size  []int  // each row's text bytes
	nulls []bool // backing for the rows' Null
}

// null marks row i's field p null.
func (b *batch) null(i, p int) {
	row := &b.rows[i]
	if row.Null == nil {
		w := len(b.t.header)
		row.Null = b.nulls[i*w : (i+1)*w : (i+1)*w]
		clear(row.Null)
	}
	row.Null[p] = true
}

// fail keeps err as row i's error unless it has one: columns are filled in
// header order, so a row's error names its first bad column.
func (b *batch) fail(i, p int, err error) {
	row := &b.rows[i]
	if row.Err != nil {
		return
	}
	if err == errInvalidUTF8 {
		row.Err = &FormatError{Code: "invalid_utf8", Msg: fmt.Sprintf("column %s is not valid UTF-8", b.t.header[p])}
		return
	}
	row.Err = &FormatError{Code: "invalid_value", Msg: fmt.Sprintf("column %s: %v", b.t.header[p], err)}
}

// set makes s row i's field p.
func (b *batch) set(i, p int, s string) {
	b.rows[i].Fields[p] = s
	b.size[i] += len(s)
}

// render renders v as row i's field p.
func (b *batch) render(c *column, i int, v parquet.Value) {
	start := len(b.text)
	var err error
	b.text, err = c.render(b.text, v)
	s := viewString(b.text[start:])
	b.set(i, c.pos, s)
	if err == nil && c.kind == KindText && !utf8.ValidString(s) {
		err = errInvalidUTF8
	}
	if err != nil {
		b.fail(i, c.pos, err)
	}
}

// fill reads the column's values for the batch's rows.
func (c *column) fill(b *batch) error {
	if c.streaming {
		return c.fillStream(b)
	}
	p := c.pos
	for i := range b.rows {
		for c.next == c.rows { // a page may hold no values
			if err := c.nextPage(); err != nil {
				return err
			}
		}
		r := c.next
		c.next++
		if c.defs != nil && c.defs[r] == 0 {
			b.null(i, p)
			continue
		}
		if c.idx == nil && c.phys == encoding.Undefined {
			if v := c.vals[r]; v.IsNull() {
				b.null(i, p)
			} else {
				b.render(c, i, v)
			}
			continue
		}
		k := c.value
		c.value++
		if c.idx != nil {
			if err := c.dictValue(b, i, int64(c.idx[k])); err != nil {
				return err
			}
			continue
		}
		switch c.phys {
		case encoding.Int64:
			c.int64Value(b, i, c.i64[k])
		case encoding.Int32:
			c.int32Value(b, i, c.i32[k])
		case encoding.ByteArray:
			c.bytesValue(b, i, c.data[c.offs[k]:c.offs[k+1]])
		}
	}
	return nil
}

// dictValue makes dictionary entry j row i's value.
func (c *column) dictValue(b *batch, i int, j int64) error {
	if j < 0 || j >= int64(len(c.dictText)) {
		return fmt.Errorf("dictionary index %d out of %d values", j, len(c.dictText))
	}
	if c.typed {
		b.rows[i].Num[c.pos] = c.dictNum[j]
		return nil
	}
	b.set(i, c.pos, c.dictText[j])
	if e := c.dictErr[j]; e != nil {
		b.fail(i, c.pos, e)
	}
	return nil
}

func (c *column) int64Value(b *batch, i int, x int64) {
	if c.typed {
		b.rows[i].Num[c.pos] = x
	} else {
		b.render(c, i, parquet.Int64Value(x))
	}
}

func (c *column) int32Value(b *batch, i int, x int32) {
	if c.typed {
		b.rows[i].Num[c.pos] = int64(x)
	} else {
		b.render(c, i, parquet.Int32Value(x))
	}
}

// isASCII reports whether every byte of b is below 0x80, eight at a time.
func isASCII(b []byte) bool {
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, x := range b {
		or |= uint64(x)
	}
	return or&0x8080808080808080 == 0
}

// bytesValue makes v row i's value: text copied into the batch's buffer,
// anything else (a decimal's bytes) rendered.
func (c *column) bytesValue(b *batch, i int, v []byte) {
	if c.kind != KindText {
		b.render(c, i, parquet.ByteArrayValue(v))
		return
	}
	start := len(b.text)
	b.text = append(b.text, v...)
	s := viewString(b.text[start:])
	b.set(i, c.pos, s)
	if !c.ascii && !utf8.ValidString(s) {
		b.fail(i, c.pos, errInvalidUTF8)
	}
}
