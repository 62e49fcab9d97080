package pipeline

import (
	"encoding/binary"
	"sort"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/readers"
	"github.com/billcons/billcons/spill"
	"github.com/billcons/billcons/writers"
)

func rowReject(header []string, row *readers.Row, e *billing.RowError) writers.Reject {
	reason := e.Err.Error()
	if e.Field != "" {
		reason = e.Field + ": " + reason
	}
	return writers.Reject{SourceFile: e.Pos.File, SourceRow: e.Pos.Row, Code: e.Code, Reason: reason,
		Record: recordJSON(readers.Record(header, row))}
}

// recordJSON renders raw values as a JSON object in column order.
func recordJSON(fields []readers.Field) string {
	b, _ := billing.AppendJSONObject(nil, len(fields), func(i int) (string, any) {
		if fields[i].Value == nil {
			return fields[i].Name, nil
		}
		return fields[i].Name, *fields[i].Value
	})
	return string(b)
}

// sortRejects orders rejects by input file (in the order read) and row.
func sortRejects(rs []writers.Reject, files []string) {
	idx := map[string]int{}
	for i, f := range files {
		if _, ok := idx[f]; !ok {
			idx[f] = i
		}
	}
	sort.SliceStable(rs, func(i, j int) bool {
		a, b := idx[rs[i].SourceFile], idx[rs[j].SourceFile]
		if a != b {
			return a < b
		}
		return rs[i].SourceRow < rs[j].SourceRow
	})
}

func writeRejectList(root, name string, rs []writers.Reject) (writers.Output, error) {
	w, err := writers.NewRejects(root, name)
	if err != nil {
		return writers.Output{}, err
	}
	for i := range rs {
		if err := w.Write(&rs[i]); err != nil {
			return writers.Output{}, err
		}
	}
	return w.Close()
}

// rejectKey orders usage rejects by file and row.
func rejectKey(file int, row int64) []byte {
	var k [12]byte
	binary.BigEndian.PutUint32(k[:4], uint32(file))
	binary.BigEndian.PutUint64(k[4:], uint64(row))
	return k[:]
}

// rejectPlace reads a rejectKey.
func rejectPlace(k []byte) (file int, row int64) {
	if len(k) != 12 {
		return -1, -1
	}
	return int(binary.BigEndian.Uint32(k[:4])), int64(binary.BigEndian.Uint64(k[4:]))
}

func encodeReject(b []byte, x *writers.Reject) []byte {
	b = appendString(b, x.SourceFile)
	b = binary.AppendUvarint(b, uint64(x.SourceRow))
	b = appendString(b, x.Code)
	b = appendString(b, x.Reason)
	b = appendString(b, x.Record)
	return b
}

func decodeReject(b []byte) (writers.Reject, error) {
	d := decoder{b: b}
	x := writers.Reject{SourceFile: d.string(), SourceRow: int64(d.uvarint()), Code: d.string(), Reason: d.string(), Record: d.string()}
	if d.err {
		return x, errCorrupt
	}
	return x, nil
}

// fieldAt returns a row's value in column i, if the row has one there and it
// is not null: exactly the values readers.Record puts in a reject's record.
func fieldAt(row *readers.Row, i int) (string, bool) {
	if i < 0 || i >= len(row.Fields) || (row.Null != nil && row.Null[i]) {
		return "", false
	}
	return row.Text(i), true
}

func (r *run) writeUsageRejects(rejects *spill.Sorter) (writers.Output, error) {
	w, err := writers.NewRejects(r.tree.Dir(), "usage")
	if err != nil {
		return writers.Output{}, err
	}
	it, err := rejects.Merge()
	if err != nil {
		return writers.Output{}, err
	}
	defer it.Close()
	for {
		_, payload, ok := it.Next()
		if !ok {
			break
		}
		x, err := decodeReject(payload)
		if err != nil {
			return writers.Output{}, err
		}
		if err := w.Write(&x); err != nil {
			return writers.Output{}, err
		}
	}
	if err := it.Err(); err != nil {
		return writers.Output{}, err
	}
	return w.Close()
}
