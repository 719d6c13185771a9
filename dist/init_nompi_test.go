//go:build !mpi

package dist

import (
	"strings"
	"testing"
)

func TestInitLaunchedWithoutMPI(t *testing.T) {
	t.Setenv("OMPI_COMM_WORLD_SIZE", "4")
	_, err := Init()
	if err == nil || !strings.Contains(err.Error(), "-tags mpi") {
		t.Fatalf("Init as one of 4 ranks without MPI: %v, want an error naming -tags mpi", err)
	}
	t.Setenv("OMPI_COMM_WORLD_SIZE", "1") // mpirun -np 1: Local is right
	if c, err := Init(); err != nil || c.Size() != 1 {
		t.Fatalf("Init as 1 of 1: %v", err)
	}
}
