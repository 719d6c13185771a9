//go:build mpi

package trainer

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/dist"
	"github.com/kiln-ml/kiln/dist/mpitest"
	"github.com/kiln-ml/kiln/task"
)

const childEnv = "KILN_TRAINER_CHILD" // equiv | kill

var child dist.Comm

func TestMain(m *testing.M) { mpitest.Main(m, childEnv, &child) }

// distRun trains the token task on 64 examples with a global batch of 16
// (per_device 16/world, accumulation accum) on comm, dropout off, and
// returns the weights and the step losses.
func distRun(t *testing.T, comm dist.Comm, dir string, accum int) (map[string][]float32, []float64, *Trainer) {
	a := testArgs(t)
	a.OutputDir = dir
	a.PerDeviceTrainBatchSize = 16 / comm.Size() / accum
	a.GradientAccumulationSteps = accum
	a.NumTrainEpochs = 2
	a.EvalStrategy, a.EvalSteps = "steps", 4
	a.SaveStrategy, a.SaveSteps = "steps", 4
	m := tinyBert(t, task.TokenClassification, 3, 0, 7)
	tr := newTrainer(t, a, m, tokenData(64, 1), tokenData(12, 3))
	tr.Comm = comm
	if _, err := tr.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	return params(m), trainLosses(tr.State), tr
}

// TestMPIChild is what each rank runs.
func TestMPIChild(t *testing.T) {
	if child == nil {
		t.Skip("runs only as a rank under mpirun (see TestMPITrainingMatchesOneProcess)")
	}
	switch os.Getenv(childEnv) {
	case "equiv":
		shared := os.Getenv("KILN_TRAINER_DIR")
		for _, accum := range []int{1, 2} {
			dir := filepath.Join(shared, fmt.Sprintf("np%d-accum%d", child.Size(), accum))
			got, gotLoss, tr := distRun(t, child, dir, accum)
			want, wantLoss, ref := distRun(t, dist.Local(), t.TempDir(), 1)
			for i := range wantLoss {
				if math.Abs(wantLoss[i]-gotLoss[i]) > 1e-5*wantLoss[i] {
					t.Errorf("rank %d accum %d: step %d loss %v, one process %v", child.Rank(), accum, i+1, gotLoss[i], wantLoss[i])
				}
			}
			var worst float64
			for name, w := range want {
				for i := range w {
					worst = max(worst, math.Abs(float64(w[i]-got[name][i]))/(math.Abs(float64(w[i]))+1e-3))
				}
			}
			if worst > 1e-4 {
				t.Errorf("rank %d accum %d: weights differ from one process by up to %.3g", child.Rank(), accum, worst)
			}
			e, _ := tr.LastEval()
			r, _ := ref.LastEval()
			for _, k := range []string{"eval_loss", "eval_overall_accuracy"} {
				if math.Abs(e[k]-r[k]) > 1e-5 {
					t.Errorf("rank %d: %s %v with %d ranks, %v in one process", child.Rank(), k, e[k], child.Size(), r[k])
				}
			}
		}
	case "kill":
		dir := os.Getenv("KILN_TRAINER_DIR")
		a := testArgs(t)
		a.OutputDir = dir
		a.PerDeviceTrainBatchSize = 4
		a.NumTrainEpochs = 3
		a.SaveStrategy, a.SaveSteps = "steps", 3
		m := tinyBert(t, task.TokenClassification, 3, 0, 7)
		tr := newTrainer(t, a, m, tokenData(64, 1), nil)
		tr.Comm = child
		tr.Callbacks = append(tr.Callbacks, CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
			if ev == StepEnd && info.State.GlobalStep == 5 && child.Rank() == child.Size()-1 {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
			}
			return nil
		}))
		tr.Train(context.Background())
		t.Errorf("rank %d: training went on after a rank was killed", child.Rank())
	}
}

// N ranks with micro-batches give the weights, losses and eval metrics of
// one process on the same global batch, with and without accumulation, on
// a token task with uneven padding; only rank 0 writes files.
func TestMPITrainingMatchesOneProcess(t *testing.T) {
	if child != nil {
		t.Skip("inside an MPI child")
	}
	for _, np := range []int{2, 4} {
		t.Run(strconv.Itoa(np), func(t *testing.T) {
			dir := t.TempDir()
			out, err := mpitest.Run(t, np, "TestMPIChild", childEnv, "equiv", 120*time.Second, "KILN_TRAINER_DIR="+dir)
			if err != nil || strings.Count(string(out), "--- PASS: TestMPIChild") != np {
				t.Fatalf("%v\n%s", err, out)
			}
			for _, accum := range []int{1, 2} {
				run := filepath.Join(dir, fmt.Sprintf("np%d-accum%d", np, accum))
				if ck, _ := LastCheckpoint(run); filepath.Base(ck) != "checkpoint-8" {
					t.Errorf("%s: last checkpoint %q, want checkpoint-8", run, ck)
				}
			}
			// The N-rank checkpoint-4 resumes in one process (same global
			// batch) and ends where a one-process run ends.
			want, _, _ := distRun(t, dist.Local(), t.TempDir(), 1)
			a := testArgs(t)
			a.PerDeviceTrainBatchSize, a.NumTrainEpochs = 16, 2
			a.ResumeFromCheckpoint = filepath.Join(dir, fmt.Sprintf("np%d-accum1", np), "checkpoint-4")
			m := tinyBert(t, task.TokenClassification, 3, 0, 99)
			if _, err := newTrainer(t, a, m, tokenData(64, 1), nil).Train(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := params(m)
			for name, w := range want {
				for i := range w {
					if d := math.Abs(float64(w[i]-got[name][i])) / (math.Abs(float64(w[i])) + 1e-3); d > 1e-4 {
						t.Fatalf("%s[%d]: resumed from %d ranks %v, one process %v", name, i, np, got[name][i], w[i])
					}
				}
			}
		})
	}
}

// A rank killed mid-run ends the whole job with an error, and the last
// checkpoint stays intact and loadable.
func TestMPIKilledRankEndsTheJob(t *testing.T) {
	if child != nil {
		t.Skip("inside an MPI child")
	}
	dir := t.TempDir()
	out, err := mpitest.Run(t, 2, "TestMPIChild", childEnv, "kill", 60*time.Second, "KILN_TRAINER_DIR="+dir)
	if err == nil {
		t.Fatalf("mpirun succeeded although a rank was killed\n%s", out)
	}
	ck, _ := LastCheckpoint(dir)
	if filepath.Base(ck) != "checkpoint-3" {
		t.Fatalf("last checkpoint %q, want checkpoint-3\n%s", ck, out)
	}
	if _, err := checkpointLoad(ck); err != nil {
		t.Fatalf("checkpoint-3 does not load: %v", err)
	}
	t.Logf("mpirun: %v", err)
}
