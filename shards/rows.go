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
	"github.com/klauspost/compress/zstd"
)

// The rows a split step hands to a shard: one file per (input file, shard),
// zstd-compressed, each row as read: its number, its fields exactly as the
// reader gave them (null marked), and the reader's error for a malformed
// row. A malformed CSV row can have any number of fields, so the rows are
// not a fixed-width table (see the README for why not Arrow IPC).
//
//	row   = uvarint(N) uvarint(nfields) field* err
//	field = uvarint(0) (null) | uvarint(len+1) bytes
//	err   = 0 | 1 uvarint(len) code uvarint(len) msg

// rowWriter writes rows to w.
type rowWriter struct {
	z    *zstd.Encoder
	buf  []byte
	rows int64
}

func newRowWriter(w io.Writer) (*rowWriter, error) {
	z, err := zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(1<<20), zstd.WithLowerEncoderMem(true))
	if err != nil {
		return nil, err
	}
	return &rowWriter{z: z}, nil
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
	z      *zstd.Decoder
	r      *bufio.Reader
	buf    []byte
	ends   []int // where each field of the current row ends in buf
}

func newRowTable(name string, header []string, kinds []readers.ColumnKind, src io.ReadCloser) (readers.Table, error) {
	t := &rowTable{name: name, header: header, kinds: kinds, src: src}
	if src != nil {
		z, err := zstd.NewReader(src, zstd.WithDecoderConcurrency(1))
		if err != nil {
			src.Close()
			return nil, err
		}
		t.z = z
		t.r = bufio.NewReaderSize(z, 64<<10)
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
	if t.z != nil {
		t.z.Close()
	}
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

func (t *rowTable) readRow(row *readers.Row) error {
	n, err := binary.ReadUvarint(t.r)
	if err != nil {
		return err // io.EOF at a row's start is the end
	}
	nf, err := binary.ReadUvarint(t.r)
	if err != nil {
		return unexpected(err)
	}
	row.N = int64(n)
	row.Err = nil
	row.Null = nil
	if cap(row.Fields) >= int(nf) {
		row.Fields = row.Fields[:nf]
	} else {
		row.Fields = make([]string, nf)
	}
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
