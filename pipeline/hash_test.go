package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrehashSameAsDescribe: the inputs hashed at once, several at a time,
// describe each file as hashing it alone does; a file that cannot be read
// is left for describe, whose error names it.
func TestPrehashSameAsDescribe(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for i := range 7 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.csv", i))
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprint(i), 1000*i)), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	missing := filepath.Join(dir, "missing.csv")
	paths = append(paths, paths[2], missing) // a file given twice, and one absent
	pre := hashes{}
	pre.prehash(paths, 3)
	if len(pre) != 7 {
		t.Fatalf("%d files hashed ahead, want 7", len(pre))
	}
	for _, p := range paths {
		got, gst, gerr := pre.describe("usage", p)
		want, wst, werr := hashes{}.describe("usage", p)
		if got != want || gst != wst || fmt.Sprint(gerr) != fmt.Sprint(werr) {
			t.Errorf("%s: ahead %+v %v %v; alone %+v %v %v", p, got, gst, gerr, want, wst, werr)
		}
	}
	if _, _, err := pre.describe("usage", missing); err == nil || !strings.HasPrefix(err.Error(), missing+": ") {
		t.Errorf("missing file: %v; want an error naming it", err)
	}
}
