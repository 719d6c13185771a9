// Package tensor is kiln's tensor engine: n-dimensional row-major tensors with
// define-by-run automatic differentiation, in the manner of PyTorch.
//
// A tensor that requires grad records the op that made it; Backward on a
// scalar walks that record in reverse and accumulates gradients into the
// leaves (tensors created by the user, typically parameters). Gradients
// accumulate until ZeroGrad, as in PyTorch. NoGrad runs a function without
// recording, for evaluation.
//
// Tensors are always contiguous and row-major; ops that change the layout
// (Transpose, Permute, Slice) copy. MatMul reads transposed operands in place,
// so linear layers and attention never copy their weights.
//
// A shape mismatch inside an op is a programmer error and panics with a
// message naming the op and the shapes, as PyTorch raises. Nothing in this
// package reads user files.
//
//	x := tensor.FromFloat32([]float32{1, 2, 3, 4}, 2, 2)
//	w := tensor.FromFloat32([]float32{0.5, -1, 2, 0}, 2, 2).SetRequiresGrad(true)
//	loss := tensor.Sum(tensor.MatMul(x, w))
//	loss.Backward()
//	fmt.Println(w.Grad()) // d loss / d w
package tensor

import (
	"fmt"
	"math"
	"strings"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// DType is the element type of a tensor.
type DType uint8

// The element types. Float32 is the compute type; Float64 serves gradient
// checks and references; Int64 holds token ids and class labels; Bool holds
// masks.
const (
	Float32 DType = iota
	Float64
	Int64
	Bool
)

func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	case Int64:
		return "int64"
	case Bool:
		return "bool"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// IsFloat reports whether d is a floating-point type (one that can carry
// gradients).
func (d DType) IsFloat() bool { return d == Float32 || d == Float64 }

// Tensor is an n-dimensional array. The zero value is not usable; build
// tensors with the constructors (FromFloat32, Zeros, ...) or ops.
type Tensor struct {
	shape []int
	dtype DType
	// data is []float32, []float64, []int64 or []bool, by dtype, with exactly
	// NumElems elements in row-major order.
	data any

	requiresGrad bool
	grad         *Tensor // accumulated gradient of a leaf
	// spareGrad is the buffer of a gradient dropped by ZeroGrad, reused by
	// the next Backward so that a training loop does not allocate (and
	// page-fault) a fresh gradient for every parameter at every step.
	spareGrad *Tensor
	node      *node // the op that made this tensor; nil for leaves
	// pending is Backward's scratch slot: the gradient flowing into this
	// tensor while the graph is walked.
	pending *Tensor
	// arena owns data when it was allocated while an Arena was active; owner
	// is false for views that share another tensor's storage.
	arena *Arena
	owner bool
}

// Float is the set of element types that ops compute in.
type Float interface{ ~float32 | ~float64 }

// numElems is the product of the dims; it panics on a negative dim.
func numElems(op string, shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor.%s: negative dimension in shape %v", op, shape))
		}
		n *= d
	}
	return n
}

// newTensor wraps data (not copied) of the given shape.
func newTensor(dtype DType, data any, shape []int) *Tensor {
	return &Tensor{shape: append([]int(nil), shape...), dtype: dtype, data: data}
}

// empty returns a tensor whose contents are unspecified (possibly a reused
// buffer): every op that uses it must write every element.
func empty(dtype DType, shape ...int) *Tensor {
	n := numElems("empty", shape)
	t := &Tensor{shape: append([]int(nil), shape...), dtype: dtype}
	switch dtype {
	case Float32:
		t.data = allocF32(t, n)
	case Float64:
		t.data = make([]float64, n)
	case Int64:
		t.data = make([]int64, n)
	case Bool:
		t.data = make([]bool, n)
	default:
		panic(fmt.Sprintf("tensor: unknown dtype %v", dtype))
	}
	return t
}

// Zeros returns a tensor of zeros.
func Zeros(dtype DType, shape ...int) *Tensor {
	t := empty(dtype, shape...)
	switch d := t.data.(type) {
	case []float32:
		clear(d)
	case []float64:
		clear(d)
	case []int64:
		clear(d)
	case []bool:
		clear(d)
	}
	return t
}

// Full returns a tensor with every element set to v (converted to dtype;
// non-zero is true for Bool).
func Full(dtype DType, v float64, shape ...int) *Tensor {
	t := empty(dtype, shape...)
	switch d := t.data.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	case []int64:
		for i := range d {
			d[i] = int64(v)
		}
	case []bool:
		for i := range d {
			d[i] = v != 0
		}
	}
	return t
}

// Ones returns a tensor of ones.
func Ones(dtype DType, shape ...int) *Tensor { return Full(dtype, 1, shape...) }

// Scalar returns a 0-d tensor holding v.
func Scalar(dtype DType, v float64) *Tensor { return Full(dtype, v) }

// FromFloat32 copies data into a new float32 tensor of the given shape. No
// shape (a nil slice) means a 1-d tensor of len(data); an empty, non-nil
// shape such as Shape() of a scalar means 0-d.
func FromFloat32(data []float32, shape ...int) *Tensor {
	return fromSlice(Float32, data, shape)
}

// FromFloat64 copies data into a new float64 tensor of the given shape.
func FromFloat64(data []float64, shape ...int) *Tensor {
	return fromSlice(Float64, data, shape)
}

// FromInt64 copies data into a new int64 tensor of the given shape.
func FromInt64(data []int64, shape ...int) *Tensor { return fromSlice(Int64, data, shape) }

// FromBool copies data into a new bool tensor of the given shape.
func FromBool(data []bool, shape ...int) *Tensor { return fromSlice(Bool, data, shape) }

func fromSlice[E float32 | float64 | int64 | bool](dtype DType, data []E, shape []int) *Tensor {
	if shape == nil {
		shape = []int{len(data)}
	}
	if n := numElems("From"+dtype.String(), shape); n != len(data) {
		panic(fmt.Sprintf("tensor.From%s: %d elements cannot have shape %v", dtype, len(data), shape))
	}
	return newTensor(dtype, append([]E(nil), data...), shape)
}

// Shape returns a copy of the dims.
func (t *Tensor) Shape() []int { return append([]int{}, t.live().shape...) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int { return t.live().shape[normAxis("Dim", i, len(t.shape))] }

// Rank returns the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// NumElems returns the number of elements.
func (t *Tensor) NumElems() int { return shapeSize(t.shape) }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// live returns t, panicking if its buffer went back to an arena's pool.
func (t *Tensor) live() *Tensor {
	if t.data == nil {
		panic("tensor: use of a tensor after its Arena was released (call Keep on tensors that must outlive the arena)")
	}
	return t
}

// Float32s returns a copy of the elements as float32 (converting from any
// dtype).
func (t *Tensor) Float32s() []float32 {
	out := make([]float32, t.NumElems())
	switch d := t.live().data.(type) {
	case []float32:
		copy(out, d)
	case []float64:
		for i, v := range d {
			out[i] = float32(v)
		}
	case []int64:
		for i, v := range d {
			out[i] = float32(v)
		}
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	}
	return out
}

// Float64s returns a copy of the elements as float64.
func (t *Tensor) Float64s() []float64 {
	out := make([]float64, t.NumElems())
	switch d := t.live().data.(type) {
	case []float32:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []float64:
		copy(out, d)
	case []int64:
		for i, v := range d {
			out[i] = float64(v)
		}
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	}
	return out
}

// Int64s returns a copy of the elements as int64 (floats truncate toward zero).
func (t *Tensor) Int64s() []int64 {
	out := make([]int64, t.NumElems())
	switch d := t.live().data.(type) {
	case []int64:
		copy(out, d)
	case []bool:
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
	default:
		for i, v := range t.Float64s() {
			out[i] = int64(v)
		}
	}
	return out
}

// Bools returns a copy of the elements as bool (non-zero is true).
func (t *Tensor) Bools() []bool {
	out := make([]bool, t.NumElems())
	if d, ok := t.live().data.([]bool); ok {
		copy(out, d)
		return out
	}
	for i, v := range t.Float64s() {
		out[i] = v != 0
	}
	return out
}

// Item returns the value of a one-element tensor as float64.
func (t *Tensor) Item() float64 {
	if t.NumElems() != 1 {
		panic(fmt.Sprintf("tensor.Item: tensor of shape %v has %d elements, want 1", t.shape, t.NumElems()))
	}
	return t.Float64s()[0]
}

// F32 returns the float32 storage itself, not a copy: writes change the
// tensor. It is for optimizers, initialisers and kernels that update
// parameters in place; it panics for other dtypes.
func (t *Tensor) F32() []float32 {
	d, ok := t.live().data.([]float32)
	if !ok {
		panic(fmt.Sprintf("tensor.F32: tensor is %v", t.dtype))
	}
	return d
}

// F64 returns the float64 storage itself, not a copy.
func (t *Tensor) F64() []float64 {
	d, ok := t.live().data.([]float64)
	if !ok {
		panic(fmt.Sprintf("tensor.F64: tensor is %v", t.dtype))
	}
	return d
}

// I64 returns the int64 storage itself, not a copy.
func (t *Tensor) I64() []int64 {
	d, ok := t.live().data.([]int64)
	if !ok {
		panic(fmt.Sprintf("tensor.I64: tensor is %v", t.dtype))
	}
	return d
}

// B returns the bool storage itself, not a copy.
func (t *Tensor) B() []bool {
	d, ok := t.live().data.([]bool)
	if !ok {
		panic(fmt.Sprintf("tensor.B: tensor is %v", t.dtype))
	}
	return d
}

// floats returns the storage of a float tensor of element type T.
func floats[T Float](t *Tensor) []T { return t.live().data.([]T) }

// To returns t converted to dtype (t itself when it already has it). The
// conversion is differentiable between float types.
func To(t *Tensor, dtype DType) *Tensor {
	if t.dtype == dtype {
		return t
	}
	var out *Tensor
	switch dtype {
	case Float32:
		out = newTensor(Float32, t.Float32s(), t.shape)
	case Float64:
		out = newTensor(Float64, t.Float64s(), t.shape)
	case Int64:
		out = newTensor(Int64, t.Int64s(), t.shape)
	case Bool:
		out = newTensor(Bool, t.Bools(), t.shape)
	}
	if t.dtype.IsFloat() && dtype.IsFloat() {
		from := t.dtype
		record(out, "To", func(g *Tensor) []*Tensor { return []*Tensor{To(g, from)} }, t)
	}
	return out
}

// Clone returns a copy of t's data that shares no storage; it records the
// copy for autograd like any op.
func Clone(t *Tensor) *Tensor {
	out := empty(t.dtype, t.shape...)
	copyData(out, t)
	record(out, "Clone", func(g *Tensor) []*Tensor { return []*Tensor{g} }, t)
	return out
}

// copyData copies src's elements into dst (same dtype and size); large
// float copies are split across the worker pool.
func copyData(dst, src *Tensor) {
	switch d := dst.data.(type) {
	case []float32:
		copyPar(d, src.data.([]float32))
	case []float64:
		copyPar(d, src.data.([]float64))
	case []int64:
		copy(d, src.data.([]int64))
	case []bool:
		copy(d, src.data.([]bool))
	}
}

// Detach returns a tensor sharing t's data but cut from the graph.
func Detach(t *Tensor) *Tensor { return alias(t, t.shape) }

// String renders the tensor like PyTorch, eliding the middle of long dims.
func (t *Tensor) String() string {
	if t.data == nil {
		return "tensor(<released>)"
	}
	var b strings.Builder
	b.WriteString("tensor(")
	vals := t.Float64s()
	var rec func(dim, off int, indent string)
	rec = func(dim, off int, indent string) {
		if dim == len(t.shape) {
			b.WriteString(formatElem(t.dtype, vals[off]))
			return
		}
		stride := shapeSize(t.shape[dim+1:])
		b.WriteByte('[')
		n := t.shape[dim]
		for i := 0; i < n; i++ {
			if n > 6 && i == 3 {
				b.WriteString("...")
				i = n - 3
				if dim < len(t.shape)-1 {
					b.WriteString(",\n" + indent + " ")
				} else {
					b.WriteString(", ")
				}
			}
			rec(dim+1, off+i*stride, indent+" ")
			if i < n-1 {
				if dim < len(t.shape)-1 {
					b.WriteString(",\n" + indent + " ")
				} else {
					b.WriteString(", ")
				}
			}
		}
		b.WriteByte(']')
	}
	rec(0, 0, "       ")
	fmt.Fprintf(&b, ", shape=%v, dtype=%v", t.shape, t.dtype)
	if t.node != nil {
		fmt.Fprintf(&b, ", grad_fn=%s", t.node.op)
	} else if t.requiresGrad {
		b.WriteString(", requires_grad=true")
	}
	b.WriteByte(')')
	return b.String()
}

func formatElem(d DType, v float64) string {
	switch d {
	case Int64:
		return fmt.Sprintf("%d", int64(v))
	case Bool:
		return fmt.Sprintf("%t", v != 0)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return fmt.Sprintf("%.4g", v)
}

// shapeSize is the product of dims (1 for a scalar).
func shapeSize(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// sameShape reports whether a and b are equal dim by dim.
func sameShape(a, b []int) bool {
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

// normAxis maps a possibly negative axis into [0, rank).
func normAxis(op string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("tensor.%s: axis %d out of range for rank %d", op, axis, rank))
	}
	return axis
}

// mustFloat panics unless every tensor has the same float dtype.
func mustFloat(op string, ts ...*Tensor) {
	for _, t := range ts {
		t.live()
		if !t.dtype.IsFloat() {
			panic(fmt.Sprintf("tensor.%s: needs a float tensor, got %v of shape %v", op, t.dtype, t.shape))
		}
		if t.dtype != ts[0].dtype {
			panic(fmt.Sprintf("tensor.%s: mixed dtypes %v and %v", op, ts[0].dtype, t.dtype))
		}
	}
}

// copyPar is copy split across the worker pool for large slices.
func copyPar[T Float](dst, src []T) {
	parallel.For(len(dst), 1<<17, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}
