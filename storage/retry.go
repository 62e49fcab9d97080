package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"time"

	"gocloud.dev/gcerrors"
)

// DefaultRetry is how long a store operation that meets transient errors
// is retried when nothing says otherwise (billcons' --store-retry).
const DefaultRetry = 2 * time.Minute

// Retry says how a store retries transient errors (connection refused or
// reset, 5xx answers, throttling): for up to For from the first failure,
// waiting 0.5 s, then twice as long each time up to 10 s; Log, when set,
// hears one line per wait. The SDK's own attempts (3 quick ones) come
// first, inside each of these.
type Retry struct {
	For time.Duration
	Log func(line string)
}

type retryKey struct{}

// WithRetry makes the stores opened with ctx retry as r says.
func WithRetry(ctx context.Context, r Retry) context.Context {
	return context.WithValue(ctx, retryKey{}, r)
}

// RetryOf is how the stores opened with ctx retry.
func RetryOf(ctx context.Context) Retry {
	if r, ok := ctx.Value(retryKey{}).(Retry); ok {
		return r
	}
	return Retry{For: DefaultRetry}
}

// Transient reports whether err is worth retrying: the store did not
// answer, dropped the connection, failed on its side (5xx) or throttled
// (429, 503 SlowDown). A refusal (403), a missing object, a failed
// precondition or a cancelled context is not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if st := httpStatus(err); st != 0 {
		return st >= 500 && st != http.StatusNotImplemented || st == http.StatusTooManyRequests || st == http.StatusRequestTimeout
	}
	switch gcerrors.Code(err) {
	case gcerrors.NotFound, gcerrors.FailedPrecondition, gcerrors.PermissionDenied, gcerrors.InvalidArgument, gcerrors.AlreadyExists, gcerrors.Unimplemented:
		return false
	case gcerrors.ResourceExhausted:
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var oe *net.OpError
	return errors.As(err, &oe) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, io.ErrUnexpectedEOF)
}

// do runs op, again while it fails transiently and the store's retry time
// lasts. A local store does not retry: its errors are the disk's.
func (s *Store) do(ctx context.Context, key string, op func() error) error {
	err := op()
	if err == nil || s.local != "" || !Transient(err) {
		return err
	}
	start := time.Now()
	wait := 500 * time.Millisecond
	for {
		left := s.retry.For - time.Since(start)
		if left <= 0 {
			return fmt.Errorf("%w (store unreachable or failing for %s: --store-retry)", err, s.retry.For.Round(time.Second))
		}
		wait = min(wait, left)
		if s.retry.Log != nil {
			s.retry.Log(fmt.Sprintf("%s: %s; retrying in %s (for up to %s more)", s.Name(key), cause(err), wait.Round(10*time.Millisecond), left.Round(time.Second)))
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		if err = op(); err == nil || !Transient(err) {
			return err
		}
		wait = min(2*wait, 10*time.Second)
	}
}

// cause is the innermost error of err, for a short line: the SDK wraps a
// refused connection in four layers of operation names.
func cause(err error) string {
	if st := httpStatus(err); st != 0 {
		return fmt.Sprintf("%d %s", st, http.StatusText(st))
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Error()
	}
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err.Error()
		}
		err = u
	}
}
