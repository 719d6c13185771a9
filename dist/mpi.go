//go:build mpi

package dist

// The Open MPI binding: one-line C wrappers hide Open MPI's macros
// (MPI_COMM_WORLD, MPI_FLOAT, ... are addresses of hidden globals that cgo
// cannot name), and Go slices are passed straight to C, which the cgo pointer
// rules allow because the buffers hold no Go pointers and every call blocks
// until MPI is done with them.

/*
#cgo pkg-config: ompi-c
#include <stdint.h>
#include <mpi.h>

static int kiln_init(int required, int *provided) { return MPI_Init_thread(NULL, NULL, required, provided); }
static int kiln_thread_serialized(void) { return MPI_THREAD_SERIALIZED; }
static int kiln_thread_multiple(void) { return MPI_THREAD_MULTIPLE; }
static int kiln_errors_return(void) { return MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); }
static int kiln_rank(int *r) { return MPI_Comm_rank(MPI_COMM_WORLD, r); }
static int kiln_size(int *s) { return MPI_Comm_size(MPI_COMM_WORLD, s); }
static int kiln_allreduce_f32(float *b, int n) { return MPI_Allreduce(MPI_IN_PLACE, b, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); }
static int kiln_allreduce_f64(double *b, int n) { return MPI_Allreduce(MPI_IN_PLACE, b, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD); }
static int kiln_allreduce_i64(int64_t *b, int n) { return MPI_Allreduce(MPI_IN_PLACE, b, n, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD); }
static int kiln_bcast_f32(float *b, int n, int root) { return MPI_Bcast(b, n, MPI_FLOAT, root, MPI_COMM_WORLD); }
static int kiln_bcast_bytes(void *b, int n, int root) { return MPI_Bcast(b, n, MPI_BYTE, root, MPI_COMM_WORLD); }
static int kiln_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }
static int kiln_abort(int code) { return MPI_Abort(MPI_COMM_WORLD, code); }
static int kiln_finalize(void) { return MPI_Finalize(); }
static int kiln_finalized(int *flag) { return MPI_Finalized(flag); }
static void kiln_error_string(int code, char *buf) {
	int n = 0;
	if (MPI_Error_string(code, buf, &n) != MPI_SUCCESS) n = 0;
	buf[n] = 0;
}
*/
import "C"

import (
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"
)

// maxCount is the largest element count of one MPI call (counts are C int);
// longer buffers are sent in chunks. A variable so tests can shrink it.
var maxCount = math.MaxInt32

var (
	initMu sync.Mutex
	world  *mpiComm
)

// Init returns the job's communicator. Built with -tags mpi and started by
// an MPI launcher (see Launched), it initialises MPI once (MPI_Init_thread)
// and returns the MPI_COMM_WORLD communicator; later calls return the same
// one. Otherwise it returns Local, so the same binary still runs alone.
func Init() (Comm, error) {
	if !Launched() {
		return Local(), nil
	}
	initMu.Lock()
	defer initMu.Unlock()
	if world != nil {
		if world.closed {
			return nil, fmt.Errorf("dist: Init after Close: MPI cannot be initialised twice")
		}
		return world, nil
	}
	// MULTIPLE lets Abort run while another goroutine is blocked in a
	// collective (a watchdog); everything else is serialised by mpiComm.mu,
	// so SERIALIZED is enough when MULTIPLE is not granted.
	var provided C.int
	if rc := C.kiln_init(C.kiln_thread_multiple(), &provided); rc != 0 {
		return nil, mpiError("MPI_Init_thread", rc)
	}
	if provided < C.kiln_thread_serialized() {
		C.kiln_abort(1)
		return nil, fmt.Errorf("dist: MPI_Init_thread provided thread level %d, need at least MPI_THREAD_SERIALIZED", provided)
	}
	// Return errors to Go instead of MPI's default of aborting the job.
	if rc := C.kiln_errors_return(); rc != 0 {
		return nil, mpiError("MPI_Comm_set_errhandler", rc)
	}
	var rank, size C.int
	if rc := C.kiln_rank(&rank); rc != 0 {
		return nil, mpiError("MPI_Comm_rank", rc)
	}
	if rc := C.kiln_size(&size); rc != 0 {
		return nil, mpiError("MPI_Comm_size", rc)
	}
	world = &mpiComm{rank: int(rank), size: int(size)}
	return world, nil
}

func mpiError(call string, rc C.int) error {
	var buf [C.MPI_MAX_ERROR_STRING + 1]C.char
	C.kiln_error_string(rc, &buf[0])
	return &MPIError{Call: call, Code: int(rc), Msg: C.GoString(&buf[0])}
}

// mpiComm is MPI_COMM_WORLD.
type mpiComm struct {
	mu         sync.Mutex // serialises MPI calls: goroutines migrate between OS threads
	rank, size int
	closed     bool
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

// chunks calls fn on buf in pieces of at most maxCount elements, under the
// lock, and names call in the error.
func chunks[T any](c *mpiComm, call string, buf []T, fn func(p *T, n C.int) C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for len(buf) > 0 {
		n := min(len(buf), maxCount)
		if rc := fn(&buf[0], C.int(n)); rc != 0 {
			return mpiError(call, rc)
		}
		buf = buf[n:]
	}
	return nil
}

func (c *mpiComm) AllReduceSumFloat32(buf []float32) error {
	return chunks(c, "MPI_Allreduce", buf, func(p *float32, n C.int) C.int {
		return C.kiln_allreduce_f32((*C.float)(unsafe.Pointer(p)), n)
	})
}

func (c *mpiComm) AllReduceSumFloat64(buf []float64) error {
	return chunks(c, "MPI_Allreduce", buf, func(p *float64, n C.int) C.int {
		return C.kiln_allreduce_f64((*C.double)(unsafe.Pointer(p)), n)
	})
}

func (c *mpiComm) AllReduceSumInt64(buf []int64) error {
	return chunks(c, "MPI_Allreduce", buf, func(p *int64, n C.int) C.int {
		return C.kiln_allreduce_i64((*C.int64_t)(unsafe.Pointer(p)), n)
	})
}

func (c *mpiComm) BroadcastFloat32(buf []float32, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	return chunks(c, "MPI_Bcast", buf, func(p *float32, n C.int) C.int {
		return C.kiln_bcast_f32((*C.float)(unsafe.Pointer(p)), n, C.int(root))
	})
}

func (c *mpiComm) BroadcastBytes(buf []byte, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	return chunks(c, "MPI_Bcast", buf, func(p *byte, n C.int) C.int {
		return C.kiln_bcast_bytes(unsafe.Pointer(p), n, C.int(root))
	})
}

func (c *mpiComm) Barrier() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if rc := C.kiln_barrier(); rc != 0 {
		return mpiError("MPI_Barrier", rc)
	}
	return nil
}

// Abort calls MPI_Abort without taking the lock, so a watchdog can end a job
// whose main goroutine is stuck in a collective. (Under SERIALIZED that is
// outside the MPI standard's promise; ending the job is the point anyway.)
// mpirun then kills every rank and exits non-zero.
func (c *mpiComm) Abort(code int) {
	var fin C.int
	if C.kiln_finalized(&fin); fin == 0 {
		C.kiln_abort(C.int(code))
	}
	os.Exit(code) // MPI_Abort returned, or MPI is already finalised
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.closed = true
	if rc := C.kiln_finalize(); rc != 0 {
		return mpiError("MPI_Finalize", rc)
	}
	return nil
}
