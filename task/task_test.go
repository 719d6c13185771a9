package task

import (
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/tensor"
)

// f32 / i64 build small test tensors.
func f32(shape []int, v ...float32) *tensor.Tensor { return tensor.FromFloat32(v, shape...) }
func i64(shape []int, v ...int64) *tensor.Tensor   { return tensor.FromInt64(v, shape...) }

func randn(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandN(tensor.NewRNG(seed), tensor.Float64, 1.5, shape...)
}

func mustCompute(t *testing.T, s Spec, in Inputs) Result {
	t.Helper()
	r, err := Compute(s, in)
	if err != nil {
		t.Fatalf("Compute(%+v): %v", s, err)
	}
	return r
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*(1+math.Abs(b)) }

// TestDecisionTable walks HF's sequence-classification table row by row:
// the resolved problem type, the loss, and the explanation.
func TestDecisionTable(t *testing.T) {
	x1 := randn(1, 4, 1)
	x3 := randn(2, 4, 3)
	for _, tc := range []struct {
		name     string
		spec     Spec
		logits   *tensor.Tensor
		labels   *tensor.Tensor
		pt       ProblemType
		inferred bool
		lossName string
		explain  string
	}{
		{"1 label float -> regression", Spec{NumLabels: 1}, x1, tensor.FromFloat64([]float64{0.5, -1, 2, 0}, 4), Regression, true, "mse", "1 label, float64 labels"},
		{"1 label int -> regression + note", Spec{NumLabels: 1}, x1, i64([]int{4}, 1, 0, 2, 1), Regression, true, "mse", "converted to float64"},
		{"3 labels int -> single-label", Spec{NumLabels: 3}, x3, i64([]int{4}, 2, 0, 1, 1), SingleLabel, true, "cross_entropy", "3 labels, integer labels -> single-label-classification (inferred) -> cross_entropy, mean over 4 non-ignored labels"},
		{"3 labels float -> multi-label", Spec{NumLabels: 3}, x3, tensor.FromFloat64(make([]float64, 12), 4, 3), MultiLabel, true, "bce_with_logits", "float labels made this task multi-label"},
		{"3 labels bool -> multi-label", Spec{NumLabels: 3}, x3, tensor.FromBool(make([]bool, 12), 4, 3), MultiLabel, true, "bce_with_logits", "bool multi-hot labels converted"},
		{"explicit regression, 3 outputs", Spec{NumLabels: 3, ProblemType: Regression}, x3, randn(3, 4, 3), Regression, false, "mse", "regression (given)"},
		{"explicit multi-label, int labels converted", Spec{NumLabels: 3, ProblemType: MultiLabel}, x3, i64([]int{4, 3}, 1, 0, 1, 0, 0, 0, 1, 1, 1, 0, 1, 0), MultiLabel, false, "bce_with_logits", "int64 multi-hot labels converted"},
		{"override wins: focal", Spec{NumLabels: 3, Loss: "focal"}, x3, i64([]int{4}, 2, 0, 1, 1), SingleLabel, true, "focal", "-> focal"},
		{"override wins: huber", Spec{NumLabels: 1, Loss: "huber", LossConfig: loss.Config{Params: map[string]float64{"delta": 0.5}}}, x1, tensor.FromFloat64([]float64{0.5, -1, 2, 0}, 4), Regression, true, "huber", "-> huber"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.spec.Kind = SequenceClassification
			r := mustCompute(t, tc.spec, Inputs{Logits: tc.logits, Labels: tc.labels})
			e := r.Explanation
			if e.ProblemType != tc.pt || e.Inferred != tc.inferred || e.Loss != tc.lossName {
				t.Errorf("got %s inferred=%v loss %s; want %s %v %s", e.ProblemType, e.Inferred, e.Loss, tc.pt, tc.inferred, tc.lossName)
			}
			if s := e.String(); !strings.Contains(s, tc.explain) {
				t.Errorf("explanation %q lacks %q", s, tc.explain)
			}
			if v := r.Loss.Item(); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Errorf("loss %v", v)
			}
		})
	}
}

// TestIntLabelsNumLabels1Trainable: HF computes MSE(float, long) and fails
// in backward (#27707); kiln converts and trains, with the reference value.
func TestIntLabelsNumLabels1Trainable(t *testing.T) {
	// err_mse_long_target_num_labels1: forward 3.9088593 in PyTorch.
	x := f32([]int{4, 1}, 0.20000, -1.03200, 0.48000, -0.99900)
	x.SetRequiresGrad(true)
	r := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 1}, Inputs{Logits: x, Labels: i64([]int{4}, 1, 0, 2, 1)})
	r.Loss.Backward()
	if x.Grad() == nil {
		t.Fatal("no gradient")
	}
	var want float64
	for i, y := range []float64{1, 0, 2, 1} {
		d := float64(x.Float32s()[i]) - y
		want += d * d / 4
	}
	if !near(r.Loss.Item(), want, 1e-6) {
		t.Errorf("loss %v, want %v", r.Loss.Item(), want)
	}
}

// TestBetterThanHFErrors: the inputs on which HF broadcasts, crashes late or
// crashes with a confusing message give errors naming the example and value.
func TestBetterThanHFErrors(t *testing.T) {
	x3 := randn(2, 4, 3)
	for _, tc := range []struct {
		name string
		spec Spec
		in   Inputs
		want string
	}{
		{"regression shape mismatch", Spec{Kind: SequenceClassification, NumLabels: 1},
			Inputs{Logits: randn(1, 4, 1), Labels: randn(2, 4, 2)}, "want (4) or (4, 1)"},
		{"multi-target regression broadcast", Spec{Kind: SequenceClassification, NumLabels: 3, ProblemType: Regression},
			Inputs{Logits: x3, Labels: randn(2, 4)}, "kiln does not broadcast"},
		{"label out of range", Spec{Kind: SequenceClassification, NumLabels: 3},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, 1, 7, 2)}, "label 7 at example 2 is out of range [0, 3)"},
		{"negative label", Spec{Kind: SequenceClassification, NumLabels: 3},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, -1, 1, 2)}, "label -1 at example 1"},
		{"int multi-hot with inferred single-label", Spec{Kind: SequenceClassification, NumLabels: 3},
			Inputs{Logits: x3, Labels: i64([]int{4, 3}, make([]int64, 12)...)}, "use float labels or set problem_type multi_label_classification"},
		{"invalid problem type", Spec{Kind: SequenceClassification, NumLabels: 3, ProblemType: "multilabel"},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, 1, 1, 2)}, `problem_type "multilabel" invalid`},
		{"multi-label target outside [0,1]", Spec{Kind: SequenceClassification, NumLabels: 3},
			Inputs{Logits: x3, Labels: tensor.FromFloat64([]float64{0, 1, 0, 1, -100, 0, 0, 0, 0, 1, 1, 1}, 4, 3)}, "-100 at example 1, position 1"},
		{"num_labels mismatch", Spec{Kind: SequenceClassification, NumLabels: 5},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, 1, 1, 2)}, "num_labels = 5"},
		{"token label out of range", Spec{Kind: TokenClassification, NumLabels: 3},
			Inputs{Logits: randn(3, 2, 4, 3), Labels: i64([]int{2, 4}, -100, 0, 1, 2, 0, 3, -100, -100)}, "label 3 at example 1, position 1"},
		{"causal labels shape", Spec{Kind: CausalLM},
			Inputs{Logits: randn(3, 2, 4, 5), Labels: i64([]int{2, 3}, 0, 1, 2, 3, 4, 0)}, "want (2, 4)"},
		{"float causal labels", Spec{Kind: CausalLM},
			Inputs{Logits: randn(3, 2, 4, 5), Labels: randn(4, 2, 4)}, "want int64 class ids"},
		{"unknown override", Spec{Kind: SequenceClassification, NumLabels: 3, Loss: "fancy"},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, 1, 1, 2)}, `loss "fancy" is not registered`},
		{"unknown loss option", Spec{Kind: SequenceClassification, NumLabels: 3, Loss: "focal", LossConfig: loss.Config{Params: map[string]float64{"gama": 2}}},
			Inputs{Logits: x3, Labels: i64([]int{4}, 0, 1, 1, 2)}, "unknown option gama"},
		{"multiple choice labels", Spec{Kind: MultipleChoice, NumChoices: 4},
			Inputs{Logits: randn(5, 8, 1), Labels: i64([]int{2}, 4, 0)}, "label 4 at example 0 is out of range [0, 4)"},
		{"missing labels", Spec{Kind: MaskedLM}, Inputs{Logits: randn(3, 2, 4, 5)}, "labels are missing"},
		{"unknown kind", Spec{Kind: "summarization"}, Inputs{}, `task "summarization" unknown`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compute(tc.spec, tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
}

// TestAllIgnoredBatch: loss 0, zero gradient, a counted warning; PyTorch
// gives NaN.
func TestAllIgnoredBatch(t *testing.T) {
	x := randn(7, 2, 3, 5)
	x.SetRequiresGrad(true)
	before := loss.AllIgnoredBatches()
	r := mustCompute(t, Spec{Kind: TokenClassification, NumLabels: 5}, Inputs{Logits: x, Labels: i64([]int{2, 3}, -100, -100, -100, -100, -100, -100)})
	if v := r.Loss.Item(); v != 0 {
		t.Errorf("loss %v, want 0", v)
	}
	r.Loss.Backward()
	for _, g := range x.Grad().Float64s() {
		if g != 0 {
			t.Fatalf("gradient %v, want all zeros", x.Grad())
		}
	}
	if loss.AllIgnoredBatches() != before+1 {
		t.Errorf("all-ignored count did not go up")
	}
	if len(r.Explanation.Warnings) == 0 || !strings.Contains(r.Explanation.String(), "PyTorch gives NaN") {
		t.Errorf("no warning in %q", r.Explanation)
	}
}

// TestQuestionAnsweringClamp: positions clamp to [0,T], T is ignored, a
// negative position trains towards index 0 and is reported.
func TestQuestionAnsweringClamp(t *testing.T) {
	st, en := randn(1, 3, 6), randn(2, 3, 6)
	in := Inputs{StartLogits: st, EndLogits: en, StartPositions: i64([]int{3}, 2, 7, -1), EndPositions: i64([]int{3, 1}, 4, 6, 9)}
	r := mustCompute(t, Spec{Kind: QuestionAnswering}, in)
	s, _ := loss.CrossEntropy(st, i64([]int{3}, 2, 6, 0), loss.CrossEntropyOptions{IgnoreIndex: loss.Ignore(6)})
	e, _ := loss.CrossEntropy(en, i64([]int{3}, 4, 6, 6), loss.CrossEntropyOptions{IgnoreIndex: loss.Ignore(6)})
	if want := (s.Item() + e.Item()) / 2; !near(r.Loss.Item(), want, 1e-12) {
		t.Errorf("loss %v, want %v", r.Loss.Item(), want)
	}
	if !strings.Contains(r.Explanation.String(), "start_positions -1 of example 2 clamped to 0") {
		t.Errorf("explanation %q", r.Explanation)
	}
}

// TestCausalShiftAndCount: position t is scored against labels[t+1] and the
// count is taken after the shift.
func TestCausalShiftAndCount(t *testing.T) {
	x := randn(3, 2, 4, 5)
	labels := i64([]int{2, 4}, 1, 2, -100, 4, -100, 0, 3, -100)
	in := Inputs{Logits: x, Labels: labels}
	n, err := CountItems(Spec{Kind: CausalLM}, in)
	if err != nil || n != 4 { // shifted: [2,-100,4,-] [0,3,-100,-]
		t.Fatalf("CountItems = %d, %v; want 4", n, err)
	}
	r := mustCompute(t, Spec{Kind: CausalLM}, in)
	shifted := i64([]int{8}, 2, -100, 4, -100, 0, 3, -100, -100)
	want, _ := loss.CrossEntropy(tensor.Reshape(x, 8, 5), shifted, loss.CrossEntropyOptions{})
	if !near(r.Loss.Item(), want.Item(), 1e-12) {
		t.Errorf("loss %v, want %v", r.Loss.Item(), want.Item())
	}
	if r.Explanation.Items != 4 || !strings.Contains(r.Explanation.String(), "mean over 4 non-ignored labels") {
		t.Errorf("explanation %q", r.Explanation)
	}
}

// TestGradientAccumulation: 4 micro-batches with num_items_in_batch give the
// gradient of one batch 4 times the size; per-micro-batch means ÷ 4 do not
// (the micro-batches have different numbers of labelled tokens).
func TestGradientAccumulation(t *testing.T) {
	spec := Spec{Kind: CausalLM}
	const B, T, V = 2, 6, 7
	labelRows := [][]int64{
		{5, 1, 2, -100, -100, -100}, {3, 3, 3, 3, 3, 3},
		{-100, -100, -100, -100, 1, 2}, {0, 6, -100, -100, -100, -100},
		{1, 2, 3, 4, 5, 6}, {2, -100, -100, -100, -100, -100},
		{6, 5, 4, 3, -100, -100}, {-100, -100, -100, -100, -100, -100},
	}
	var micro []Inputs
	var xs, ys []*tensor.Tensor
	for m := 0; m < 4; m++ {
		x := randn(uint64(10+m), B, T, V)
		y := i64([]int{B, T}, append(append([]int64{}, labelRows[2*m]...), labelRows[2*m+1]...)...)
		micro = append(micro, Inputs{Logits: x, Labels: y})
		xs, ys = append(xs, x), append(ys, y)
	}
	n, err := CountGroup(spec, micro)
	if err != nil {
		t.Fatal(err)
	}
	// The full batch: one mean over all 8 rows.
	full := tensor.Detach(tensor.Concat(0, xs...)).SetRequiresGrad(true)
	r := mustCompute(t, spec, Inputs{Logits: full, Labels: tensor.Concat(0, ys...)})
	r.Loss.Backward()
	want := full.Grad().Float64s()

	accum := func(numItems bool) []float64 {
		var got []float64
		for _, in := range micro {
			x := tensor.Detach(in.Logits).SetRequiresGrad(true)
			in2 := Inputs{Logits: x, Labels: in.Labels}
			if numItems {
				in2.NumItemsInBatch = n
			}
			res := mustCompute(t, spec, in2)
			l := res.Loss
			if !numItems {
				l = tensor.MulScalar(l, 0.25) // per-micro-batch mean ÷ GA (HF without loss kwargs)
			}
			l.Backward()
			got = append(got, x.Grad().Float64s()...)
		}
		return got
	}
	maxDiff := func(got []float64) float64 {
		d := 0.0
		for i := range got {
			d = max(d, math.Abs(got[i]-want[i]))
		}
		return d
	}
	if d := maxDiff(accum(true)); d > 1e-12 {
		t.Errorf("num_items_in_batch: gradient differs from the full batch by %g", d)
	}
	if d := maxDiff(accum(false)); d < 1e-3 {
		t.Errorf("per-micro-batch mean matched the full batch (diff %g): the test does not discriminate", d)
	}
}

// TestLabelSmoothing: trainer-level ε equals HF's LabelSmoother, is off
// for multi-label (warning) and regression (note).
func TestLabelSmoothing(t *testing.T) {
	x := randn(4, 4, 5)
	y := i64([]int{4}, 1, -100, 4, 0)
	r := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 5, LabelSmoothing: 0.1}, Inputs{Logits: x, Labels: y})
	ls, err := LabelSmoother{Epsilon: 0.1}.Loss(x, y, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !near(r.Loss.Item(), ls.Item(), 1e-12) {
		t.Errorf("smoothed CE %v, LabelSmoother %v", r.Loss.Item(), ls.Item())
	}
	ml := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 5, LabelSmoothing: 0.1},
		Inputs{Logits: x, Labels: tensor.FromFloat64(make([]float64, 20), 4, 5)})
	plain := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 5},
		Inputs{Logits: x, Labels: tensor.FromFloat64(make([]float64, 20), 4, 5)})
	if ml.Loss.Item() != plain.Loss.Item() || !strings.Contains(ml.Explanation.String(), "label smoothing is disabled for multi-label") {
		t.Errorf("multi-label smoothing not disabled: %v vs %v, %q", ml.Loss.Item(), plain.Loss.Item(), ml.Explanation)
	}
}

// TestClassWeightsEveryHead: class weights and the focal loss reach every
// classification head through the spec.
func TestClassWeightsEveryHead(t *testing.T) {
	w := loss.Config{ClassWeights: []float64{0.5, 2, 1}}
	cases := []struct {
		spec Spec
		in   Inputs
	}{
		{Spec{Kind: SequenceClassification, NumLabels: 3}, Inputs{Logits: randn(1, 4, 3), Labels: i64([]int{4}, 0, 1, 2, 1)}},
		{Spec{Kind: TokenClassification, NumLabels: 3}, Inputs{Logits: randn(2, 2, 3, 3), Labels: i64([]int{2, 3}, 0, 1, -100, 2, 2, 1)}},
		{Spec{Kind: MultipleChoice, NumChoices: 3}, Inputs{Logits: randn(3, 6, 1), Labels: i64([]int{2}, 2, 1)}},
	}
	for _, c := range cases {
		plain := mustCompute(t, c.spec, c.in).Loss.Item()
		s := c.spec
		s.LossConfig = w
		weighted := mustCompute(t, s, c.in)
		if weighted.Loss.Item() == plain || !strings.Contains(weighted.Explanation.String(), "class weights") {
			t.Errorf("%s: class weights had no effect (%v)", c.spec.Kind, plain)
		}
		s.Loss = "focal"
		focal := mustCompute(t, s, c.in)
		if v := focal.Loss.Item(); focal.Explanation.Loss != "focal" || v == weighted.Loss.Item() || !(v > 0) {
			t.Errorf("%s: focal %v (weighted CE %v)", c.spec.Kind, v, weighted.Loss.Item())
		}
	}
	// pos_weight for multi-label.
	y := tensor.FromFloat64([]float64{1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0}, 4, 3)
	plain := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 3}, Inputs{Logits: randn(1, 4, 3), Labels: y})
	pw := mustCompute(t, Spec{Kind: SequenceClassification, NumLabels: 3, LossConfig: loss.Config{PosWeight: []float64{3, 3, 3}}}, Inputs{Logits: randn(1, 4, 3), Labels: y})
	if pw.Loss.Item() <= plain.Loss.Item() {
		t.Errorf("pos_weight 3 did not raise the loss: %v vs %v", pw.Loss.Item(), plain.Loss.Item())
	}
}

// TestHeadPinsProblemType: like HF's config mutation, the first batch fixes
// the problem type; a batch that would infer differently is an error.
func TestHeadPinsProblemType(t *testing.T) {
	h := &Head{Spec: Spec{Kind: SequenceClassification, NumLabels: 3}}
	x := randn(1, 4, 3)
	if _, err := h.Loss(Inputs{Logits: x, Labels: i64([]int{4}, 0, 1, 2, 1)}); err != nil {
		t.Fatal(err)
	}
	if h.ProblemType() != SingleLabel {
		t.Errorf("pinned %q", h.ProblemType())
	}
	_, err := h.Loss(Inputs{Logits: x, Labels: tensor.FromFloat64(make([]float64, 12), 4, 3)})
	if err == nil || !strings.Contains(err.Error(), "first batch fixed the problem type") {
		t.Errorf("error %v", err)
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{
		"BertForSequenceClassification": SequenceClassification, "LlamaForCausalLM": CausalLM,
		"GPT2LMHeadModel": CausalLM, "token_classification": TokenClassification,
		"RobertaForMaskedLM": MaskedLM, "BertForQuestionAnswering": QuestionAnswering,
	} {
		if k, err := ParseKind(in); err != nil || k != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, k, err, want)
		}
	}
	if _, err := ParseKind("BertModel"); err == nil {
		t.Error("BertModel: no error")
	}
}

func TestAccounting(t *testing.T) {
	var e EvalLoss
	e.Add(2, 4, 2)
	e.Add(1, 1, 2)
	if e.TokenMean() != 9.0/5 || e.SampleMean() != 1.5 {
		t.Errorf("token %v sample %v", e.TokenMean(), e.SampleMean())
	}
	var l LossLog
	for _, v := range []float64{1, math.NaN(), 3} {
		l.Add(v)
	}
	if got := l.Logged(); got != 1.5 {
		t.Errorf("logged %v, want 1.5", got)
	}
}

// TestNoPanicsReachTheUser: malformed inputs give errors, never panics.
func TestNoPanicsReachTheUser(t *testing.T) {
	bad := []Inputs{
		{}, {Logits: randn(1, 3)}, {Logits: randn(1, 2, 3), Labels: i64([]int{3}, 0, 1, 2)},
		{Logits: tensor.FromInt64([]int64{1, 2}, 1, 2), Labels: i64([]int{1}, 0)},
		{StartLogits: randn(1, 2, 3)},
	}
	for _, k := range kinds {
		for i, in := range bad {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("%s input %d: panic %v", k, i, r)
					}
				}()
				if _, err := Compute(Spec{Kind: k, NumLabels: 3, NumChoices: 2}, in); err == nil {
					t.Errorf("%s input %d: no error", k, i)
				}
			}()
		}
	}
}
