// Package parity checks kiln's losses against reference values computed by
// PyTorch: it reads a cases file in the JSON schema that
// tools/torch_loss_reference.py writes, evaluates every case with kiln's
// loss and task packages, and compares the loss and every gradient.
//
// It is the code behind `kiln parity losses --cases FILE`, and the project's
// tests run it on loss/testdata/loss_reference.json. A case whose op,
// parameter or input kiln does not know fails; it is never skipped. An
// expected-error record passes only when kiln returns an error (a panic is a
// failure). Two documented kiln behaviours pass with a note although the
// numbers differ from PyTorch: a mean over all-ignored labels is 0 (PyTorch:
// NaN), and a regression target that PyTorch would broadcast is an error.
package parity

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/kiln-ml/kiln/tensor"
)

// File is a parsed cases file.
type File struct {
	Meta   map[string]any `json:"meta"`
	Cases  []Case         `json:"cases"`
	Errors []ErrorCase    `json:"errors"`
}

// Case is one reference computation: inputs, parameters and the expected
// outputs (outputs.loss and outputs.grad.<input> for loss ops; named outputs
// for the trainer bookkeeping ops).
type Case struct {
	Name    string                     `json:"name"`
	Group   string                     `json:"group"`
	Op      string                     `json:"op"`
	Params  map[string]any             `json:"params"`
	Inputs  map[string]json.RawMessage `json:"inputs"`
	Outputs map[string]json.RawMessage `json:"outputs"`
	Notes   string                     `json:"notes"`
	// Extra holds any further top-level fields (for example a second
	// expected value for comparison).
	Extra map[string]json.RawMessage `json:"-"`
}

// ErrorCase is an edge-case record: PyTorch's error (ErrorType, Message), or
// its forward value and warnings when it did not fail.
type ErrorCase struct {
	Name         string                     `json:"name"`
	Op           string                     `json:"op"`
	Params       map[string]any             `json:"params"`
	Inputs       map[string]json.RawMessage `json:"inputs"`
	ForwardValue *Tensor                    `json:"forward_value"`
	ErrorType    *string                    `json:"error_type"`
	ErrorMessage *string                    `json:"error_message"`
	Warnings     []string                   `json:"warnings"`
	Notes        string                     `json:"notes"`
}

// Tensor is the file's tensor encoding: dtype, shape and flat row-major
// data, with non-finite floats as "nan", "inf", "-inf".
type Tensor struct {
	DType string `json:"dtype"`
	Shape []int  `json:"shape"`
	Data  []Num  `json:"data"`
}

// Num is a number that may be encoded as one of the strings "nan", "inf",
// "-inf", or a JSON boolean.
type Num float64

// UnmarshalJSON decodes numbers, the non-finite strings and booleans.
func (n *Num) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "nan":
			*n = Num(math.NaN())
		case "inf":
			*n = Num(math.Inf(1))
		case "-inf":
			*n = Num(math.Inf(-1))
		default:
			return fmt.Errorf("parity: number %q unknown", s)
		}
		return nil
	}
	var bv bool
	if json.Unmarshal(b, &bv) == nil {
		if bv {
			*n = 1
		} else {
			*n = 0
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*n = Num(f)
	return nil
}

// UnmarshalJSON keeps the known fields and collects the rest in Extra.
func (c *Case) UnmarshalJSON(b []byte) error {
	type plain Case
	if err := json.Unmarshal(b, (*plain)(c)); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	for _, k := range []string{"name", "group", "op", "params", "inputs", "outputs", "notes"} {
		delete(all, k)
	}
	if len(all) > 0 {
		c.Extra = all
	}
	return nil
}

// Load reads and parses a cases file.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cf, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cf, nil
}

// Parse decodes a cases file; a file with no cases and no error records is
// an error (it is probably not a cases file).
func Parse(r io.Reader) (*File, error) {
	var f File
	dec := json.NewDecoder(r)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a loss cases file: %w", err)
	}
	if len(f.Cases) == 0 && len(f.Errors) == 0 {
		return nil, fmt.Errorf("not a loss cases file: no \"cases\" and no \"errors\"")
	}
	return &f, nil
}

// ToTensor converts the encoding to a kiln tensor. Float dtypes keep their
// precision; int64 and bool map to kiln's types. Other dtypes (int32,
// uint8, ...) are an error: kiln tensors hold class ids as int64 only.
func (t *Tensor) ToTensor() (*tensor.Tensor, error) {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	if n != len(t.Data) {
		return nil, fmt.Errorf("tensor of shape %v has %d values", t.Shape, len(t.Data))
	}
	shape := t.Shape
	if shape == nil {
		shape = []int{}
	}
	switch t.DType {
	case "float32":
		d := make([]float32, n)
		for i, v := range t.Data {
			d[i] = float32(v)
		}
		return tensor.FromFloat32(d, shape...), nil
	case "float64", "python":
		d := make([]float64, n)
		for i, v := range t.Data {
			d[i] = float64(v)
		}
		return tensor.FromFloat64(d, shape...), nil
	case "int64":
		d := make([]int64, n)
		for i, v := range t.Data {
			d[i] = int64(v)
		}
		return tensor.FromInt64(d, shape...), nil
	case "bool":
		d := make([]bool, n)
		for i, v := range t.Data {
			d[i] = v != 0
		}
		return tensor.FromBool(d, shape...), nil
	}
	return nil, fmt.Errorf("dtype %s is not a kiln dtype (class ids must be int64; floats float32 or float64)", t.DType)
}

// floats returns the data as float64.
func (t *Tensor) floats() []float64 {
	out := make([]float64, len(t.Data))
	for i, v := range t.Data {
		out[i] = float64(v)
	}
	return out
}
