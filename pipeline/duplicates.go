package pipeline

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/rules"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

// findDuplicates is pass B: replay the ids in (line_id, read order); reject
// every line but the first of an id, and observe the first lines that may
// hold a change back.
func (r *run) findDuplicates(sp *lineSpills, plan *rules.Plan) error {
	// The duplicates' rejects, without their records: those are read from
	// the inputs again, once every duplicate is known.
	dups := spill.New(r.spillDir, "duplicates", r.cfg.SpillBytes/4)
	defer dups.Remove()
	var first []byte      // the first key of the current line_id
	var deferred [][]byte // refunds that may hold a change back, waiting for the purchases
	var line billing.UsageLine
	var repeat uint32 // the place in its line_id's group of the current line, from 1
	var status *invoicedStatus
	if cc := r.closed; cc != nil && cc.inv != nil {
		var err error
		if status, err = cc.newInvoicedStatus(); err != nil {
			return err
		}
		defer status.close()
	}
	// accept shows an accepted line to the plan and the refund rule.
	accept := func(id, payload []byte) error {
		if status != nil && len(payload) == 1 && payload[0] == openLine {
			return r.closed.checkMoved(status, id)
		}
		if len(payload) == 0 {
			return nil
		}
		if err := viewLine(payload, &line); err != nil {
			return err
		}
		if status != nil {
			if line.Cycle <= r.closed.last {
				if err := status.apply(&line); err != nil {
					return err
				}
			} else if err := r.closed.checkMoved(status, id); err != nil {
				return err
			}
		}
		switch {
		case plan.NeedsPurchases(&line):
			// Whether this refund is accepted, and so may hold a change
			// back, is known once every purchase is.
			deferred = append(deferred, encodeLine(nil, &line)) // with its invoiced status, if any
		case plan.IsPurchaseToRecord(&line):
			r.purchases.Add(&line)
			plan.Observe(&line)
		default:
			plan.Observe(&line)
		}
		return nil
	}
	err := r.replay(sp.ids, func(key, payload []byte) error {
		if len(key) < 9 {
			return errCorrupt
		}
		id := key[:len(key)-9]
		seq := binary.BigEndian.Uint64(key[len(key)-8:])
		if sh := r.cfg.Shard; sh != nil {
			if sh.IDs != nil {
				if err := sh.IDs(id, seq); err != nil {
					return err
				}
			}
			if all, ok := sh.Foreign[string(id)]; ok {
				return r.foreignID(id, seq, all, accept, payload, dups)
			}
		}
		if first == nil || !bytes.Equal(id, first[:len(first)-9]) {
			first = append(first[:0], key...)
			repeat = 1
			return accept(id, payload)
		}
		if r.prof.RepeatedIDs {
			// An export repeats ids (one record split over several
			// lines): the repeats become id.2, id.3... in input order
			// (CONTRACT.md, Input profiles), accepted like the first.
			repeat++
			r.rename(seq, repeat)
			return accept(id, payload)
		}
		return r.rejectDuplicate(dups, id, seq, binary.BigEndian.Uint64(first[len(first)-8:]))
	})
	if err != nil {
		return err
	}
	// The refunds that may hold a change back, now that the purchases are
	// known: a refund the rule rejects never holds one.
	r.purchases.Sort()
	for _, p := range deferred {
		if err := viewLine(p, &line); err != nil {
			return err
		}
		if !plan.RejectsRefund(&line, &r.purchases) {
			plan.Observe(&line)
		}
	}
	return r.readDuplicates(dups, sp.rejects)
}

// foreignID judges a line whose id was also read in other shards of a
// sharded run, by the read order of all the id's lines in the whole run
// (all): as findDuplicates judges the lines of one id, in one run.
func (r *run) foreignID(id []byte, seq uint64, all []uint64, accept func(id, payload []byte) error, payload []byte, dups *spill.Sorter) error {
	n, found := slices.BinarySearch(all, seq)
	if !found {
		return fmt.Errorf("internal error: line %s at seq %d is not among its id's lines %v", id, seq, all)
	}
	if n == 0 {
		return accept(id, payload)
	}
	if r.prof.RepeatedIDs {
		r.rename(seq, uint32(n+1))
		return accept(id, payload)
	}
	return r.rejectDuplicate(dups, id, seq, all[0])
}

// rename makes the line read at seq the k-th of its id (id.k): an Alibaba
// export's repeated id.
func (r *run) rename(seq uint64, k uint32) {
	if r.renames == nil {
		r.renames = map[uint64]uint32{}
	}
	r.renames[seq] = k
}

// rejectDuplicate rejects the line read at seq, whose id was first read at
// firstSeq: marked to be left out of the bills, its reject (whose record
// readDuplicates reads again from the row) into dups.
func (r *run) rejectDuplicate(dups *spill.Sorter, id []byte, seq, firstSeq uint64) error {
	file, row := placeOf(seq)
	firstFile, firstRow := placeOf(firstSeq)
	r.dups.add(file, row)
	r.counts.UsageRejected++
	x := writers.Reject{
		SourceFile: r.name(r.usageFiles[file]), SourceRow: row, Code: "duplicate_line_id",
		Reason: fmt.Sprintf("line_id %s was already read at %s:%d; the first stays", id, r.name(r.usageFiles[firstFile]), firstRow),
	}
	return dups.Add(rejectKey(file, row), encodeReject(nil, &x))
}

// replay calls fn for every record of s in key order, the loop of every
// pass after the first: it counts the records for the progress display and,
// every 8,192, checks whether the run was cancelled. fn's key and payload
// are valid only during the call. The merge runs a batch ahead of fn, on a
// goroutine of its own (spill.MergeAhead).
func (r *run) replay(s *spill.Sorter, fn func(key, payload []byte) error) error {
	it, err := s.MergeAhead()
	if err != nil {
		return err
	}
	defer it.Close()
	for n := 1; ; n++ {
		key, payload, ok := it.Next()
		if !ok {
			return it.Err()
		}
		if n%8192 == 0 {
			r.cfg.Progress.add(8192)
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(key, payload); err != nil {
			return err
		}
	}
}

// errFound stops a read once the rows sought are found.
var errFound = errors.New("found")

// readDuplicates reads the duplicates' rows from their files again, in
// file and row order, and adds their rejects with the rows' raw values:
// the record of a reject is the row as read, like every other reject's.
// Files without duplicates are not opened; a run without any reads nothing.
func (r *run) readDuplicates(dups, rejects *spill.Sorter) error {
	if r.dups.n == 0 {
		return nil
	}
	it, err := dups.Merge()
	if err != nil {
		return err
	}
	defer it.Close()
	key, payload, ok := it.Next()
	for ok {
		fi, _ := rejectPlace(key)
		path := r.usageFiles[fi]
		t, err := r.openUsage(fi, path)
		if err != nil {
			return err
		}
		err = readers.Each(r.ctx, t, func(row *readers.Row) error {
			for ok {
				file, n := rejectPlace(key)
				if file != fi {
					return errFound
				}
				if n != row.N {
					return nil
				}
				x, err := decodeReject(payload)
				if err != nil {
					return err
				}
				x.Record = recordJSON(readers.Record(t.Header(), row))
				if err := rejects.Add(key, encodeReject(nil, &x)); err != nil {
					return err
				}
				key, payload, ok = it.Next()
			}
			return errFound
		})
		t.Close()
		if err != nil && err != errFound {
			return err
		}
		if file, n := rejectPlace(key); ok && file == fi {
			return fmt.Errorf("internal error: %s: row %d, a duplicate line, is not there on reading the file again", path, n)
		}
		if err := r.usageUnchanged(path); err != nil {
			return err
		}
	}
	return it.Err()
}
