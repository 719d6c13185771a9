//go:build !mpi

package dist

import "fmt"

// Init returns the job's communicator. This build has no MPI (it was built
// without -tags mpi), so Init returns Local. When an MPI launcher started
// several ranks of this binary, Init fails instead: each rank would
// otherwise train alone and all of them would write the same checkpoints.
func Init() (Comm, error) {
	if n := launchedSize(); Launched() && n > 1 {
		return nil, fmt.Errorf("dist: started by an MPI launcher as one of %d ranks, but this binary was built without MPI; rebuild with -tags mpi (needs libopenmpi-dev and pkg-config)", n)
	}
	return Local(), nil
}
