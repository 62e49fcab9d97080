package shards

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/billcons/billcons/storage"
)

// TestLoadPlanErrors: only a missing plan says "run billcons plan first";
// any other failure to read it (here a store that does not answer; a 403
// or a missing bucket alike) is said as it is.
func TestLoadPlanErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := storage.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := loadPlan(ctx, s); err == nil || !strings.Contains(err.Error(), "no plan (run billcons plan first)") {
		t.Errorf("no plan: %v", err)
	}
	// A store that does not answer: not "no plan".
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	down, err := storage.Open(storage.WithRetry(ctx, storage.Retry{For: 300 * time.Millisecond}), "s3://bills/nightly?endpoint=http://127.0.0.1:1&region=us-east-1&use_path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	if _, err := loadPlan(ctx, down); err == nil || strings.Contains(err.Error(), "run billcons plan first") || !strings.HasPrefix(err.Error(), "reading the plan: ") {
		t.Errorf("a store that does not answer: %v", err)
	}
}
