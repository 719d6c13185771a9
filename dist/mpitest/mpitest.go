//go:build mpi

// Package mpitest runs a package's tests as the ranks of an Open MPI job:
// the parent (plain go test) starts `mpirun -np N <test binary>
// -test.run=^<Child>$` with an environment variable naming what the ranks
// should do; each rank's TestMain calls Main, which initialises MPI, runs the
// tests, and aborts the job when a check failed, so mpirun exits non-zero
// and the parent fails with every rank's output.
package mpitest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/dist"
)

// LoopbackEnv pins Open MPI to shared memory and loopback
// (reference/distributed.md §8.1): no UCX, libfabric or PSM, TCP and the
// mpirun <-> rank control channel only on lo, no CMA (needs ptrace rights).
var LoopbackEnv = []string{
	"OMPI_ALLOW_RUN_AS_ROOT=1",
	"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
	"OMPI_MCA_pml=ob1",
	"OMPI_MCA_mtl=^ofi,psm,psm2",
	"OMPI_MCA_osc=^ucx",
	"OMPI_MCA_btl=self,vader",
	"OMPI_MCA_btl_tcp_if_include=lo",
	"OMPI_MCA_oob_tcp_if_include=lo",
	"OMPI_MCA_btl_vader_single_copy_mechanism=none",
}

// Main is a TestMain: outside an MPI job (or without modeEnv set) it runs
// the tests and exits; inside one it initialises the communicator, stores it
// in *child, runs the tests, and aborts the job if they failed.
func Main(m *testing.M, modeEnv string, child *dist.Comm) {
	if os.Getenv(modeEnv) == "" || !dist.Launched() {
		os.Exit(m.Run())
	}
	c, err := dist.Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, "kiln-mpitest:", err)
		os.Exit(2)
	}
	*child = c
	if code := m.Run(); code != 0 {
		fmt.Fprintf(os.Stderr, "kiln-mpitest: rank %d failed, aborting the job\n", c.Rank())
		c.Abort(code)
	}
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "kiln-mpitest:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Run runs np ranks of this test binary, each running the test named
// childTest with modeEnv=mode (and env), and returns their combined output
// and mpirun's error. It skips tb when mpirun is missing; the job is killed
// after timeout.
func Run(tb testing.TB, np int, childTest, modeEnv, mode string, timeout time.Duration, env ...string) ([]byte, error) {
	tb.Helper()
	path, err := exec.LookPath("mpirun")
	if err != nil {
		tb.Skip("mpirun not on PATH: apt-get install -y --no-install-recommends openmpi-bin libopenmpi-dev pkg-config")
	}
	// Open MPI's session directory and vader's shared-memory segments go to
	// a private directory, so even a killed job leaves nothing in /tmp or
	// /dev/shm. Kept short: PMIx puts a unix socket in it.
	tmp, err := os.MkdirTemp("", "kd")
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	args := []string{"--allow-run-as-root", "--oversubscribe", "-np", strconv.Itoa(np), "-x", modeEnv}
	for _, kv := range env {
		args = append(args, "-x", kv[:strings.IndexByte(kv, '=')])
	}
	args = append(args, os.Args[0], "-test.run=^"+childTest+"$", "-test.v", "-test.count=1")
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), LoopbackEnv...)
	cmd.Env = append(cmd.Env, modeEnv+"="+mode, "TMPDIR="+tmp, "OMPI_MCA_btl_vader_backing_directory="+tmp)
	cmd.Env = append(cmd.Env, env...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("mpirun -np %d timed out after %v: %w", np, timeout, err)
	}
	return out, err
}
