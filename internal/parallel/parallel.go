// Package parallel owns kiln's single worker pool. Every parallel loop in the
// engine (GEMM tiles, attention heads, element-wise kernels) runs on it, so the
// process never has more busy compute goroutines than GOMAXPROCS.
//
// Workers park on a channel when idle (no spinning), and the caller of For
// always does a share of the work itself, so For is deadlock-free even with
// GOMAXPROCS=1 and when called from inside another For (nested calls simply run
// more of the work on the calling goroutine).
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// task is one For call shared by the caller and the helping workers: chunks
// are claimed with an atomic counter, so fast workers take more of them.
//
// The caller waits for chunks, not for helpers: a helper that dequeues the
// task after every chunk was claimed finds nothing to do and moves on. So a
// For nested inside a worker never waits on a helper that is itself blocked.
type task struct {
	fn    func(lo, hi int)
	n     int
	grain int
	next  atomic.Int64
	done  sync.WaitGroup // one count per chunk
}

// run claims and executes chunks until none are left.
func (t *task) run() {
	for {
		lo := int(t.next.Add(int64(t.grain))) - t.grain
		if lo >= t.n {
			return
		}
		hi := min(lo+t.grain, t.n)
		t.fn(lo, hi)
		t.done.Done()
	}
}

var (
	once    sync.Once
	queue   chan *task
	workers int
)

func start() {
	workers = max(runtime.GOMAXPROCS(0)-1, 0)
	queue = make(chan *task, 64)
	for i := 0; i < workers; i++ {
		go func() {
			for t := range queue {
				t.run()
			}
		}()
	}
}

// Workers returns the number of goroutines that can run a For in parallel:
// the pool's workers plus the caller.
func Workers() int {
	once.Do(start)
	return workers + 1
}

// For calls fn on disjoint chunks [lo, hi) covering [0, n), each at most grain
// long (grain < 1 means 1), possibly in parallel, and returns when all chunks
// are done. Chunks must not depend on each other's order.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	once.Do(start)
	chunks := (n + grain - 1) / grain
	if chunks == 1 || workers == 0 {
		fn(0, n)
		return
	}
	t := &task{fn: fn, n: n, grain: grain}
	t.done.Add(chunks)
	helpers := min(chunks-1, workers)
	for i := 0; i < helpers; i++ {
		select {
		case queue <- t:
		default:
			// Queue full (deeply nested For): the caller does that share.
		}
	}
	t.run()
	t.done.Wait()
}

// Split returns a grain that cuts n items into about Workers()*parts chunks
// but never below minGrain, so tiny loops stay on one goroutine.
func Split(n, minGrain, parts int) int {
	w := Workers() * max(parts, 1)
	return max((n+w-1)/w, minGrain, 1)
}
