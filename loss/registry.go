package loss

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-ml/kiln/tensor"
)

// Config holds the options a training config can give any registered loss
// (`loss: focal` with `gamma: 2`, class weights, ...). A loss rejects
// options it does not use, so a typo never goes unnoticed.
type Config struct {
	// Reduction is Mean (default), Sum or None.
	Reduction Reduction
	// IgnoreIndex is the label to skip (nil: -100) for class-index losses.
	IgnoreIndex *int64
	// ClassWeights holds one weight per class (cross-entropy weight, focal
	// alpha, BCE per-class weight, multi-margin weight).
	ClassWeights []float64
	// PosWeight holds BCE's per-class positive weight.
	PosWeight []float64
	// LabelSmoothing is cross-entropy's ε.
	LabelSmoothing float64
	// Params holds loss-specific numbers by name: gamma, alpha, margin, p,
	// beta, delta, log_target (0 or 1).
	Params map[string]float64
}

// Func is a registered loss: predictions (logits or regression outputs) and
// targets in, a loss tensor out. The built-ins document their shapes.
type Func func(pred, target *tensor.Tensor, c Config) (*tensor.Tensor, error)

var (
	regMu    sync.RWMutex
	registry = map[string]Func{}
	nameRE   = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// Register makes fn available under name (lower case letters, digits and
// underscores), so that a config can name it. Registering a name twice is
// an error.
func Register(name string, fn Func) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("loss.Register: name %q must be lower case letters, digits and underscores", name)
	}
	if fn == nil {
		return fmt.Errorf("loss.Register: %q has a nil function", name)
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		return fmt.Errorf("loss.Register: %q is already registered", name)
	}
	registry[name] = fn
	return nil
}

// Lookup returns the loss registered under name; the error lists the known
// names.
func Lookup(name string) (Func, error) {
	regMu.RLock()
	fn, ok := registry[strings.ToLower(name)]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("loss %q is not registered (known: %s)", name, strings.Join(Names(), ", "))
	}
	return fn, nil
}

// Names returns the registered names, sorted.
func Names() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	return slices.Sorted(maps.Keys(registry))
}

// params checks that c.Params holds only the allowed names and returns a
// getter with defaults.
func params(op string, c Config, allowed map[string]float64) (func(string) float64, error) {
	var unknown []string
	for k := range c.Params {
		if _, ok := allowed[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := slices.Sorted(maps.Keys(allowed))
		return nil, fmt.Errorf("%s: unknown option %s (known: %s)", op, strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return func(k string) float64 {
		if v, ok := c.Params[k]; ok {
			return v
		}
		return allowed[k]
	}, nil
}

// noExtras returns an error for Config fields a loss does not use.
func noExtras(op string, c Config, weights, pos, smooth, ignore bool) error {
	switch {
	case !weights && c.ClassWeights != nil:
		return fmt.Errorf("%s: class weights are not supported", op)
	case !pos && c.PosWeight != nil:
		return fmt.Errorf("%s: pos_weight is not supported", op)
	case !smooth && c.LabelSmoothing != 0:
		return fmt.Errorf("%s: label_smoothing is not supported", op)
	case !ignore && c.IgnoreIndex != nil:
		return fmt.Errorf("%s: ignore_index is not supported", op)
	}
	return nil
}

func init() {
	must := func(name string, fn Func) {
		if err := Register(name, fn); err != nil {
			panic(err)
		}
	}
	must("cross_entropy", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		if _, err := params("cross_entropy", c, nil); err != nil {
			return nil, err
		}
		return CrossEntropy(x, y, CrossEntropyOptions{Reduction: c.Reduction, Weight: c.ClassWeights,
			IgnoreIndex: c.IgnoreIndex, LabelSmoothing: c.LabelSmoothing})
	})
	bce := func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		if _, err := params("bce_with_logits", c, nil); err != nil {
			return nil, err
		}
		if err := noExtras("bce_with_logits", c, true, true, false, false); err != nil {
			return nil, err
		}
		return BCEWithLogits(x, y, BCEOptions{Reduction: c.Reduction, Weight: c.ClassWeights, PosWeight: c.PosWeight})
	}
	must("bce_with_logits", bce)
	must("binary_cross_entropy_with_logits", bce)
	plain := func(name string, f func(x, y *tensor.Tensor, r Reduction) (*tensor.Tensor, error)) {
		must(name, func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
			if _, err := params(name, c, nil); err != nil {
				return nil, err
			}
			if err := noExtras(name, c, false, false, false, false); err != nil {
				return nil, err
			}
			return f(x, y, c.Reduction)
		})
	}
	plain("mse", MSE)
	plain("l1", L1)
	must("smooth_l1", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("smooth_l1", c, map[string]float64{"beta": 1})
		if err != nil {
			return nil, err
		}
		if err := noExtras("smooth_l1", c, false, false, false, false); err != nil {
			return nil, err
		}
		return SmoothL1(x, y, get("beta"), c.Reduction)
	})
	must("huber", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("huber", c, map[string]float64{"delta": 1})
		if err != nil {
			return nil, err
		}
		if err := noExtras("huber", c, false, false, false, false); err != nil {
			return nil, err
		}
		return Huber(x, y, get("delta"), c.Reduction)
	})
	must("multi_margin", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("multi_margin", c, map[string]float64{"p": 1, "margin": 1})
		if err != nil {
			return nil, err
		}
		if err := noExtras("multi_margin", c, true, false, false, false); err != nil {
			return nil, err
		}
		p := get("p")
		if p != float64(int(p)) {
			return nil, fmt.Errorf("multi_margin: p = %v; want 1 or 2", p)
		}
		return MultiMargin(x, y, int(p), get("margin"), c.ClassWeights, c.Reduction)
	})
	must("hinge_embedding", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("hinge_embedding", c, map[string]float64{"margin": 1})
		if err != nil {
			return nil, err
		}
		if err := noExtras("hinge_embedding", c, false, false, false, false); err != nil {
			return nil, err
		}
		return HingeEmbedding(x, y, get("margin"), c.Reduction)
	})
	must("kl_div", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("kl_div", c, map[string]float64{"log_target": 0})
		if err != nil {
			return nil, err
		}
		if err := noExtras("kl_div", c, false, false, false, false); err != nil {
			return nil, err
		}
		return KLDiv(x, y, get("log_target") != 0, c.Reduction)
	})
	must("focal", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("focal", c, map[string]float64{"gamma": 2})
		if err != nil {
			return nil, err
		}
		if err := noExtras("focal", c, true, false, false, true); err != nil {
			return nil, err
		}
		return Focal(x, y, FocalOptions{Reduction: c.Reduction, Gamma: get("gamma"), Alpha: c.ClassWeights, IgnoreIndex: c.IgnoreIndex})
	})
	must("sigmoid_focal", func(x, y *tensor.Tensor, c Config) (*tensor.Tensor, error) {
		get, err := params("sigmoid_focal", c, map[string]float64{"gamma": 2, "alpha": 0.25})
		if err != nil {
			return nil, err
		}
		if err := noExtras("sigmoid_focal", c, false, false, false, false); err != nil {
			return nil, err
		}
		o := FocalOptions{Reduction: c.Reduction, Gamma: get("gamma")}
		if a := get("alpha"); a >= 0 {
			o.Alpha = []float64{a}
		}
		return SigmoidFocal(x, y, o)
	})
}
