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
// S2-compressed (klauspost/compress/s2; see docs/development.md for the measure
// against zstd), each row as read: its number, its fields exactly as the
// reader gave them (null marked), and the reader's error for a malformed
// row. A malformed CSV row can have any number of fields, so the rows are
// not a fixed-width table (see docs/development.md for why not Arrow IPC).
//
//	row   = uvarint(N) uvarint(nfields) field* err
//	field = uvarint(0) (null) | uvarint(1) varint(x) (typed) | uvarint(len+2) bytes
//	err   = 0 | 1 uvarint(len) code uvarint(len) msg
//
// A typed field is a Parquet timestamp or decimal the split step read as
// an integer (readers.DeliverTyped): it stays one, so that a shard decodes
// it as a run does, without rendering and parsing it; SplitFile.Typed says
// how it reads.

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
		switch {
		case row.Null != nil && row.Null[i]:
			b = append(b, 0)
		case row.Typed(i):
			b = append(b, 1)
			b = binary.AppendVarint(b, row.Num[i])
		default:
			b = binary.AppendUvarint(b, uint64(len(f))+2)
			b = append(b, f...)
		}
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
	typed  *readers.TypedSet // the fields the split step wrote typed; nil if none
	src    io.ReadCloser
	z      *s2.Reader
	r      *bufio.Reader
	buf    []byte
	ends   []int // where each field of the current row ends in buf
}

func newRowTable(name string, header []string, kinds []readers.ColumnKind, typed []readers.TypedColumn, src io.ReadCloser) (readers.Table, error) {
	set, err := readers.NewTypedSet(len(header), typed)
	if err != nil {
		if src != nil {
			src.Close()
		}
		return nil, fmt.Errorf("%s: shard rows: %w", name, err)
	}
	t := &rowTable{name: name, header: header, kinds: kinds, typed: set, src: src}
	if src != nil {
		t.z = s2.NewReader(src)
		t.r = bufio.NewReaderSize(t.z, 64<<10)
	}
	if kinds != nil {
		return &typedRowTable{t}, nil
	}
	return t, nil
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
		if n := parseRow(b, row, &t.ends, t.typed); n > 0 {
			_, err := t.r.Discard(n)
			return err
		}
	}
	return t.readRowSlow(row)
}

// parseRow parses a whole row without a reader error from the start of b
// and returns its length, or 0 when b holds less than a whole row, or one
// with a reader error: readRowSlow reads those.
func parseRow(b []byte, row *readers.Row, ends *[]int, typed *readers.TypedSet) int {
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
	// First find where the fields end, then make one string of them. A
	// null field ends at -1; a typed one at -2-(where its integer ends).
	e := slices.Grow((*ends)[:0], int(nf))[:nf]
	*ends = e
	num := numsFor(row, typed, int(nf))
	start := p
	var nulls bool
	for i := range e {
		l, k := binary.Uvarint(b[p:])
		if k <= 0 || l > uint64(len(b)) {
			return 0
		}
		p += k
		switch l {
		case 0:
			nulls = true
			e[i] = -1
			continue
		case 1:
			x, k := binary.Varint(b[p:])
			if k <= 0 || !typed.Is(i) {
				return 0 // the slow path says what is wrong
			}
			p += k
			num[i] = x
			e[i] = -2 - p
			continue
		}
		if p+int(l-2) > len(b) || typed.Is(i) {
			return 0 // a typed column holds integers: the slow path says so
		}
		p += int(l - 2)
		e[i] = p
	}
	if p >= len(b) || b[p] != 0 {
		return 0 // cut short, or a reader error: the slow path
	}
	startRow(row, n, nf)
	row.SetTyped(typed, num)
	if nulls {
		row.Null = make([]bool, nf)
	}
	// The fields' bytes with their length prefixes, as one string: the
	// strings outlive the next Read, as readers.Table promises.
	all := string(b[start:p])
	q := start
	for i, end := range e {
		switch {
		case end == -1:
			row.Fields[i] = ""
			row.Null[i] = true
			q++
			continue
		case end < -1:
			row.Fields[i] = ""
			q = -2 - end
			continue
		}
		_, k := binary.Uvarint(b[q:])
		row.Fields[i] = all[q+k-start : end-start]
		q = end
	}
	return p + 1
}

// numsFor returns the slice for a row's typed integers, reusing the row's;
// nil when the table has no typed fields.
func numsFor(row *readers.Row, typed *readers.TypedSet, nf int) []int64 {
	if typed == nil {
		return nil
	}
	if cap(row.Num) >= nf {
		return row.Num[:nf]
	}
	return make([]int64, nf)
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
	num := numsFor(row, t.typed, int(nf))
	startRow(row, n, nf)
	row.SetTyped(t.typed, num)
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
		switch l {
		case 0:
			if row.Null == nil {
				row.Null = make([]bool, nf)
			}
			row.Null[i] = true
			ends[i] = len(t.buf)
			continue
		case 1:
			if !t.typed.Is(i) {
				return fmt.Errorf("row %d: field %d is typed, which its file's column is not", n, i+1)
			}
			x, err := binary.ReadVarint(t.r)
			if err != nil {
				return unexpected(err)
			}
			num[i] = x
			ends[i] = len(t.buf)
			continue
		}
		if t.typed.Is(i) {
			return fmt.Errorf("row %d: field %d is text in a typed column", n, i+1)
		}
		start := len(t.buf)
		t.buf = slices.Grow(t.buf, int(l-2))[:start+int(l-2)]
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
