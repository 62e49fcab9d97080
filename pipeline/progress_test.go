package pipeline

import (
	"testing"
	"time"
)

func TestProgressSnapshot(t *testing.T) {
	var p Progress
	p.begin("writing bills", 4, 1000)
	p.add(250)
	time.Sleep(20 * time.Millisecond)
	s := p.Snapshot()
	if s.Stage != "writing bills" || s.Step != 4 || s.Done != 250 || s.Total != 1000 || s.Rate <= 0 || s.ETA <= 0 {
		t.Fatalf("%+v", s)
	}
	p.begin("reading usage", 1, 0) // total not known while reading
	if s := p.Snapshot(); s.Done != 0 || s.ETA != -1 {
		t.Fatalf("%+v", s)
	}
	var none *Progress // a run without a display
	none.begin("x", 1, 1)
	none.add(1)
}
