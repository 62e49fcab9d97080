package storage

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Checkpoint is the fault-injection hook of the crash tests
// (cmd/billcons/crash_test.go). When the environment variable
// BILLCONS_PAUSE_AT equals point, the process writes
// "billcons: paused at POINT" to stderr and stops itself with SIGSTOP, so a
// test can kill it there (SIGKILL), or change the world and let it go on
// (SIGCONT). Otherwise it does nothing.
//
// The points, in the order a run passes them:
//
//	hashed       inputs hashed for the manifest, none parsed yet
//	reading      the first batch of usage rows parsed
//	writing      the first bills file written, the others not yet
//	before-swap  the new version complete and synced in its staging folder
//	mid-swap     the new version renamed into v/NNNNNN, not yet the latest
//	committed    the new version published (the latest), the lock still held
//	exit         the command done, about to exit: its peak memory is final
func Checkpoint(point string) {
	if pauseAt != point {
		return
	}
	fmt.Fprintf(os.Stderr, "billcons: paused at %s\n", point)
	// Stop this very thread: a SIGSTOP sent to the process is taken by
	// another thread, and this one could run on for a moment, past the point.
	runtime.LockOSThread()
	unix.Tgkill(os.Getpid(), unix.Gettid(), unix.SIGSTOP)
	runtime.UnlockOSThread()
}

var pauseAt = os.Getenv("BILLCONS_PAUSE_AT")
