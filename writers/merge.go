package writers

import (
	"path"
	"slices"
	"strings"

	"github.com/billcons/billcons/parquetio"
)

// ConcatBills writes root/rel, one bills file holding the row groups of
// files, one after another under one footer (parquetio.Concat); first[i]
// is the row at which files[i]'s rows begin.
func ConcatBills(root, rel string, files []string) (Output, []int64, error) {
	o, first, err := parquetio.Concat(root, rel, files)
	out, err := output(o, err)
	return out, first, err
}

// SmallBillFile is the size under which a sharded run's commit merges a
// cycle's bills files, MergedBillBytes about the most one merge writes, and
// MergedBillFiles the most files one merge reads at once (each open file
// holds a row group's pages).
const (
	SmallBillFile   = 64 << 20
	MergedBillBytes = 512 << 20
	MergedBillFiles = 32
)

// MergeGroups picks which bills files of a sharded run to merge: per
// cycle, the files under SmallBillFile, in path order, in groups of at most
// MergedBillBytes and MergedBillFiles; a group of one file is left as it is. files are paths
// relative to the tree, with their sizes.
func MergeGroups(files []Output) [][]Output {
	byCycle := map[string][]Output{}
	var cycles []string
	for _, o := range files {
		if o.Bytes >= SmallBillFile {
			continue
		}
		dir := path.Dir(o.Path)
		if byCycle[dir] == nil {
			cycles = append(cycles, dir)
		}
		byCycle[dir] = append(byCycle[dir], o)
	}
	slices.Sort(cycles)
	var groups [][]Output
	for _, dir := range cycles {
		small := byCycle[dir]
		slices.SortFunc(small, func(a, b Output) int { return strings.Compare(a.Path, b.Path) })
		var g []Output
		var size int64
		for _, o := range small {
			if len(g) > 0 && (size+o.Bytes > MergedBillBytes || len(g) == MergedBillFiles) {
				if len(g) > 1 {
					groups = append(groups, g)
				}
				g, size = nil, 0
			}
			g = append(g, o)
			size += o.Bytes
		}
		if len(g) > 1 {
			groups = append(groups, g)
		}
	}
	return groups
}
