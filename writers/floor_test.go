package writers

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCodecFloorSameFiles: the codec floor make bench measures write_bills
// against (issue 13) writes the bills files' own bytes, its pages
// compressed again with the writer's codecs: a small file's Snappy and a
// large one's zstd, a dictionary page and plain pages, one row group and
// several. A page damaged in its compressed bytes, or a file cut short, is
// refused, not measured.
func TestCodecFloorSameFiles(t *testing.T) {
	ls := benchLines(time.Date(2024, 2, 1, 0, 0, 0, 0, time.FixedZone("+08:00", 8*3600)), 7)
	src := t.TempDir()
	// Three files: 3 and 4,096 rows in Snappy, 70,000 in zstd in three row
	// groups.
	outs := writePayers(t, src, ls, 3+billSmall+70_000, func(i int) int {
		switch {
		case i < 3:
			return 0
		case i < 3+billSmall:
			return 1
		}
		return 2
	})
	var err error
	rels := make([]string, len(outs))
	data := make([][]byte, len(outs))
	files := make([]*PagedFile, len(outs))
	codecs := map[string]bool{}
	for i, o := range outs {
		rels[i] = o.Path
		if data[i], err = os.ReadFile(filepath.Join(src, o.Path)); err != nil {
			t.Fatal(err)
		}
		if files[i], err = CutPages(data[i]); err != nil {
			t.Fatalf("%s: %v", o.Path, err)
		}
		for _, p := range files[i].parts {
			if p.codec != nil {
				codecs[p.codec.String()] = true
			}
		}
	}
	if len(outs) != 3 || !codecs["SNAPPY"] || !codecs["ZSTD"] {
		t.Fatalf("%d files, pages compressed with %v: want 3 files, Snappy and zstd", len(outs), codecs)
	}
	dst := t.TempDir()
	if err := WriteCodecFloor(dst, rels, files); err != nil {
		t.Fatal(err)
	}
	for i, rel := range rels {
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data[i]) {
			t.Errorf("%s: the codec floor wrote %d bytes unlike the bills file's %d", rel, len(got), len(data[i]))
		}
	}

	big := data[2]
	var page *pagePart
	for j := range files[2].parts {
		if p := &files[2].parts[j]; p.codec != nil && len(p.page) > 1000 {
			page = p
			break
		}
	}
	comp, err := page.codec.Encode(nil, page.page)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(big, append(bytes.Clone(page.raw), comp...)) + len(page.raw) + len(comp)/2 // inside its compressed bytes
	damaged := bytes.Clone(big)
	damaged[at] ^= 0xff
	if _, err := CutPages(damaged); err == nil {
		t.Error("a damaged page was cut without an error")
	}
	if _, err := CutPages(big[:len(big)-5]); err == nil {
		t.Error("a file cut short was cut without an error")
	}
	// Any byte of a small file changed: an error or the same cut, never a
	// panic.
	small := data[0]
	for i := range small {
		for _, x := range []byte{0x01, 0x80, 0xff} {
			b := bytes.Clone(small)
			b[i] ^= x
			CutPages(b)
		}
	}
}
