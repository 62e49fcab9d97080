package spill

import "sync"

// Records is a pass over a sorter's records in key order: an [*Iter], or
// one merged ahead of its reader ([Sorter.MergeAhead]).
type Records interface {
	// Next returns the next record's key and payload, valid until the
	// next call, and false at the end or on error (see Err).
	Next() (key, payload []byte, ok bool)
	Err() error
	Close()
}

// aheadBytes is how many bytes of records a batch merged ahead holds: a
// few hundred records, enough that handing a batch over costs nothing
// beside them, few enough that three batches are nothing beside the runs'
// read buffers.
const aheadBytes = 256 << 10

// aheadBatches is how many batches an ahead pass has: one being read, one
// being merged, one waiting.
const aheadBatches = 3

// aheadBatch is records merged ahead of the reader, their bytes back to
// back: record i's key ends at ends[2i] and its payload at ends[2i+1].
type aheadBatch struct {
	buf  []byte
	ends []int32
	err  error // the merge's error after the records, if any
}

// Ahead is a pass whose merge (reading the runs and choosing the least
// record of their heap) is done by a goroutine of its own, a batch ahead of
// the reader: the pass over the bills is the one goroutine that feeds every
// bills file, and the merge would be a third of its time.
type Ahead struct {
	it   *Iter
	full chan *aheadBatch // batches merged, in order; closed after the last
	free chan *aheadBatch // batches read, to fill again
	stop chan struct{}    // closed by Close
	done chan struct{}    // closed when the merging goroutine returns
	once sync.Once

	cur *aheadBatch
	i   int // cur.ends index of the next record's key end
	err error
}

// MergeAhead is [Sorter.Merge] with the merge done ahead of the reader by a
// goroutine of its own, when there are runs to merge; records all in memory
// are handed out as Merge does, which costs nothing to do ahead. The
// records come in the same order as Merge's. Close must be called.
func (s *Sorter) MergeAhead() (Records, error) {
	it, err := s.Merge()
	if err != nil || it.files == nil {
		return it, err
	}
	a := &Ahead{it: it, full: make(chan *aheadBatch, aheadBatches), free: make(chan *aheadBatch, aheadBatches),
		stop: make(chan struct{}), done: make(chan struct{})}
	for range aheadBatches {
		a.free <- &aheadBatch{}
	}
	go a.merge()
	return a, nil
}

// merge fills batches with the iterator's records until the end, an error,
// or Close.
func (a *Ahead) merge() {
	defer close(a.done)
	defer close(a.full)
	for {
		var b *aheadBatch
		select {
		case b = <-a.free:
		case <-a.stop:
			return
		}
		b.buf, b.ends, b.err = b.buf[:0], b.ends[:0], nil
		last := false
		for len(b.buf) < aheadBytes {
			key, payload, ok := a.it.Next()
			if !ok {
				b.err, last = a.it.Err(), true
				break
			}
			b.buf = append(b.buf, key...)
			b.ends = append(b.ends, int32(len(b.buf)))
			b.buf = append(b.buf, payload...)
			b.ends = append(b.ends, int32(len(b.buf)))
		}
		select {
		case a.full <- b:
		case <-a.stop:
			return
		}
		if last {
			return
		}
	}
}

// Next returns the next record's key and payload, valid until the next
// call, and false at the end or on error (see Err).
func (a *Ahead) Next() (key, payload []byte, ok bool) {
	for a.cur == nil || a.i >= len(a.cur.ends) {
		if a.err != nil {
			return nil, nil, false
		}
		if a.cur != nil {
			if a.cur.err != nil {
				a.err = a.cur.err
				return nil, nil, false
			}
			a.free <- a.cur // never blocks: there are as many places as batches
			a.cur = nil
		}
		b, ok := <-a.full
		if !ok {
			return nil, nil, false
		}
		a.cur, a.i = b, 0
	}
	start := 0 // the previous record's end
	if a.i > 0 {
		start = int(a.cur.ends[a.i-1])
	}
	k, e := int(a.cur.ends[a.i]), int(a.cur.ends[a.i+1])
	a.i += 2
	return a.cur.buf[start:k:k], a.cur.buf[k:e:e], true
}

// Err returns the first read error.
func (a *Ahead) Err() error { return a.err }

// Close stops the merge and releases the run files.
func (a *Ahead) Close() {
	a.once.Do(func() {
		close(a.stop)
		<-a.done
		a.it.Close()
	})
}
