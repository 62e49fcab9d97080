package writers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/storage"
)

// ErrCloseOrder is returned when a close would leave an earlier cycle
// with lines open, or when the cycle is closed already.
var ErrCloseOrder = errors.New("cycles close in order")

// CloseCycle publishes a version of the tree in dir in which cycle c, and
// every cycle before it, is closed: it gives each payer and currency of
// the cycle its invoice id in the bills and the summary, and records the
// cycle's bills files and their SHA-256 in the manifest. Every earlier
// cycle that has lines must be closed already. Nothing else changes: the
// other files are the latest version's, by hard link.
func CloseCycle(ctx context.Context, dir string, c billing.Cycle, keep int, wait time.Duration) (*Manifest, *storage.Tree, error) {
	return republish(ctx, dir, keep, wait, func(t *storage.Tree) (*Manifest, error) { return closeCycle(ctx, t, c) })
}

// closeCycle stages the version CloseCycle publishes.
func closeCycle(ctx context.Context, t *storage.Tree, c billing.Cycle) (*Manifest, error) {
	src := t.BaseDir()
	m, err := ReadManifest(src)
	if err != nil {
		return nil, err
	}
	if last, closed := m.LastClosed(); closed && c <= last {
		return nil, fmt.Errorf("%w: %s is closed already (cycles up to %s are); a closed cycle is never reopened: what changes is corrected in the first open cycle", ErrCloseOrder, c, last)
	}
	var open []string
	for _, ct := range m.Cycles {
		cc, err := billing.ParseCycle(ct.Cycle)
		if err == nil && cc < c && !m.IsClosed(cc) && !slices.Contains(open, ct.Cycle) {
			open = append(open, ct.Cycle)
		}
	}
	if len(open) > 0 {
		return nil, fmt.Errorf("%w: %s has lines and is not closed; close %s first", ErrCloseOrder, strings.Join(open, ", "), open[0])
	}

	// Everything but the cycle's bills files, the summary, the index and
	// the manifest is the latest version's.
	cycleDir := CycleDir(c)
	rewritten := map[string]bool{"manifest.json": true, PathOf("summary"): true, IndexPath: true}
	var files []Output
	for _, o := range m.Outputs {
		if path.Dir(o.Path) == cycleDir {
			rewritten[o.Path] = true
			files = append(files, o)
		}
	}
	if err := storage.LinkVersion(src, t.Dir(), rewritten); err != nil {
		return nil, fmt.Errorf("copying version %d: %w", m.TreeVersion, err)
	}

	// The cycle's files, one by one under their own names, with the
	// invoice ids set; the index rows they give replace the cycle's.
	var newIndex []IndexRow
	outs := map[string]Output{}
	net := netTotals{}
	if err := net.from(m.Net); err != nil {
		return nil, err
	}
	corrects := map[string]bool{}
	for _, o := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows, out, err := invoiceFile(src, t.Dir(), o.Path, c, func(l *billing.UsageLine, d *Decided) {
			net.addRow(c, l, d)
			if d.CorrectsCycle != "" {
				corrects[d.CorrectsCycle] = true
			}
		})
		if err != nil {
			return nil, err
		}
		newIndex = append(newIndex, rows...)
		outs[o.Path] = out
	}
	var index []IndexRow
	placed := false
	place := func() {
		if !placed {
			index, placed = append(index, newIndex...), true
		}
	}
	if err := ReadIndex(filepath.Join(src, IndexPath), func(r *IndexRow) error {
		switch {
		case r.Cycle == c:
			place()
		case r.Cycle > c:
			place()
			index = append(index, *r)
		default:
			index = append(index, *r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	place()
	x, err := NewIndex(t.Dir())
	if err != nil {
		return nil, err
	}
	for i := range index {
		if err := x.Write(&index[i]); err != nil {
			x.Close()
			return nil, err
		}
	}
	if outs[IndexPath], err = x.Close(); err != nil {
		return nil, err
	}

	sum, err := NewSummary(t.Dir())
	if err != nil {
		return nil, err
	}
	if err := ReadSummary(filepath.Join(src, PathOf("summary")), func(r *SummaryRow) error {
		if r.Cycle == c {
			r.InvoiceID = InvoiceID(c, r.Payer, r.Currency)
		}
		return sum.Write(r)
	}); err != nil {
		sum.Close()
		return nil, err
	}
	if outs[PathOf("summary")], err = sum.Close(); err != nil {
		return nil, err
	}

	now := time.Now().UTC().Format(time.RFC3339Nano)
	closed := ClosedCycle{Cycle: c.String(), Version: t.Next(), At: now, Corrects: slices.Sorted(maps.Keys(corrects))}
	m.Net = net.list()
	for i := range m.Outputs {
		if o, ok := outs[m.Outputs[i].Path]; ok {
			m.Outputs[i] = o
			if path.Dir(o.Path) == cycleDir {
				closed.Files = append(closed.Files, o)
			}
		}
	}
	m.Closed = append(m.Closed, closed)
	m.Command, m.RolledBackTo = "close", 0
	return m, nil
}

// invoiceFile rewrites the bills file rel of closed cycle c from the tree
// src into root, under the same name, with each row's invoice id set, and
// returns its index rows and its output.
func invoiceFile(src, root, rel string, c billing.Cycle, each func(l *billing.UsageLine, d *Decided)) ([]IndexRow, Output, error) {
	tmp := filepath.Join(root, ".close")
	defer os.RemoveAll(tmp)
	var w *Bills
	err := ReadBillRows(filepath.Join(src, rel), c, func(l *billing.UsageLine, d *Decided, extras []string) error {
		if w == nil {
			var err error
			if w, err = NewBills(tmp, extras); err != nil {
				return err
			}
			w.oneFile = true
		}
		d.InvoiceID = InvoiceID(c, d.Payer, l.Currency)
		each(l, d)
		return w.Write(l, d)
	})
	if err != nil {
		if w != nil {
			w.Close()
		}
		return nil, Output{}, err
	}
	if w == nil {
		return nil, Output{}, fmt.Errorf("%s: a bills file with no rows", rel)
	}
	outs, err := w.Close()
	if err != nil {
		return nil, Output{}, err
	}
	wrote := outs[0].Path
	if err := os.Rename(filepath.Join(tmp, wrote), filepath.Join(root, rel)); err != nil {
		return nil, Output{}, fmt.Errorf("%s: %w", rel, storage.UnwrapPath(err))
	}
	out := outs[0]
	out.Path = rel
	var rows []IndexRow
	if err := ReadIndex(filepath.Join(tmp, IndexPath), func(r *IndexRow) error {
		r.File = rel
		rows = append(rows, *r)
		return nil
	}); err != nil {
		return nil, Output{}, err
	}
	return rows, out, nil
}
