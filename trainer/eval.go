package trainer

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/metrics"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// Evaluate runs the model over EvalData and returns the metrics with the
// "eval_" prefix, as HF: eval_loss, the task's metrics, eval_runtime,
// eval_samples_per_second, eval_steps_per_second.
func (t *Trainer) Evaluate() (Entry, error) {
	if t.EvalData == nil {
		return nil, fmt.Errorf("evaluate: no evaluation data")
	}
	if t.console == nil {
		t.console = newConsole(t)
	}
	return t.evaluate(t.EvalData, "eval", nil)
}

// metricTask is the metrics registry's name for the data's task.
func metricTask(f data.Task) string {
	switch f {
	case data.Classification, data.MultipleChoice:
		return "classification"
	case data.Regression:
		return "regression"
	case data.MultiLabel:
		return "multilabel"
	case data.TokenClassification:
		return "token-classification"
	case data.QuestionAnswering:
		return "qa"
	case data.CausalLM:
		return "clm"
	case data.MaskedLM:
		return "mlm"
	}
	return ""
}

// newMetrics builds the evaluation metrics of features f.
func (t *Trainer) newMetrics(f *data.Features) (metrics.Metric, error) {
	if t.Args.PredictionLossOnly {
		return nil, nil
	}
	if t.NewMetrics != nil {
		return t.NewMetrics()
	}
	o := metrics.Options{NumClasses: t.Spec.NumLabels}
	if f.Task == data.MultipleChoice {
		o.NumClasses = 0
		if len(f.Examples) > 0 {
			o.NumClasses = len(f.Examples[0].Choices)
		}
	}
	if f.Labels != nil {
		o.LabelNames = f.Labels.Names()
		if o.NumClasses == 0 {
			o.NumClasses = len(o.LabelNames)
		}
	}
	if o.LabelNames == nil && f.Task == data.TokenClassification {
		// The model's id2label names the tags.
		id2 := t.Model.Config().ID2Label
		for i := 0; i < len(id2); i++ {
			o.LabelNames = append(o.LabelNames, id2[i])
		}
	}
	if f.Task == data.QuestionAnswering {
		if f.Questions == nil {
			return nil, nil // features built without the data package's QA recipe
		}
		for _, q := range f.Questions {
			o.SQuADv2 = o.SQuADv2 || len(q.Answers) == 0
		}
	}
	return metrics.ForTask(metricTask(f.Task), o)
}

// evaluate runs one pass over EvalData (sharded over ranks is not done:
// every rank evaluates the whole set, so the metrics agree without a
// reduction) and logs the entry.
func (t *Trainer) evaluate(f *data.Features, prefix string, keep func(idx []int, out auto.Output, in auto.Batch)) (Entry, error) {
	start := time.Now()
	t.Model.Train(false)
	m, err := t.newMetrics(f)
	if err != nil {
		return nil, err
	}
	var lossSum float64 // summed label losses of this rank's batches
	var items int64     // and their label count
	var mbs []metrics.Batch
	qa := qaSpans{}
	bs := t.Args.PerDeviceEvalBatchSize
	n := len(f.Examples)
	steps := (n + bs - 1) / bs
	world, rank := t.worldSize(), t.Comm.Rank()
	t.console.start(prefix, steps, 0)
	labeled := true
	for s := rank; s < steps; s += world {
		idx := make([]int, 0, bs)
		for i := s * bs; i < min(n, (s+1)*bs); i++ {
			idx = append(idx, i)
		}
		in, _, err := t.collate(f, idx, 0)
		if err != nil {
			return nil, err
		}
		ar := tensor.BeginArena()
		err = func() error {
			var out auto.Output
			var fit auto.Batch // in, with labels that match out
			var ferr error
			tensor.NoGrad(func() { out, fit, ferr = t.forward(in) })
			if ferr != nil {
				return ferr
			}
			if keep != nil {
				keep(idx, out, in)
			}
			if !hasLabels(in) {
				labeled = false
				return nil
			}
			k, err := countItems(t.Spec, in)
			if err != nil {
				return err
			}
			var lv float64
			if k > 0 {
				var l *tensor.Tensor
				tensor.NoGrad(func() {
					if t.ComputeLoss != nil {
						l, err = t.ComputeLoss(out, fit, k)
					} else {
						var res task.Result
						res, err = task.Compute(t.Spec, lossInputs(out, fit, k))
						l = res.Loss
					}
				})
				if err != nil {
					return err
				}
				lv = l.Item()
				lossSum += lv * float64(k)
				items += k
			}
			if m != nil && f.Task == data.QuestionAnswering {
				qa.add(f, idx, out)
			} else if m != nil {
				mb, err := t.metricBatch(f, out, in, lv, k)
				if err != nil {
					return err
				}
				mbs = append(mbs, mb)
			}
			return nil
		}()
		ar.Release()
		if err != nil {
			return nil, fmt.Errorf("%s batch %d: %w", prefix, s, err)
		}
		t.console.update(s+1, math.NaN(), math.NaN())
	}
	if world > 1 {
		// Every rank ends with the whole set's loss and metric inputs.
		fs := []float64{lossSum}
		is := []int64{items}
		if err := t.Comm.AllReduceSumFloat64(fs); err != nil {
			return nil, err
		}
		if err := t.Comm.AllReduceSumInt64(is); err != nil {
			return nil, err
		}
		lossSum, items = fs[0], is[0]
		if m != nil {
			var err error
			if mbs, err = gatherJSON(t, mbs); err != nil {
				return nil, err
			}
			if f.Task == data.QuestionAnswering {
				all, err := gatherJSON(t, qa.list())
				if err != nil {
					return nil, err
				}
				qa = qaSpans{}
				for _, p := range all {
					qa.keep(p)
				}
			}
		}
	}
	if m != nil && f.Task == data.QuestionAnswering {
		mbs = append(mbs, qa.batch(f))
	}
	t.lastQA = qa
	if m != nil {
		for _, mb := range mbs {
			if err := m.Add(mb); err != nil {
				return nil, fmt.Errorf("%s metrics: %w", prefix, err)
			}
		}
	}
	t.console.finish()
	rt := time.Since(start).Seconds()
	e := Entry{}
	if labeled {
		// The mean over every evaluated label, not a mean of batch means.
		e[prefix+"_loss"] = math.NaN()
		if items > 0 {
			e[prefix+"_loss"] = lossSum / float64(items)
		}
		if m != nil {
			for k, v := range m.Compute() {
				e[prefix+"_"+k] = v
			}
		}
	}
	e[prefix+"_runtime"] = round4(rt)
	e[prefix+"_samples_per_second"] = round3(float64(n) / rt)
	e[prefix+"_steps_per_second"] = round3(float64(steps) / rt)
	if t.State != nil {
		e["epoch"] = round4(t.State.Epoch)
		e["step"] = float64(t.State.GlobalStep)
	}
	t.appendLog(e)
	return e, nil
}

// metricBatch converts one batch of outputs to the metrics' plain form.
func (t *Trainer) metricBatch(f *data.Features, out auto.Output, in auto.Batch, meanLoss float64, items int64) (metrics.Batch, error) {
	var mb metrics.Batch
	switch f.Task {
	case data.Classification, data.MultipleChoice:
		mb.PredIDs = argmaxRows(out.Logits)
		mb.LabelIDs = in.Labels.Int64s()
	case data.Regression:
		mb.Preds = toF64(out.Logits.Float32s())
		mb.Labels = toF64(in.Labels.Float32s())
	case data.MultiLabel:
		lg := out.Logits.Float32s()
		mb.PredIDs = make([]int64, len(lg))
		for i, v := range lg {
			if v > 0 { // sigmoid(v) > 0.5
				mb.PredIDs[i] = 1
			}
		}
		tg := in.Labels.Float32s()
		mb.LabelIDs = make([]int64, len(tg))
		for i, v := range tg {
			if v >= 0.5 {
				mb.LabelIDs[i] = 1
			}
		}
		mb.Width = out.Logits.Dim(out.Logits.Rank() - 1)
	case data.TokenClassification:
		mb.PredIDs = argmaxRows(out.Logits)
		mb.LabelIDs = in.Labels.Int64s()
		mb.Width = in.Labels.Dim(1)
	case data.CausalLM, data.MaskedLM:
		mb.LossSum = meanLoss * float64(items)
		mb.Count = items
	default:
		return mb, fmt.Errorf("no metrics for %s", f.Task)
	}
	return mb, nil
}

// argmaxRows returns the argmax over the last axis of x.
func argmaxRows(x *tensor.Tensor) []int64 {
	c := x.Dim(x.Rank() - 1)
	v := x.Float32s()
	out := make([]int64, len(v)/c)
	for r := range out {
		row := v[r*c : (r+1)*c]
		best := 0
		for j := 1; j < c; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		out[r] = int64(best)
	}
	return out
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// gatherJSON gives every rank the values of all ranks, in rank order: each
// rank in turn broadcasts its values as JSON.
func gatherJSON[T any](t *Trainer, mine []T) ([]T, error) {
	b, err := json.Marshal(mine)
	if err != nil {
		return nil, err
	}
	var all []T
	for root := 0; root < t.worldSize(); root++ {
		n := []int64{0}
		if t.Comm.Rank() == root {
			n[0] = int64(len(b))
		}
		// A sum all-reduce of one non-zero value broadcasts the length.
		if err := t.Comm.AllReduceSumInt64(n); err != nil {
			return nil, err
		}
		buf := make([]byte, n[0])
		if t.Comm.Rank() == root {
			copy(buf, b)
		}
		if err := t.Comm.BroadcastBytes(buf, root); err != nil {
			return nil, err
		}
		var part []T
		if err := json.Unmarshal(buf, &part); err != nil {
			return nil, fmt.Errorf("gathering evaluation results from rank %d: %w", root, err)
		}
		all = append(all, part...)
	}
	return all, nil
}

// maxAnswerTokens is run_qa.py's max_answer_length.
const maxAnswerTokens = 30

// qaPred is the best answer found so far for one question: the best span's
// score and text, and the no-answer score (start and end at CLS).
type qaPred struct {
	ID      string  `json:"id"`
	Score   float64 `json:"score"`
	Text    string  `json:"text"`
	HasSpan bool    `json:"has_span"`
	Null    float64 `json:"null"`
	HasNull bool    `json:"has_null"`
}

// qaSpans is run_qa.py's postprocess_qa_predictions, streaming: each window
// proposes its best context span (start <= end, at most 30 tokens), and a
// question keeps the best over its windows; SQuAD v2 answers "" when the
// lowest CLS score beats the best span.
type qaSpans map[string]*qaPred

func (q qaSpans) keep(p qaPred) {
	cur := q[p.ID]
	if cur == nil {
		c := p
		q[p.ID] = &c
		return
	}
	if p.HasSpan && (!cur.HasSpan || p.Score > cur.Score) {
		cur.Score, cur.Text, cur.HasSpan = p.Score, p.Text, true
	}
	if p.HasNull && (!cur.HasNull || p.Null < cur.Null) {
		cur.Null, cur.HasNull = p.Null, true
	}
}

// add folds one batch of windows (examples idx of f) into q.
func (q qaSpans) add(f *data.Features, idx []int, out auto.Output) {
	T := out.StartLogits.Dim(1)
	st, en := out.StartLogits.Float32s(), out.EndLogits.Float32s()
	for r, k := range idx {
		ex := &f.Examples[k]
		s, e := st[r*T:(r+1)*T], en[r*T:(r+1)*T]
		p := qaPred{ID: ex.ID, Null: float64(s[0] + e[0]), HasNull: true}
		ctx := []rune(f.Questions[ex.ID].Context)
		n := min(len(ex.Offsets), T)
		for i := 0; i < n; i++ {
			if ex.Offsets[i].Start < 0 {
				continue
			}
			for j := i; j < min(n, i+maxAnswerTokens); j++ {
				if ex.Offsets[j].Start < 0 {
					break
				}
				if sc := float64(s[i] + e[j]); !p.HasSpan || sc > p.Score {
					span, ok := ex.AnswerSpan(i, j)
					if ok && span.End <= len(ctx) {
						p.Score, p.Text, p.HasSpan = sc, string(ctx[span.Start:span.End]), true
					}
				}
			}
		}
		q.keep(p)
	}
}

func (q qaSpans) list() []qaPred {
	out := make([]qaPred, 0, len(q))
	for _, p := range q {
		out = append(out, *p)
	}
	return out
}

// batch is the metrics batch of every question of f, in ID order.
func (q qaSpans) batch(f *data.Features) metrics.Batch {
	ids := make([]string, 0, len(f.Questions))
	for id := range f.Questions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	v2 := false
	for _, qu := range f.Questions {
		v2 = v2 || len(qu.Answers) == 0
	}
	var mb metrics.Batch
	for _, id := range ids {
		text := ""
		if p := q[id]; p != nil && p.HasSpan && !(v2 && p.HasNull && p.Null > p.Score) {
			text = p.Text
		}
		mb.PredTexts = append(mb.PredTexts, text)
		mb.GoldTexts = append(mb.GoldTexts, f.Questions[id].Answers)
	}
	return mb
}
