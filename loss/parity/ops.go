package parity

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// The evaluators: one per op name of the reference file, each reading its
// parameters and inputs through ctx and calling kiln's public API.

func (c *ctx) reduction() (loss.Reduction, error) {
	s, err := c.str("reduction", "mean")
	if err != nil {
		return 0, err
	}
	return loss.ParseReduction(s)
}

// errs returns the first non-nil error.
func errs(es ...error) error {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}

func init() {
	lossOps["cross_entropy"] = func(c *ctx) (*tensor.Tensor, error) {
		red, e1 := c.reduction()
		ign, e2 := c.int("ignore_index", loss.DefaultIgnoreIndex)
		w, e3 := c.floats("weight")
		eps, e4 := c.float("label_smoothing", 0)
		dim, e5 := c.int("class_dim", 1)
		if err := errs(e1, e2, e3, e4, e5); err != nil {
			return nil, err
		}
		if dim != 1 {
			return nil, fmt.Errorf("class_dim = %d: kiln's cross-entropy has the class axis at dim 1 (as PyTorch)", dim)
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("target")
		if err != nil {
			return nil, err
		}
		return loss.CrossEntropy(x, y, loss.CrossEntropyOptions{Reduction: red, Weight: w, IgnoreIndex: loss.Ignore(ign), LabelSmoothing: eps})
	}
	lossOps["binary_cross_entropy_with_logits"] = func(c *ctx) (*tensor.Tensor, error) {
		red, e1 := c.reduction()
		w, e2 := c.floats("weight")
		pw, e3 := c.floats("pos_weight")
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("target")
		if err != nil {
			return nil, err
		}
		return loss.BCEWithLogits(x, y, loss.BCEOptions{Reduction: red, Weight: w, PosWeight: pw})
	}
	regression := func(f func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error)) func(c *ctx) (*tensor.Tensor, error) {
		return func(c *ctx) (*tensor.Tensor, error) {
			red, err := c.reduction()
			if err != nil {
				return nil, err
			}
			x, err := c.first("input", "logits")
			if err != nil {
				return nil, err
			}
			y, err := c.tensor("target")
			if err != nil {
				return nil, err
			}
			return f(c, x, y, red)
		}
	}
	lossOps["mse_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		return loss.MSE(x, y, red)
	})
	lossOps["l1_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		return loss.L1(x, y, red)
	})
	lossOps["smooth_l1_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		beta, err := c.float("beta", 1)
		if err != nil {
			return nil, err
		}
		return loss.SmoothL1(x, y, beta, red)
	})
	lossOps["huber_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		delta, err := c.float("delta", 1)
		if err != nil {
			return nil, err
		}
		return loss.Huber(x, y, delta, red)
	})
	lossOps["multi_margin_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		p, e1 := c.int("p", 1)
		margin, e2 := c.float("margin", 1)
		w, e3 := c.floats("weight")
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		return loss.MultiMargin(x, y, int(p), margin, w, red)
	})
	lossOps["hinge_embedding_loss"] = regression(func(c *ctx, x, y *tensor.Tensor, red loss.Reduction) (*tensor.Tensor, error) {
		margin, err := c.float("margin", 1)
		if err != nil {
			return nil, err
		}
		return loss.HingeEmbedding(x, y, margin, red)
	})
	lossOps["kl_div"] = func(c *ctx) (*tensor.Tensor, error) {
		red, e1 := c.reduction()
		logTarget, e2 := c.bool("log_target", false)
		in, e3 := c.str("input", "log_softmax(student)")
		tg, e4 := c.str("target", "")
		if err := errs(e1, e2, e3, e4); err != nil {
			return nil, err
		}
		if in != "log_softmax(student)" {
			return nil, fmt.Errorf("parameter input = %q: kiln knows only log_softmax(student)", in)
		}
		s, err := c.tensor("student_logits")
		if err != nil {
			return nil, err
		}
		var t *tensor.Tensor
		switch {
		case c.has("target_probs"):
			if t, err = c.tensor("target_probs"); err != nil {
				return nil, err
			}
		default:
			if tg != "" && tg != "softmax(teacher)" {
				return nil, fmt.Errorf("parameter target = %q: kiln knows only softmax(teacher)", tg)
			}
			te, err := c.tensor("teacher_logits")
			if err != nil {
				return nil, err
			}
			if logTarget {
				t = tensor.LogSoftmax(te, -1)
			} else {
				t = tensor.Softmax(te, -1)
			}
		}
		return loss.KLDiv(tensor.LogSoftmax(s, -1), t, logTarget, red)
	}
	lossOps["distillation"] = func(c *ctx) (*tensor.Tensor, error) {
		T, e1 := c.float("temperature", 1)
		alpha, e2 := c.float("alpha", 1)
		labels, e3 := c.floats("labels")
		c.describe("formula")
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		s, err := c.tensor("student_logits")
		if err != nil {
			return nil, err
		}
		te, err := c.tensor("teacher_logits")
		if err != nil {
			return nil, err
		}
		var y *tensor.Tensor
		if labels != nil {
			ids := make([]int64, len(labels))
			for i, v := range labels {
				ids[i] = int64(v)
			}
			y = tensor.FromInt64(ids, len(ids))
		}
		return loss.Distillation(s, te, y, loss.DistillationOptions{Temperature: T, Alpha: alpha})
	}
	lossOps["ForCausalLMLoss"] = func(c *ctx) (*tensor.Tensor, error) {
		V, e1 := c.int("vocab_size", 0)
		n, e2 := c.int("num_items_in_batch", 0)
		sl, e3 := c.str("shift_labels", "")
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		in := task.Inputs{NumItemsInBatch: n}
		var err error
		if in.Logits, err = c.tensor("logits"); err != nil {
			return nil, err
		}
		if in.Labels, err = c.tensor("labels"); err != nil {
			return nil, err
		}
		if sl != "" {
			if sl != "given" {
				return nil, fmt.Errorf("parameter shift_labels = %q: want \"given\"", sl)
			}
			if in.ShiftLabels, err = c.tensor("shift_labels"); err != nil {
				return nil, err
			}
		}
		if V > 0 && in.Logits.Dim(-1) != int(V) {
			return nil, fmt.Errorf("vocab_size %d does not match logits %v", V, in.Logits.Shape())
		}
		return head(task.Spec{Kind: task.CausalLM}, in)
	}
	lossOps["ForMaskedLMLoss"] = func(c *ctx) (*tensor.Tensor, error) {
		V, e1 := c.int("vocab_size", 0)
		n, e2 := c.int("num_items_in_batch", 0)
		if err := errs(e1, e2); err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("labels")
		if err != nil {
			return nil, err
		}
		if V > 0 && x.Dim(-1) != int(V) {
			return nil, fmt.Errorf("vocab_size %d does not match logits %v", V, x.Shape())
		}
		return head(task.Spec{Kind: task.MaskedLM}, task.Inputs{Logits: x, Labels: y, NumItemsInBatch: n})
	}
	lossOps["ForTokenClassification"] = func(c *ctx) (*tensor.Tensor, error) {
		C, e1 := c.int("num_labels", 0)
		n, e2 := c.int("num_items_in_batch", 0)
		if err := errs(e1, e2); err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("labels")
		if err != nil {
			return nil, err
		}
		return head(task.Spec{Kind: task.TokenClassification, NumLabels: int(C)}, task.Inputs{Logits: x, Labels: y, NumItemsInBatch: n})
	}
	lossOps["ForSequenceClassificationLoss"] = func(c *ctx) (*tensor.Tensor, error) {
		C, e1 := c.int("num_labels", 0)
		given, e2 := c.str("problem_type_given", "")
		resolved, e3 := c.str("problem_type_resolved", "")
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("labels")
		if err != nil {
			return nil, err
		}
		spec := task.Spec{Kind: task.SequenceClassification, NumLabels: int(C), ProblemType: task.ProblemType(given)}
		res, err := task.Compute(spec, task.Inputs{Logits: x, Labels: y})
		if err != nil {
			return nil, err
		}
		if resolved != "" && string(res.Explanation.ProblemType) != resolved {
			return nil, fmt.Errorf("kiln resolved problem type %s, reference %s", res.Explanation.ProblemType, resolved)
		}
		return res.Loss, nil
	}
	lossOps["ForQuestionAnsweringLoss"] = func(c *ctx) (*tensor.Tensor, error) {
		T, err := c.int("seq_len", 0)
		if err != nil {
			return nil, err
		}
		var in task.Inputs
		for _, p := range []struct {
			name string
			dst  **tensor.Tensor
		}{{"start_logits", &in.StartLogits}, {"end_logits", &in.EndLogits}, {"start_positions", &in.StartPositions}, {"end_positions", &in.EndPositions}} {
			if *p.dst, err = c.tensor(p.name); err != nil {
				return nil, err
			}
		}
		if T > 0 && in.StartLogits.Dim(-1) != int(T) {
			return nil, fmt.Errorf("seq_len %d does not match start logits %v", T, in.StartLogits.Shape())
		}
		return head(task.Spec{Kind: task.QuestionAnswering}, in)
	}
	lossOps["MultipleChoice"] = func(c *ctx) (*tensor.Tensor, error) {
		K, err := c.int("num_choices", 0)
		if err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("labels")
		if err != nil {
			return nil, err
		}
		return head(task.Spec{Kind: task.MultipleChoice, NumChoices: int(K)}, task.Inputs{Logits: x, Labels: y})
	}
	lossOps["LabelSmoother"] = func(c *ctx) (*tensor.Tensor, error) {
		eps, e1 := c.float("epsilon", 0)
		shift, e2 := c.bool("shift_labels", false)
		n, e3 := c.int("num_items_in_batch", 0)
		if err := errs(e1, e2, e3); err != nil {
			return nil, err
		}
		x, err := c.tensor("logits")
		if err != nil {
			return nil, err
		}
		y, err := c.tensor("labels")
		if err != nil {
			return nil, err
		}
		c.eps = eps
		return task.LabelSmoother{Epsilon: eps}.Loss(x, y, shift, n)
	}
	multiOps["TrainerGradAccum"] = gradAccum
	multiOps["TrainerGradAccumDDP"] = gradAccumDDP
	multiOps["TrainerGradAccumMeanModel"] = gradAccumMeanModel
	multiOps["EvalLoop"] = evalLoop
	multiOps["TrainingLogFilter"] = logFilter
}

// head computes a task head's loss.
func head(spec task.Spec, in task.Inputs) (*tensor.Tensor, error) {
	res, err := task.Compute(spec, in)
	if err != nil {
		return nil, err
	}
	return res.Loss, nil
}

// compareCEEquivalent checks that kiln's cross-entropy with label smoothing
// equals the LabelSmoother case's torch value (no class weights).
func compareCEEquivalent(m *comparer, c *ctx, raw json.RawMessage) {
	x, y := c.leaves["logits"], c.leaves["labels"]
	if x == nil || y == nil || x.Rank() != 2 {
		return
	}
	var l *tensor.Tensor
	var err error
	tensor.NoGrad(func() {
		l, err = loss.CrossEntropy(tensor.Detach(x), y, loss.CrossEntropyOptions{LabelSmoothing: c.eps})
	})
	if err != nil {
		m.fail("cross-entropy equivalent: %v", err)
		return
	}
	m.any("torch_ce_label_smoothing_equivalent", l, raw)
}
