package trainer

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
)

// tinyBert is a 2-layer BERT small enough to train in milliseconds.
func tinyBert(t *testing.T, kind task.Kind, numLabels int, dropout float64, seed uint64) auto.Model {
	t.Helper()
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 50, 16, 2, 2, 32
	c.MaxPositionEmbeddings = 32
	c.HiddenDropoutProb, c.AttentionProbsDropoutProb = dropout, dropout
	c.SetNumLabels(numLabels)
	var head any
	var err error
	switch kind {
	case task.SequenceClassification:
		head, err = bert.NewForSequenceClassification(c, seed)
	case task.TokenClassification:
		head, err = bert.NewForTokenClassification(c, seed)
	default:
		t.Fatalf("no tiny %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := auto.WrapBert(head, kind)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// lcg is a tiny deterministic generator for test data.
type lcg uint64

func (l *lcg) next(n int) int {
	*l = *l*6364136223846793005 + 1442695040888963407
	return int(uint64(*l>>33) % uint64(n))
}

// tokenData makes n token-classification examples of uneven lengths (3..12
// tokens) with some ignored labels, so padding and num_items matter.
func tokenData(n int, seed uint64) *data.Features {
	r := lcg(seed)
	labels, _ := data.NewLabelSet("O", "B-X", "I-X")
	f := &data.Features{Task: data.TokenClassification, Labels: labels}
	for i := 0; i < n; i++ {
		T := 3 + r.next(10)
		ex := data.Example{InputIDs: make([]int, T), Labels: make([]int, T)}
		for j := range T {
			ex.InputIDs[j] = 1 + r.next(49)
			ex.Labels[j] = ex.InputIDs[j] % 3
			if j == 0 || r.next(5) == 0 {
				ex.Labels[j] = data.IgnoreIndex
			}
		}
		f.Examples = append(f.Examples, ex)
	}
	return f
}

// classData makes n sequence-classification examples whose label is
// learnable from the tokens.
func classData(n int, seed uint64) *data.Features {
	r := lcg(seed)
	f := &data.Features{Task: data.Classification}
	for i := 0; i < n; i++ {
		T := 4 + r.next(6)
		ex := data.Example{InputIDs: make([]int, T)}
		ex.Label = r.next(2)
		for j := range T {
			ex.InputIDs[j] = 1 + r.next(24) + 25*ex.Label
		}
		f.Examples = append(f.Examples, ex)
	}
	return f
}

func testArgs(t *testing.T) Args {
	a := DefaultArgs()
	a.OutputDir = t.TempDir()
	a.LoggingSteps = 1
	a.SaveStrategy = "no"
	a.LearningRate = 1e-3
	a.DisableTqdm = true
	return a
}

func newTrainer(t *testing.T, a Args, m auto.Model, train, eval *data.Features) *Trainer {
	t.Helper()
	tr, err := New(a, m, nil, train, eval)
	if err != nil {
		t.Fatal(err)
	}
	tr.Quiet = true
	return tr
}

func params(m auto.Model) map[string][]float32 {
	out := map[string][]float32{}
	ps := m.Params()
	for _, n := range ps.Names() {
		out[n] = append([]float32(nil), ps.Get(n).Float32s()...)
	}
	return out
}

func trainLosses(st *State) []float64 {
	var out []float64
	for _, e := range st.LogHistory {
		if v, ok := e["loss"]; ok {
			out = append(out, v)
		}
	}
	return out
}

// Batch 16 in one micro-batch and batch 4 with 4 accumulation steps see the
// same examples per step; with the loss normalised by the group's label
// count they give the same losses and weights up to float32 round-off, on a
// token task with uneven padding and ignored labels.
func TestAccumulationMatchesOneBigBatch(t *testing.T) {
	train := tokenData(64, 1)
	run := func(bs, accum int) (map[string][]float32, []float64) {
		a := testArgs(t)
		a.PerDeviceTrainBatchSize, a.GradientAccumulationSteps = bs, accum
		a.NumTrainEpochs = 2
		m := tinyBert(t, task.TokenClassification, 3, 0, 7)
		tr := newTrainer(t, a, m, train, nil)
		if _, err := tr.Train(context.Background()); err != nil {
			t.Fatal(err)
		}
		return params(m), trainLosses(tr.State)
	}
	pBig, lBig := run(16, 1)
	pAcc, lAcc := run(4, 4)
	if len(lBig) != 8 || len(lAcc) != 8 {
		t.Fatalf("logged %d and %d step losses, want 8 each", len(lBig), len(lAcc))
	}
	for i := range lBig {
		if math.Abs(lBig[i]-lAcc[i]) > 1e-5*math.Abs(lBig[i]) {
			t.Errorf("step %d: loss %v with batch 16, %v with 4x4 accumulation", i+1, lBig[i], lAcc[i])
		}
	}
	var worst float64
	for name, a := range pBig {
		b := pAcc[name]
		for i := range a {
			d := math.Abs(float64(a[i]-b[i])) / (math.Abs(float64(a[i])) + 1e-3)
			worst = max(worst, d)
		}
	}
	if worst > 1e-4 {
		t.Errorf("weights differ by up to %.3g (relative) between batch 16 and 4x4 accumulation", worst)
	}
	// A mean of micro-batch means (HF before 4.46) would not match: check
	// that the test can tell.
	if lBig[0] == 0 {
		t.Fatal("zero loss")
	}
}

// A run stopped after a checkpoint and resumed from it ends with weights
// bit-identical to an uninterrupted run, dropout on.
func TestResumeIsBitIdentical(t *testing.T) {
	train := tokenData(40, 2)
	eval := tokenData(8, 3)
	base := func(dir string) Args {
		a := testArgs(t)
		a.OutputDir = dir
		a.PerDeviceTrainBatchSize, a.GradientAccumulationSteps = 4, 2
		a.NumTrainEpochs = 3
		a.SaveStrategy, a.SaveSteps = "steps", 4
		a.EvalStrategy, a.EvalSteps = "steps", 4
		a.WarmupSteps = 3
		a.LoggingSteps = 3 // not a divisor of save_steps: losses are pending at the checkpoint
		return a
	}
	full := tinyBert(t, task.TokenClassification, 3, 0.1, 5)
	trFull := newTrainer(t, base(t.TempDir()), full, train, eval)
	if _, err := trFull.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	if trFull.State.GlobalStep != 15 {
		t.Fatalf("global_step %d, want 15 (5 per epoch x 3)", trFull.State.GlobalStep)
	}

	dir := t.TempDir()
	m1 := tinyBert(t, task.TokenClassification, 3, 0.1, 5)
	tr1 := newTrainer(t, base(dir), m1, train, eval)
	// Stop at step 6 (mid-epoch 2); the last checkpoint is checkpoint-4.
	tr1.Callbacks = append(tr1.Callbacks, CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
		if ev == StepEnd && info.State.GlobalStep == 6 {
			ctl.ShouldTrainingStop = true
		}
		return nil
	}))
	if _, err := tr1.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	a2 := base(dir)
	a2.ResumeFromCheckpoint = "last"
	m2 := tinyBert(t, task.TokenClassification, 3, 0.1, 99) // other init: all of it must come from the checkpoint
	tr2 := newTrainer(t, a2, m2, train, eval)
	if _, err := tr2.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, got := params(full), params(m2)
	for name, w := range want {
		g := got[name]
		for i := range w {
			if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
				t.Fatalf("%s[%d]: resumed %v, uninterrupted %v", name, i, g[i], w[i])
			}
		}
	}
	lf, lr := trainLosses(trFull.State), trainLosses(tr2.State)
	if len(lf) != len(lr) {
		t.Fatalf("log history has %d losses after resume, %d uninterrupted", len(lr), len(lf))
	}
	for i := range lf {
		if lf[i] != lr[i] {
			t.Errorf("loss %d: resumed %v, uninterrupted %v", i, lr[i], lf[i])
		}
	}
}

// save_total_limit 1 keeps the newest checkpoint and the best one.
func TestBestCheckpointSurvivesSaveTotalLimit(t *testing.T) {
	train, eval := classData(32, 4), classData(16, 5)
	a := testArgs(t)
	a.PerDeviceTrainBatchSize = 8
	a.NumTrainEpochs = 4
	a.EvalStrategy, a.SaveStrategy = "epoch", "epoch"
	a.SaveTotalLimit = 1
	a.LoadBestModelAtEnd = true
	a.MetricForBestModel = "accuracy"
	m := tinyBert(t, task.SequenceClassification, 2, 0, 3)
	tr := newTrainer(t, a, m, train, eval)
	// Make the metric peak at step 8 (epoch 2) whatever the model learns.
	fake := map[int]float64{4: 0.5, 8: 0.9, 12: 0.6, 16: 0.7}
	tr.Callbacks = append(tr.Callbacks, CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
		if ev == Evaluate {
			info.Metrics["eval_accuracy"] = fake[info.State.GlobalStep]
		}
		return nil
	}))
	if _, err := tr.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	cks, err := listCheckpoints(a.OutputDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cks {
		names = append(names, filepath.Base(c))
	}
	if strings.Join(names, ",") != "checkpoint-8,checkpoint-16" {
		t.Fatalf("checkpoints %v, want [checkpoint-8 checkpoint-16]", names)
	}
	if got := *tr.State.BestModelCheckpoint; filepath.Base(got) != "checkpoint-8" || *tr.State.BestMetric != 0.9 {
		t.Fatalf("best %s (%v), want checkpoint-8 (0.9)", got, *tr.State.BestMetric)
	}
	// load_best_model_at_end: the model now holds checkpoint-8's weights.
	sd, err := checkpointLoad(filepath.Join(a.OutputDir, "checkpoint-8"))
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range params(m) {
		w := sd[name]
		if w == nil {
			continue
		}
		if !equalF32(w.Float32s(), p) {
			t.Fatalf("%s: the final model is not the best checkpoint's", name)
		}
	}
}

func equalF32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// Early stopping with patience 2 stops two evaluations after the best one.
func TestEarlyStoppingStopsAtTheRightStep(t *testing.T) {
	train, eval := classData(32, 6), classData(8, 7)
	a := testArgs(t)
	a.PerDeviceTrainBatchSize = 8
	a.NumTrainEpochs = 20
	a.EvalStrategy, a.EvalSteps = "steps", 2
	a.EarlyStoppingPatience = 2
	a.MetricForBestModel = "accuracy"
	m := tinyBert(t, task.SequenceClassification, 2, 0, 3)
	tr := newTrainer(t, a, m, train, eval)
	// accuracy by step: improves until step 6, then flat (within threshold).
	fake := map[int]float64{2: 0.5, 4: 0.6, 6: 0.8, 8: 0.8, 10: 0.79, 12: 0.9}
	tr.Callbacks = append([]Callback{CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
		if ev == Evaluate {
			info.Metrics["eval_accuracy"] = fake[info.State.GlobalStep]
		}
		return nil
	})}, tr.Callbacks...)
	res, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.GlobalStep != 10 {
		t.Fatalf("stopped at step %d, want 10 (best at 6, patience 2)", res.GlobalStep)
	}
}

// A non-finite loss skips the step; too many in a row stop training with an
// error, and the model is never saved with non-finite weights.
func TestNonFiniteLossSkipsAndStops(t *testing.T) {
	train := classData(32, 8)
	a := testArgs(t)
	a.PerDeviceTrainBatchSize = 8
	a.NumTrainEpochs = 3
	a.MaxNonFinite = 3
	m := tinyBert(t, task.SequenceClassification, 2, 0, 3)
	tr := newTrainer(t, a, m, train, nil)
	step := 0
	tr.ComputeLoss = func(out auto.Output, in auto.Batch, n int64) (*tensor.Tensor, error) {
		res, err := task.Compute(tr.Spec, lossInputs(out, in, n))
		if err != nil {
			return nil, err
		}
		step++
		if step == 2 || step >= 5 {
			return tensor.MulScalar(res.Loss, math.NaN()), nil
		}
		return res.Loss, nil
	}
	_, err := tr.Train(context.Background())
	if err == nil || !strings.Contains(err.Error(), "3 steps in a row had a non-finite loss") {
		t.Fatalf("err = %v, want a non-finite stop", err)
	}
	if got := tr.State.NonFiniteSteps; len(got) != 4 || got[0] != 2 || got[3] != 7 {
		t.Fatalf("non-finite steps %v, want [2 5 6 7]", got)
	}
	if name := tr.nonFiniteParam(); name != "" {
		t.Fatalf("parameter %s became non-finite", name)
	}
}

// Cancelling the context (SIGINT) finishes the step, saves a checkpoint and
// says how to resume.
func TestInterruptSavesCheckpoint(t *testing.T) {
	train := classData(32, 9)
	a := testArgs(t)
	a.PerDeviceTrainBatchSize = 4
	a.SaveStrategy, a.SaveSteps = "steps", 100
	m := tinyBert(t, task.SequenceClassification, 2, 0, 3)
	tr := newTrainer(t, a, m, train, nil)
	ctx, cancel := context.WithCancel(context.Background())
	tr.Callbacks = append(tr.Callbacks, CallbackFunc(func(ev Event, info CallbackInfo, ctl *Control) error {
		if ev == Log && info.State.GlobalStep == 3 {
			cancel()
		}
		return nil
	}))
	_, err := tr.Train(ctx)
	if !errors.Is(err, ErrInterrupted) || !strings.Contains(err.Error(), "resume_from_checkpoint") {
		t.Fatalf("err = %v, want ErrInterrupted with resume advice", err)
	}
	if _, err := os.Stat(filepath.Join(a.OutputDir, "checkpoint-4", "model.safetensors")); err != nil {
		t.Fatalf("no checkpoint after interrupt: %v", err)
	}
}

// The output directory has HF's layout.
func TestOutputDirectoryLayout(t *testing.T) {
	train, eval := classData(24, 10), classData(8, 11)
	a := testArgs(t)
	a.PerDeviceTrainBatchSize = 8
	a.NumTrainEpochs = 1
	a.EvalStrategy, a.SaveStrategy = "epoch", "epoch"
	m := tinyBert(t, task.SequenceClassification, 2, 0, 3)
	tr := newTrainer(t, a, m, train, eval)
	if _, err := tr.Train(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"checkpoint-3/model.safetensors", "checkpoint-3/config.json", "checkpoint-3/trainer_state.json",
		"checkpoint-3/optimizer.safetensors", "checkpoint-3/optimizer.json", "checkpoint-3/scheduler.json", "checkpoint-3/rng_state.json",
		"checkpoint-3/training_args.json", "model.safetensors", "config.json", "trainer_state.json", "all_results.json",
		"train_results.json", "eval_results.json", "README.md", "log.jsonl"} {
		if _, err := os.Stat(filepath.Join(a.OutputDir, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
	st, err := ReadState(filepath.Join(a.OutputDir, "checkpoint-3", TrainerStateName))
	if err != nil {
		t.Fatal(err)
	}
	if st.GlobalStep != 3 || len(st.LogHistory) < 4 {
		t.Fatalf("state: global_step %d, %d log entries", st.GlobalStep, len(st.LogHistory))
	}
	last := st.LogHistory[len(st.LogHistory)-1]
	for _, k := range []string{"eval_loss", "eval_accuracy", "eval_f1", "eval_runtime", "epoch", "step"} {
		if _, ok := last[k]; !ok {
			t.Errorf("eval entry lacks %s: %v", k, last)
		}
	}
	// No temporary directories are left behind.
	ents, _ := os.ReadDir(a.OutputDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp") {
			t.Errorf("left %s", e.Name())
		}
	}
}

// The eval loss is the mean over every label, not a mean of batch means.
func TestEvalLossIsTokenWeighted(t *testing.T) {
	train, eval := tokenData(8, 12), tokenData(10, 13)
	m := tinyBert(t, task.TokenClassification, 3, 0, 3)
	var got []float64
	for _, bs := range []int{1, 3, 10} {
		a := testArgs(t)
		a.PerDeviceEvalBatchSize = bs
		tr := newTrainer(t, a, m, train, eval)
		e, err := tr.Evaluate()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e["eval_loss"])
	}
	for _, v := range got[1:] {
		if math.Abs(v-got[0]) > 1e-6*got[0] {
			t.Fatalf("eval_loss depends on the batch size: %v", got)
		}
	}
}

// The QA post-processing picks the best span over a question's windows and
// answers "" (SQuAD v2) when the CLS score beats every span.
func TestQASpans(t *testing.T) {
	off := func(spans ...[2]int) []tokenizer.Offset {
		out := []tokenizer.Offset{{Start: -1, End: -1}} // CLS
		for _, s := range spans {
			out = append(out, tokenizer.Offset{Start: s[0], End: s[1]})
		}
		return append(out, tokenizer.Offset{Start: -1, End: -1}) // SEP
	}
	// Context "red fox jumps": tokens red(0,3) fox(4,7) jumps(8,13).
	f := &data.Features{Task: data.QuestionAnswering, Questions: map[string]data.Question{
		"a": {Context: "red fox jumps", Answers: []string{"fox"}},
		"b": {Context: "red fox jumps", Answers: nil},
	}}
	f.Examples = []data.Example{
		{ID: "a", Offsets: off([2]int{0, 3}, [2]int{4, 7})},  // window 1: red fox
		{ID: "a", Offsets: off([2]int{4, 7}, [2]int{8, 13})}, // window 2: fox jumps
		{ID: "b", Offsets: off([2]int{0, 3}, [2]int{4, 7})},
	}
	// Logits [3 windows, 4 tokens]: window 2 scores "fox jumps" highest
	// overall (start at fox 2 + end at jumps 3 = 5 beats window 1's 4).
	start := []float32{0, 1, 2, -9, 0, 2, 0, -9, 9, 1, 1, -9}
	end := []float32{0, 0, 2, -9, 0, 1, 3, -9, 9, 1, 1, -9}
	out := auto.Output{StartLogits: tensor.FromFloat32(start, 3, 4), EndLogits: tensor.FromFloat32(end, 3, 4)}
	q := qaSpans{}
	q.add(f, []int{0, 1, 2}, out)
	mb := q.batch(f)
	if got := strings.Join(mb.PredTexts, "|"); got != "fox jumps|" {
		t.Fatalf("predictions %q, want \"fox jumps|\" (b unanswerable: CLS 18 beats its spans)", got)
	}
}

// Predict returns one prediction per example in order (class names,
// per-word tags) and the test metrics, and writes HF's TSV.
func TestPredict(t *testing.T) {
	train, test := classData(16, 14), classData(10, 15)
	labels, _ := data.NewLabelSet("neg", "pos")
	train.Labels, test.Labels = labels, labels
	a := testArgs(t)
	a.PerDeviceEvalBatchSize = 3
	tr := newTrainer(t, a, tinyBert(t, task.SequenceClassification, 2, 0, 3), train, nil)
	preds, m, err := tr.Predict(test)
	if err != nil {
		t.Fatal(err)
	}
	if len(preds) != 10 || preds[9].Index != 9 || (preds[0].Label != "neg" && preds[0].Label != "pos") || len(preds[0].Logits) != 2 {
		t.Fatalf("predictions %+v", preds)
	}
	if _, ok := m["test_accuracy"]; !ok {
		t.Fatalf("metrics %v lack test_accuracy", m)
	}
	path := filepath.Join(t.TempDir(), "predict_results.txt")
	if err := WritePredictions(path, preds, false); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 11 || lines[0] != "index\tprediction" || !strings.HasPrefix(lines[10], "9\t") {
		t.Fatalf("predict_results.txt:\n%s", b)
	}

	tok := tokenData(5, 16)
	tt := newTrainer(t, testArgs(t), tinyBert(t, task.TokenClassification, 3, 0, 3), tok, nil)
	tp, _, err := tt.Predict(tok)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range tp {
		words := 0
		for _, l := range tok.Examples[i].Labels {
			if l != data.IgnoreIndex {
				words++
			}
		}
		if got := len(strings.Fields(p.Label)); got != words {
			t.Fatalf("example %d: %d tags for %d labelled words: %q", i, got, words, p.Label)
		}
	}
}

// A regression label column is read as numbers, not turned into a label
// set (a named label field must not make regression a classification).
func TestPrepareDataRegressionKeepsNumbers(t *testing.T) {
	tok, err := tokenizer.LoadWordPiece("../tokenizer/testdata/bert-base-uncased-vocab/vocab.txt", true)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := LookupTask("text-regression")
	rows := []data.Row{
		{File: "r.jsonl", Line: 1, Fields: map[string]any{"text": "a speech", "year": 1990.0}},
		{File: "r.jsonl", Line: 2, Fields: map[string]any{"text": "another", "year": 1850.0}},
	}
	f, err := PrepareData(DataSpec{File: "r.jsonl", Task: ti, Config: data.Config{LabelField: "year"}}, rows, tok)
	if err != nil {
		t.Fatal(err)
	}
	if f.Labels != nil || len(f.Examples) != 2 || f.Examples[1].Target[0] != 1850 {
		t.Fatalf("labels %v, examples %+v", f.Labels, f.Examples)
	}
}

// Fewer examples than one batch with dataloader_drop_last is an error that
// says what to change, not an empty run.
func TestNoTrainingBatchIsAnError(t *testing.T) {
	a := testArgs(t)
	a.PerDeviceTrainBatchSize, a.DataloaderDropLast = 16, true
	tr := newTrainer(t, a, tinyBert(t, task.SequenceClassification, 2, 0, 3), classData(5, 1), nil)
	_, err := tr.Train(context.Background())
	if err == nil || !strings.Contains(err.Error(), "5 examples, per_device_train_batch_size 16") {
		t.Fatalf("err = %v", err)
	}
}

// mlm_probability reaches the masker, and the share of tokens chosen
// follows it.
func TestMLMProbability(t *testing.T) {
	dir := t.TempDir()
	vocab := []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
	for c := 'a'; c <= 'z'; c++ {
		vocab = append(vocab, string(c))
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), []byte(strings.Join(vocab, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := bert.DefaultConfig()
	c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = len(vocab), 16, 1, 2, 32
	c.MaxPositionEmbeddings = 32
	head, err := bert.NewForMaskedLM(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := auto.WrapBert(head, task.MaskedLM)
	if err != nil {
		t.Fatal(err)
	}
	var rows []data.Row
	for i := range 40 {
		rows = append(rows, data.Row{Line: i + 2, Fields: map[string]any{"text": strings.Repeat("a b c d e f g h ", 4)}})
	}
	ti, _ := LookupTask("masked-lm")
	train, err := PrepareData(DataSpec{File: "mem", Task: ti, Config: data.Config{BlockSize: 16}}, rows, tok)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []float64{0.15, 0.4} {
		a := testArgs(t)
		a.MLMProbability = p
		tr, err := New(a, m, tok, train, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tr.masker.Prob != p {
			t.Fatalf("masker probability %v, want %v", tr.masker.Prob, p)
		}
		exs := make([]*data.Example, len(train.Examples))
		for i := range train.Examples {
			exs[i] = &train.Examples[i]
		}
		b, err := data.Collator{Task: data.MaskedLM}.Collate(exs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range exs {
			b.Indices = append(b.Indices, i) // what the Loader sets
		}
		tr.masker.Mask(b, 0)
		chosen := 0
		for _, l := range b.Labels {
			if l != task.IgnoreIndex {
				chosen++
			}
		}
		if got := float64(chosen) / float64(len(b.Labels)); math.Abs(got-p) > 0.05 {
			t.Errorf("mlm_probability %v: %.3f of the tokens chosen", p, got)
		}
	}
}
