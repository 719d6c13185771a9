package parity

import (
	"fmt"

	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// The trainer bookkeeping cases: gradient accumulation with
// num_items_in_batch (kiln's normalisation), HF's per-micro-batch mean ÷ GA
// and legacy unshifted count (reproduced for comparison), multi-device
// token averaging, evaluation-loss aggregation and the NaN/Inf log filter.

// lossGrad computes a head's loss on a fresh leaf copy of logits, scaled by
// scale, and returns the loss and d(loss)/d(logits).
func lossGrad(spec task.Spec, logits, labels *tensor.Tensor, numItems int64, scale float64) (*tensor.Tensor, *tensor.Tensor, error) {
	x := tensor.Detach(logits).SetRequiresGrad(true)
	res, err := task.Compute(spec, task.Inputs{Logits: x, Labels: labels, NumItemsInBatch: numItems})
	if err != nil {
		return nil, nil, err
	}
	l := res.Loss
	if scale != 1 {
		l = tensor.MulScalar(l, scale)
	}
	val := tensor.Detach(l)
	l.Backward()
	g := x.Grad()
	if g == nil {
		g = tensor.Zeros(x.DType(), x.Shape()...)
	}
	return val, g, nil
}

func scalar(v float64) *tensor.Tensor { return tensor.Scalar(tensor.Float64, v) }

// fullBatch concatenates micro-batches and returns the mean loss and its
// gradient: the reference every accumulation scheme should reproduce.
func fullBatch(spec task.Spec, logits, labels []*tensor.Tensor) (*tensor.Tensor, *tensor.Tensor, error) {
	if len(logits) == 0 || len(logits) != len(labels) {
		return nil, nil, fmt.Errorf("%d logits and %d label micro-batches", len(logits), len(labels))
	}
	return lossGrad(spec, tensor.Concat(0, logits...), tensor.Concat(0, labels...), 0, 1)
}

func gradAccum(c *ctx) (map[string]any, error) {
	ga, e1 := c.int("gradient_accumulation_steps", 0)
	_, e2 := c.int("vocab_size", 0)
	nWant, e3 := c.int("num_items_in_batch", 0)
	nLegacy, e4 := c.int("num_items_in_batch_legacy_unshifted_count", 0)
	xs, e5 := c.list("micro_logits")
	ys, e6 := c.list("micro_labels")
	if err := errs(e1, e2, e3, e4, e5, e6); err != nil {
		return nil, err
	}
	if int(ga) != len(xs) || len(xs) != len(ys) {
		return nil, fmt.Errorf("gradient_accumulation_steps %d with %d logits and %d labels micro-batches", ga, len(xs), len(ys))
	}
	spec := task.Spec{Kind: task.CausalLM}
	micro := make([]task.Inputs, len(xs))
	legacy := make([]task.Inputs, len(xs))
	for i := range xs {
		micro[i] = task.Inputs{Logits: xs[i], Labels: ys[i]}
		legacy[i] = task.Inputs{Labels: ys[i]}
	}
	n, err := task.CountGroup(spec, micro)
	if err != nil {
		return nil, err
	}
	if n != nWant {
		return nil, fmt.Errorf("kiln counts num_items_in_batch %d, reference %d", n, nWant)
	}
	// HF 4.46-4.5x counted the unshifted labels: the masked-LM count.
	nl, err := task.CountGroup(task.Spec{Kind: task.MaskedLM}, legacy)
	if err != nil {
		return nil, err
	}
	if nl != nLegacy {
		return nil, fmt.Errorf("unshifted count %d, reference %d", nl, nLegacy)
	}
	out := map[string]any{}
	fl, fg, err := fullBatch(spec, xs, ys)
	if err != nil {
		return nil, err
	}
	out["full_batch_loss"], out["full_batch_grad"] = fl, fg
	var fixedL, fixedG, naiveL, naiveG, legacyL []any
	var fixedSum, naiveSum, legacySum float64
	for i := range xs {
		l, g, err := lossGrad(spec, xs[i], ys[i], n, 1)
		if err != nil {
			return nil, err
		}
		fixedL, fixedG, fixedSum = append(fixedL, l), append(fixedG, g), fixedSum+l.Item()
		// HF for models without loss kwargs: the micro-batch mean ÷ GA.
		l, g, err = lossGrad(spec, xs[i], ys[i], 0, 1/float64(ga))
		if err != nil {
			return nil, err
		}
		naiveL, naiveG, naiveSum = append(naiveL, l), append(naiveG, g), naiveSum+l.Item()
		l, _, err = lossGrad(spec, xs[i], ys[i], nl, 1)
		if err != nil {
			return nil, err
		}
		legacyL, legacySum = append(legacyL, l), legacySum+l.Item()
	}
	out["fixed_micro_losses"], out["fixed_micro_grads"], out["fixed_logged_loss"] = fixedL, fixedG, scalar(fixedSum)
	out["naive_micro_losses_div_ga"], out["naive_micro_grads"], out["naive_logged_loss"] = naiveL, naiveG, scalar(naiveSum)
	out["legacy_unshifted_count_micro_losses"], out["legacy_unshifted_count_logged_loss"] = legacyL, scalar(legacySum)
	return out, nil
}

func gradAccumDDP(c *ctx) (map[string]any, error) {
	W, e1 := c.int("world_size", 0)
	ga, e2 := c.int("gradient_accumulation_steps", 0)
	avg, e3 := c.bool("average_tokens_across_devices", true)
	nWant, e4 := c.int("num_items_in_batch_global", 0)
	_, e5 := c.int("vocab_size", 0)
	xs, e6 := c.grid("device_micro_logits")
	ys, e7 := c.grid("device_micro_labels")
	if err := errs(e1, e2, e3, e4, e5, e6, e7); err != nil {
		return nil, err
	}
	if !avg {
		return nil, fmt.Errorf("average_tokens_across_devices = false: kiln always normalises by the global count")
	}
	if int(W) != len(xs) || len(xs) != len(ys) {
		return nil, fmt.Errorf("world_size %d with %d devices of logits and %d of labels", W, len(xs), len(ys))
	}
	spec := task.Spec{Kind: task.CausalLM}
	// The global count: each rank counts its group, one all-reduce sums.
	var n int64
	var allX, allY []*tensor.Tensor
	for d := range xs {
		if len(xs[d]) != int(ga) || len(ys[d]) != int(ga) {
			return nil, fmt.Errorf("device %d has %d micro-batches, want %d", d, len(xs[d]), ga)
		}
		micro := make([]task.Inputs, len(xs[d]))
		for i := range xs[d] {
			micro[i] = task.Inputs{Labels: ys[d][i]}
		}
		cd, err := task.CountGroup(spec, micro)
		if err != nil {
			return nil, err
		}
		n += cd
		allX, allY = append(allX, xs[d]...), append(allY, ys[d]...)
	}
	if n != nWant {
		return nil, fmt.Errorf("kiln counts num_items_in_batch %d, reference %d", n, nWant)
	}
	// kiln: each micro loss is sum / N_global and ranks sum gradients. HF
	// multiplies the loss by W and DDP averages the gradients (÷W): the
	// same gradient, and the loss values below are HF's scaled ones.
	var losses, grads []any
	var logged float64
	for d := range xs {
		var dl, dg []any
		var devSum float64
		for i := range xs[d] {
			l, g, err := lossGrad(spec, xs[d][i], ys[d][i], n, 1)
			if err != nil {
				return nil, err
			}
			scaled := tensor.MulScalar(l, float64(W))
			dl, dg, devSum = append(dl, scaled), append(dg, g), devSum+scaled.Item()
		}
		losses, grads = append(losses, dl), append(grads, dg)
		logged += devSum / float64(W)
	}
	fl, fg, err := fullBatch(spec, allX, allY)
	if err != nil {
		return nil, err
	}
	return map[string]any{"device_micro_losses_scaled": losses, "device_micro_grads_after_ddp_average": grads,
		"logged_loss": scalar(logged), "full_batch_loss": fl, "full_batch_grad": fg}, nil
}

func gradAccumMeanModel(c *ctx) (map[string]any, error) {
	ga, e1 := c.int("gradient_accumulation_steps", 0)
	C, e2 := c.int("num_labels", 0)
	xs, e3 := c.list("micro_logits")
	ys, e4 := c.list("micro_labels")
	if err := errs(e1, e2, e3, e4); err != nil {
		return nil, err
	}
	if int(ga) != len(xs) || len(xs) != len(ys) {
		return nil, fmt.Errorf("gradient_accumulation_steps %d with %d logits and %d labels micro-batches", ga, len(xs), len(ys))
	}
	spec := task.Spec{Kind: task.SequenceClassification, NumLabels: int(C)}
	fl, _, err := fullBatch(spec, xs, ys)
	if err != nil {
		return nil, err
	}
	// HF's path for models without loss kwargs (kiln never takes it).
	var per []any
	var sum float64
	for i := range xs {
		l, _, err := lossGrad(spec, xs[i], ys[i], 0, 1/float64(ga))
		if err != nil {
			return nil, err
		}
		per, sum = append(per, l), sum+l.Item()
	}
	return map[string]any{"full_batch_loss": fl, "per_micro_mean_div_ga": per, "logged_loss": scalar(sum)}, nil
}

func evalLoop(c *ctx) (map[string]any, error) {
	_, e1 := c.int("per_device_eval_batch_size", 0)
	_, e2 := c.int("vocab_size", 0)
	xs, e3 := c.list("batch_logits")
	ys, e4 := c.list("batch_labels")
	if err := errs(e1, e2, e3, e4); err != nil {
		return nil, err
	}
	if len(xs) != len(ys) {
		return nil, fmt.Errorf("%d logits and %d label batches", len(xs), len(ys))
	}
	spec := task.Spec{Kind: task.CausalLM}
	var acc task.EvalLoss
	var per []any
	for i := range xs {
		in := task.Inputs{Logits: xs[i], Labels: ys[i]}
		res, err := task.Compute(spec, in)
		if err != nil {
			return nil, err
		}
		items, err := task.CountItems(spec, in)
		if err != nil {
			return nil, err
		}
		acc.Add(res.Loss.Item(), items, xs[i].Dim(0))
		per = append(per, res.Loss)
	}
	return map[string]any{"batch_losses": per, "eval_loss": scalar(acc.SampleMean()),
		"token_weighted_mean_for_comparison": scalar(acc.TokenMean())}, nil
}

func logFilter(c *ctx) (map[string]any, error) {
	on, e1 := c.bool("logging_nan_inf_filter", true)
	ga, e2 := c.int("gradient_accumulation_steps", 1)
	every, e3 := c.int("logging_steps", 0)
	steps, e4 := c.numbers("step_losses")
	if err := errs(e1, e2, e3, e4); err != nil {
		return nil, err
	}
	if !on || ga != 1 {
		return nil, fmt.Errorf("only logging_nan_inf_filter = true with one micro-batch per step is modelled")
	}
	if int(every) != len(steps) {
		return nil, fmt.Errorf("logging_steps %d with %d step losses", every, len(steps))
	}
	var log task.LossLog
	var trace []float64
	for _, s := range steps {
		trace = append(trace, log.Add(s))
	}
	return map[string]any{"tr_loss_after_each_step": trace, "logged_loss": log.Logged()}, nil
}
