package trainer

import (
	"encoding/json"
	"fmt"
	"math"
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
	return t.evaluate("eval")
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
		// SQuAD scores need the answer texts, which the trainer does not
		// have from features alone; see the package documentation.
		return nil, nil
	}
	return metrics.ForTask(metricTask(f.Task), o)
}

// evaluate runs one pass over EvalData (sharded over ranks is not done:
// every rank evaluates the whole set, so the metrics agree without a
// reduction) and logs the entry.
func (t *Trainer) evaluate(prefix string) (Entry, error) {
	f := t.EvalData
	start := time.Now()
	t.Model.Train(false)
	m, err := t.newMetrics(f)
	if err != nil {
		return nil, err
	}
	var lossSum float64 // summed label losses of this rank's batches
	var items int64     // and their label count
	var mbs []metrics.Batch
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
			var ferr error
			noLabels := in
			noLabels.Labels, noLabels.StartPositions, noLabels.EndPositions = nil, nil, nil
			tensor.NoGrad(func() { out, ferr = t.Model.Forward(noLabels) })
			if ferr != nil {
				return ferr
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
						l, err = t.ComputeLoss(out, in, k)
					} else {
						var res task.Result
						res, err = task.Compute(t.Spec, lossInputs(out, in, k))
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
			if m != nil {
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
			if mbs, err = t.gatherBatches(mbs); err != nil {
				return nil, err
			}
		}
	}
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

// gatherBatches gives every rank the metric batches of all ranks, in rank
// order: each rank in turn broadcasts its batches as JSON.
func (t *Trainer) gatherBatches(mine []metrics.Batch) ([]metrics.Batch, error) {
	b, err := json.Marshal(mine)
	if err != nil {
		return nil, err
	}
	var all []metrics.Batch
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
		var part []metrics.Batch
		if err := json.Unmarshal(buf, &part); err != nil {
			return nil, fmt.Errorf("gathering metrics from rank %d: %w", root, err)
		}
		all = append(all, part...)
	}
	return all, nil
}
