//go:build unix

package trainer

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/kiln-ml/kiln/task"
)

// killArgs is the run of TestResumeAfterSIGKILL.
func killArgs(t *testing.T, dir string) Args {
	a := testArgs(t)
	a.OutputDir = dir
	a.PerDeviceTrainBatchSize = 4
	a.NumTrainEpochs = 2
	a.SaveStrategy, a.SaveSteps = "steps", 3
	return a
}

// TestKilledChild is the child process of TestResumeAfterSIGKILL: it trains
// and kills itself with SIGKILL during step 5, after checkpoint-3.
func TestKilledChild(t *testing.T) {
	dir := os.Getenv("KILN_TRAINER_KILL_DIR")
	if dir == "" {
		t.Skip("child process of TestResumeAfterSIGKILL")
	}
	m := tinyBert(t, task.TokenClassification, 3, 0.1, 5)
	tr := newTrainer(t, killArgs(t, dir), m, tokenData(40, 2), nil)
	tr.Callbacks = append(tr.Callbacks, CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
		if ev == StepEnd && info.State.GlobalStep == 5 {
			p, _ := os.FindProcess(os.Getpid())
			p.Kill() // SIGKILL: no deferred code, no flush
		}
		return nil
	}))
	tr.Train(context.Background())
	t.Fatal("not killed")
}

// A run killed with SIGKILL mid-training and resumed from its last
// checkpoint ends with weights bit-identical to an uninterrupted run.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledChild$")
	// The child dies by SIGKILL, so its own t.TempDir is never removed:
	// point its TMPDIR into one of ours.
	cmd.Env = append(os.Environ(), "KILN_TRAINER_KILL_DIR="+dir, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL: %v\n%s", err, out)
	}
	if ck, _ := LastCheckpoint(dir); filepath.Base(ck) != "checkpoint-3" {
		t.Fatalf("last checkpoint %q, want checkpoint-3", ck)
	}
	a := killArgs(t, dir)
	a.ResumeFromCheckpoint = "last"
	resumed := tinyBert(t, task.TokenClassification, 3, 0.1, 77)
	if _, err := newTrainer(t, a, resumed, tokenData(40, 2), nil).Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	full := tinyBert(t, task.TokenClassification, 3, 0.1, 5)
	if _, err := newTrainer(t, killArgs(t, t.TempDir()), full, tokenData(40, 2), nil).Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, got := params(full), params(resumed)
	for name := range want {
		if !equalF32(want[name], got[name]) {
			t.Fatalf("%s differs after SIGKILL and resume", name)
		}
	}
}
