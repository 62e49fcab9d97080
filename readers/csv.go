package readers

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits that keep hostile input from exhausting memory. A row (the header
// included) may hold at most MaxRowBytes bytes, and a header at most
// MaxColumns columns; a file that breaks either stops the run with an error
// naming it and the row. Everything else is streamed, so a large input, or
// a gzip file that inflates to any size, costs disk for spilling but not
// memory.
const (
	MaxRowBytes = 4 << 20
	MaxColumns  = 10_000
)

// ErrRowTooLong is wrapped by the error for a row longer than MaxRowBytes.
var ErrRowTooLong = fmt.Errorf("row longer than %d MiB", MaxRowBytes>>20)

// csvTable reads RFC 4180 CSV with a header row, optionally gzip-compressed.
// A UTF-8 byte-order mark before the header is skipped.
type csvTable struct {
	name   string
	f      io.Closer // the file, or a zip member and its archive
	gz     *gzip.Reader
	budget *budgetReader
	r      *csv.Reader
	header []string
	n      int64
}

// budgetReader fails once more than max bytes are read since the last
// reset; the table resets it after every row, so that no row can make the
// CSV reader buffer more than about max bytes.
type budgetReader struct {
	r    io.Reader
	used int
	max  int
	// Until the first line ends, the commas are counted: a header with more
	// than MaxColumns columns is refused before it is split into strings
	// (a million of them would take a hundred megabytes).
	inHeader bool
	commas   int
}

func (b *budgetReader) Read(p []byte) (int, error) {
	if b.used > b.max {
		return 0, ErrRowTooLong
	}
	n, err := b.r.Read(p)
	b.used += n
	if b.inHeader {
		for _, c := range p[:n] {
			if c == '\n' {
				b.inHeader = false
				break
			}
			if c == ',' {
				b.commas++
			}
		}
		if b.commas >= MaxColumns {
			return n, errTooManyColumns
		}
	}
	return n, err
}

var errTooManyColumns = fmt.Errorf("header has more than %d columns", MaxColumns)

const readBuf = 1 << 16

func openCSV(path string, gz bool) (Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, unwrapPath(err))
	}
	return readCSV(path, f, f, gz)
}

// readCSV reads a CSV table named path from src; Close closes c.
func readCSV(path string, src io.Reader, c io.Closer, gz bool) (Table, error) {
	t := &csvTable{name: path, f: c}
	var err error
	f := src
	if gz {
		t.gz, err = gzip.NewReader(bufio.NewReaderSize(f, 1<<16))
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: not a gzip file: %w", path, err)
		}
		src = t.gz
	}
	// The budget counts what the buffer reads ahead, too: a row may use
	// MaxRowBytes plus two buffers' worth before it is refused.
	t.budget = &budgetReader{r: src, max: MaxRowBytes + 2*readBuf, inHeader: true}
	br := bufio.NewReaderSize(t.budget, readBuf)
	if head, _ := br.Peek(4096); len(head) > 0 {
		if msg := notCSV(head); msg != "" {
			t.Close()
			return nil, fmt.Errorf("%s: %s", path, msg)
		}
	}
	if b, err := br.Peek(3); err == nil && string(b) == "\uFEFF" {
		br.Discard(3)
	}
	t.r = csv.NewReader(br)
	t.r.FieldsPerRecord = -1 // a row with the wrong count is rejected, not fatal
	t.r.ReuseRecord = false
	header, err := t.r.Read()
	if err != nil {
		t.Close()
		switch {
		case err == io.EOF:
			return nil, fmt.Errorf("%s: empty file: no header row", path)
		case errors.Is(err, ErrRowTooLong):
			return nil, fmt.Errorf("%s: header: %w; billcons refuses rows that long (a broken file, or a gzip bomb?)", path, err)
		case errors.Is(err, errTooManyColumns):
			return nil, fmt.Errorf("%s: %v; billcons reads at most %d", path, err, MaxColumns)
		case gz:
			return nil, fmt.Errorf("%s: reading header: the gzip stream is truncated or corrupt: %v", path, err)
		}
		return nil, fmt.Errorf("%s: reading header: %w", path, err)
	}
	if len(header) > MaxColumns {
		t.Close()
		return nil, fmt.Errorf("%s: header has %d columns; billcons reads at most %d", path, len(header), MaxColumns)
	}
	t.budget.used = 0
	for _, h := range header {
		if !utf8.ValidString(h) {
			t.Close()
			return nil, fmt.Errorf("%s: header is not valid UTF-8: the file is in another encoding (GBK or Latin-1, as some exports and Excel write); convert it to UTF-8, e.g. iconv -f GBK -t UTF-8 FILE > FILE.utf8.csv", path)
		}
	}
	if len(header) == 1 {
		for _, sep := range []struct{ r, name string }{{";", "semicolons"}, {"\t", "tabs"}, {"|", "vertical bars"}} {
			if strings.Count(header[0], sep.r) > 0 {
				t.Close()
				return nil, fmt.Errorf("%s: the header is one column, %q: its fields are separated by %s, not commas (as Excel writes CSV in some locales); save it with commas", path, truncate(header[0], 60), sep.name)
			}
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
		t.budget.used = 0
		t.n++
		row := &dst[i]
		*row = Row{N: t.n, Fields: rec}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				// An I/O or gzip error: the file cannot be read on.
				switch {
				case errors.Is(err, ErrRowTooLong):
					return i, fmt.Errorf("%s: row %d: %w; billcons refuses rows that long (a broken file, or a gzip bomb?)", t.name, t.n, err)
				case t.gz != nil:
					return i, fmt.Errorf("%s: after row %d: the gzip stream is truncated or corrupt: %v", t.name, t.n-1, err)
				}
				return i, fmt.Errorf("%s: row %d: %w", t.name, t.n, err)
			}
			row.Err = &FormatError{Code: "malformed_csv", Msg: fmt.Sprintf("malformed CSV at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)}
			continue
		}
		if len(rec) != len(t.header) {
			row.Err = &FormatError{Code: "field_count", Msg: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(t.header))}
			continue
		}
		if slices.Equal(rec, t.header) {
			row.Err = &FormatError{Code: "repeated_header", Msg: "the header row again, mid-file (files joined with their headers?)"}
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

// notCSV says what a file named as CSV is when its first bytes show it is
// not text CSV at all, and what to do; "" when it may be CSV.
func notCSV(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PAR1")):
		return "this is a Parquet file, not CSV: name it .parquet (the extension picks the format)"
	case bytes.HasPrefix(head, []byte("PK\x03\x04")):
		return "this is a zip archive (an Excel .xlsx workbook, or CSV files zipped), not CSV: save the sheet as CSV UTF-8, or name a zip of CSV files .zip"
	case bytes.HasPrefix(head, []byte("\xD0\xCF\x11\xE0")):
		return "this is an Excel 97-2003 workbook (.xls), not CSV: save the sheet as CSV UTF-8"
	case bytes.HasPrefix(head, []byte("\xFF\xFE")) || bytes.HasPrefix(head, []byte("\xFE\xFF")) || utf16Text(head):
		return "this is UTF-16 text (as Excel's \"Unicode Text\" and some exports save), not UTF-8: save it as CSV UTF-8, or convert it, e.g. iconv -f UTF-16 -t UTF-8 FILE > FILE.utf8.csv"
	}
	return ""
}

// utf16Text reports whether head looks like UTF-16 text without a byte
// order mark: mostly ASCII, so that every other byte is NUL and the others
// are not (a run of zeros, as a gzip bomb holds, is not).
func utf16Text(head []byte) bool {
	if len(head) < 16 {
		return false
	}
	var nul [2]int
	for i, b := range head {
		if b == 0 {
			nul[i%2]++
		}
	}
	half := len(head) / 2
	return nul[0] > half*8/10 && nul[1] < half/10 || nul[1] > half*8/10 && nul[0] < half/10
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
