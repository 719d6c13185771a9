package parallel

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, n := range []int{0, 1, 7, 1000, 12345} {
		for _, grain := range []int{0, 1, 3, 64, 100000} {
			hits := make([]int32, n)
			For(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("n=%d grain=%d: index %d visited %d times", n, grain, i, h)
				}
			}
		}
	}
}

func TestNestedForDoesNotDeadlock(t *testing.T) {
	var total atomic.Int64
	For(64, 1, func(lo, hi int) {
		For(64, 1, func(lo2, hi2 int) {
			For(8, 1, func(a, b int) { total.Add(int64((hi - lo) * (hi2 - lo2) * (b - a))) })
		})
	})
	if total.Load() != 64*64*8 {
		t.Fatalf("total %d, want %d", total.Load(), 64*64*8)
	}
}

func TestGOMAXPROCS1(t *testing.T) {
	// The pool is sized once; with GOMAXPROCS=1 the caller still makes
	// progress on its own because For always runs chunks itself.
	old := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(old)
	sum := 0
	For(100, 10, func(lo, hi int) { // chunks may run concurrently only if workers exist
		for i := lo; i < hi; i++ {
			_ = i
		}
	})
	For(1, 1, func(lo, hi int) { sum += hi - lo })
	if sum != 1 {
		t.Fatal("single chunk not run")
	}
}
