//go:build mpi

package dist_test

// The MPI tests re-run this test binary under mpirun. The parent (plain
// go test) starts `mpirun -np N <test binary> -test.run=^TestMPIChild$` with
// KILN_DIST_CHILD naming what the ranks should do; each rank's TestMain
// initialises MPI, runs TestMPIChild, and calls Abort when a check failed,
// so mpirun exits non-zero and the parent fails with every rank's output.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/dist"
	"github.com/kiln-ml/kiln/dist/mpitest"
)

const childEnv = "KILN_DIST_CHILD" // collectives | abort | bench

var child dist.Comm // this rank's communicator, in a child

func TestMain(m *testing.M) { mpitest.Main(m, childEnv, &child) }

// mpirun runs np ranks of this test binary in mode and returns their
// combined output and mpirun's error. It skips tb when mpirun is missing.
func mpirun(tb testing.TB, np int, mode string, env ...string) ([]byte, error) {
	tb.Helper()
	if child != nil {
		tb.Skip("inside an MPI child")
	}
	return mpitest.Run(tb, np, "TestMPIChild", childEnv, mode, 60*time.Second, env...)
}

// TestMPICollectives checks every collective and the bucket helper at 2 and
// 4 ranks (4 oversubscribes a 2-core box).
func TestMPICollectives(t *testing.T) {
	for _, np := range []int{2, 4} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			out, err := mpirun(t, np, "collectives")
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if n := strings.Count(string(out), "--- PASS: TestMPIChild "); n != np {
				t.Fatalf("%d of %d ranks passed\n%s", n, np, out)
			}
			// 7 checks per rank.
			if n := strings.Count(string(out), "    --- PASS: TestMPIChild/"); n != 7*np {
				t.Fatalf("%d of %d rank checks passed\n%s", n, 7*np, out)
			}
		})
	}
}

// TestMPIAbort checks that one rank's Abort ends the whole job, with the
// other ranks blocked in a barrier, and that mpirun exits non-zero.
func TestMPIAbort(t *testing.T) {
	for _, np := range []int{2, 4} {
		t.Run(fmt.Sprintf("np=%d", np), func(t *testing.T) {
			start := time.Now()
			out, err := mpirun(t, np, "abort")
			// mpirun's exit status is the code the rank passed to Abort.
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 7 {
				t.Fatalf("mpirun: %v, want exit status 7 (the Abort code)\n%s", err, out)
			}
			if want := fmt.Sprintf("kiln-dist: rank %d aborting on purpose", np-1); !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q\n%s", want, out)
			}
			// Open MPI's own "MPI_ABORT was invoked on rank N" banner is not
			// checked: mpirun sometimes loses it while tearing the job down
			// ("ORTE_ERROR_LOG: Out of resource ... show_help.c").
			if strings.Contains(string(out), "barrier returned") {
				t.Errorf("a rank got past the barrier\n%s", out)
			}
			t.Logf("mpirun exit status %d after %v", ee.ExitCode(), time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestMPIChild is what each rank runs; see childEnv.
func TestMPIChild(t *testing.T) {
	if child == nil {
		t.Skip("runs only as a rank under mpirun (see TestMPICollectives)")
	}
	switch mode := os.Getenv(childEnv); mode {
	case "collectives":
		t.Run("AllReduceFloat32", childAllReduceFloat32)
		t.Run("AllReduceFloat64", childAllReduceFloat64)
		t.Run("AllReduceInt64", childAllReduceInt64)
		t.Run("Chunked", childChunked)
		t.Run("Broadcast", childBroadcast)
		t.Run("Barrier", childBarrier)
		t.Run("Buckets", childBuckets)
	case "abort":
		c := child
		if c.Rank() == c.Size()-1 {
			time.Sleep(100 * time.Millisecond) // let the others block in the barrier
			fmt.Fprintf(os.Stderr, "kiln-dist: rank %d aborting on purpose\n", c.Rank())
			c.Abort(7)
		}
		err := c.Barrier()
		t.Errorf("rank %d: barrier returned (%v) although a rank aborted", c.Rank(), err)
	case "bench":
		childBench(t)
	default:
		t.Fatalf("unknown %s=%q", childEnv, mode)
	}
}

// Each rank r of N fills its buffers from a formula in r, so the sum over
// ranks has a closed form with S = N(N+1)/2 = sum of (r+1); all values are
// small integers or dyadic fractions, so the float sums are exact.
func rankSums() (r, n, s int) {
	r, n = child.Rank(), child.Size()
	return r, n, n * (n + 1) / 2
}

func childAllReduceFloat32(t *testing.T) {
	r, _, s := rankSums()
	for _, size := range []int{0, 1, 1000, 1 << 20} {
		buf := make([]float32, size)
		for i := range buf {
			buf[i] = float32((r + 1) * (i % 97))
		}
		if err := child.AllReduceSumFloat32(buf); err != nil {
			t.Fatal(err)
		}
		for i, v := range buf {
			if want := float32(s * (i % 97)); v != want {
				t.Fatalf("len %d: [%d] = %v, want %v", size, i, v, want)
			}
		}
	}
}

func childAllReduceFloat64(t *testing.T) {
	r, _, s := rankSums()
	buf := make([]float64, 4099)
	for i := range buf {
		buf[i] = float64(r+1) * (0.25*float64(i%89) + 1<<40)
	}
	if err := child.AllReduceSumFloat64(buf); err != nil {
		t.Fatal(err)
	}
	for i, v := range buf {
		if want := float64(s) * (0.25*float64(i%89) + 1<<40); v != want {
			t.Fatalf("[%d] = %v, want %v", i, v, want)
		}
	}
}

func childAllReduceInt64(t *testing.T) {
	r, n, s := rankSums()
	buf := make([]int64, 1001)
	for i := range buf {
		buf[i] = int64(r+1)<<33 + int64(i) // past 32 bits
	}
	if err := child.AllReduceSumInt64(buf); err != nil {
		t.Fatal(err)
	}
	for i, v := range buf {
		if want := int64(s)<<33 + int64(n*i); v != want {
			t.Fatalf("[%d] = %d, want %d", i, v, want)
		}
	}
}

// childChunked shrinks the per-call element limit (2^31-1 in real use) so
// the chunking path runs.
func childChunked(t *testing.T) {
	defer dist.SetMaxCount(7)()
	r, _, s := rankSums()
	f := make([]float32, 100)
	for i := range f {
		f[i] = float32((r + 1) * i)
	}
	b := make([]byte, 23)
	if r == 0 {
		copy(b, "chunked broadcast, 23B")
	}
	if err := child.AllReduceSumFloat32(f); err != nil {
		t.Fatal(err)
	}
	if err := child.BroadcastBytes(b, 0); err != nil {
		t.Fatal(err)
	}
	for i, v := range f {
		if want := float32(s * i); v != want {
			t.Fatalf("[%d] = %v, want %v", i, v, want)
		}
	}
	if string(b[:22]) != "chunked broadcast, 23B" {
		t.Fatalf("broadcast bytes %q", b)
	}
}

func childBroadcast(t *testing.T) {
	r, n, _ := rankSums()
	root := n - 1 // not 0, to catch a root that is ignored
	f := make([]float32, 1001)
	b := make([]byte, 64)
	for i := range f {
		f[i] = -1
		if r == root {
			f[i] = 0.5*float32(i) + float32(root)
		}
	}
	msg := fmt.Sprintf("weights from rank %d", root)
	if r == root {
		copy(b, msg)
	}
	if err := child.BroadcastFloat32(f, root); err != nil {
		t.Fatal(err)
	}
	if err := child.BroadcastBytes(b, root); err != nil {
		t.Fatal(err)
	}
	for i, v := range f {
		if want := 0.5*float32(i) + float32(root); v != want {
			t.Fatalf("[%d] = %v, want %v", i, v, want)
		}
	}
	if got := strings.TrimRight(string(b), "\x00"); got != msg {
		t.Fatalf("bytes %q, want %q", got, msg)
	}
	// A bad root is refused before MPI sees it (MPI would call it erroneous).
	if err := child.BroadcastFloat32(f, n); err == nil {
		t.Fatalf("root %d of %d: no error", n, n)
	}
}

// childBarrier: rank 0 arrives 300 ms late; the others must wait for it.
func childBarrier(t *testing.T) {
	if err := child.Barrier(); err != nil { // line up the start
		t.Fatal(err)
	}
	start := time.Now()
	if child.Rank() == 0 {
		time.Sleep(300 * time.Millisecond)
	}
	if err := child.Barrier(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("rank %d left the barrier after %v, before rank 0 arrived (300 ms)", child.Rank(), d)
	}
}

func childBuckets(t *testing.T) {
	r, n, s := rankSums()
	lens := []int{1, 3, 1000, 7, 0, 5000, 13, 2, 255, 256, 1, 300, 17}
	tensors := make([][]float32, len(lens))
	for j, l := range lens {
		tensors[j] = make([]float32, l)
		for i := range tensors[j] {
			tensors[j][i] = float32((r+1)*(j+1) + i%5)
		}
	}
	if err := dist.AllReduceBuckets(child, tensors, 1024); err != nil { // 256 float32s
		t.Fatal(err)
	}
	for j, tj := range tensors {
		for i, v := range tj {
			if want := float32(s*(j+1) + n*(i%5)); v != want {
				t.Fatalf("tensor %d (len %d) [%d] = %v, want %v", j, lens[j], i, v, want)
			}
		}
	}
}
