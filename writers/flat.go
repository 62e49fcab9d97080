package writers

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"os"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go/compress"
)

// This file writes every Parquet file of the output tree. The bills are
// tens of thousands of files when members pay for themselves (one per payer
// and cycle), and parquet-go's writer spent most of a small file's cost on
// its general machinery: every value boxed, column and offset indexes, a
// reflection-driven thrift encoder for the footer. The outputs'
// schemas are flat (text, 64-bit integers, 16-byte decimals, required or
// optional), so billcons writes them itself: values are appended column by
// column as rows arrive, each row group is written one data page (v2,
// PLAIN) per column chunk, and the footer is encoded by hand. What is
// written follows the format's own definitions (parquet-format's
// parquet.thrift and Encodings.md); TestFlatFileRead and TestFlatSchemas
// read the files back with parquet-go, and DuckDB reads them in every
// query test.

// flatKind is what a flat column holds.
type flatKind uint8

const (
	flatText      flatKind = iota // BYTE_ARRAY, logical type STRING
	flatJSON                      // BYTE_ARRAY, JSON
	flatTimestamp                 // INT64, TIMESTAMP(isAdjustedToUTC, MICROS)
	flatAmount                    // INT64, DECIMAL(18, 9): billing.Amount
	flatCount                     // INT64, INTEGER(64, signed)
	flatSum                       // FIXED_LEN_BYTE_ARRAY(16), DECIMAL(38, 9): billing.Sum
)

// physical is the kind's Parquet type (parquet.thrift's Type).
func (k flatKind) physical() int32 {
	switch k {
	case flatText, flatJSON:
		return 6 // BYTE_ARRAY
	case flatSum:
		return 7 // FIXED_LEN_BYTE_ARRAY
	}
	return 2 // INT64
}

// width is the bytes of one PLAIN value of a fixed-width kind, 0 for text.
func (k flatKind) width() int {
	switch k {
	case flatText, flatJSON:
		return 0
	case flatSum:
		return 16
	}
	return 8
}

// flatColumn is one column of a flat schema.
type flatColumn struct {
	name     string
	kind     flatKind
	optional bool
}

// flatChunk is one column's values in the row group being filled: PLAIN
// encoded (a text value as its 4-byte length and bytes, an integer as 8
// bytes, both little-endian), and for an optional column one definition
// level per row (1 present, 0 null).
type flatChunk struct {
	vals  []byte
	defs  []byte
	nulls int
}

func (c *flatChunk) text(s string) {
	c.vals = binary.LittleEndian.AppendUint32(c.vals, uint32(len(s)))
	c.vals = append(c.vals, s...)
}

// present records, in an optional column, whether a value follows.
func (c *flatChunk) present(valid bool) bool {
	if valid {
		c.defs = append(c.defs, 1)
	} else {
		c.defs = append(c.defs, 0)
		c.nulls++
	}
	return valid
}

func (c *flatChunk) int64(v int64) {
	c.vals = binary.LittleEndian.AppendUint64(c.vals, uint64(v))
}

// sum appends a 128-bit sum as its FIXED_LEN_BYTE_ARRAY(16): big-endian
// two's complement.
func (c *flatChunk) sum(s billing.Sum) { c.vals = s.AppendBytes16(c.vals) }

func (c *flatChunk) optText(s string, valid bool) {
	if c.present(valid) {
		c.text(s)
	}
}

func (c *flatChunk) optInt64(v int64, valid bool) {
	if c.present(valid) {
		c.int64(v)
	}
}

// flatGroup is a row group being filled, column by column.
type flatGroup struct {
	rows int
	cols []flatChunk
}

func newFlatGroup(width int) *flatGroup { return &flatGroup{cols: make([]flatChunk, width)} }

// size is the bytes of values the group holds.
func (g *flatGroup) size() int {
	n := 0
	for i := range g.cols {
		n += len(g.cols[i].vals) + len(g.cols[i].defs)
	}
	return n
}

func (g *flatGroup) reset() {
	g.rows = 0
	for i := range g.cols {
		c := &g.cols[i]
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
func (g *flatGroup) full() bool {
	return g.rows == flatGroupRows || g.rows%8 == 0 && g.size() >= flatGroupBytes
}

// flatWriter writes one file a row at a time, value by value in its
// columns' order, from one goroutine: the outputs other than the bills. A
// full row group is compressed and written by a goroutine of its own while
// the next one fills (the summary is written by the goroutine that feeds
// the bills, so it must not wait on the disk).
type flatWriter struct {
	f     *flatFile
	g     *flatGroup
	spare *flatGroup // the group being written, or written and reset
	done  chan error // the write of spare, while it runs
	col   int
}

// createFlat creates root/rel, a Parquet file of the given columns
// compressed with zstd.
func createFlat(root, rel, name string, cols []flatColumn) (*flatWriter, error) {
	f := newFlatFile(name, cols, &zstdFastest)
	if err := f.open(root, rel, false); err != nil {
		return nil, err
	}
	return &flatWriter{f: f, g: newFlatGroup(len(cols))}, nil
}

func (w *flatWriter) next() *flatChunk {
	c := &w.g.cols[w.col]
	w.col++
	return c
}

func (w *flatWriter) text(s string)                { w.next().text(s) }
func (w *flatWriter) optText(s string, valid bool) { w.next().optText(s, valid) }
func (w *flatWriter) int64(v int64)                { w.next().int64(v) }
func (w *flatWriter) optInt64(v int64, valid bool) { w.next().optInt64(v, valid) }
func (w *flatWriter) sum(s billing.Sum)            { w.next().sum(s) }

// endRow ends a row whose every column was given a value.
func (w *flatWriter) endRow() error {
	if w.col != len(w.f.cols) {
		panic(fmt.Sprintf("writers: a row of %s has %d values for %d columns", w.f.rel, w.col, len(w.f.cols)))
	}
	w.col = 0
	w.g.rows++
	if !w.g.full() {
		return nil
	}
	if err := w.wait(); err != nil {
		return err
	}
	g := w.g
	w.g, w.spare = w.spare, g
	if w.g == nil {
		w.g = newFlatGroup(len(w.f.cols))
	}
	w.done = make(chan error, 1)
	go func() {
		err := w.f.writeGroup(g)
		g.reset()
		w.done <- err
	}()
	return nil
}

// wait waits for the group being written.
func (w *flatWriter) wait() error {
	if w.done == nil {
		return nil
	}
	err := <-w.done
	w.done = nil
	if err != nil {
		w.f.abort()
	}
	return err
}

// close writes the last row group and the footer.
func (w *flatWriter) close() (Output, error) {
	if err := w.wait(); err != nil {
		return Output{}, err
	}
	if err := w.f.writeGroup(w.g); err != nil {
		w.f.abort()
		return Output{}, err
	}
	return w.f.close()
}

// flatStatsMax is the longest text value a chunk's min and max statistics
// carry: a chunk with a longer minimum or maximum has none (its null count
// is still written), as a footer should not grow with a free-text column.
const flatStatsMax = 256

// flatChunkMeta is what the footer says of one written column chunk.
type flatChunkMeta struct {
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

// flatFile is one Parquet file being written, hashed as it goes. A file
// closed can be opened again for the next file of the same schema: it keeps
// its buffers.
type flatFile struct {
	cols  []flatColumn
	name  string // the schema's root
	codec compress.Codec

	rel    string
	f      *os.File
	h      hash.Hash
	n      int64  // bytes written or buffered
	buf    []byte // bytes not yet written
	rows   int64
	groups [][]flatChunkMeta
	arena  []byte // the text statistics' bytes
	comp   []byte // a page's values compressed
	levels []byte // a page's definition levels
	hdr    []byte // a page header, or the footer
	th     thriftWriter
	dict   flatDict
}

// flatFlush is how many bytes a file buffers before writing: a small bills
// file is written with one call.
const flatFlush = 1 << 20

func newFlatFile(name string, cols []flatColumn, codec compress.Codec) *flatFile {
	return &flatFile{name: name, cols: cols, codec: codec, h: sha256.New()}
}

// open creates root/rel for f, closed or new.
func (f *flatFile) open(root, rel string, newDir bool) error {
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
func (f *flatFile) writeGroup(g *flatGroup) error {
	if g.rows == 0 {
		return nil
	}
	// The metadata slice of a file written before with this many groups
	// is filled again.
	var metas []flatChunkMeta
	if len(f.groups) < cap(f.groups) {
		metas = f.groups[:len(f.groups)+1][len(f.groups)][:0]
	}
	for i := range f.cols {
		col, c := &f.cols[i], &g.cols[i]
		m := flatChunkMeta{offset: f.n, values: int64(g.rows), nulls: int64(c.nulls)}
		vals, encoding := c.vals, int32(0) // PLAIN
		if col.kind == flatText && f.dict.build(c.vals, g.rows-c.nulls) {
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
		if col.optional {
			f.levels = appendLevels(f.levels, c.defs, c.nulls)
		}
		err := f.page(col, 3, f.levels, vals, &m, func(th *thriftWriter) {
			th.begin(8) // data_page_header_v2
			th.i32(1, int32(g.rows))
			th.i32(2, int32(c.nulls))
			th.i32(3, int32(g.rows))
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
	f.rows += int64(g.rows)
	if len(f.buf) >= flatFlush {
		return f.flush()
	}
	return nil
}

// page appends one page of type typ (2 DICTIONARY_PAGE, 3 DATA_PAGE_V2):
// its header, whose type-specific struct header writes, the levels as they
// are, and vals compressed; and counts its bytes into m.
func (f *flatFile) page(col *flatColumn, typ int32, levels, vals []byte, m *flatChunkMeta, header func(th *thriftWriter)) error {
	var err error
	f.comp, err = f.codec.Encode(f.comp[:0], vals)
	if err != nil {
		return fmt.Errorf("writing %s: compressing %s: %w", f.rel, col.name, err)
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
func (f *flatFile) stats(col *flatColumn, c *flatChunk, m *flatChunkMeta) {
	v := c.vals
	if len(v) == 0 {
		return
	}
	var lo, hi []byte
	switch col.kind.width() {
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
// is text longer than flatStatsMax.
func (f *flatFile) setStats(lo, hi []byte, m *flatChunkMeta) {
	if len(lo) > flatStatsMax || len(hi) > flatStatsMax {
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

func (f *flatFile) flush() error {
	if len(f.buf) == 0 {
		return nil
	}
	if _, err := f.f.Write(f.buf); err != nil {
		return fmt.Errorf("writing %s: %w", f.rel, UnwrapPath(err))
	}
	f.h.Write(f.buf)
	f.buf = f.buf[:0]
	return nil
}

// close writes the footer and closes the file.
func (f *flatFile) close() (Output, error) {
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
		return Output{}, fmt.Errorf("writing %s: %w", f.rel, UnwrapPath(err))
	}
	return Output{Path: f.rel, Rows: f.rows, Bytes: f.n, SHA256: hex.EncodeToString(f.h.Sum(nil))}, nil
}

// abort closes the file after a failure.
func (f *flatFile) abort() {
	if f.f != nil {
		f.f.Close()
	}
}

// footer encodes the FileMetaData (parquet.thrift) of what was written.
func (f *flatFile) footer() []byte {
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
		th.i32(1, c.kind.physical())
		if c.kind == flatSum {
			th.i32(2, 16) // type_length
		}
		th.i32(3, int32(b2i(c.optional))) // REQUIRED or OPTIONAL
		th.binary(4, c.name)
		switch c.kind {
		case flatText:
			th.i32(6, 0) // UTF8
			th.begin(10)
			th.begin(1) // STRING
			th.end()
			th.end()
		case flatTimestamp:
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
		case flatJSON:
			th.i32(6, 19) // JSON
			th.begin(10)
			th.begin(12) // JSON
			th.end()
			th.end()
		case flatAmount, flatSum:
			precision := int32(18)
			if c.kind == flatSum {
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
		case flatCount:
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
			th.i32(1, c.kind.physical())
			// PLAIN (the values, or the dictionary's), RLE (levels),
			// RLE_DICTIONARY (indexes).
			th.list(2, thriftI32, 1+b2i(c.optional)+b2i(m.dict))
			th.b = appendZigzag(th.b, 0)
			if c.optional {
				th.b = appendZigzag(th.b, 3)
			}
			if m.dict {
				th.b = appendZigzag(th.b, 8)
			}
			th.list(3, thriftBinary, 1)
			th.b = appendBinary(th.b, c.name)
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
	th.binary(6, createdBy)
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
