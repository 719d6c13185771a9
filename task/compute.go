package task

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// Compute returns the loss of one micro-batch for the head spec describes,
// with the explanation of every decision. Errors name the input, the example
// and the value; no tensor panic escapes for bad user input.
func Compute(spec Spec, in Inputs) (res Result, err error) {
	defer func() {
		// A panic here is a kiln bug or an input combination validation
		// missed: report it as an error rather than crash the trainer.
		if r := recover(); r != nil {
			res, err = Result{}, fmt.Errorf("task %s: internal error: %v", spec.Kind, r)
		}
	}()
	if in.NumItemsInBatch < 0 {
		return Result{}, fmt.Errorf("num_items_in_batch = %d; it must be >= 0", in.NumItemsInBatch)
	}
	if spec.LabelSmoothing < 0 || spec.LabelSmoothing > 1 || math.IsNaN(spec.LabelSmoothing) {
		return Result{}, fmt.Errorf("label_smoothing = %v; it must lie in [0, 1]", spec.LabelSmoothing)
	}
	ex := Explanation{Kind: spec.Kind}
	var l *tensor.Tensor
	switch spec.Kind {
	case CausalLM, MaskedLM, TokenClassification:
		l, err = spec.sequenceLabels(in, &ex)
	case SequenceClassification:
		l, err = spec.sequenceClassification(in, &ex)
	case QuestionAnswering:
		l, err = spec.questionAnswering(in, &ex)
	case MultipleChoice:
		l, err = spec.multipleChoice(in, &ex)
	default:
		_, err = ParseKind(string(spec.Kind))
		if err == nil {
			err = fmt.Errorf("task %q: use the kind's canonical name", spec.Kind)
		}
	}
	if err != nil {
		return Result{}, err
	}
	return Result{Loss: l, Explanation: ex}, nil
}

// needInt64 returns an error unless t is an int64 tensor.
func needInt64(what string, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("%s are missing", what)
	}
	if t.DType() != tensor.Int64 {
		return fmt.Errorf("%s have dtype %v; want int64 class ids (-100 = ignore)", what, t.DType())
	}
	return nil
}

// needFloat returns an error unless t is a float tensor.
func needFloat(what string, t *tensor.Tensor) error {
	if t == nil {
		return fmt.Errorf("%s are missing", what)
	}
	if !t.DType().IsFloat() {
		return fmt.Errorf("%s have dtype %v; want float32 or float64", what, t.DType())
	}
	return nil
}

// checkLabels returns an error for the first label outside [0,C) that is
// not IgnoreIndex, naming its example and position.
func checkLabels(what string, labels *tensor.Tensor, C int) error {
	shape := labels.Shape()
	for i, y := range labels.Int64s() {
		if y != IgnoreIndex && (y < 0 || y >= int64(C)) {
			return fmt.Errorf("%s: label %d at %s is out of range [0, %d) (use %d to ignore a position)", what, y, loss.Position(shape, i), C, IgnoreIndex)
		}
	}
	return nil
}

// countNotIgnored counts the labels that are not IgnoreIndex.
func countNotIgnored(ids []int64) int64 {
	var n int64
	for _, y := range ids {
		if y != IgnoreIndex {
			n++
		}
	}
	return n
}

// shiftLeft returns labels (B,T) shifted left by one with IgnoreIndex in the
// last column: position t is scored against labels[t+1].
func shiftLeft(labels *tensor.Tensor) *tensor.Tensor {
	shape := labels.Shape()
	T := shape[len(shape)-1]
	ids := labels.Int64s()
	out := make([]int64, len(ids))
	for r := 0; r < len(ids)/max(T, 1); r++ {
		copy(out[r*T:(r+1)*T-1], ids[r*T+1:(r+1)*T])
		out[(r+1)*T-1] = IgnoreIndex
	}
	return tensor.FromInt64(out, shape...)
}

// classLoss computes the head's class-index loss for logits x (M,C) against
// ids y (M): cross-entropy by default (class weights and smoothing from the
// spec), focal or any registered loss when the spec names one. It applies
// the normalisation and fills the explanation.
func (s Spec) classLoss(x, y *tensor.Tensor, numItems int64, smooth float64, ex *Explanation) (*tensor.Tensor, error) {
	red := loss.Mean
	if numItems > 0 {
		red = loss.Sum
	}
	items := countNotIgnored(y.Int64s())
	ex.Items = items
	cfg := s.LossConfig
	name := s.Loss
	if name == "" {
		name = "cross_entropy"
	}
	ex.Loss = name
	var l *tensor.Tensor
	var err error
	var rep loss.Report
	switch name {
	case "cross_entropy":
		if len(cfg.Params) > 0 {
			return nil, fmt.Errorf("loss cross_entropy: unknown options %v", cfg.Params)
		}
		eps := cfg.LabelSmoothing
		if smooth > 0 {
			eps = smooth
		}
		l, err = loss.CrossEntropy(x, y, loss.CrossEntropyOptions{Reduction: red, Weight: cfg.ClassWeights,
			IgnoreIndex: loss.Ignore(IgnoreIndex), LabelSmoothing: eps, Report: &rep})
		if eps > 0 {
			ex.Notes = append(ex.Notes, fmt.Sprintf("label smoothing ε = %v", eps))
		}
	case "focal":
		gamma := 2.0
		for k, v := range cfg.Params {
			if k != "gamma" {
				return nil, fmt.Errorf("loss focal: unknown option %s (known: gamma)", k)
			}
			gamma = v
		}
		l, err = loss.Focal(x, y, loss.FocalOptions{Reduction: red, Gamma: gamma, Alpha: cfg.ClassWeights,
			IgnoreIndex: loss.Ignore(IgnoreIndex), Report: &rep})
		rep.Divisor = float64(items)
		if smooth > 0 {
			ex.Notes = append(ex.Notes, "label smoothing is not applied to the focal loss")
		}
	default:
		fn, lerr := loss.Lookup(name)
		if lerr != nil {
			return nil, lerr
		}
		cfg.Reduction = red
		l, err = fn(x, y, cfg)
		rep.Divisor = float64(items)
	}
	if err != nil {
		return nil, err
	}
	if cfg.ClassWeights != nil {
		ex.Notes = append(ex.Notes, fmt.Sprintf("class weights %v", cfg.ClassWeights))
	}
	switch {
	case numItems > 0:
		ex.Divisor = fmt.Sprintf("sum over %d non-ignored labels / num_items_in_batch %d", items, numItems)
		l = tensor.MulScalar(l, 1/float64(numItems))
	case items == 0:
		ex.Divisor = "mean over 0 non-ignored labels"
		ex.Warnings = append(ex.Warnings, "every label of this batch is ignored: loss 0 with a zero gradient (PyTorch gives NaN)")
	case cfg.ClassWeights != nil && name == "cross_entropy":
		ex.Divisor = fmt.Sprintf("weighted mean over %d non-ignored labels (divisor: their class-weight sum %.6g)", items, rep.Divisor)
	default:
		ex.Divisor = fmt.Sprintf("mean over %d non-ignored labels", items)
	}
	return l, nil
}

// sequenceLabels handles the causal LM, masked LM and token classification
// heads: logits (B,T,C), labels (B,T), flattened cross-entropy.
func (s Spec) sequenceLabels(in Inputs, ex *Explanation) (*tensor.Tensor, error) {
	what := string(s.Kind)
	if err := needFloat(what+": logits", in.Logits); err != nil {
		return nil, err
	}
	x := in.Logits
	if x.Rank() != 3 {
		return nil, fmt.Errorf("%s: logits have shape %v; want (batch, seq_len, classes)", what, x.Shape())
	}
	B, T, C := x.Dim(0), x.Dim(1), x.Dim(2)
	if s.Kind == TokenClassification && s.NumLabels > 0 && C != s.NumLabels {
		return nil, fmt.Errorf("%s: logits have %d classes but num_labels = %d", what, C, s.NumLabels)
	}
	labels := in.Labels
	given := s.Kind == CausalLM && in.ShiftLabels != nil
	if given {
		labels = in.ShiftLabels
	}
	name := "labels"
	if given {
		name = "shift_labels"
	}
	if err := needInt64(what+": "+name, labels); err != nil {
		return nil, err
	}
	if !equalInts(labels.Shape(), []int{B, T}) {
		return nil, fmt.Errorf("%s: %s have shape %v; want (%d, %d) to match logits %v", what, name, labels.Shape(), B, T, x.Shape())
	}
	if err := checkLabels(what+": "+name, labels, C); err != nil {
		return nil, err
	}
	y := labels
	switch {
	case s.Kind == CausalLM && !given:
		y = shiftLeft(labels)
		ex.Reason = "labels shifted left by one (position t predicts token t+1)"
	case given:
		ex.Reason = "shift_labels given: no shift"
	}
	if x.DType() == tensor.Float64 && s.Kind != SequenceClassification {
		ex.Notes = append(ex.Notes, "float64 logits are kept in float64 (HF casts LM and token-classification logits to float32)")
	}
	return s.classLoss(tensor.Reshape(x, B*T, C), tensor.Reshape(y, B*T), in.NumItemsInBatch, s.LabelSmoothing, ex)
}

// multipleChoice reshapes per-choice scores to (B,K) and applies
// cross-entropy over the choices.
func (s Spec) multipleChoice(in Inputs, ex *Explanation) (*tensor.Tensor, error) {
	const what = "multiple_choice"
	if err := needFloat(what+": logits", in.Logits); err != nil {
		return nil, err
	}
	if err := needInt64(what+": labels", in.Labels); err != nil {
		return nil, err
	}
	K := s.NumChoices
	n := in.Logits.NumElems()
	if K <= 0 {
		if in.Logits.Rank() != 2 || in.Logits.Dim(1) == 1 {
			return nil, fmt.Errorf("%s: num_choices is not set and logits %v do not show it", what, in.Logits.Shape())
		}
		K = in.Logits.Dim(1)
	}
	if n%K != 0 {
		return nil, fmt.Errorf("%s: %d scores do not split into groups of num_choices = %d", what, n, K)
	}
	B := n / K
	if !equalInts(in.Labels.Shape(), []int{B}) {
		return nil, fmt.Errorf("%s: labels have shape %v; want (%d): one choice per question", what, in.Labels.Shape(), B)
	}
	if err := checkLabels(what+": labels", in.Labels, K); err != nil {
		return nil, err
	}
	ex.Reason = fmt.Sprintf("%d questions x %d choices", B, K)
	return s.classLoss(tensor.Reshape(in.Logits, B, K), in.Labels, in.NumItemsInBatch, s.LabelSmoothing, ex)
}

// questionAnswering clamps positions to [0,T], ignores T, and averages the
// start and end cross-entropies.
func (s Spec) questionAnswering(in Inputs, ex *Explanation) (*tensor.Tensor, error) {
	const what = "question_answering"
	if err := needFloat(what+": start logits", in.StartLogits); err != nil {
		return nil, err
	}
	if err := needFloat(what+": end logits", in.EndLogits); err != nil {
		return nil, err
	}
	st, en := in.StartLogits, in.EndLogits
	if st.Rank() != 2 || !equalInts(st.Shape(), en.Shape()) {
		return nil, fmt.Errorf("%s: start logits %v and end logits %v must both be (batch, seq_len)", what, st.Shape(), en.Shape())
	}
	B, T := st.Dim(0), st.Dim(1)
	pos := func(name string, p *tensor.Tensor) (*tensor.Tensor, int64, error) {
		if err := needInt64(what+": "+name, p); err != nil {
			return nil, 0, err
		}
		if !equalInts(p.Shape(), []int{B}) && !equalInts(p.Shape(), []int{B, 1}) {
			return nil, 0, fmt.Errorf("%s: %s have shape %v; want (%d) or (%d, 1)", what, name, p.Shape(), B, B)
		}
		ids := p.Int64s()
		var items int64
		for i, v := range ids {
			switch {
			case v < 0:
				ex.Warnings = append(ex.Warnings, fmt.Sprintf("%s %d of example %d clamped to 0 and trained towards the first token (as HF)", name, v, i))
				ids[i] = 0
			case v >= int64(T):
				ids[i] = int64(T)
			}
			if ids[i] != int64(T) {
				items++
			}
		}
		return tensor.FromInt64(ids, B), items, nil
	}
	sp, ns, err := pos("start_positions", in.StartPositions)
	if err != nil {
		return nil, err
	}
	ep, ne, err := pos("end_positions", in.EndPositions)
	if err != nil {
		return nil, err
	}
	red := loss.Mean
	if in.NumItemsInBatch > 0 {
		red = loss.Sum
	}
	o := loss.CrossEntropyOptions{Reduction: red, IgnoreIndex: loss.Ignore(int64(T)), Weight: nil}
	ls, err := loss.CrossEntropy(st, sp, o)
	if err != nil {
		return nil, err
	}
	le, err := loss.CrossEntropy(en, ep, o)
	if err != nil {
		return nil, err
	}
	l := tensor.MulScalar(tensor.Add(ls, le), 0.5)
	ex.Loss = "cross_entropy"
	ex.Items = ns
	ex.Reason = fmt.Sprintf("positions clamped to [0, %d], positions >= %d ignored", T, T)
	if s.LabelSmoothing > 0 {
		ex.Notes = append(ex.Notes, "label smoothing is not applied to question answering (as HF)")
	}
	if s.Loss != "" && s.Loss != "cross_entropy" {
		return nil, fmt.Errorf("%s: loss %q is not supported for span positions; only cross_entropy", what, s.Loss)
	}
	switch {
	case in.NumItemsInBatch > 0:
		l = tensor.MulScalar(l, 1/float64(in.NumItemsInBatch))
		ex.Divisor = fmt.Sprintf("(start sum + end sum) / 2 / num_items_in_batch %d", in.NumItemsInBatch)
	default:
		ex.Divisor = fmt.Sprintf("mean of start (%d answers) and end (%d answers) cross-entropy means", ns, ne)
		if ns == 0 || ne == 0 {
			ex.Warnings = append(ex.Warnings, "every start or end position of this batch is ignored: that term is 0 with a zero gradient (PyTorch gives NaN)")
		}
	}
	return l, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
