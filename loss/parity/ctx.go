package parity

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/tensor"
)

// ctx gives an op evaluator its parameters and inputs and remembers which it
// used: anything left unused at the end is a parameter or input kiln does
// not know, and fails the case.
type ctx struct {
	params  map[string]any
	inputs  map[string]json.RawMessage
	usedP   map[string]bool
	usedI   map[string]bool
	gradFor map[string]bool
	leaves  map[string]*tensor.Tensor
	eps     float64 // LabelSmoother's ε, for the cross-entropy comparison
}

func newCtx(params map[string]any, inputs map[string]json.RawMessage, grads map[string]json.RawMessage) *ctx {
	c := &ctx{params: params, inputs: inputs, usedP: map[string]bool{}, usedI: map[string]bool{},
		gradFor: map[string]bool{}, leaves: map[string]*tensor.Tensor{}}
	for k := range grads {
		c.gradFor[k] = true
	}
	return c
}

// finish returns an error naming unused parameters and inputs.
func (c *ctx) finish() error {
	var unknown []string
	for k := range c.params {
		if !c.usedP[k] {
			unknown = append(unknown, fmt.Sprintf("parameter %s=%v", k, c.params[k]))
		}
	}
	for k := range c.inputs {
		if !c.usedI[k] {
			unknown = append(unknown, "input "+k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("unknown to kiln: %s", strings.Join(unknown, ", "))
	}
	return nil
}

// has reports whether the input exists.
func (c *ctx) has(name string) bool { _, ok := c.inputs[name]; return ok }

// tensor decodes input name; a float input whose gradient is expected
// becomes a leaf that requires grad.
func (c *ctx) tensor(name string) (*tensor.Tensor, error) {
	raw, ok := c.inputs[name]
	if !ok {
		return nil, fmt.Errorf("input %s is missing", name)
	}
	c.usedI[name] = true
	var t Tensor
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("input %s: %v", name, err)
	}
	x, err := t.ToTensor()
	if err != nil {
		return nil, fmt.Errorf("input %s: %v", name, err)
	}
	if c.gradFor[name] && x.DType().IsFloat() {
		x.SetRequiresGrad(true)
	}
	c.leaves[name] = x
	return x, nil
}

// first decodes the first input present among names.
func (c *ctx) first(names ...string) (*tensor.Tensor, error) {
	for _, n := range names {
		if c.has(n) {
			return c.tensor(n)
		}
	}
	return nil, fmt.Errorf("input %s is missing", strings.Join(names, " or "))
}

// list decodes an input that is a list of tensors.
func (c *ctx) list(name string) ([]*tensor.Tensor, error) {
	raw, ok := c.inputs[name]
	if !ok {
		return nil, fmt.Errorf("input %s is missing", name)
	}
	c.usedI[name] = true
	var ts []Tensor
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, fmt.Errorf("input %s: %v", name, err)
	}
	out := make([]*tensor.Tensor, len(ts))
	for i := range ts {
		x, err := ts[i].ToTensor()
		if err != nil {
			return nil, fmt.Errorf("input %s[%d]: %v", name, i, err)
		}
		out[i] = x
	}
	return out, nil
}

// grid decodes an input that is a list of lists of tensors.
func (c *ctx) grid(name string) ([][]*tensor.Tensor, error) {
	raw, ok := c.inputs[name]
	if !ok {
		return nil, fmt.Errorf("input %s is missing", name)
	}
	c.usedI[name] = true
	var ts [][]Tensor
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, fmt.Errorf("input %s: %v", name, err)
	}
	out := make([][]*tensor.Tensor, len(ts))
	for i := range ts {
		for j := range ts[i] {
			x, err := ts[i][j].ToTensor()
			if err != nil {
				return nil, fmt.Errorf("input %s[%d][%d]: %v", name, i, j, err)
			}
			out[i] = append(out[i], x)
		}
	}
	return out, nil
}

// numbers decodes an input that is a flat list of numbers.
func (c *ctx) numbers(name string) ([]float64, error) {
	raw, ok := c.inputs[name]
	if !ok {
		return nil, fmt.Errorf("input %s is missing", name)
	}
	c.usedI[name] = true
	var ns []Num
	if err := json.Unmarshal(raw, &ns); err != nil {
		return nil, fmt.Errorf("input %s: %v", name, err)
	}
	out := make([]float64, len(ns))
	for i, v := range ns {
		out[i] = float64(v)
	}
	return out, nil
}

// param returns a parameter's raw value and marks it used.
func (c *ctx) param(name string) (any, bool) {
	v, ok := c.params[name]
	if ok {
		c.usedP[name] = true
	}
	return v, ok && v != nil
}

// describe marks descriptive parameters (documentation in the file) used.
func (c *ctx) describe(names ...string) {
	for _, n := range names {
		c.param(n)
	}
}

func (c *ctx) str(name, def string) (string, error) {
	v, ok := c.param(name)
	if !ok {
		return def, nil
	}
	s, isStr := v.(string)
	if !isStr {
		return "", fmt.Errorf("parameter %s = %v: want a string", name, v)
	}
	return s, nil
}

func (c *ctx) float(name string, def float64) (float64, error) {
	v, ok := c.param(name)
	if !ok {
		return def, nil
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fmt.Errorf("parameter %s = %v: want a number", name, v)
}

func (c *ctx) int(name string, def int64) (int64, error) {
	f, err := c.float(name, float64(def))
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) {
		return 0, fmt.Errorf("parameter %s = %v: want an integer", name, f)
	}
	return int64(f), nil
}

func (c *ctx) bool(name string, def bool) (bool, error) {
	v, ok := c.param(name)
	if !ok {
		return def, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		return false, fmt.Errorf("parameter %s = %v: want true or false", name, v)
	}
	return b, nil
}

func (c *ctx) floats(name string) ([]float64, error) {
	v, ok := c.param(name)
	if !ok {
		return nil, nil
	}
	xs, isList := v.([]any)
	if !isList {
		return nil, fmt.Errorf("parameter %s = %v: want a list of numbers", name, v)
	}
	out := make([]float64, len(xs))
	for i, x := range xs {
		f, isNum := x.(float64)
		if !isNum {
			return nil, fmt.Errorf("parameter %s[%d] = %v: want a number", name, i, x)
		}
		out[i] = f
	}
	return out, nil
}
