package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Comm is a communicator over the ranks of one data-parallel job. Every rank
// must make the same sequence of collective calls (AllReduce*, Broadcast*,
// Barrier) with buffers of the same length, or the job hangs: a rank with no
// data for a step (an uneven last batch, zero label tokens) still joins every
// collective with its zeros.
//
// The collectives block until they are complete and work in place on the
// caller's slice. They are safe to call from several goroutines, but calls are
// serialised, and ranks must agree on their order, so in practice one
// goroutine (the training loop) makes them.
type Comm interface {
	// Rank is this process's index in [0, Size()).
	Rank() int
	// Size is the number of ranks in the job.
	Size() int

	// AllReduceSumFloat32 replaces buf on every rank by the element-wise sum
	// of buf over all ranks.
	AllReduceSumFloat32(buf []float32) error
	// AllReduceSumFloat64 is AllReduceSumFloat32 for float64.
	AllReduceSumFloat64(buf []float64) error
	// AllReduceSumInt64 is AllReduceSumFloat32 for int64 (exact counts such
	// as num_items_in_batch).
	AllReduceSumInt64(buf []int64) error

	// BroadcastFloat32 copies root's buf into buf on every other rank
	// (initial weights).
	BroadcastFloat32(buf []float32, root int) error
	// BroadcastBytes copies root's buf into buf on every other rank. Every
	// rank must pass the same length: broadcast the length first when only
	// root knows it.
	BroadcastBytes(buf []byte, root int) error

	// Barrier returns once every rank has called it.
	Barrier() error

	// Abort ends every rank of the job with exit status code. It does not
	// return. It may be called from any goroutine, also while another one is
	// blocked in a collective (a watchdog); write the reason to stderr
	// before calling it.
	Abort(code int)

	// Close shuts the communicator down (MPI_Finalize). Every rank calls it
	// once at the end of the job; later calls on the Comm return ErrClosed.
	Close() error
}

// ErrClosed is returned by a Comm's methods after Close.
var ErrClosed = errors.New("dist: communicator is closed")

// MPIError is an error code returned by an MPI call, with MPI's own text.
type MPIError struct {
	Call string // the MPI function, e.g. "MPI_Allreduce"
	Code int    // the MPI error code (MPI_SUCCESS is 0)
	Msg  string // MPI_Error_string of Code
}

func (e *MPIError) Error() string {
	return fmt.Sprintf("dist: %s failed: %s (MPI error %d)", e.Call, e.Msg, e.Code)
}

// Launched reports whether an MPI launcher (mpirun/mpiexec, srun --mpi=pmix,
// the MPI Operator's mpirun) started this process: one of
// OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK is set, or SLURM_PROCID is set
// together with a PMIx variable. A plain srun without --mpi=pmix is not an
// MPI launch.
func Launched() bool {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"} {
		if _, ok := os.LookupEnv(k); ok {
			return true
		}
	}
	if _, ok := os.LookupEnv("SLURM_PROCID"); ok {
		for _, kv := range os.Environ() {
			if strings.HasPrefix(kv, "PMIX_") {
				return true
			}
		}
	}
	return false
}

// launchedSize is the world size the launcher announced in the environment,
// or 0 when it did not say.
func launchedSize() int {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS"} {
		if n, err := strconv.Atoi(os.Getenv(k)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: broadcast root %d out of range [0, %d)", root, size)
	}
	return nil
}
