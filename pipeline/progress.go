package pipeline

import (
	"sync"
	"sync/atomic"
	"time"
)

// Progress is a long run's progress, for a display that polls it from
// another goroutine (billcons run on a terminal).
type Progress struct {
	mu    sync.Mutex
	stage string
	step  int // 1-based number of the stage that processes lines
	total int64
	since time.Time
	done  atomic.Int64
}

// Stages that go over the lines, in order; Snapshot numbers them.
const LineStages = 4

// Snapshot is what Progress says at one moment.
type Snapshot struct {
	Stage string
	Step  int           // 1 to LineStages, or 0 before the lines
	Done  int64         // lines done in this stage
	Total int64         // lines in this stage, or 0 while not known (reading)
	Rate  float64       // lines per second in this stage
	ETA   time.Duration // until this stage ends, or -1 when not known
}

func (p *Progress) begin(stage string, step int, total int64) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stage, p.step, p.total, p.since = stage, step, total, time.Now()
	p.done.Store(0)
	p.mu.Unlock()
}

func (p *Progress) add(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

// Snapshot reads the progress.
func (p *Progress) Snapshot() Snapshot {
	p.mu.Lock()
	s := Snapshot{Stage: p.stage, Step: p.step, Total: p.total, ETA: -1}
	since := p.since
	p.mu.Unlock()
	s.Done = p.done.Load()
	if el := time.Since(since).Seconds(); el > 0 {
		s.Rate = float64(s.Done) / el
	}
	if s.Total > 0 && s.Rate > 0 {
		s.ETA = time.Duration(float64(s.Total-s.Done) / s.Rate * float64(time.Second))
	}
	return s
}
