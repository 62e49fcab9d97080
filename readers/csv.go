package readers

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// csvTable reads RFC 4180 CSV with a header row, optionally gzip-compressed.
// A UTF-8 byte-order mark before the header is skipped.
type csvTable struct {
	name   string
	f      *os.File
	gz     *gzip.Reader
	r      *csv.Reader
	header []string
	n      int64
}

func openCSV(path string, gz bool) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	t := &csvTable{name: path, f: f}
	var src io.Reader = f
	if gz {
		t.gz, err = gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
		}
		src = t.gz
	}
	br := bufio.NewReaderSize(src, 1<<16)
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	t.r = csv.NewReader(br)
	t.r.FieldsPerRecord = -1 // a row with the wrong count is rejected, not fatal
	header, err := t.r.Read()
	if err != nil {
		t.Close()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty file: no header row", path)
		}
		return nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	for _, h := range header {
		if !utf8.ValidString(h) {
			t.Close()
			return nil, fmt.Errorf("%s: header is not valid UTF-8", path)
		}
	}
	t.header = header
	return t, nil
}

func (t *csvTable) Name() string     { return t.name }
func (t *csvTable) Header() []string { return t.header }

func (t *csvTable) Read(dst []Row) (int, error) {
	for i := range dst {
		rec, err := t.r.Read()
		if err == io.EOF {
			return i, io.EOF
		}
		t.n++
		row := &dst[i]
		*row = Row{N: t.n, Fields: rec}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				// An I/O or gzip error: the file cannot be read on.
				return i, fmt.Errorf("%s: row %d: %w", t.name, t.n, err)
			}
			row.Err = &FormatError{Code: "malformed_csv", Msg: fmt.Sprintf("malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)}
			continue
		}
		if len(rec) != len(t.header) {
			row.Err = &FormatError{Code: "field_count", Msg: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(t.header))}
			continue
		}
		for j, v := range rec {
			if !utf8.ValidString(v) {
				row.Err = &FormatError{Code: "invalid_utf8", Msg: fmt.Sprintf("column %s is not valid UTF-8", t.header[j])}
				break
			}
		}
	}
	return len(dst), nil
}

func (t *csvTable) Close() error {
	if t.gz != nil {
		t.gz.Close()
	}
	return t.f.Close()
}

// FormatError is a row that could not be split into fields as the format
// requires. Code is its reason_code.
type FormatError struct {
	Code string
	Msg  string
}

func (e *FormatError) Error() string { return e.Msg }
