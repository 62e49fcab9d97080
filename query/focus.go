package query

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// ExportFOCUS writes the focus view to out as one Parquet file, ordered by
// billing account, cycle, sub account and line, and returns its row count.
// out is written beside itself first and renamed into place, so a reader
// never sees half a file.
func (d *DB) ExportFOCUS(ctx context.Context, out string) (int64, error) {
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+strconv.Itoa(os.Getpid()))
	q := `COPY (SELECT * FROM focus ORDER BY BillingAccountId, x_BillingCycle, SubAccountId, x_LineId)
		TO ` + Literal(tmp) + ` (FORMAT parquet, COMPRESSION zstd)`
	if err := d.Exec(ctx, q); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("writing %s: %w", out, err)
	}
	var n int64
	rows, err := d.Rows(ctx, "SELECT count(*) FROM read_parquet("+Literal(tmp)+")")
	if err == nil {
		if rows.Next() {
			rows.Scan(&n)
		}
		rows.Close()
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("writing %s: %w", out, err)
	}
	return n, nil
}
