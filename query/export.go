package query

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
)

// PayerExport is what ExportPayers wrote.
type PayerExport struct {
	Payers, Statements int
	Lines              int64
}

// ExportPayers writes the consolidated bill of each payer of payers (nil:
// every payer in the index) as files of its own: for each of its cycles
// (only cycle, when not ""), OUT/billing_cycle=C/ for one payer, or
// OUT/payer_account_id=ID/billing_cycle=C/ for several, holding bills.parquet
// (the payer's rows with billing_cycle as a column, in the tree's order)
// and its statement as statement.txt, statement.csv and statement.json.
// OUT must be absent or an empty folder: the export is written beside it
// and renamed into place, so nobody's files are replaced and a reader never
// sees half an export. progress, when set, is called after each payer.
// jobs DuckDB sessions write payers at once.
func (d *DB) ExportPayers(ctx context.Context, payers []string, cycle, out string, jobs int, progress func(done, total int)) (PayerExport, error) {
	var res PayerExport
	if err := emptyOrAbsent(out); err != nil {
		return res, err
	}
	one := len(payers) == 1
	if payers == nil {
		var err error
		if payers, err = d.indexedPayers(ctx, cycle); err != nil {
			return res, err
		}
		if len(payers) == 0 {
			return res, fmt.Errorf("the tree has no bills%s", inCycle(cycle))
		}
	}
	tmp := filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp-"+strconv.Itoa(os.Getpid()))
	os.RemoveAll(tmp)
	fail := func(err error) (PayerExport, error) {
		os.RemoveAll(tmp)
		if ctx.Err() != nil {
			err = ctx.Err() // DuckDB says "Interrupted": it was the signal
		}
		return PayerExport{}, err
	}
	// Payers are written by up to jobs sessions at once, each a DuckDB of
	// its own over the tree (a statement is a dozen small queries, each on
	// one core): every payer's files are its own folder's.
	sessions := []*DB{d}
	for len(sessions) < min(max(jobs, 1), len(payers)) {
		x, err := Open(ctx, d.Dir)
		if err != nil {
			return fail(err)
		}
		defer x.Close()
		sessions = append(sessions, x)
	}
	if len(sessions) > 1 {
		for _, x := range sessions { // a core each: the sessions share them
			if err := x.Exec(ctx, "SET threads = 1"); err != nil {
				return fail(err)
			}
		}
		defer d.Exec(context.Background(), "RESET threads")
	}
	wctx, cancel := context.WithCancel(ctx) // the workers': cancelled by the first error, or by ctx
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	next := make(chan string)
	for _, db := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for payer := range next {
				r, err := db.exportPayer(wctx, payer, cycle, tmp, one)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
					cancel()
				}
				res.Lines += r.Lines
				res.Statements += r.Statements
				res.Payers += r.Payers
				done++
				if progress != nil && err == nil {
					progress(done, len(payers))
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for _, payer := range payers {
		select {
		case next <- payer:
		case <-wctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return fail(firstErr)
	}
	os.Remove(out) // an empty folder, if any: rename does not replace one everywhere
	if err := os.Rename(tmp, out); err != nil {
		return fail(fmt.Errorf("writing %s: %w", out, err))
	}
	return res, nil
}

// exportPayer writes one payer's cycles (only cycle, when not "") under
// tmp: into tmp itself when it is the only payer, else its own folder.
func (d *DB) exportPayer(ctx context.Context, payer, cycle, tmp string, one bool) (PayerExport, error) {
	var res PayerExport
	cycles, err := d.PayerBills(ctx, payer, "")
	if err != nil {
		return res, err
	}
	if cycle != "" {
		if !slices.Contains(cycles, cycle) {
			if one {
				return res, fmt.Errorf("payer %s has no bills%s%s", payer, inCycle(cycle), hasIn(cycles))
			}
			return res, nil
		}
		cycles = []string{cycle}
	}
	if len(cycles) == 0 {
		return res, fmt.Errorf("payer %s has no bills in this tree", payer)
	}
	base := tmp
	if !one {
		base = filepath.Join(tmp, "payer_account_id="+payer)
	}
	for _, c := range cycles {
		n, err := d.exportPayerCycle(ctx, payer, c, filepath.Join(base, "billing_cycle="+c))
		if err != nil {
			return res, fmt.Errorf("payer %s, cycle %s: %w", payer, c, err)
		}
		res.Lines += n
		res.Statements++
	}
	res.Payers++
	return res, nil
}

// exportPayerCycle writes one payer's cycle into dir and returns its lines.
func (d *DB) exportPayerCycle(ctx context.Context, payer, cycle, dir string) (int64, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	// The statement first: it defines payer_bills, the payer's rows of the
	// cycle read through the index, which the bills file copies; its
	// totals count the lines.
	inv, err := d.Invoice(ctx, payer, cycle)
	if err != nil {
		return 0, err
	}
	cols := "billing_cycle, * EXCLUDE (billing_cycle)"
	if err := d.Exec(ctx, `COPY (SELECT `+cols+` FROM payer_bills ORDER BY account_id, product_code, usage_end, line_id)
		TO `+Literal(filepath.Join(dir, "bills.parquet"))+` (FORMAT parquet, COMPRESSION zstd)`); err != nil {
		return 0, err
	}
	for name, write := range map[string]func(io.Writer) error{
		"statement.txt":  func(w io.Writer) error { inv.WriteText(w); return nil },
		"statement.csv":  inv.WriteCSV,
		"statement.json": inv.WriteJSON,
	} {
		if err := writeFile(filepath.Join(dir, name), write); err != nil {
			return 0, err
		}
	}
	var n int64
	for _, t := range inv.Totals {
		n += t.Lines
	}
	return n, nil
}

// indexedPayers lists the payers of the tree's index, in cycle ("" for any).
func (d *DB) indexedPayers(ctx context.Context, cycle string) ([]string, error) {
	from := "payers"
	hasIndex, err := d.hasView(ctx, "payers")
	if err != nil {
		return nil, err
	}
	if !hasIndex {
		from = "bills"
	}
	return scanAll(ctx, d, func(p *string) []any { return []any{p} },
		`SELECT DISTINCT payer_account_id FROM `+from+` WHERE ? = '' OR billing_cycle = ? ORDER BY 1`, cycle, cycle)
}

func emptyOrAbsent(out string) error {
	entries, err := os.ReadDir(out)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("%s: %w", out, err)
	case len(entries) > 0:
		return fmt.Errorf("%s exists and is not empty: the export writes a folder of its own (remove it, or name another)", out)
	}
	return nil
}

func writeFile(p string, write func(io.Writer) error) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", p, err)
	}
	return f.Close()
}

func inCycle(c string) string {
	if c == "" {
		return ""
	}
	return " in cycle " + c
}

func hasIn(cycles []string) string {
	if len(cycles) == 0 {
		return ""
	}
	return "; it has bills in " + fmt.Sprint(cycles)
}
