// Package trainer is Hugging Face's Trainer in Go: the training loop with
// gradient accumulation, evaluation with streaming metrics, callbacks and
// early stopping, checkpoints in HF's layout with atomic writes, exact
// resume, and the run directory's logs, plots and reports.
//
// Where HF is wrong or surprising, kiln is not: the loss of an accumulation
// group is normalised by the number of labels of the whole group (and of all
// ranks), so it does not depend on how a batch is split; the eval loss is the
// mean over every evaluated label, not a mean of batch means; the best
// checkpoint is never deleted by save_total_limit; a resumed run seeks
// straight to its batch and ends bit-identical to an uninterrupted one; a
// non-finite loss skips the step instead of poisoning the weights.
//
// The ten lines:
//
//	tok, _ := tokenizer.Load(dir)
//	model, _, _ := auto.Load(dir, "sequence_classification", 42)
//	train, _ := trainer.LoadData(trainer.DataSpec{File: "train.csv", Task: data.Classification}, tok, model)
//	eval, _ := trainer.LoadData(trainer.DataSpec{File: "dev.csv", Task: data.Classification, Labels: train.Labels}, tok, model)
//	args := trainer.DefaultArgs()
//	args.OutputDir = "out"
//	tr, _ := trainer.New(args, model, tok, train, eval)
//	tr.TokenizerDir = dir
//	res, _ := tr.Train(context.Background())
//	metrics, _ := tr.Evaluate()
package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/dist"
	"github.com/kiln-ml/kiln/internal/report"
	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/metrics"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/optim"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
)

// LossFunc is a custom loss: it receives the model's outputs, the batch
// with its labels, and num_items_in_batch (the number of labels of the whole
// accumulation group on all ranks; divide the summed loss by it so that the
// gradient does not depend on how the batch is split). It returns a scalar.
type LossFunc func(out auto.Output, in auto.Batch, numItemsInBatch int64) (*tensor.Tensor, error)

// ErrInterrupted is returned by Train when its context was cancelled (by
// SIGINT or SIGTERM in the CLI): the step in progress was finished and a
// checkpoint saved.
var ErrInterrupted = errors.New("training interrupted")

// Trainer trains and evaluates one model.
type Trainer struct {
	Args  Args
	Model auto.Model
	// Tokenizer gives the padding id and the mask token (masked LM).
	Tokenizer *tokenizer.Tokenizer
	// TokenizerDir, when set, is the directory whose tokenizer files are
	// copied into every checkpoint and the final model.
	TokenizerDir string
	// TrainData and EvalData are preprocessed splits (EvalData may be nil).
	TrainData, EvalData *data.Features
	// Spec chooses the loss; New fills it from the model's head and
	// configuration and from Args (loss, class_weights, label smoothing).
	Spec task.Spec
	// ComputeLoss, when set, replaces the task's loss (HF's
	// compute_loss_func).
	ComputeLoss LossFunc
	// NewMetrics builds the evaluation metrics; nil means the task's
	// defaults (metrics.ForTask). Return nil for no metrics.
	NewMetrics func() (metrics.Metric, error)
	// Callbacks are called at every event, in order.
	Callbacks []Callback
	// Comm is the data-parallel communicator (dist.Local() by default).
	Comm dist.Comm
	// Out receives the console output (progress and log lines); nil means
	// os.Stderr.
	Out io.Writer
	// Quiet turns console output off (the JSON-lines log is still written).
	Quiet bool

	// State is the trainer state, complete after Train.
	State *State

	opt          optim.Optimizer
	sched        *optim.Scheduler
	params       []optim.Param
	masker       *data.Masker
	padID        int
	console      *console
	logFile      *os.File
	tb           *report.TBWriter
	lastEval     Entry // the latest evaluation's metrics
	lastEvalStep int   // and the global step it ran at
	lastQA       qaSpans
}

// New builds a trainer. It checks the arguments (Args.Validate) and that the
// data fits the model's head.
func New(args Args, model auto.Model, tok *tokenizer.Tokenizer, train, eval *data.Features) (*Trainer, error) {
	if err := args.Validate(); err != nil {
		return nil, err
	}
	if model == nil {
		return nil, errors.New("trainer.New: model is nil")
	}
	if train == nil {
		return nil, errors.New("trainer.New: no training data")
	}
	kind := model.Kind()
	for _, f := range []*data.Features{train, eval} {
		if f == nil {
			continue
		}
		if err := collateTask(kind, f.Task); err != nil {
			return nil, err
		}
	}
	cfg := model.Config()
	spec := task.Spec{Kind: kind, NumLabels: cfg.NumLabels(), ProblemType: task.ProblemType(cfg.ProblemType),
		Loss: args.Loss, LabelSmoothing: args.LabelSmoothingFactor,
		LossConfig: loss.Config{ClassWeights: args.ClassWeights, PosWeight: args.PosWeight, Params: args.LossParams}}
	if n := len(args.ClassWeights); n > 0 && spec.NumLabels > 0 && n != spec.NumLabels {
		return nil, fmt.Errorf("class_weights: %d weights given, but the model has %d labels; give one weight per label in id order", n, spec.NumLabels)
	}
	t := &Trainer{Args: args, Model: model, Tokenizer: tok, TrainData: train, EvalData: eval, Spec: spec, Comm: dist.Local()}
	if tok != nil {
		t.padID = data.PadID(tok)
	} else if cfg.PadTokenID >= 0 {
		t.padID = cfg.PadTokenID
	}
	if kind == task.MaskedLM {
		if tok == nil {
			return nil, errors.New("trainer.New: masked LM needs the tokenizer (its mask token)")
		}
		m, err := data.NewMasker(tok, uint64(args.DataSeedValue()))
		if err != nil {
			return nil, err
		}
		m.Prob = args.MLMProbability
		t.masker = m
	}
	return t, nil
}

// stepsPerEpoch is the number of optimizer steps of one epoch: the global
// micro-batches (per_device_train_batch_size × world size examples each)
// grouped by gradient_accumulation_steps, a shorter last group included.
func (t *Trainer) stepsPerEpoch() int {
	n := t.sampler().NumBatches(len(t.TrainData.Examples))
	return max(1, (n+t.Args.GradientAccumulationSteps-1)/t.Args.GradientAccumulationSteps)
}

// maxSteps is max_steps, or num_train_epochs × stepsPerEpoch rounded up.
func (t *Trainer) maxSteps() int {
	if t.Args.MaxSteps > 0 {
		return t.Args.MaxSteps
	}
	return int(math.Ceil(t.Args.NumTrainEpochs * float64(t.stepsPerEpoch())))
}

func (t *Trainer) worldSize() int { return t.Comm.Size() }

// sampler orders the global micro-batches: each holds the examples of every
// rank, so the data order depends on the data seed alone, not on the number
// of ranks.
func (t *Trainer) sampler() data.Sampler {
	return data.Sampler{BatchSize: t.Args.PerDeviceTrainBatchSize * t.worldSize(), Shuffle: true,
		Seed: uint64(t.Args.DataSeedValue()), DropLast: t.Args.DataloaderDropLast, GroupByLength: t.Args.GroupByLength}
}

// rankSlice is this rank's part of a global micro-batch (possibly empty for
// an uneven last batch).
func (t *Trainer) rankSlice(idx []int) []int {
	pd := t.Args.PerDeviceTrainBatchSize
	r := t.Comm.Rank()
	lo, hi := min(r*pd, len(idx)), min((r+1)*pd, len(idx))
	return idx[lo:hi]
}

// collate builds the model batch of example indices idx of features f.
func (t *Trainer) collate(f *data.Features, idx []int, epoch int) (auto.Batch, *data.Batch, error) {
	exs := make([]*data.Example, len(idx))
	for i, k := range idx {
		exs[i] = &f.Examples[k]
	}
	b, err := data.Collator{Task: f.Task, PadID: t.padID}.Collate(exs)
	if err != nil {
		return auto.Batch{}, nil, err
	}
	b.Indices = idx
	if f.Task == data.MaskedLM {
		t.masker.Mask(b, epoch)
	}
	return Tensors(b), b, nil
}

// setup builds the optimizer and the scheduler.
func (t *Trainer) setup(maxSteps int) error {
	ps := t.Model.Params()
	t.params = t.params[:0]
	seen := map[*tensor.Tensor]bool{}
	for _, name := range ps.Names() {
		p := ps.Get(name)
		if seen[p] || !p.RequiresGrad() {
			continue // a tied weight is one parameter
		}
		seen[p] = true
		t.params = append(t.params, optim.Param{Name: name, T: p})
	}
	groups := optim.ParamGroups(t.params, t.Args.WeightDecay, optim.NoDecay)
	var err error
	switch t.Args.Optim {
	case "sgd":
		t.opt, err = optim.NewSGD(groups, optim.SGDConfig{LR: t.Args.LearningRate})
	default:
		t.opt, err = optim.NewAdamW(groups, optim.AdamWConfig{LR: t.Args.LearningRate, Beta1: t.Args.AdamBeta1,
			Beta2: t.Args.AdamBeta2, Eps: t.Args.AdamEpsilon})
	}
	if err != nil {
		return err
	}
	warm := optim.WarmupSteps(maxSteps, t.Args.WarmupSteps, t.Args.WarmupRatio)
	f, err := optim.GetSchedule(t.Args.LRSchedulerType, optim.ScheduleOptions{WarmupSteps: warm, TotalSteps: maxSteps, LRInit: t.Args.LearningRate})
	if err != nil {
		return fmt.Errorf("lr_scheduler_type: %w", err)
	}
	t.sched = optim.NewScheduler(t.opt, f)
	return nil
}

// TrainResult summarises a training run.
type TrainResult struct {
	GlobalStep int
	// TrainLoss is the mean of the step losses of this run.
	TrainLoss float64
	Metrics   Entry
	// Interrupted is set when the context was cancelled.
	Interrupted bool
}

// LastEval returns the metrics of the latest evaluation and the global step
// it ran at (nil before any).
func (t *Trainer) LastEval() (Entry, int) { return t.lastEval, t.lastEvalStep }

// isMain says whether this rank writes files and console output.
func (t *Trainer) isMain() bool { return t.Comm.Rank() == 0 }

// Train runs the training loop. Cancelling ctx (the CLI does on SIGINT and
// SIGTERM) finishes the current step, saves a checkpoint and returns
// ErrInterrupted wrapped with the command that resumes.
func (t *Trainer) Train(ctx context.Context) (TrainResult, error) {
	a := &t.Args
	if err := t.prepareOutputDir(); err != nil {
		return TrainResult{}, err
	}
	if n := len(t.TrainData.Examples); t.sampler().NumBatches(n) == 0 {
		return TrainResult{}, fmt.Errorf("no training batch: %d examples, per_device_train_batch_size %d x %d ranks with dataloader_drop_last; lower the batch size or turn dataloader_drop_last off",
			n, a.PerDeviceTrainBatchSize, t.worldSize())
	}
	maxSteps := t.maxSteps()
	spe := t.stepsPerEpoch()
	if err := t.setup(maxSteps); err != nil {
		return TrainResult{}, err
	}
	t.State = &State{MaxSteps: maxSteps, NumTrainEpochs: int(math.Ceil(float64(maxSteps) / float64(spe))),
		LoggingSteps: a.LoggingSteps, EvalSteps: a.EffectiveEvalSteps(), SaveSteps: a.SaveSteps,
		TrainBatchSize: a.PerDeviceTrainBatchSize, IsWorldProcessZero: t.isMain(), IsLocalProcessZero: t.isMain(),
		LogHistory: []Entry{}}
	resumeDir, err := t.resolveResume()
	if err != nil {
		return TrainResult{}, err
	}
	if resumeDir != "" {
		if err := t.loadCheckpoint(resumeDir); err != nil {
			return TrainResult{}, err
		}
		t.State.MaxSteps = maxSteps
	}
	if t.worldSize() > 1 {
		// Every rank starts from rank 0's weights.
		for _, p := range t.params {
			if err := t.Comm.BroadcastFloat32(p.T.F32(), 0); err != nil {
				return TrainResult{}, err
			}
		}
	}
	if err := t.openLog(); err != nil {
		return TrainResult{}, err
	}
	defer t.closeLog()
	t.console = newConsole(t)
	if a.EarlyStoppingPatience > 0 {
		t.Callbacks = append(t.Callbacks, &EarlyStopping{Patience: a.EarlyStoppingPatience, Threshold: a.EarlyStoppingThreshold})
	}
	t.banner(spe, maxSteps, resumeDir)

	var ctl Control
	if err := t.fire(TrainBegin, CallbackInfo{}, &ctl); err != nil {
		return TrainResult{}, err
	}
	start := time.Now()
	startStep := t.State.GlobalStep
	var (
		logLoss     = t.State.PendingLoss // sum of step losses since the last log
		logSteps    = t.State.PendingSteps
		runLoss     float64
		runSteps    int
		nonFinite   int
		interrupted bool
		gradNorm    = math.NaN()
	)
	t.Model.Train(true)
	t.console.start("train", maxSteps, t.State.GlobalStep)
	epoch := t.State.GlobalStep / spe
	for t.State.GlobalStep < maxSteps && !ctl.ShouldTrainingStop {
		batches, err := t.sampler().Batches(len(t.TrainData.Examples), epoch)
		if err != nil {
			return TrainResult{}, err
		}
		groupStart := t.State.GlobalStep - epoch*spe // first step of this epoch to run
		if a.IgnoreDataSkip {
			groupStart = 0
		}
		if err := t.fire(EpochBegin, CallbackInfo{}, &ctl); err != nil {
			return TrainResult{}, err
		}
		ctl.ShouldEpochStop = false
		for g := groupStart; g < spe && t.State.GlobalStep < maxSteps; g++ {
			lo := g * a.GradientAccumulationSteps
			group := batches[lo:min(lo+a.GradientAccumulationSteps, len(batches))]
			stepLoss, err := t.trainStep(group, epoch)
			if err != nil {
				return TrainResult{}, fmt.Errorf("step %d (epoch %d): %w", t.State.GlobalStep+1, epoch, err)
			}
			gradNorm, err = t.clipAndReduceNorm()
			if err != nil {
				return TrainResult{}, err
			}
			t.State.GlobalStep++
			t.State.Epoch = float64(epoch) + float64(g+1)/float64(spe)
			finite := !math.IsNaN(stepLoss) && !math.IsInf(stepLoss, 0) && !math.IsNaN(gradNorm) && !math.IsInf(gradNorm, 0)
			if finite {
				t.opt.Step()
				nonFinite = 0
				logLoss += stepLoss
				logSteps++
				runLoss += stepLoss
				runSteps++
			} else {
				nonFinite++
				t.State.NonFiniteSteps = append(t.State.NonFiniteSteps, t.State.GlobalStep)
				t.console.printf("warning: step %d skipped: loss %v, gradient norm %v (not finite)", t.State.GlobalStep, stepLoss, gradNorm)
				if nonFinite >= a.MaxNonFinite {
					return TrainResult{}, fmt.Errorf("training stopped at step %d: %d steps in a row had a non-finite loss or gradient norm (last: loss %v, grad_norm %v); lower learning_rate, set max_grad_norm, or check the data; the last checkpoint in %s is intact",
						t.State.GlobalStep, nonFinite, stepLoss, gradNorm, a.OutputDir)
				}
			}
			t.sched.Step()
			t.opt.ZeroGrad()

			last := t.State.GlobalStep >= maxSteps
			ctl.ShouldLog = a.LoggingFirstStep && t.State.GlobalStep == 1 || t.State.GlobalStep%a.LoggingSteps == 0
			if a.EvalStrategy == "steps" && t.State.GlobalStep%a.EffectiveEvalSteps() == 0 {
				ctl.ShouldEvaluate = true
			}
			if a.SaveStrategy == "steps" && t.State.GlobalStep%a.SaveSteps == 0 {
				ctl.ShouldSave = true
			}
			if g == spe-1 || last {
				if a.EvalStrategy == "epoch" {
					ctl.ShouldEvaluate = true
				}
				if a.SaveStrategy == "epoch" {
					ctl.ShouldSave = true
				}
			}
			if last {
				// The end of training always evaluates and saves under a
				// strategy, so the best model and the final state are known.
				ctl.ShouldEvaluate = ctl.ShouldEvaluate || a.EvalStrategy != "no"
				ctl.ShouldSave = ctl.ShouldSave || a.SaveStrategy != "no"
				ctl.ShouldLog = ctl.ShouldLog || logSteps > 0
			}
			stop, err := t.agree(ctx.Err() != nil)
			if err != nil {
				return TrainResult{}, err
			}
			if stop {
				interrupted = true
				ctl.ShouldSave, ctl.ShouldTrainingStop = true, true
			}
			if err := t.fire(StepEnd, CallbackInfo{}, &ctl); err != nil {
				return TrainResult{}, err
			}
			t.console.update(t.State.GlobalStep, stepLoss, t.sched.LastLR())
			if err := t.maybeLogEvalSave(&ctl, &logLoss, &logSteps, gradNorm); err != nil {
				return TrainResult{}, err
			}
			if ctl.ShouldTrainingStop || ctl.ShouldEpochStop {
				break
			}
		}
		if err := t.fire(EpochEnd, CallbackInfo{}, &ctl); err != nil {
			return TrainResult{}, err
		}
		if err := t.maybeLogEvalSave(&ctl, &logLoss, &logSteps, gradNorm); err != nil {
			return TrainResult{}, err
		}
		epoch++
	}
	t.console.finish()
	t.Model.Train(false)

	elapsed := time.Since(start).Seconds()
	steps := t.State.GlobalStep - startStep
	res := TrainResult{GlobalStep: t.State.GlobalStep, TrainLoss: math.NaN(), Interrupted: interrupted}
	if runSteps > 0 {
		res.TrainLoss = runLoss / float64(runSteps)
	}
	if a.LoadBestModelAtEnd && !interrupted && t.State.BestModelCheckpoint != nil {
		if err := t.loadBest(*t.State.BestModelCheckpoint); err != nil {
			return res, err
		}
	}
	examples := float64(steps * a.PerDeviceTrainBatchSize * a.GradientAccumulationSteps * t.worldSize())
	res.Metrics = Entry{"train_runtime": round4(elapsed), "train_samples_per_second": round3(examples / elapsed),
		"train_steps_per_second": round3(float64(steps) / elapsed), "train_loss": res.TrainLoss,
		"epoch": t.State.Epoch, "step": float64(t.State.GlobalStep), "total_flos": 0}
	t.appendLog(res.Metrics)
	if err := t.fire(TrainEnd, CallbackInfo{Metrics: res.Metrics}, &ctl); err != nil {
		return res, err
	}
	if interrupted {
		ck, _ := LastCheckpoint(a.OutputDir)
		return res, fmt.Errorf("%w at step %d; checkpoint saved in %s; resume with --resume_from_checkpoint %s (or resume_from_checkpoint: last)", ErrInterrupted, t.State.GlobalStep, ck, ck)
	}
	if err := t.writeFinal(res); err != nil {
		return res, err
	}
	return res, nil
}

// trainStep runs the forward and backward passes of one accumulation group
// of global micro-batches and returns the group's loss (the sum of the
// micro-batch losses, each normalised by the group's num_items_in_batch, so
// the mean over every label of the group on every rank).
func (t *Trainer) trainStep(group [][]int, epoch int) (float64, error) {
	ins := make([]auto.Batch, len(group))
	var items int64
	for i, idx := range group {
		mine := t.rankSlice(idx)
		if len(mine) == 0 {
			continue
		}
		in, _, err := t.collate(t.TrainData, mine, epoch)
		if err != nil {
			return 0, err
		}
		n, err := countItems(t.Spec, in)
		if err != nil {
			return 0, err
		}
		items += n
		ins[i] = in
	}
	if t.worldSize() > 1 {
		buf := []int64{items}
		if err := t.Comm.AllReduceSumInt64(buf); err != nil {
			return 0, err
		}
		items = buf[0]
	}
	var total float64
	for _, in := range ins {
		if in.InputIDs == nil {
			continue
		}
		ar := tensor.BeginArena()
		l, err := t.loss(in, items)
		if err != nil {
			ar.Release()
			return 0, err
		}
		v := l.Item()
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			l.Backward()
		}
		total += v
		ar.Release()
	}
	if t.worldSize() > 1 {
		buf := []float64{total}
		if err := t.Comm.AllReduceSumFloat64(buf); err != nil {
			return 0, err
		}
		total = buf[0]
	}
	return total, nil
}

// agree returns whether any rank says yes (a signal reached one rank
// first): all ranks then stop at the same step.
func (t *Trainer) agree(yes bool) (bool, error) {
	if t.worldSize() == 1 {
		return yes, nil
	}
	v := []int64{0}
	if yes {
		v[0] = 1
	}
	if err := t.Comm.AllReduceSumInt64(v); err != nil {
		return false, err
	}
	return v[0] > 0, nil
}

// forward runs the model without the labels (the trainer computes the
// loss) and returns the batch with labels that match the outputs. For masked
// LM it asks for the logits of the masked tokens only (auto.Batch.
// LMPositions): the labels become [1, N]; a model that ignores the request
// keeps [B, T] labels.
func (t *Trainer) forward(in auto.Batch) (auto.Output, auto.Batch, error) {
	x := in
	x.Labels, x.StartPositions, x.EndPositions = nil, nil, nil
	var gathered *tensor.Tensor
	if t.Spec.Kind == task.MaskedLM && in.Labels != nil {
		lab := in.Labels.Int64s()
		var pos, kept []int64
		for i, v := range lab {
			if v != task.IgnoreIndex {
				pos = append(pos, int64(i))
				kept = append(kept, v)
			}
		}
		if len(pos) > 0 {
			x.LMPositions = tensor.FromInt64(pos, len(pos))
			gathered = tensor.FromInt64(kept, 1, len(kept))
		}
	}
	out, err := t.Model.Forward(x)
	if err != nil {
		return out, in, err
	}
	if gathered != nil && out.Logits != nil && out.Logits.Rank() == 3 && out.Logits.Dim(0) == 1 && out.Logits.Dim(1) == gathered.Dim(1) {
		in.Labels = gathered
	}
	return out, in, nil
}

// loss runs the model on one micro-batch and computes its loss normalised by
// numItems (0: the batch mean).
func (t *Trainer) loss(in auto.Batch, numItems int64) (*tensor.Tensor, error) {
	out, in, err := t.forward(in)
	if err != nil {
		return nil, err
	}
	if t.ComputeLoss != nil {
		return t.ComputeLoss(out, in, numItems)
	}
	res, err := task.Compute(t.Spec, lossInputs(out, in, numItems))
	if err != nil {
		return nil, err
	}
	return res.Loss, nil
}

// clipAndReduceNorm all-reduces the gradients across ranks and clips their
// global norm, which it returns (NaN or Inf when not finite).
func (t *Trainer) clipAndReduceNorm() (float64, error) {
	if t.worldSize() > 1 {
		bufs := make([][]float32, len(t.params))
		for i, p := range t.params {
			if p.T.Grad() == nil {
				// A rank without data for this step still joins the
				// all-reduce, with zeros.
				p.T.SetGrad(tensor.Zeros(tensor.Float32, p.T.Shape()...))
			}
			bufs[i] = p.T.Grad().F32()
		}
		if err := dist.AllReduceBuckets(t.Comm, bufs, dist.DefaultBucketBytes); err != nil {
			return 0, err
		}
	}
	maxNorm := t.Args.MaxGradNorm
	if maxNorm <= 0 {
		maxNorm = math.Inf(1)
	}
	norm, _ := optim.ClipGradNorm(t.params, maxNorm)
	return norm, nil
}

// maybeLogEvalSave acts on the control flags: log, evaluate, save.
func (t *Trainer) maybeLogEvalSave(ctl *Control, logLoss *float64, logSteps *int, gradNorm float64) error {
	if ctl.ShouldLog && *logSteps > 0 {
		e := Entry{"loss": *logLoss / float64(*logSteps), "grad_norm": gradNorm,
			"learning_rate": t.sched.LastLR(), "epoch": round4(t.State.Epoch), "step": float64(t.State.GlobalStep)}
		*logLoss, *logSteps = 0, 0
		t.appendLog(e)
		if err := t.fire(Log, CallbackInfo{Metrics: e}, ctl); err != nil {
			return err
		}
	}
	ctl.ShouldLog = false
	if ctl.ShouldEvaluate {
		ctl.ShouldEvaluate = false
		if t.EvalData != nil {
			m, err := t.evaluate(t.EvalData, "eval", nil)
			if err != nil {
				return err
			}
			t.lastEval, t.lastEvalStep = m, t.State.GlobalStep
			t.writePlots()
			if err := t.fire(Evaluate, CallbackInfo{Metrics: m}, ctl); err != nil {
				return err
			}
			t.Model.Train(true)
		}
	}
	if ctl.ShouldSave {
		ctl.ShouldSave = false
		// The losses not logged yet go into the checkpoint, so a resumed
		// run logs the same averages.
		t.State.PendingLoss, t.State.PendingSteps = *logLoss, *logSteps
		if t.Args.SaveStrategy != "no" || ctl.ShouldTrainingStop {
			if t.isMain() {
				dir, err := t.saveCheckpoint()
				if err != nil {
					return err
				}
				t.console.printf("saved %s", dir)
				if err := t.fire(Save, CallbackInfo{Dir: dir}, ctl); err != nil {
					return err
				}
			}
			if t.worldSize() > 1 {
				if err := t.Comm.Barrier(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fire calls every callback.
func (t *Trainer) fire(ev Event, info CallbackInfo, ctl *Control) error {
	info.Args, info.State = &t.Args, t.State
	for _, cb := range t.Callbacks {
		if err := cb.On(ev, info, ctl); err != nil {
			return fmt.Errorf("callback at %s: %w", ev, err)
		}
	}
	return nil
}

// loadBest loads the weights of the best checkpoint into the model.
func (t *Trainer) loadBest(dir string) error {
	sd, err := checkpointLoad(dir)
	if err != nil {
		return fmt.Errorf("load_best_model_at_end: %w", err)
	}
	if err := loadInto(t.Model, sd); err != nil {
		return fmt.Errorf("load_best_model_at_end: %s: %w", dir, err)
	}
	t.console.printf("loaded the best model from %s (%s = %v)", dir, t.Args.BestMetricKey(), *t.State.BestMetric)
	return nil
}

// prepareOutputDir refuses to train over a run unless asked to.
func (t *Trainer) prepareOutputDir() error {
	dir := t.Args.OutputDir
	if !t.isMain() {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("output_dir %s: %w", dir, err)
	}
	if len(ents) > 0 && t.Args.ResumeFromCheckpoint == "" && !t.Args.OverwriteOutputDir {
		if ck, _ := LastCheckpoint(dir); ck != "" {
			return fmt.Errorf("output_dir %s already holds %s; set resume_from_checkpoint to last to continue that run, or overwrite_output_dir to start over", dir, filepath.Base(ck))
		}
	}
	if t.Args.OverwriteOutputDir && t.Args.ResumeFromCheckpoint == "" {
		cks, _ := listCheckpoints(dir)
		for _, c := range cks {
			if err := os.RemoveAll(c); err != nil {
				return err
			}
		}
		os.Remove(filepath.Join(dir, logName))
	}
	return os.MkdirAll(dir, 0o755)
}

func round4(v float64) float64 { return math.Round(v*1e4) / 1e4 }
func round3(v float64) float64 { return math.Round(v*1e3) / 1e3 }

func sortedKeys(e Entry) []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
