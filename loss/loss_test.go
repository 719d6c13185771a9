package loss_test

import (
	"math"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/loss"
	"github.com/kiln-ml/kiln/loss/losstest"
	"github.com/kiln-ml/kiln/tensor"
)

// TestBuiltinsConform runs the conformance suite on every built-in loss.
func TestBuiltinsConform(t *testing.T) {
	kinds := map[string]losstest.Target{
		"cross_entropy": losstest.ClassIDs, "focal": losstest.ClassIDs,
		"multi_margin":    losstest.ClassIDsNoIgnore,
		"bce_with_logits": losstest.Binary, "binary_cross_entropy_with_logits": losstest.Binary,
		"sigmoid_focal": losstest.Binary,
		"mse":           losstest.Real, "l1": losstest.Real, "smooth_l1": losstest.Real, "huber": losstest.Real,
		"hinge_embedding": losstest.Signs, "kl_div": losstest.Probabilities,
	}
	for _, name := range loss.Names() {
		kind, ok := kinds[name]
		if !ok {
			t.Errorf("built-in %q has no conformance entry", name)
			continue
		}
		fn, err := loss.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { losstest.Run(t, fn, kind) })
	}
}

func TestRegistry(t *testing.T) {
	double := func(x, y *tensor.Tensor, c loss.Config) (*tensor.Tensor, error) {
		l, err := loss.MSE(x, y, c.Reduction)
		if err != nil {
			return nil, err
		}
		return tensor.MulScalar(l, 2), nil
	}
	if err := loss.Register("double_mse_test", double); err != nil {
		t.Fatal(err)
	}
	if err := loss.Register("double_mse_test", double); err == nil {
		t.Error("duplicate registration: no error")
	}
	if err := loss.Register("Bad Name", double); err == nil {
		t.Error("bad name: no error")
	}
	if _, err := loss.Lookup("double_mse_test"); err != nil {
		t.Error(err)
	}
	_, err := loss.Lookup("nope")
	if err == nil || !strings.Contains(err.Error(), "focal") {
		t.Errorf("unknown loss error %v should list the known names", err)
	}
	fn, _ := loss.Lookup("focal")
	x := tensor.FromFloat64([]float64{1, 2, 3, 4}, 2, 2)
	y := tensor.FromInt64([]int64{0, 1}, 2)
	if _, err := fn(x, y, loss.Config{Params: map[string]float64{"gama": 1}}); err == nil || !strings.Contains(err.Error(), "unknown option gama") {
		t.Errorf("typo in option: %v", err)
	}
	mse, _ := loss.Lookup("mse")
	if _, err := mse(x, x, loss.Config{LabelSmoothing: 0.1}); err == nil {
		t.Error("mse with label smoothing: no error")
	}
}

// TestFocalReducesToCrossEntropy: γ = 0 and no α is plain cross-entropy;
// γ > 0 down-weights confident rows.
func TestFocalReducesToCrossEntropy(t *testing.T) {
	x := tensor.RandN(tensor.NewRNG(3), tensor.Float64, 2, 5, 4)
	y := tensor.FromInt64([]int64{0, 3, -100, 2, 1}, 5)
	ce, _ := loss.CrossEntropy(x, y, loss.CrossEntropyOptions{})
	f0, _ := loss.Focal(x, y, loss.FocalOptions{})
	f2, _ := loss.Focal(x, y, loss.FocalOptions{Gamma: 2})
	if math.Abs(ce.Item()-f0.Item()) > 1e-12 || !(f2.Item() < f0.Item()) {
		t.Errorf("CE %v, focal γ=0 %v, γ=2 %v", ce.Item(), f0.Item(), f2.Item())
	}
	yb := tensor.FromFloat64([]float64{1, 0, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 0, 1}, 5, 4)
	bce, _ := loss.BCEWithLogits(x, yb, loss.BCEOptions{})
	sf, _ := loss.SigmoidFocal(x, yb, loss.FocalOptions{})
	if math.Abs(bce.Item()-sf.Item()) > 1e-12 {
		t.Errorf("BCE %v, sigmoid focal γ=0 %v", bce.Item(), sf.Item())
	}
}

// TestAllIgnored: 0 with a zero gradient by default, NaN (still a zero
// gradient) with TorchEmptyMean.
func TestAllIgnored(t *testing.T) {
	for _, torch := range []bool{false, true} {
		x := tensor.FromFloat32([]float32{1, 2, 3, 4, 5, 6}, 2, 3).SetRequiresGrad(true)
		var rep loss.Report
		l, err := loss.CrossEntropy(x, tensor.FromInt64([]int64{-100, -100}, 2), loss.CrossEntropyOptions{TorchEmptyMean: torch, Report: &rep})
		if err != nil {
			t.Fatal(err)
		}
		l.Backward()
		if v := l.Item(); (torch && !math.IsNaN(v)) || (!torch && v != 0) || !rep.AllIgnored {
			t.Errorf("TorchEmptyMean=%v: loss %v, report %+v", torch, v, rep)
		}
		for _, g := range x.Grad().Float64s() {
			if g != 0 {
				t.Errorf("TorchEmptyMean=%v: gradient %v", torch, x.Grad())
				break
			}
		}
	}
}

func TestErrorsNameTheValue(t *testing.T) {
	x := tensor.FromFloat32(make([]float32, 12), 2, 3, 2)
	y := tensor.FromInt64([]int64{0, 1, 2, 5}, 2, 2)
	_, err := loss.CrossEntropy(x, y, loss.CrossEntropyOptions{})
	if err == nil || !strings.Contains(err.Error(), "label 5 at example 1, position 1 is out of range [0, 3)") {
		t.Errorf("error %v", err)
	}
	_, err = loss.CrossEntropy(x, tensor.FromInt64([]int64{0, 1}, 2), loss.CrossEntropyOptions{Weight: []float64{1, 2}})
	if err == nil || !strings.Contains(err.Error(), "weight has 2 entries, want 3") {
		t.Errorf("error %v", err)
	}
	_, err = loss.SmoothL1(x, x, -1, loss.Mean)
	if err == nil || !strings.Contains(err.Error(), "beta = -1") {
		t.Errorf("error %v", err)
	}
	if _, err := loss.ParseReduction("avg"); err == nil || !strings.Contains(err.Error(), `"avg"`) {
		t.Errorf("error %v", err)
	}
}
