//go:build mpi

package dist_test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// BenchmarkAllReduceBandwidth measures a float32 sum all-reduce of 4 MiB and
// 64 MiB at 2 and 4 ranks over shared memory (the loopback-only settings of
// the tests). Each case is one mpirun job that times a fixed number of
// all-reduces, so run it with -benchtime=1x:
//
//	go test -tags mpi -run '^$' -bench AllReduceBandwidth -benchtime=1x ./dist/
//
// best_ms/avg_ms are rank 0's times per all-reduce after a barrier;
// algGB/s = bytes/best and busGB/s = algGB/s·2(N-1)/N (the nccl-tests
// convention, comparable across N).
func BenchmarkAllReduceBandwidth(b *testing.B) {
	for _, np := range []int{2, 4} {
		for _, mb := range []int{4, 64} {
			b.Run(fmt.Sprintf("np=%d/%dMiB", np, mb), func(b *testing.B) {
				bytes := mb << 20
				iters := 20
				if mb > 16 {
					iters = 5
				}
				out, err := mpirun(b, np, "bench",
					"KILN_DIST_BENCH_BYTES="+strconv.Itoa(bytes), "KILN_DIST_BENCH_ITERS="+strconv.Itoa(iters))
				if err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				var best, avg float64
				i := strings.Index(string(out), "kiln-dist-bench ")
				if i < 0 {
					b.Fatalf("no result line\n%s", out)
				}
				if _, err := fmt.Sscanf(string(out[i:]), "kiln-dist-bench best_ms=%g avg_ms=%g", &best, &avg); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
				alg := float64(bytes) / (best / 1e3) / 1e9
				b.ReportMetric(best, "best_ms")
				b.ReportMetric(avg, "avg_ms")
				b.ReportMetric(alg, "algGB/s")
				b.ReportMetric(alg*2*float64(np-1)/float64(np), "busGB/s")
			})
		}
	}
}

// childBench is the rank side of BenchmarkAllReduceBandwidth.
func childBench(t *testing.T) {
	bytes, err1 := strconv.Atoi(os.Getenv("KILN_DIST_BENCH_BYTES"))
	iters, err2 := strconv.Atoi(os.Getenv("KILN_DIST_BENCH_ITERS"))
	if err1 != nil || err2 != nil || iters < 1 {
		t.Fatalf("bad KILN_DIST_BENCH_BYTES/ITERS: %v %v", err1, err2)
	}
	buf := make([]float32, bytes/4)
	for i := range buf {
		buf[i] = 1
	}
	if err := child.AllReduceSumFloat32(buf); err != nil { // warm-up
		t.Fatal(err)
	}
	var best, total time.Duration
	for range iters {
		if err := child.Barrier(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := child.AllReduceSumFloat32(buf); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		total += d
		if best == 0 || d < best {
			best = d
		}
	}
	if child.Rank() == 0 {
		fmt.Printf("kiln-dist-bench best_ms=%.3f avg_ms=%.3f\n",
			best.Seconds()*1e3, total.Seconds()*1e3/float64(iters))
	}
}
