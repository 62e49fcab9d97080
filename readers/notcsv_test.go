package readers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// TestNotCSV: the common ways a file named .csv is not comma-separated
// UTF-8 text each get one line saying what the file is and what to do.
func TestNotCSV(t *testing.T) {
	header := "line_id,account_id,product_code"
	utf16le := []byte{0xFF, 0xFE}
	for _, u := range utf16.Encode([]rune(header + "\n")) {
		utf16le = append(utf16le, byte(u), byte(u>>8))
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"parquet", []byte("PAR1\x15\x04rest of a parquet file"), "this is a Parquet file, not CSV: name it .parquet"},
		{"xlsx", []byte("PK\x03\x04\x14\x00\x06\x00[Content_Types].xml"), "this is a zip archive (an Excel .xlsx workbook, or CSV files zipped)"},
		{"xls", []byte("\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1rest"), "Excel 97-2003 workbook (.xls)"},
		{"utf16", utf16le, "this is UTF-16 text"},
		{"utf16 without a mark", utf16le[2:], "this is UTF-16 text"},
		{"gbk", []byte("line_id,\xd5\xcb\xbb\xa7,product_code\nL1,m1,ecs\n"), "header is not valid UTF-8: the file is in another encoding"},
		{"semicolons", []byte("line_id;account_id;product_code\nL1;m1;ecs\n"), "its fields are separated by semicolons, not commas"},
		{"tabs", []byte("line_id\taccount_id\tproduct_code\nL1\tm1\tecs\n"), "separated by tabs, not commas"},
	} {
		p := filepath.Join(t.TempDir(), c.name+".csv")
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		tb, err := Open(p)
		if err == nil {
			tb.Close()
			t.Errorf("%s: opened as CSV", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v; want one line naming the file and %q", c.name, err, c.want)
		}
	}
	// A UTF-8 BOM (as Excel's "CSV UTF-8" writes) is fine.
	p := filepath.Join(t.TempDir(), "bom.csv")
	os.WriteFile(p, []byte("\uFEFF"+header+"\nL1,m1,ecs\n"), 0o644)
	tb, err := Open(p)
	if err != nil {
		t.Fatalf("a BOM: %v", err)
	}
	defer tb.Close()
	if tb.Header()[0] != "line_id" {
		t.Errorf("a BOM: header %q", tb.Header())
	}
}
