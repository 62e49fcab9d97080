package parquetio

import (
	"fmt"
	"io"
	"os"

	"github.com/billcons/billcons/storage"
	"github.com/parquet-go/parquet-go"
)

// Open opens the Parquet file p, a file billcons wrote (or wrote through a
// library); the caller closes f when done with pf. Errors name p.
func Open(p string) (pf *parquet.File, f *os.File, err error) {
	if f, err = os.Open(p); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", p, storage.UnwrapPath(err))
	}
	st, err := f.Stat()
	if err == nil {
		pf, err = parquet.OpenFile(f, st.Size())
	}
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", p, err)
	}
	return pf, f, nil
}

// Read calls fn for each row of a flat Parquet file with its values by
// column name. The values are valid only during the call.
func Read(p string, fn func(cols []string, vals map[string]parquet.Value) error) error {
	pf, f, err := Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var cols []string
	for _, fld := range pf.Schema().Fields() {
		cols = append(cols, fld.Name())
	}
	vals := make(map[string]parquet.Value, len(cols))
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			n, err := rows.ReadRows(buf)
			for _, row := range buf[:n] {
				clear(vals)
				for _, v := range row {
					if c := v.Column(); c >= 0 && c < len(cols) {
						vals[cols[c]] = v
					}
				}
				if ferr := fn(cols, vals); ferr != nil {
					rows.Close()
					return ferr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		rows.Close()
	}
	return nil
}
