package trainer

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/internal/report"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// logName is the JSON-lines log in output_dir: log_history streamed, one
// entry per line as it happens.
const logName = "log.jsonl"

// openLog opens output_dir/log.jsonl for appending (rank 0 only). A resumed
// run first drops the lines logged after its checkpoint's step, so the file
// matches the restored log_history.
func (t *Trainer) openLog() error {
	if !t.isMain() {
		return nil
	}
	path := filepath.Join(t.Args.OutputDir, logName)
	var keep []Entry
	if t.State.GlobalStep > 0 {
		keep = t.State.LogHistory
	}
	var b strings.Builder
	for _, e := range keep {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("output_dir: %w", err)
	}
	t.logFile = f
	if t.Args.TensorBoard() {
		dir := t.Args.LoggingDir
		if dir == "" {
			dir = filepath.Join(t.Args.OutputDir, "runs")
		}
		if t.tb, err = report.NewTBWriter(dir); err != nil {
			return fmt.Errorf("report_to tensorboard: %w", err)
		}
	}
	return nil
}

func (t *Trainer) closeLog() {
	if t.logFile != nil {
		t.logFile.Close()
		t.logFile = nil
	}
	if t.tb != nil {
		t.tb.Close()
		t.tb = nil
	}
}

// appendLog adds e to log_history, log.jsonl and the console.
func (t *Trainer) appendLog(e Entry) {
	if t.State != nil {
		t.State.LogHistory = append(t.State.LogHistory, e)
	}
	if t.logFile != nil {
		j, _ := json.Marshal(e)
		t.logFile.Write(append(j, '\n'))
	}
	if t.console != nil {
		t.console.log(e)
	}
	if t.tb != nil {
		if _, ok := e["step"]; ok {
			if err := t.tb.WriteEntry(report.Entry(e)); err != nil {
				t.console.printf("warning: tensorboard: %v", err)
			}
		}
	}
}

// writePlots redraws the loss, learning-rate and metric plots of
// output_dir from log_history (rank 0; a failure is a warning, not a
// reason to stop training).
func (t *Trainer) writePlots() {
	if !t.isMain() || t.State == nil {
		return
	}
	h := make([]report.Entry, len(t.State.LogHistory))
	for i, e := range t.State.LogHistory {
		h[i] = report.Entry(e)
	}
	if _, err := report.WritePlots(t.Args.OutputDir, h); err != nil {
		t.console.printf("warning: plots: %v", err)
	}
}

// writeFinal writes the end-of-run files: the final model (with the
// tokenizer), trainer_state.json, train/eval/all_results.json and the model
// card.
func (t *Trainer) writeFinal(res TrainResult) error {
	if !t.isMain() {
		return nil
	}
	dir := t.Args.OutputDir
	if t.Args.SaveFinal() {
		if name := t.nonFiniteParam(); name != "" {
			return fmt.Errorf("not saving the final model: parameter %s is not finite", name)
		}
		if err := t.Model.Save(dir); err != nil {
			return fmt.Errorf("saving the final model: %w", err)
		}
		if err := copyTokenizer(t.TokenizerDir, dir); err != nil {
			return err
		}
		if err := t.Args.SaveJSON(filepath.Join(dir, TrainingArgsName)); err != nil {
			return err
		}
	}
	if err := t.State.WriteJSON(filepath.Join(dir, TrainerStateName)); err != nil {
		return err
	}
	all := Entry{}
	train := Entry{}
	for k, v := range res.Metrics {
		if k != "step" {
			train[k] = v
			all[k] = v
		}
	}
	if err := writeResults(filepath.Join(dir, "train_results.json"), train); err != nil {
		return err
	}
	if t.lastEval != nil {
		ev := Entry{}
		for k, v := range t.lastEval {
			if k != "step" {
				ev[k] = v
				all[k] = v
			}
		}
		if err := writeResults(filepath.Join(dir, "eval_results.json"), ev); err != nil {
			return err
		}
	}
	if err := writeResults(filepath.Join(dir, "all_results.json"), all); err != nil {
		return err
	}
	t.writePlots()
	return t.writeModelCard(dir, all)
}

func writeResults(path string, e Entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(path, append(b, '\n'))
}

// writeModelCard writes README.md in the style of Trainer.create_model_card.
func (t *Trainer) writeModelCard(dir string, results Entry) error {
	cfg := t.Model.Config()
	a := t.Args
	var b strings.Builder
	fmt.Fprintf(&b, "---\nlibrary_name: kiln\ntags:\n- kiln\n- %s\n---\n\n", t.Model.Kind())
	fmt.Fprintf(&b, "# %s\n\nThis %s model (%s, head %s) was trained with [kiln](https://github.com/kiln-ml/kiln).\n\n",
		filepath.Base(filepath.Clean(dir)), cfg.ModelType, strings.Join(cfg.Architectures, ", "), t.Model.Kind())
	fmt.Fprintf(&b, "## Training\n\n- loss: %s\n- training examples: %d\n", t.lossName(), len(t.TrainData.Examples))
	if t.EvalData != nil {
		fmt.Fprintf(&b, "- evaluation examples: %d\n", len(t.EvalData.Examples))
	}
	fmt.Fprintf(&b, "- steps: %d (%.2f epochs)\n\n### Hyperparameters\n\n", t.State.GlobalStep, t.State.Epoch)
	for _, kv := range [][2]any{{"learning_rate", a.LearningRate}, {"train_batch_size", a.PerDeviceTrainBatchSize},
		{"eval_batch_size", a.PerDeviceEvalBatchSize}, {"gradient_accumulation_steps", a.GradientAccumulationSteps},
		{"world_size", t.worldSize()}, {"optimizer", a.Optim}, {"weight_decay", a.WeightDecay},
		{"lr_scheduler_type", a.LRSchedulerType}, {"warmup_ratio", a.WarmupRatio}, {"warmup_steps", a.WarmupSteps},
		{"seed", a.Seed}, {"max_grad_norm", a.MaxGradNorm}} {
		fmt.Fprintf(&b, "- %s: %v\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, "\n## Results\n\n| metric | value |\n|---|---|\n")
	keys := make([]string, 0, len(results))
	for k := range results {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| %s | %.4g |\n", k, results[k])
	}
	if t.State.BestModelCheckpoint != nil {
		fmt.Fprintf(&b, "\nBest checkpoint: `%s` (%s = %.4g).\n", filepath.Base(*t.State.BestModelCheckpoint), a.BestMetricKey(), *t.State.BestMetric)
	}
	fmt.Fprintf(&b, "\nThe log history is in `trainer_state.json` and `log.jsonl`.\n")
	return writeFileSync(filepath.Join(dir, "README.md"), []byte(b.String()))
}

// lossName is the loss used, for the model card and the banner.
func (t *Trainer) lossName() string {
	if t.ComputeLoss != nil {
		return "custom (compute_loss)"
	}
	if t.Spec.Loss != "" {
		return t.Spec.Loss
	}
	return "the task's default (" + t.Explain() + ")"
}

// Explain is the task -> loss decision in words, from the first training
// batch.
func (t *Trainer) Explain() string {
	if t.ComputeLoss != nil {
		return "custom loss function"
	}
	n := min(len(t.TrainData.Examples), 2)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	in, _, err := t.collate(t.TrainData, idx, 0)
	if err != nil {
		return err.Error()
	}
	var out auto.Output
	var res string
	func() {
		ar := tensor.BeginArena()
		defer ar.Release()
		tensor.NoGrad(func() { out, in, err = t.forward(in) })
		if err != nil {
			res = err.Error()
			return
		}
		r, err := task.Compute(t.Spec, lossInputs(out, in, 0))
		if err != nil {
			res = err.Error()
			return
		}
		e := r.Explanation
		e.Divisor = "summed over the labels of each accumulation group and divided by their count (num_items_in_batch, all ranks)"
		res = e.String()
	}()
	return res
}

// banner prints HF's start-of-training summary.
func (t *Trainer) banner(spe, maxSteps int, resumeDir string) {
	a := t.Args
	c := t.console
	c.printf("***** Running training *****")
	c.printf("  Num examples = %d", len(t.TrainData.Examples))
	c.printf("  Num epochs = %d", t.State.NumTrainEpochs)
	c.printf("  Instantaneous batch size per device = %d", a.PerDeviceTrainBatchSize)
	c.printf("  Total train batch size (w. parallel & accumulation) = %d", a.PerDeviceTrainBatchSize*t.worldSize()*a.GradientAccumulationSteps)
	c.printf("  Gradient accumulation steps = %d", a.GradientAccumulationSteps)
	c.printf("  Total optimization steps = %d (%d per epoch)", maxSteps, spe)
	c.printf("  Loss = %s", t.lossName())
	if resumeDir != "" {
		c.printf("  Resuming from %s at step %d (epoch %d, batch %d of the epoch; no data replayed)", resumeDir,
			t.State.GlobalStep, t.State.GlobalStep/spe, (t.State.GlobalStep%spe)*a.GradientAccumulationSteps)
	}
}

// console prints progress and log lines (rank 0 only): a progress bar on a
// terminal, plain log lines otherwise (no carriage returns in log files).
type console struct {
	p     *report.Progress
	quiet bool
	depth int
}

func newConsole(t *Trainer) *console {
	w := t.Out
	if w == nil {
		w = os.Stderr
	}
	tty := false
	if f, ok := w.(*os.File); ok && !t.Args.DisableTqdm {
		tty = report.IsTerminal(f)
	}
	return &console{p: report.NewProgress(w, tty), quiet: t.Quiet || !t.isMain()}
}

func (c *console) printf(format string, args ...any) {
	if c == nil || c.quiet {
		return
	}
	c.p.Printf(format, args...)
}

func (c *console) start(desc string, total, done int) {
	if c == nil || c.quiet {
		return
	}
	c.p.StartAt(desc, total, done)
}

func (c *console) update(done int, loss, lr float64) {
	if c == nil || c.quiet {
		return
	}
	var f map[string]float64
	if !math.IsNaN(loss) {
		f = map[string]float64{"loss": loss, "learning_rate": lr}
	}
	c.p.Update(done, f)
}

func (c *console) finish() {
	if c == nil || c.quiet {
		return
	}
	c.p.Finish()
}

func (c *console) log(e Entry) {
	if c == nil || c.quiet {
		return
	}
	c.p.Log(report.Entry(e))
}

// checkpointLoad and loadInto load a model directory's weights into a model
// (the best checkpoint at the end of training).
func checkpointLoad(dir string) (checkpoint.StateDict, error) { return checkpoint.Load(dir) }

func loadInto(m auto.Model, sd checkpoint.StateDict) error {
	rep, err := checkpoint.LoadInto(m.Params().Map(), sd, checkpoint.LoadOptions{})
	if err != nil {
		return err
	}
	if len(rep.Missing) > 0 || len(rep.Unexpected) > 0 {
		return fmt.Errorf("checkpoint does not match the model: %s", rep)
	}
	return nil
}
