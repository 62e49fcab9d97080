package shards

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"unsafe"

	"github.com/billcons/billcons/readers"
	"github.com/klauspost/compress/s2"
)

// The rows a split step hands to a shard: one file per (input file, shard),
// S2-compressed (klauspost/compress/s2; see the README for the measure
// against zstd), each row as read: its number, its fields exactly as the
// reader gave them (null marked), and the reader's error for a malformed
// row. A malformed CSV row can have any number of fields, so the rows are
// not a fixed-width table (see the README for why not Arrow IPC).
//
//	row   = uvarint(N) uvarint(nfields) field* err
//	field = uvarint(0) (null) | uvarint(len+1) bytes
//	err   = 0 | 1 uvarint(len) code uvarint(len) msg

// rowWriter writes rows to w.
type rowWriter struct {
	z    *s2.Writer
	buf  []byte
	rows int64
}

func newRowWriter(w io.Writer) *rowWriter {
	return &rowWriter{z: s2.NewWriter(w, s2.WriterConcurrency(1))}
}

func (w *rowWriter) write(row *readers.Row) error {
	b := binary.AppendUvarint(w.buf[:0], uint64(row.N))
	b = binary.AppendUvarint(b, uint64(len(row.Fields)))
	for i, f := range row.Fields {
		if row.Null != nil && row.Null[i] {
			b = append(b, 0)
			continue
		}
		b = binary.AppendUvarint(b, uint64(len(f))+1)
		b = append(b, f...)
	}
	var fe *readers.FormatError
	switch {
	case row.Err == nil:
		b = append(b, 0)
	case errors.As(row.Err, &fe):
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(fe.Code)))
		b = append(b, fe.Code...)
		b = binary.AppendUvarint(b, uint64(len(fe.Msg)))
		b = append(b, fe.Msg...)
	default:
		return fmt.Errorf("row %d: %w", row.N, row.Err)
	}
	w.buf = b
	w.rows++
	_, err := w.z.Write(b)
	return err
}

func (w *rowWriter) close() error { return w.z.Close() }

// rowTable reads rows written by rowWriter as a readers.Table.
type rowTable struct {
	name   string
	header []string
	kinds  []readers.ColumnKind
	src    io.ReadCloser
	z      *s2.Reader
	r      *bufio.Reader
	buf    []byte
	ends   []int // where each field of the current row ends in buf
}

func newRowTable(name string, header []string, kinds []readers.ColumnKind, src io.ReadCloser) readers.Table {
	t := &rowTable{name: name, header: header, kinds: kinds, src: src}
	if src != nil {
		t.z = s2.NewReader(src)
		t.r = bufio.NewReaderSize(t.z, 64<<10)
	}
	if kinds != nil {
		return &typedRowTable{t}
	}
	return t
}

// typedRowTable is a rowTable of a Parquet file's rows, whose columns'
// types the decoders check.
type typedRowTable struct{ *rowTable }

func (t *typedRowTable) Kinds() []readers.ColumnKind { return t.kinds }

func (t *rowTable) Name() string     { return t.name }
func (t *rowTable) Header() []string { return t.header }

func (t *rowTable) Close() error {
	if t.src != nil {
		return t.src.Close()
	}
	return nil
}

func (t *rowTable) Read(dst []readers.Row) (int, error) {
	if t.r == nil {
		return 0, io.EOF
	}
	for i := range dst {
		if err := t.readRow(&dst[i]); err != nil {
			if err == io.EOF {
				return i, io.EOF
			}
			return i, fmt.Errorf("%s: shard rows: %w", t.name, err)
		}
	}
	return len(dst), nil
}

// peekRow is how much of the stream readRow looks at to parse a row from
// the read buffer in one go; a longer row is read field by field.
const peekRow = 4 << 10

func (t *rowTable) readRow(row *readers.Row) error {
	if b, _ := t.r.Peek(peekRow); len(b) > 0 {
		if n := parseRow(b, row, &t.ends); n > 0 {
			_, err := t.r.Discard(n)
			return err
		}
	}
	return t.readRowSlow(row)
}

// parseRow parses a whole row without a reader error from the start of b
// and returns its length, or 0 when b holds less than a whole row, or one
// with a reader error: readRowSlow reads those.
func parseRow(b []byte, row *readers.Row, ends *[]int) int {
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return 0
	}
	p := k
	nf, k := binary.Uvarint(b[p:])
	if k <= 0 || nf > uint64(len(b)) {
		return 0
	}
	p += k
	// First find where the fields end, then make one string of them.
	e := slices.Grow((*ends)[:0], int(nf))[:nf]
	*ends = e
	start := p
	var nulls bool
	for i := range e {
		l, k := binary.Uvarint(b[p:])
		if k <= 0 || l > uint64(len(b)) {
			return 0
		}
		p += k
		if l == 0 {
			nulls = true
			e[i] = -1
			continue
		}
		if p+int(l-1) > len(b) {
			return 0
		}
		p += int(l - 1)
		e[i] = p
	}
	if p >= len(b) || b[p] != 0 {
		return 0 // cut short, or a reader error: the slow path
	}
	startRow(row, n, nf)
	if nulls {
		row.Null = make([]bool, nf)
	}
	// The fields' bytes with their length prefixes, as one string: the
	// strings outlive the next Read, as readers.Table promises.
	all := string(b[start:p])
	q := start
	for i, end := range e {
		if end < 0 {
			row.Fields[i] = ""
			row.Null[i] = true
			q++
			continue
		}
		_, k := binary.Uvarint(b[q:])
		row.Fields[i] = all[q+k-start : end-start]
		q = end
	}
	return p + 1
}

// startRow readies row for row number n of nf fields, reusing its slice.
func startRow(row *readers.Row, n, nf uint64) {
	row.N = int64(n)
	row.Err = nil
	row.Null = nil
	if cap(row.Fields) >= int(nf) {
		row.Fields = row.Fields[:nf]
	} else {
		row.Fields = make([]string, nf)
	}
}

func (t *rowTable) readRowSlow(row *readers.Row) error {
	n, err := binary.ReadUvarint(t.r)
	if err != nil {
		return err // io.EOF at a row's start is the end
	}
	nf, err := binary.ReadUvarint(t.r)
	if err != nil {
		return unexpected(err)
	}
	startRow(row, n, nf)
	// The fields' bytes go to one string per row: the strings outlive the
	// next Read, as readers.Table promises.
	t.buf = t.buf[:0]
	ends := slices.Grow(t.ends[:0], int(nf))[:nf]
	t.ends = ends
	for i := range row.Fields {
		l, err := binary.ReadUvarint(t.r)
		if err != nil {
			return unexpected(err)
		}
		if l == 0 {
			if row.Null == nil {
				row.Null = make([]bool, nf)
			}
			row.Null[i] = true
			ends[i] = len(t.buf)
			continue
		}
		start := len(t.buf)
		t.buf = slices.Grow(t.buf, int(l-1))[:start+int(l-1)]
		if _, err := io.ReadFull(t.r, t.buf[start:]); err != nil {
			return unexpected(err)
		}
		ends[i] = len(t.buf)
	}
	s := string(t.buf)
	start := 0
	for i := range row.Fields {
		row.Fields[i] = s[start:ends[i]]
		start = ends[i]
	}
	flag, err := t.r.ReadByte()
	if err != nil {
		return unexpected(err)
	}
	if flag == 1 {
		code, err := t.readString()
		if err != nil {
			return err
		}
		msg, err := t.readString()
		if err != nil {
			return err
		}
		row.Err = &readers.FormatError{Code: code, Msg: msg}
	}
	return nil
}

func (t *rowTable) readString() (string, error) {
	l, err := binary.ReadUvarint(t.r)
	if err != nil {
		return "", unexpected(err)
	}
	b := make([]byte, l)
	if _, err := io.ReadFull(t.r, b); err != nil {
		return "", unexpected(err)
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
