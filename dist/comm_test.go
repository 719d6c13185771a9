package dist

import (
	"errors"
	"testing"
)

func TestLocal(t *testing.T) {
	c := Local()
	if c.Rank() != 0 || c.Size() != 1 {
		t.Fatalf("Local: rank %d size %d, want 0 1", c.Rank(), c.Size())
	}
	f32 := []float32{1, 2, 3}
	f64 := []float64{1.5, -2}
	i64 := []int64{1 << 40, -7}
	b := []byte("kiln")
	for name, err := range map[string]error{
		"AllReduceSumFloat32": c.AllReduceSumFloat32(f32),
		"AllReduceSumFloat64": c.AllReduceSumFloat64(f64),
		"AllReduceSumInt64":   c.AllReduceSumInt64(i64),
		"BroadcastFloat32":    c.BroadcastFloat32(f32, 0),
		"BroadcastBytes":      c.BroadcastBytes(b, 0),
		"Barrier":             c.Barrier(),
		"AllReduce(nil)":      c.AllReduceSumFloat32(nil),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The sum over one rank is the buffer itself.
	if f32[0] != 1 || f32[2] != 3 || f64[0] != 1.5 || i64[0] != 1<<40 || string(b) != "kiln" {
		t.Errorf("Local changed its buffers: %v %v %v %q", f32, f64, i64, b)
	}
	if err := c.BroadcastFloat32(f32, 1); err == nil {
		t.Error("BroadcastFloat32 from root 1 of a size-1 job: want an error")
	}
	if err := c.BroadcastBytes(b, -1); err == nil {
		t.Error("BroadcastBytes from root -1: want an error")
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func TestInitWithoutLauncher(t *testing.T) {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID"} {
		t.Setenv(k, "") // t.Setenv restores the old value; then unset for this test
		unsetenv(t, k)
	}
	if Launched() {
		t.Fatal("Launched() with no launcher variables")
	}
	c, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != 1 || c.Rank() != 0 {
		t.Fatalf("Init without a launcher: rank %d size %d, want Local", c.Rank(), c.Size())
	}
}

func TestLaunched(t *testing.T) {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", "PMIX_NAMESPACE"} {
		t.Setenv(k, "")
		unsetenv(t, k)
	}
	t.Setenv("SLURM_PROCID", "3")
	if Launched() {
		t.Error("plain srun (SLURM_PROCID without PMIx) counted as an MPI launch")
	}
	t.Setenv("PMIX_NAMESPACE", "slurm.pmix.42.0")
	if !Launched() {
		t.Error("srun --mpi=pmix (SLURM_PROCID + PMIX_*) not counted as an MPI launch")
	}
}

// sumComm pretends to be a job of size ranks in which every other rank holds
// ones: an all-reduce adds size-1 to each element. It records the length of
// every all-reduce.
type sumComm struct {
	local
	size  int
	calls []int
}

func (c *sumComm) Size() int { return c.size }
func (c *sumComm) AllReduceSumFloat32(buf []float32) error {
	c.calls = append(c.calls, len(buf))
	for i := range buf {
		buf[i] += float32(c.size - 1)
	}
	return nil
}

func TestAllReduceBuckets(t *testing.T) {
	lens := []int{3, 0, 5, 100, 2, 2, 9, 1, 40, 7, 7, 7, 1}
	const bucketBytes = 10 * 4 // ten float32s
	tensors := make([][]float32, len(lens))
	for j, n := range lens {
		tensors[j] = make([]float32, n)
		for i := range tensors[j] {
			tensors[j][i] = float32(100*j + i)
		}
	}
	c := &sumComm{size: 4}
	if err := AllReduceBuckets(c, tensors, bucketBytes); err != nil {
		t.Fatal(err)
	}
	// Every element was reduced exactly once.
	for j, tj := range tensors {
		for i, v := range tj {
			if want := float32(100*j + i + 3); v != want {
				t.Fatalf("tensor %d[%d] = %v, want %v", j, i, v, want)
			}
		}
	}
	// Big tensors go out at once; a bucket goes out when the next small
	// tensor would overflow it: {100} {3,5,2} {2} {40} {9,1} {7} {7} {7,1}.
	want := []int{100, 10, 2, 40, 10, 7, 7, 8}
	if !equal(c.calls, want) {
		t.Errorf("all-reduce lengths %v, want %v", c.calls, want)
	}

	// bucketBytes < 4: one in-place all-reduce per non-empty tensor.
	c = &sumComm{size: 2}
	if err := AllReduceBuckets(c, tensors, 0); err != nil {
		t.Fatal(err)
	}
	if len(c.calls) != len(lens)-1 {
		t.Errorf("bucketBytes 0: %d all-reduces, want %d", len(c.calls), len(lens)-1)
	}

	// A size-1 job makes no calls at all.
	if err := AllReduceBuckets(Local(), tensors, bucketBytes); err != nil {
		t.Fatal(err)
	}
}

type failComm struct{ sumComm }

func (c *failComm) AllReduceSumFloat32([]float32) error {
	return &MPIError{Call: "MPI_Allreduce", Code: 15, Msg: "MPI_ERR_TRUNCATE: message truncated"}
}

func TestAllReduceBucketsError(t *testing.T) {
	c := &failComm{sumComm{size: 2}}
	err := AllReduceBuckets(c, [][]float32{{1}, {2}}, 64)
	var me *MPIError
	if !errors.As(err, &me) || me.Call != "MPI_Allreduce" {
		t.Fatalf("error %v: want the MPIError naming MPI_Allreduce", err)
	}
	if got := err.Error(); got != "dist: MPI_Allreduce failed: MPI_ERR_TRUNCATE: message truncated (MPI error 15)" {
		t.Errorf("message %q", got)
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
