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
// row numbers, fields, nulls, typed integers and reader errors, for rows
// parsed from the read buffer in one go and for rows longer than it (read
// field by field).
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
	roundTrip(t, nil, want)

	// A Parquet file's rows with a typed timestamp in the third column.
	typed := []readers.TypedColumn{{Col: 2, Unit: 1e3}}
	set, err := readers.NewTypedSet(3, typed)
	if err != nil {
		t.Fatal(err)
	}
	want = want[:0]
	for i := range 5000 {
		r := readers.Row{N: int64(1 + i), Fields: []string{strings.Repeat("v", i%97+1), "id", ""}}
		switch {
		case i%13 == 0:
			r.Fields[0], r.Null = "", []bool{true, false, false}
		case i%11 == 0:
			r.Null = []bool{false, false, true}
		}
		if i == 2222 {
			r.Fields[0] = long // read field by field
		}
		r.SetTyped(set, []int64{0, 0, 1704067200_000_000 + int64(i)*7 - 2500*int64(i%2)})
		want = append(want, r)
	}
	roundTrip(t, typed, want)
}

func roundTrip(t *testing.T, typed []readers.TypedColumn, want []readers.Row) {
	t.Helper()
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
	tab, err := newRowTable("f.parquet", []string{"a", "b", "c"}, nil, typed, io.NopCloser(&buf))
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	var got []readers.Row
	dst := make([]readers.Row, 7) // reused between reads, as readers.Each does
	for {
		n, err := tab.Read(dst)
		for _, r := range dst[:n] {
			// Keep copies of the slices (they are reused), not of the strings.
			c := r.Clone()
			c.Fields, c.Null = append([]string{}, r.Fields...), append([]bool(nil), r.Null...)
			got = append(got, c)
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
	typedSeen := 0
	for i := range want {
		g, x := got[i], want[i]
		if g.N != x.N || !reflect.DeepEqual(g.Fields, x.Fields) || !reflect.DeepEqual(g.Null, x.Null) {
			t.Fatalf("row %d: got N=%d %q null=%v, want N=%d %q null=%v", i, g.N, short(g.Fields), g.Null, x.N, short(x.Fields), x.Null)
		}
		for c := range x.Fields {
			if g.Typed(c) != x.Typed(c) || g.Text(c) != x.Text(c) || (x.Typed(c) && g.Num[c] != x.Num[c]) {
				t.Fatalf("row %d field %d: typed %v %q, want typed %v %q", i, c, g.Typed(c), g.Text(c), x.Typed(c), x.Text(c))
			}
			if x.Typed(c) {
				typedSeen++
			}
		}
		var ge, xe *readers.FormatError
		if errors.As(g.Err, &ge) != errors.As(x.Err, &xe) || (ge != nil && *ge != *xe) {
			t.Fatalf("row %d: error %v, want %v", i, g.Err, x.Err)
		}
	}
	if typed != nil && typedSeen == 0 {
		t.Fatal("no typed field was written")
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
	t, _ := newRowTable("f.csv", []string{"a", "b"}, nil, nil, io.NopCloser(r))
	return t
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
