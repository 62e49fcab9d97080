package shards

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/billcons/billcons/readers"
)

// TestRowsRoundTrip: what a split writes, a shard reads back exactly: the
// row numbers, fields, nulls and reader errors, for rows parsed from the
// read buffer in one go and for rows longer than it (read field by field).
func TestRowsRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 3*peekRow)
	want := []readers.Row{
		{N: 1, Fields: []string{"a", "", "ccc"}},
		{N: 2, Fields: []string{"a", "", "c"}, Null: []bool{false, true, false}},
		{N: 7, Fields: []string{"ragged"}, Err: &readers.FormatError{Code: "malformed_row", Msg: "1 field, want 3"}},
		{N: 8, Fields: []string{long, "b", long}},
		{N: 9, Fields: []string{}},
		{N: 1 << 40, Fields: []string{"last", "row", ""}, Null: []bool{false, false, true}},
	}
	// Many short rows too, so that rows straddle the read buffer's end.
	for i := range 5000 {
		r := readers.Row{N: int64(100 + i), Fields: []string{strings.Repeat("v", i%97+1), "id"}}
		if i%13 == 0 {
			r.Fields[0], r.Null = "", []bool{true, false}
		}
		want = append(want, r)
	}
	var buf bytes.Buffer
	w := newRowWriter(&buf)
	for i := range want {
		if err := w.write(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.close(); err != nil {
		t.Fatal(err)
	}
	tab := newRowTable("f.csv", []string{"a", "b", "c"}, nil, io.NopCloser(&buf))
	defer tab.Close()
	var got []readers.Row
	dst := make([]readers.Row, 7) // reused between reads, as readers.Each does
	for {
		n, err := tab.Read(dst)
		for _, r := range dst[:n] {
			// Keep copies of the slices (they are reused), not of the strings.
			got = append(got, readers.Row{N: r.N, Fields: append([]string{}, r.Fields...), Null: append([]bool(nil), r.Null...), Err: r.Err})
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(want))
	}
	for i := range want {
		g, x := got[i], want[i]
		if g.N != x.N || !reflect.DeepEqual(g.Fields, x.Fields) || !reflect.DeepEqual(g.Null, x.Null) {
			t.Fatalf("row %d: got N=%d %q null=%v, want N=%d %q null=%v", i, g.N, short(g.Fields), g.Null, x.N, short(x.Fields), x.Null)
		}
		var ge, xe *readers.FormatError
		if errors.As(g.Err, &ge) != errors.As(x.Err, &xe) || (ge != nil && *ge != *xe) {
			t.Fatalf("row %d: error %v, want %v", i, g.Err, x.Err)
		}
	}
}

// TestRowsCutShort: a stream that ends inside a row is an error, not a
// shorter table.
func TestRowsCutShort(t *testing.T) {
	var buf bytes.Buffer
	w := newRowWriter(&buf)
	w.write(&readers.Row{N: 1, Fields: []string{"a", "b"}})
	w.close()
	// Re-compress all but the last byte of the raw stream.
	raw, _ := io.ReadAll(rowsOf(&buf).(*rowTable).z)
	var cut bytes.Buffer
	cw := newRowWriter(&cut)
	cw.z.Write(raw[:len(raw)-1])
	cw.close()
	tab := rowsOf(&cut)
	_, err := tab.Read(make([]readers.Row, 4))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want unexpected EOF", err)
	}
}

func rowsOf(r io.Reader) readers.Table {
	return newRowTable("f.csv", []string{"a", "b"}, nil, io.NopCloser(r))
}

func short(fs []string) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		if len(f) > 12 {
			f = f[:12] + "…"
		}
		out[i] = f
	}
	return out
}
