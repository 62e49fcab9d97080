package writers

import (
	"os"
	"path/filepath"
	"sync"
)

// WriteFloor writes data[i] to root/rels[i] (slash-separated), making the
// folders, on BillWriters goroutines: the same files holding the same bytes
// as a bills tree, with none of the encoding. It is the file-system floor
// the bills writer is measured against (make bench, and
// BenchmarkWriteBillsManyPayers; issue 13).
func WriteFloor(root string, rels []string, data [][]byte) error {
	var wg sync.WaitGroup
	errs := make([]error, BillWriters)
	for g := range BillWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < len(rels); i += BillWriters {
				p := filepath.Join(root, filepath.FromSlash(rels[i]))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					errs[g] = err
					return
				}
				if err := os.WriteFile(p, data[i], 0o644); err != nil {
					errs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
