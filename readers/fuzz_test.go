package readers

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/parquet-go/parquet-go"
)

// The readers take files from anywhere. Properties, for any bytes: no panic;
// the file either stops the run with an error naming it, or every data row
// comes out numbered 1, 2, 3... and either decodes to a line whose values are
// valid, or is a row error naming the file, the row and a reason code.

const goodRow = "L1,m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1.5,CNY,settled,2023-01-02T01:00:00+08:00,"

func csvSeeds() []string {
	return []string{
		header + "\n" + goodRow + "\n",
		"\uFEFF" + header + ",note\r\n" + goodRow + ",\"a, \"\"b\"\"\nc\"\r\n",
		header + "\n" + goodRow + ",extra\n" + goodRow[:20] + "\n",
		header + "\n" + header + "\n" + goodRow + "\n",
		header + "\n\"L1,m1\n",
		header + "\nL\x00,m1,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1.5,CNY,settled,2023-01-02T01:00:00+08:00,\n",
		header + "\nL2,m\xff,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1234567890123456789012345678901234567890,CNY,unsettled,2023-01-02T01:00:00+08:00,\n",
		header + "\n../x,..,ecs,9999-12,PAYG,0000-01-01T00:00:00-01:00,9999-12-31T23:59:59+23:59,-0.000000001,cny,Settled,2023-01-02,\n",
		"a,a\n1,2\n",
		"",
	}
}

// checkTable reads a table to the end and checks the properties above.
func checkTable(t *testing.T, path string) {
	// A reader that hangs, or allocates as a corrupt header says, is a bug
	// too: crash the worker, so that the fuzzer keeps the input.
	data, _ := os.ReadFile(path)
	watchdog := time.AfterFunc(30*time.Second, func() { panic(fmt.Sprintf("reading %d bytes took over 30s: %q", len(data), data)) })
	defer watchdog.Stop()
	tab, err := Open(path)
	if err != nil {
		if !strings.HasPrefix(err.Error(), path+":") {
			t.Fatalf("Open error does not name the file: %v", err)
		}
		return
	}
	defer tab.Close()
	var extras ExtraColumns
	dec, err := NewUsageDecoder(tab, &extras)
	if err != nil {
		if !strings.HasPrefix(err.Error(), path+":") {
			t.Fatalf("decoder error does not name the file: %v", err)
		}
		return
	}
	DeliverTyped(tab, dec.TypedColumns())
	var n int64
	err = Each(context.Background(), tab, func(r *Row) error {
		n++
		if r.N != n {
			t.Fatalf("row numbered %d, want %d", r.N, n)
		}
		var l billing.UsageLine
		if e := dec.Decode(r, &l); e != nil {
			if e.Pos.File != path || e.Pos.Row != n || e.Code == "" || e.Err == nil {
				t.Fatalf("row %d: row error does not name file, row and reason: %+v", n, e)
			}
			return nil
		}
		if _, err := billing.ParseID(l.LineID); err != nil {
			t.Fatalf("row %d decoded with line_id %q", n, l.LineID)
		}
		if _, err := billing.ParseID(l.AccountID); err != nil {
			t.Fatalf("row %d decoded with account_id %q", n, l.AccountID)
		}
		if _, err := billing.ParseCurrency(l.Currency); err != nil {
			t.Fatalf("row %d decoded with currency %q", n, l.Currency)
		}
		if l.UsageEnd < l.UsageStart {
			t.Fatalf("row %d decoded with usage_end before usage_start", n)
		}
		return nil
	})
	if err != nil && !strings.HasPrefix(err.Error(), path+":") {
		t.Fatalf("read error does not name the file: %v", err)
	}
}

func FuzzCSV(f *testing.F) {
	for _, s := range csvSeeds() {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "u.csv")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkTable(t, p)
	})
}

func FuzzCSVGzip(f *testing.F) {
	for _, s := range csvSeeds() {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(s))
		zw.Close()
		f.Add(b.Bytes())
		f.Add(b.Bytes()[:b.Len()/2]) // truncated
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "u.csv.gz")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkTable(t, p)
	})
}

// parquetSeed writes rows under header as a Parquet file: text columns, and
// with typed, the timestamps and amount as the contract's Parquet types.
func parquetSeed(t testing.TB, header string, rows []string, typed bool) []byte {
	cols := strings.Split(header, ",")
	group := parquet.Group{}
	kind := map[string]string{}
	for _, c := range cols {
		switch {
		case typed && (c == "usage_start" || c == "usage_end" || c == "issued_at" || c == "settled_at"):
			group[c] = parquet.Optional(parquet.TimestampAdjusted(parquet.Microsecond, true))
			kind[c] = "ts"
		case typed && c == "list_amount":
			group[c] = parquet.Optional(parquet.Decimal(9, 18, parquet.Int64Type))
			kind[c] = "dec"
		default:
			group[c] = parquet.Optional(parquet.String())
		}
	}
	schema := parquet.NewSchema("usage", group)
	idx := map[string]int{}
	for i, fl := range schema.Fields() {
		idx[fl.Name()] = i
	}
	var b bytes.Buffer
	w := parquet.NewWriter(&b, schema)
	for _, r := range rows {
		vals := strings.Split(r, ",")
		row := make(parquet.Row, len(cols))
		for j, c := range cols {
			col := idx[c]
			v := ""
			if j < len(vals) {
				v = vals[j]
			}
			row[col] = parquet.NullValue().Level(0, 0, col)
			switch kind[c] {
			case "ts":
				if tm, err := billing.ParseTime(v); err == nil {
					row[col] = parquet.Int64Value(int64(tm)).Level(0, 1, col)
				}
			case "dec":
				if a, err := billing.ParseAmount(v); err == nil {
					row[col] = parquet.Int64Value(int64(a)).Level(0, 1, col)
				}
			default:
				row[col] = parquet.ByteArrayValue([]byte(v)).Level(0, 1, col)
			}
		}
		if _, err := w.WriteRows([]parquet.Row{row}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func FuzzParquet(f *testing.F) {
	bad := "L2,m\xff,ecs,2023-01,payg,2023-01-01T00:00:00+08:00,2023-01-02T00:00:00+08:00,1,CNY,settled,2023-01-02T01:00:00+08:00,"
	for _, typed := range []bool{false, true} {
		p := parquetSeed(f, header, []string{goodRow, bad, strings.Replace(goodRow, "L1", "..", 1)}, typed)
		f.Add(p)
		f.Add(p[:len(p)-10]) // truncated footer
		f.Add(p[len(p)/3:])  // no head
	}
	f.Add([]byte("PAR1PAR1"))
	// Files that billcons streams itself (pages.go): PLAIN and dictionary
	// pages, versions 1 and 2, compressed or not.
	for _, vi := range []int{0, 5, 7} {
		p := filepath.Join(f.TempDir(), "seed.parquet")
		writeTypedUsage(f, p, typedVariants[vi], 12, rand.New(rand.NewPCG(uint64(vi), 1)))
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "u.parquet")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		checkTable(t, p)
	})
}
