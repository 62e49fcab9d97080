// Package spill sorts records larger than memory: an external merge sort over
// byte records, used by the pipeline and by verify to group bill lines by line_id (to find
// duplicates) and by partition (to write one bills file at a time) without
// holding every line in memory.
//
// A record is a byte-comparable key followed by a payload. Records are
// buffered up to a byte budget, sorted by key and written to a run file; the
// runs are then merged with a heap. Merge may be called more than once: each
// call replays all records in key order.
package spill

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// Sorter collects records and replays them sorted by key. Records with equal
// keys come back in the order they were added only if the keys are made
// unique by the caller (the pipeline appends a sequence number).
type Sorter struct {
	dir    string
	name   string
	budget int

	arena []byte   // the records buffered in memory, back to back
	recs  []record // their places in arena
	runs  []string
	done  bool

	// A full buffer is sorted and written by a goroutine while Add fills
	// the other one: at most one run is being written, so memory is at most
	// twice the budget.
	writing chan flushed
	// w buffers the run being written: one at a time, so one buffer,
	// reused (a fresh megabyte per run was most of a run's garbage).
	w *bufio.Writer
}

// flushed is a run written in the background, and its buffers to reuse.
type flushed struct {
	err   error
	arena []byte
	recs  []record
}

type record struct {
	prefix           uint64 // sortFrom's: 8 key bytes at the depth it sorts, big-endian, zero-padded
	off, keyLen, len int32
}

// keyPrefix packs up to 8 bytes of key so that comparing prefixes as
// numbers orders keys as bytes.Compare does, as far as the prefix goes.
func keyPrefix(key []byte) uint64 {
	if len(key) >= 8 {
		return binary.BigEndian.Uint64(key)
	}
	var b [8]byte
	copy(b[:], key)
	return binary.BigEndian.Uint64(b[:])
}

// compareTie orders two records whose key prefixes are equal: by key, then
// by payload. The order is total, so records come out in the same order
// however they were cut into runs.
func compareTie(aKey, bKey, aPayload, bPayload []byte) int {
	if c := bytes.Compare(aKey, bKey); c != 0 {
		return c
	}
	return bytes.Compare(aPayload, bPayload)
}

// New returns a Sorter that writes its runs to files named name-N in dir once
// budget bytes of records are buffered. The budget is kept between 64 KiB and
// 1 GiB: records are addressed with 32-bit offsets.
func New(dir, name string, budget int) *Sorter {
	budget = min(max(budget, 1<<16), 1<<30)
	return &Sorter{dir: dir, name: name, budget: budget}
}

// Add copies one record with the given key and payload. It may write a run.
func (s *Sorter) Add(key, payload []byte) error {
	if s.done {
		return errors.New("spill: Add after Merge")
	}
	n := len(key) + len(payload)
	if len(s.arena)+n > s.budget && len(s.recs) > 0 {
		if err := s.flushInBackground(); err != nil {
			return err
		}
	}
	if len(s.arena)+n > cap(s.arena) {
		// Grow by doubling but never past the budget: append alone would
		// double past it, and the old array lingers until the next GC.
		grown := make([]byte, len(s.arena), min(max(2*cap(s.arena), 1<<20, len(s.arena)+n), max(s.budget, len(s.arena)+n)))
		copy(grown, s.arena)
		s.arena = grown
	}
	off := len(s.arena)
	s.arena = append(s.arena, key...)
	s.arena = append(s.arena, payload...)
	s.recs = append(s.recs, record{off: int32(off), keyLen: int32(len(key)), len: int32(n)})
	return nil
}

// Runs reports how many run files were written.
func (s *Sorter) Runs() int { return len(s.runs) }

// sort orders the records by key, then payload (see compareTie).
func (s *Sorter) sort() { sortFrom(s.arena, s.recs, 0) }

// sortFrom sorts recs, whose keys share their first depth bytes, by key,
// then payload: by the 8 key bytes at depth as a number, then each
// run of records equal in them again, 8 bytes deeper. Keys that share a
// long start, as bills keys do (a cycle, then payer ids of one form, then
// the member's), are told apart by integers, each key's bytes read once a
// level, where a comparison sort compared whole keys from their start for
// most of its comparisons (docs/performance.md has what that cost).
func sortFrom(arena []byte, recs []record, depth int) {
	for i := range recs {
		r := &recs[i]
		if k := int(r.keyLen); k > depth {
			r.prefix = keyPrefix(arena[int(r.off)+depth : int(r.off)+k])
		} else {
			r.prefix = 0
		}
	}
	slices.SortFunc(recs, func(a, b record) int { return cmp.Compare(a.prefix, b.prefix) })
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].prefix == recs[i].prefix {
			j++
		}
		if j-i > 1 {
			sortEqual(arena, recs[i:j], depth)
		}
		i = j
	}
}

// sortEqual sorts recs, whose keys share their first depth bytes and the 8
// after them zero-padded. A key that ends within those 8 is a prefix of
// every longer one, so those come first, shortest first, equal keys by
// payload; the longer ones are sorted from depth+8.
func sortEqual(arena []byte, recs []record, depth int) {
	end := depth + 8
	ended := 0
	for i := range recs {
		if int(recs[i].keyLen) <= end {
			recs[i], recs[ended] = recs[ended], recs[i]
			ended++
		}
	}
	if ended > 1 {
		slices.SortFunc(recs[:ended], func(a, b record) int {
			if c := cmp.Compare(a.keyLen, b.keyLen); c != 0 {
				return c
			}
			return bytes.Compare(arena[a.off+a.keyLen:a.off+a.len], arena[b.off+b.keyLen:b.off+b.len])
		})
	}
	if len(recs)-ended > 1 {
		sortFrom(arena, recs[ended:], end)
	}
}

// flushInBackground hands the buffer to a goroutine that sorts it and
// writes it as a run, after the previous one is done, and goes on with that
// one's buffers.
func (s *Sorter) flushInBackground() error {
	arena, recs := s.arena, s.recs
	s.arena, s.recs = nil, nil
	if s.writing != nil {
		f := <-s.writing
		if f.err != nil {
			return f.err
		}
		s.arena, s.recs = f.arena[:0], f.recs[:0]
	} else {
		s.writing = make(chan flushed, 1)
	}
	path := s.nextRun()
	go func() {
		err := s.writeRun(path, arena, recs)
		s.writing <- flushed{err: err, arena: arena, recs: recs}
	}()
	return nil
}

// wait waits for the run being written, if any.
func (s *Sorter) wait() error {
	if s.writing == nil {
		return nil
	}
	f := <-s.writing
	s.writing = nil
	return f.err
}

// flush sorts the buffer and writes it as a run, here and now.
func (s *Sorter) flush() error {
	if err := s.writeRun(s.nextRun(), s.arena, s.recs); err != nil {
		return err
	}
	s.arena = s.arena[:0]
	s.recs = s.recs[:0]
	return nil
}

// nextRun names the next run file and counts it.
func (s *Sorter) nextRun() string {
	path := filepath.Join(s.dir, s.name+"-"+strconv.Itoa(len(s.runs)))
	s.runs = append(s.runs, path)
	if len(s.runs)%runsPerDoubling == 0 {
		// Keep the number of runs, and so of files open in a merge, from
		// growing with the input: double the budget every 256 runs.
		s.budget = min(2*s.budget, 1<<30)
	}
	return path
}

// runsPerDoubling is how many runs are written before the budget doubles.
const runsPerDoubling = 256

// writeRun sorts the records by key and writes them to a new run file.
// Only one run is written at a time.
func (s *Sorter) writeRun(path string, arena []byte, recs []record) error {
	sortFrom(arena, recs, 0)
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating spill file: %w", err)
	}
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 1<<20)
	}
	w := s.w
	w.Reset(f)
	defer w.Reset(nil)
	var hdr [2 * binary.MaxVarintLen32]byte
	for _, r := range recs {
		n := binary.PutUvarint(hdr[:], uint64(r.keyLen))
		n += binary.PutUvarint(hdr[n:], uint64(r.len-r.keyLen))
		w.Write(hdr[:n])
		w.Write(arena[r.off : r.off+r.len])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing spill file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing spill file: %w", err)
	}
	return nil
}

// Merge finishes adding and returns an iterator over all records in key
// order. It may be called again for another full pass.
func (s *Sorter) Merge() (*Iter, error) {
	if !s.done {
		s.done = true
		if err := s.wait(); err != nil {
			return nil, err
		}
		if len(s.runs) > 0 && len(s.recs) > 0 {
			if err := s.flush(); err != nil {
				return nil, err
			}
			s.arena, s.recs = nil, nil
		} else {
			s.sort()
		}
	}
	it := &Iter{s: s}
	if len(s.runs) == 0 {
		return it, nil
	}
	for _, path := range s.runs {
		f, err := os.Open(path)
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("opening spill file: %w", err)
		}
		c := &cursor{f: f, r: bufio.NewReaderSize(f, 1<<16)}
		it.files = append(it.files, c)
		if err := c.next(); err != nil {
			it.Close()
			return nil, err
		}
	}
	it.tree.build(it.files)
	return it, nil
}

// Remove deletes the run files.
func (s *Sorter) Remove() {
	s.wait()
	for _, p := range s.runs {
		os.Remove(p)
	}
	s.runs = nil
}

// Iter replays records in key order.
type Iter struct {
	s     *Sorter
	i     int // next in-memory record
	tree  loserTree
	files []*cursor
	top   *cursor
	err   error
}

// Next returns the next record's key and payload, valid until the next call,
// and false at the end or on error (see Err).
func (it *Iter) Next() (key, payload []byte, ok bool) {
	if it.err != nil {
		return nil, nil, false
	}
	if it.files == nil { // all in memory
		if it.i >= len(it.s.recs) {
			return nil, nil, false
		}
		r := it.s.recs[it.i]
		it.i++
		rec := it.s.arena[r.off : r.off+r.len]
		return rec[:r.keyLen], rec[r.keyLen:], true
	}
	if it.top != nil { // advance the cursor returned last time
		if err := it.top.next(); err != nil {
			it.err = err
			return nil, nil, false
		}
		it.tree.replay(it.tree.t[0])
		it.top = nil
	}
	c := it.files[it.tree.t[0]]
	if c.key == nil { // the least cursor is at its end, and so are all
		return nil, nil, false
	}
	it.top = c
	return c.key, c.payload, true
}

// Err returns the first read error.
func (it *Iter) Err() error { return it.err }

// Close releases the run files opened by the iterator.
func (it *Iter) Close() {
	for _, c := range it.files {
		c.f.Close()
	}
	it.files = nil
}

type cursor struct {
	f            *os.File
	r            *bufio.Reader
	buf          []byte
	key, payload []byte
	prefix       uint64 // keyPrefix(key)
}

// next reads the cursor's next record. A record whole in the reader's
// buffer is handed out where it lies, valid until the cursor's next read;
// a longer one is copied.
func (c *cursor) next() error {
	hdr, err := c.r.Peek(2 * binary.MaxVarintLen64)
	if len(hdr) == 0 {
		if err == io.EOF {
			c.key, c.payload = nil, nil
			return nil
		}
		return fmt.Errorf("reading spill file: %w", err)
	}
	kl, n1 := binary.Uvarint(hdr)
	if n1 <= 0 {
		return fmt.Errorf("reading spill file: %w", io.ErrUnexpectedEOF)
	}
	pl, n2 := binary.Uvarint(hdr[n1:])
	if n2 <= 0 {
		return fmt.Errorf("reading spill file: %w", io.ErrUnexpectedEOF)
	}
	c.r.Discard(n1 + n2)
	n := int(kl + pl)
	var rec []byte
	if n <= c.r.Size() {
		if rec, err = c.r.Peek(n); err != nil {
			return fmt.Errorf("reading spill file: %w", unexpected(err))
		}
		c.r.Discard(n)
	} else {
		if cap(c.buf) < n {
			c.buf = make([]byte, n, n+n/4)
		}
		rec = c.buf[:n]
		if _, err := io.ReadFull(c.r, rec); err != nil {
			return fmt.Errorf("reading spill file: %w", err)
		}
	}
	c.key, c.payload = rec[:kl:kl], rec[kl:]
	c.prefix = keyPrefix(c.key)
	return nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// loserTree picks the least of the runs' cursors, in compareTie's order,
// a cursor at its end being greater than any: a tournament whose inner
// nodes keep the loser of their match, so that replacing the winner's
// record replays one match per level (a heap's sift compares twice a
// level). Cursor i is leaf k+i of the implicit tree over nodes 1..2k-1.
type loserTree struct {
	c []*cursor
	t []int // t[0]: the winner; t[1..k-1]: each match's loser
}

// build plays every match of the tree over cs.
func (lt *loserTree) build(cs []*cursor) {
	lt.c = cs
	lt.t = make([]int, max(len(cs), 1))
	lt.t[0] = lt.play(1)
}

// play plays the matches of the subtree at node n and returns its winner.
func (lt *loserTree) play(n int) int {
	k := len(lt.c)
	if n >= k {
		return n - k
	}
	a, b := lt.play(2*n), lt.play(2*n+1)
	if lt.less(b, a) {
		a, b = b, a
	}
	lt.t[n] = b
	return a
}

// replay plays again the matches from leaf w, whose record changed, to the
// root.
func (lt *loserTree) replay(w int) {
	for n := (w + len(lt.c)) / 2; n > 0; n /= 2 {
		if lt.less(lt.t[n], w) {
			lt.t[n], w = w, lt.t[n]
		}
	}
	lt.t[0] = w
}

// less orders cursors a and b by their records; one at its end is last.
func (lt *loserTree) less(a, b int) bool {
	x, y := lt.c[a], lt.c[b]
	if x.key == nil || y.key == nil {
		return y.key == nil && x.key != nil
	}
	return lessCursor(x, y)
}

func lessCursor(a, b *cursor) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return compareTie(a.key, b.key, a.payload, b.payload) < 0
}
