package parquetio

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"os"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/storage"
	"github.com/parquet-go/parquet-go/compress"
)

// Kind is what a flat column holds.
type Kind uint8

const (
	Text      Kind = iota // BYTE_ARRAY, logical type STRING
	JSON                  // BYTE_ARRAY, JSON
	Timestamp             // INT64, TIMESTAMP(isAdjustedToUTC, MICROS)
	Amount                // INT64, DECIMAL(18, 9): billing.Amount
	Count                 // INT64, INTEGER(64, signed)
	Sum                   // FIXED_LEN_BYTE_ARRAY(16), DECIMAL(38, 9): billing.Sum
)

// physical is the kind's Parquet type (parquet.thrift's Type).
func (k Kind) physical() int32 {
	switch k {
	case Text, JSON:
		return 6 // BYTE_ARRAY
	case Sum:
		return 7 // FIXED_LEN_BYTE_ARRAY
	}
	return 2 // INT64
}

// width is the bytes of one PLAIN value of a fixed-width kind, 0 for text.
func (k Kind) width() int {
	switch k {
	case Text, JSON:
		return 0
	case Sum:
		return 16
	}
	return 8
}

// Column is one column of a flat schema.
type Column struct {
	Name     string
	Kind     Kind
	Optional bool
}

// Chunk is one column's values in the row group being filled: PLAIN
// encoded (a text value as its 4-byte length and bytes, an integer as 8
// bytes, both little-endian), and for an optional column one definition
// level per row (1 present, 0 null).
type Chunk struct {
	vals  []byte
	defs  []byte
	nulls int
}

func (c *Chunk) Text(s string) {
	c.vals = binary.LittleEndian.AppendUint32(c.vals, uint32(len(s)))
	c.vals = append(c.vals, s...)
}

// present records, in an optional column, whether a value follows.
func (c *Chunk) Present(valid bool) bool {
	if valid {
		c.defs = append(c.defs, 1)
	} else {
		c.defs = append(c.defs, 0)
		c.nulls++
	}
	return valid
}

func (c *Chunk) Int64(v int64) {
	c.vals = binary.LittleEndian.AppendUint64(c.vals, uint64(v))
}

// sum appends a 128-bit sum as its FIXED_LEN_BYTE_ARRAY(16): big-endian
// two's complement.
func (c *Chunk) Sum(s billing.Sum) { c.vals = s.AppendBytes16(c.vals) }

func (c *Chunk) OptText(s string, valid bool) {
	if c.Present(valid) {
		c.Text(s)
	}
}

func (c *Chunk) OptInt64(v int64, valid bool) {
	if c.Present(valid) {
		c.Int64(v)
	}
}

// Group is a row group being filled, column by column.
type Group struct {
	Rows int
	Cols []Chunk
}

// NewGroup is an empty row group of width columns.
func NewGroup(width int) *Group { return &Group{Cols: make([]Chunk, width)} }

// size is the bytes of values the group holds.
func (g *Group) Size() int {
	n := 0
	for i := range g.Cols {
		n += len(g.Cols[i].vals) + len(g.Cols[i].defs)
	}
	return n
}

func (g *Group) Reset() {
	g.Rows = 0
	for i := range g.Cols {
		c := &g.Cols[i]
		c.vals, c.defs, c.nulls = c.vals[:0], c.defs[:0], 0
	}
}

// A row group holds at most flatGroupRows rows, and is cut earlier once
// its values pass flatGroupBytes: what a writer holds is bounded whatever
// the columns carry.
const (
	flatGroupRows  = 1 << 15
	flatGroupBytes = 8 << 20
)

// full reports whether the group is to be written before another row.
func (g *Group) Full() bool {
	return g.Rows == flatGroupRows || g.Rows%8 == 0 && g.Size() >= flatGroupBytes
}

// Writer writes one file a row at a time, value by value in its
// columns' order, from one goroutine: the outputs other than the bills. A
// full row group is compressed and written by a goroutine of its own while
// the next one fills (the summary is written by the goroutine that feeds
// the bills, so it must not wait on the disk).
type Writer struct {
	f     *File
	g     *Group
	spare *Group     // the group being written, or written and reset
	done  chan error // the write of spare, while it runs
	col   int
}

// Create creates root/rel, a Parquet file of the given columns
// compressed with zstd, whose footer names createdBy as its writer.
func Create(root, rel, name string, cols []Column, createdBy string) (*Writer, error) {
	f := NewFile(name, cols, Zstd, createdBy)
	if err := f.Open(root, rel, false); err != nil {
		return nil, err
	}
	return &Writer{f: f, g: NewGroup(len(cols))}, nil
}

func (w *Writer) Next() *Chunk {
	c := &w.g.Cols[w.col]
	w.col++
	return c
}

func (w *Writer) Text(s string)                { w.Next().Text(s) }
func (w *Writer) OptText(s string, valid bool) { w.Next().OptText(s, valid) }
func (w *Writer) Int64(v int64)                { w.Next().Int64(v) }
func (w *Writer) OptInt64(v int64, valid bool) { w.Next().OptInt64(v, valid) }
func (w *Writer) Sum(s billing.Sum)            { w.Next().Sum(s) }

// endRow ends a row whose every column was given a value.
func (w *Writer) EndRow() error {
	if w.col != len(w.f.cols) {
		panic(fmt.Sprintf("writers: a row of %s has %d values for %d columns", w.f.rel, w.col, len(w.f.cols)))
	}
	w.col = 0
	w.g.Rows++
	if !w.g.Full() {
		return nil
	}
	if err := w.Wait(); err != nil {
		return err
	}
	g := w.g
	w.g, w.spare = w.spare, g
	if w.g == nil {
		w.g = NewGroup(len(w.f.cols))
	}
	w.done = make(chan error, 1)
	go func() {
		err := w.f.WriteGroup(g)
		g.Reset()
		w.done <- err
	}()
	return nil
}

// wait waits for the group being written.
func (w *Writer) Wait() error {
	if w.done == nil {
		return nil
	}
	err := <-w.done
	w.done = nil
	if err != nil {
		w.f.Abort()
	}
	return err
}

// close writes the last row group and the footer.
// Abort closes and removes the file unfinished.
func (w *Writer) Abort() { w.f.Abort() }

func (w *Writer) Close() (Output, error) {
	if err := w.Wait(); err != nil {
		return Output{}, err
	}
	if err := w.f.WriteGroup(w.g); err != nil {
		w.f.Abort()
		return Output{}, err
	}
	return w.f.Close()
}

// StatsMax is the longest text value a chunk's min and max statistics
// carry: a chunk with a longer minimum or maximum has none (its null count
// is still written), as a footer should not grow with a free-text column.
const StatsMax = 256

// chunkMeta is what the footer says of one written column chunk.
type chunkMeta struct {
	offset       int64 // of its first page's header: the dictionary's, if any
	data         int64 // of its data page's header
	dict         bool  // dictionary encoded: a dictionary page, then indexes
	uncompressed int64 // header and page, before compression
	compressed   int64 // header and page as written
	values       int64
	nulls        int64
	stats        bool // min and max are set
	min, max     []byte
}

// File is one Parquet file being written, hashed as it goes. A file
// closed can be opened again for the next file of the same schema: it keeps
// its buffers.
type File struct {
	cols      []Column
	name      string // the schema's root
	codec     compress.Codec
	createdBy string

	rel    string
	f      *os.File
	h      hash.Hash
	n      int64  // bytes written or buffered
	buf    []byte // bytes not yet written
	rows   int64
	groups [][]chunkMeta
	arena  []byte // the text statistics' bytes
	comp   []byte // a page's values compressed
	levels []byte // a page's definition levels
	hdr    []byte // a page header, or the footer
	th     thriftWriter
	dict   dict
}

// flushSize is how many bytes a file buffers before writing: a small bills
// file is written with one call.
const flushSize = 1 << 20

// NewFile is a Parquet file of the given columns (its schema's root
// named name) compressed with codec, whose footer names createdBy as its
// writer; Open creates it.
func NewFile(name string, cols []Column, codec compress.Codec, createdBy string) *File {
	return &File{name: name, cols: cols, codec: codec, createdBy: createdBy, h: sha256.New()}
}

// open creates root/rel for f, closed or new.
func (f *File) Open(root, rel string, newDir bool) error {
	file, err := createFile(root, rel, newDir)
	if err != nil {
		return err
	}
	f.rel, f.f = rel, file
	f.h.Reset()
	f.n, f.rows = 0, 0
	f.buf = append(f.buf[:0], "PAR1"...)
	f.n = int64(len(f.buf))
	for i := range f.groups {
		f.groups[i] = f.groups[i][:0]
	}
	f.groups = f.groups[:0]
	f.arena = f.arena[:0]
	return nil
}

// writeGroup writes g's columns as one row group.
func (f *File) WriteGroup(g *Group) error {
	if g.Rows == 0 {
		return nil
	}
	// The metadata slice of a file written before with this many groups
	// is filled again.
	var metas []chunkMeta
	if len(f.groups) < cap(f.groups) {
		metas = f.groups[:len(f.groups)+1][len(f.groups)][:0]
	}
	for i := range f.cols {
		col, c := &f.cols[i], &g.Cols[i]
		m := chunkMeta{offset: f.n, values: int64(g.Rows), nulls: int64(c.nulls)}
		vals, encoding := c.vals, int32(0) // PLAIN
		if col.Kind == Text && f.dict.build(c.vals, g.Rows-c.nulls) {
			// The dictionary page, then the data page's values are the
			// entries' indexes.
			err := f.page(col, 2, nil, f.dict.page, &m, func(th *thriftWriter) {
				th.begin(7) // dictionary_page_header
				th.i32(1, int32(len(f.dict.ents)))
				th.i32(2, 0) // PLAIN
				th.end()
			})
			if err != nil {
				return err
			}
			m.dict = true
			vals, encoding = f.dict.encodeIndexes(), 8 // RLE_DICTIONARY
		}
		m.data = f.n
		// A v2 page: its header, the levels uncompressed, then the values.
		f.levels = f.levels[:0]
		if col.Optional {
			f.levels = appendLevels(f.levels, c.defs, c.nulls)
		}
		err := f.page(col, 3, f.levels, vals, &m, func(th *thriftWriter) {
			th.begin(8) // data_page_header_v2
			th.i32(1, int32(g.Rows))
			th.i32(2, int32(c.nulls))
			th.i32(3, int32(g.Rows))
			th.i32(4, encoding)
			th.i32(5, int32(len(f.levels)))
			th.i32(6, 0)
			th.end()
		})
		if err != nil {
			return err
		}
		if m.dict {
			f.dict.stats(f, &m)
		} else {
			f.stats(col, c, &m)
		}
		metas = append(metas, m)
	}
	f.groups = append(f.groups, metas)
	f.rows += int64(g.Rows)
	if len(f.buf) >= flushSize {
		return f.flush()
	}
	return nil
}

// page appends one page of type typ (2 DICTIONARY_PAGE, 3 DATA_PAGE_V2):
// its header, whose type-specific struct header writes, the levels as they
// are, and vals compressed; and counts its bytes into m.
func (f *File) page(col *Column, typ int32, levels, vals []byte, m *chunkMeta, header func(th *thriftWriter)) error {
	var err error
	f.comp, err = f.codec.Encode(f.comp[:0], vals)
	if err != nil {
		return fmt.Errorf("writing %s: compressing %s: %w", f.rel, col.Name, err)
	}
	th := &f.th
	th.reset(f.hdr[:0])
	th.i32(1, typ)
	th.i32(2, int32(len(levels)+len(vals)))
	th.i32(3, int32(len(levels)+len(f.comp)))
	header(th)
	th.stop()
	f.hdr = th.b
	f.buf = append(f.buf, f.hdr...)
	f.buf = append(f.buf, levels...)
	f.buf = append(f.buf, f.comp...)
	m.uncompressed += int64(len(f.hdr) + len(levels) + len(vals))
	compressed := int64(len(f.hdr) + len(levels) + len(f.comp))
	m.compressed += compressed
	f.n += compressed
	return nil
}

// stats sets m's minimum and maximum from the chunk's values, in each
// type's TYPE_DEFINED_ORDER: signed for INT64, bytewise for text, signed
// two's complement for the big-endian 16-byte decimals.
func (f *File) stats(col *Column, c *Chunk, m *chunkMeta) {
	v := c.vals
	if len(v) == 0 {
		return
	}
	var lo, hi []byte
	switch col.Kind.width() {
	case 8:
		l := int64(binary.LittleEndian.Uint64(v))
		h := l
		for p := 8; p+8 <= len(v); p += 8 {
			x := int64(binary.LittleEndian.Uint64(v[p:]))
			l, h = min(l, x), max(h, x)
		}
		start := len(f.arena)
		f.arena = binary.LittleEndian.AppendUint64(f.arena, uint64(l))
		f.arena = binary.LittleEndian.AppendUint64(f.arena, uint64(h))
		m.min, m.max, m.stats = f.arena[start:start+8:start+8], f.arena[start+8:start+16:start+16], true
		return
	case 16:
		lo, hi = v[:16], v[:16]
		for p := 16; p+16 <= len(v); p += 16 {
			x := v[p : p+16]
			if lessSigned(x, lo) {
				lo = x
			} else if lessSigned(hi, x) {
				hi = x
			}
		}
	default:
		n := int(binary.LittleEndian.Uint32(v))
		lo = v[4 : 4+n]
		hi = lo
		prev := lo
		for p := 4 + n; p < len(v); {
			n := int(binary.LittleEndian.Uint32(v[p:]))
			x := v[p+4 : p+4+n]
			p += 4 + n
			// Text columns repeat themselves (a member's lines come
			// together): a value equal to the one before moves neither
			// bound.
			if len(x) == len(prev) && string(x) == string(prev) {
				continue
			}
			prev = x
			lo, hi = widen(lo, hi, x)
		}
	}
	f.setStats(lo, hi, m)
}

// widen returns text bounds lo and hi widened to hold x.
func widen(lo, hi, x []byte) ([]byte, []byte) {
	if bytes.Compare(x, lo) < 0 {
		return x, hi
	} else if bytes.Compare(x, hi) > 0 {
		return lo, x
	}
	return lo, hi
}

// setStats keeps copies of a chunk's bounds as m's statistics, unless one
// is text longer than StatsMax.
func (f *File) setStats(lo, hi []byte, m *chunkMeta) {
	if len(lo) > StatsMax || len(hi) > StatsMax {
		return
	}
	start := len(f.arena)
	f.arena = append(f.arena, lo...)
	f.arena = append(f.arena, hi...)
	mid := start + len(lo)
	m.min, m.max, m.stats = f.arena[start:mid:mid], f.arena[mid:], true
}

// lessSigned orders big-endian two's complement integers of one width.
func lessSigned(a, b []byte) bool {
	if a[0] != b[0] {
		return int8(a[0]) < int8(b[0])
	}
	return bytes.Compare(a[1:], b[1:]) < 0
}

// appendLevels appends the definition levels of an optional column, bit
// width 1, in the RLE/bit-packing hybrid: one run when all are present or
// all null, bit-packed otherwise.
func appendLevels(dst, defs []byte, nulls int) []byte {
	switch nulls {
	case 0:
		dst = binary.AppendUvarint(dst, uint64(len(defs))<<1)
		return append(dst, 1)
	case len(defs):
		dst = binary.AppendUvarint(dst, uint64(len(defs))<<1)
		return append(dst, 0)
	}
	groups := (len(defs) + 7) / 8
	dst = binary.AppendUvarint(dst, uint64(groups)<<1|1)
	for i := 0; i < len(defs); i += 8 {
		var b byte
		for j, d := range defs[i:min(i+8, len(defs))] {
			b |= d << j
		}
		dst = append(dst, b)
	}
	return dst
}

func (f *File) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	if _, err := f.f.Write(f.buf); err != nil {
		return fmt.Errorf("writing %s: %w", f.rel, storage.UnwrapPath(err))
	}
	f.h.Write(f.buf)
	f.buf = f.buf[:0]
	return nil
}

// close writes the footer and closes the file.
func (f *File) Close() (Output, error) {
	footer := f.footer()
	f.buf = append(f.buf, footer...)
	f.buf = binary.LittleEndian.AppendUint32(f.buf, uint32(len(footer)))
	f.buf = append(f.buf, "PAR1"...)
	f.n += int64(len(footer) + 8)
	if err := f.flush(); err != nil {
		f.f.Close()
		return Output{}, err
	}
	if err := f.f.Close(); err != nil {
		return Output{}, fmt.Errorf("writing %s: %w", f.rel, storage.UnwrapPath(err))
	}
	return Output{Path: f.rel, Rows: f.rows, Bytes: f.n, SHA256: hex.EncodeToString(f.h.Sum(nil))}, nil
}

// abort closes the file after a failure.
func (f *File) Abort() {
	if f.f != nil {
		f.f.Close()
	}
}

// footer encodes the FileMetaData (parquet.thrift) of what was written.
func (f *File) footer() []byte {
	th := &f.th
	th.reset(f.hdr[:0])
	th.i32(1, 2) // version
	th.list(2, thriftStruct, len(f.cols)+1)
	th.elem()
	th.binary(4, f.name)
	th.i32(5, int32(len(f.cols)))
	th.end()
	for _, c := range f.cols {
		th.elem()
		th.i32(1, c.Kind.physical())
		if c.Kind == Sum {
			th.i32(2, 16) // type_length
		}
		th.i32(3, int32(b2i(c.Optional))) // REQUIRED or OPTIONAL
		th.binary(4, c.Name)
		switch c.Kind {
		case Text:
			th.i32(6, 0) // UTF8
			th.begin(10)
			th.begin(1) // STRING
			th.end()
			th.end()
		case Timestamp:
			th.i32(6, 10) // TIMESTAMP_MICROS
			th.begin(10)
			th.begin(8) // TIMESTAMP
			th.bool(1, true)
			th.begin(2)
			th.begin(2) // MICROS
			th.end()
			th.end()
			th.end()
			th.end()
		case JSON:
			th.i32(6, 19) // JSON
			th.begin(10)
			th.begin(12) // JSON
			th.end()
			th.end()
		case Amount, Sum:
			precision := int32(18)
			if c.Kind == Sum {
				precision = 38
			}
			th.i32(6, 5) // DECIMAL
			th.i32(7, 9)
			th.i32(8, precision)
			th.begin(10)
			th.begin(5) // DECIMAL
			th.i32(1, 9)
			th.i32(2, precision)
			th.end()
			th.end()
		case Count:
			th.i32(6, 18) // INT_64
			th.begin(10)
			th.begin(10) // INTEGER
			th.byte(1, 64)
			th.bool(2, true)
			th.end()
			th.end()
		}
		th.end()
	}
	th.i64(3, f.rows)
	th.list(4, thriftStruct, len(f.groups))
	for gi, g := range f.groups {
		th.elem()
		th.list(1, thriftStruct, len(g))
		var uncompressed, compressed int64
		for i, m := range g {
			c := &f.cols[i]
			uncompressed += m.uncompressed
			compressed += m.compressed
			th.elem()
			th.i64(2, m.offset)
			th.begin(3) // meta_data
			th.i32(1, c.Kind.physical())
			// PLAIN (the values, or the dictionary's), RLE (levels),
			// RLE_DICTIONARY (indexes).
			th.list(2, thriftI32, 1+b2i(c.Optional)+b2i(m.dict))
			th.b = appendZigzag(th.b, 0)
			if c.Optional {
				th.b = appendZigzag(th.b, 3)
			}
			if m.dict {
				th.b = appendZigzag(th.b, 8)
			}
			th.list(3, thriftBinary, 1)
			th.b = appendBinary(th.b, c.Name)
			th.i32(4, int32(f.codec.CompressionCodec()))
			th.i64(5, m.values)
			th.i64(6, m.uncompressed)
			th.i64(7, m.compressed)
			th.i64(9, m.data)
			if m.dict {
				th.i64(11, m.offset)
			}
			th.begin(12) // statistics
			th.i64(3, m.nulls)
			if m.stats {
				th.binaryBytes(5, m.max)
				th.binaryBytes(6, m.min)
			}
			th.end()
			th.end()
			th.end()
		}
		th.i64(2, uncompressed)
		th.i64(3, g[0].values)
		th.i64(5, g[0].offset)
		th.i64(6, compressed)
		th.i16(7, int16(gi))
		th.end()
	}
	th.binary(6, f.createdBy)
	th.list(7, thriftStruct, len(f.cols))
	for range f.cols {
		th.elem()
		th.begin(1) // TYPE_ORDER
		th.end()
		th.end()
	}
	th.stop()
	f.hdr = th.b
	return th.b
}

// Compact protocol types (thrift's TCompactProtocol).
const (
	thriftTrue   = 1
	thriftFalse  = 2
	thriftByte   = 3
	thriftI16    = 4
	thriftI32    = 5
	thriftI64    = 6
	thriftBinary = 8
	thriftList   = 9
	thriftStruct = 12
)

// thriftWriter encodes thrift's compact protocol, the encoding of Parquet's
// page headers and footer: each field is its id's delta from the previous
// field's and its type, integers zigzag varints.
type thriftWriter struct {
	b     []byte
	last  int16
	stack []int16
}

func (w *thriftWriter) reset(b []byte) { w.b, w.last, w.stack = b, 0, w.stack[:0] }

func (w *thriftWriter) field(id int16, typ byte) {
	if d := id - w.last; d > 0 && d <= 15 {
		w.b = append(w.b, byte(d)<<4|typ)
	} else {
		w.b = append(w.b, typ)
		w.b = appendZigzag(w.b, int64(id))
	}
	w.last = id
}

func appendZigzag(b []byte, v int64) []byte { return binary.AppendUvarint(b, uint64(v<<1^v>>63)) }

func (w *thriftWriter) byte(id int16, v int8) { w.field(id, thriftByte); w.b = append(w.b, byte(v)) }
func (w *thriftWriter) i16(id int16, v int16) {
	w.field(id, thriftI16)
	w.b = appendZigzag(w.b, int64(v))
}
func (w *thriftWriter) i32(id int16, v int32) {
	w.field(id, thriftI32)
	w.b = appendZigzag(w.b, int64(v))
}
func (w *thriftWriter) i64(id int16, v int64) { w.field(id, thriftI64); w.b = appendZigzag(w.b, v) }

func (w *thriftWriter) bool(id int16, v bool) {
	if v {
		w.field(id, thriftTrue)
	} else {
		w.field(id, thriftFalse)
	}
}

func (w *thriftWriter) binary(id int16, s string) {
	w.field(id, thriftBinary)
	w.b = appendBinary(w.b, s)
}

func (w *thriftWriter) binaryBytes(id int16, s []byte) {
	w.field(id, thriftBinary)
	w.b = appendBinary(w.b, s)
}

// appendBinary appends a thrift binary: its length, then its bytes.
func appendBinary[T string | []byte](b []byte, s T) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// begin starts a struct field, elem a struct element of a list; end
// closes either. stop ends the top level struct.
func (w *thriftWriter) begin(id int16) {
	w.field(id, thriftStruct)
	w.elem()
}

func (w *thriftWriter) elem() {
	w.stack = append(w.stack, w.last)
	w.last = 0
}

func (w *thriftWriter) end() {
	w.b = append(w.b, 0)
	w.last = w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
}

func (w *thriftWriter) stop() { w.b = append(w.b, 0) }

// list starts a list field of n elements of type typ.
func (w *thriftWriter) list(id int16, typ byte, n int) {
	w.field(id, thriftList)
	if n < 15 {
		w.b = append(w.b, byte(n)<<4|typ)
	} else {
		w.b = append(w.b, 0xf0|typ)
		w.b = binary.AppendUvarint(w.b, uint64(n))
	}
}
