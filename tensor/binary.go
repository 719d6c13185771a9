package tensor

import (
	"fmt"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// Broadcasting element-wise arithmetic. Shapes broadcast as in NumPy and
// PyTorch: aligned from the right, a dim of 1 (or a missing dim) stretches to
// the other operand's size. Gradients are summed back over the stretched dims.

type binOp uint8

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
)

var binOpNames = [...]string{"Add", "Sub", "Mul", "Div"}

// Add returns a + b with broadcasting.
func Add(a, b *Tensor) *Tensor {
	out := binary(opAdd, a, b)
	record(out, "Add", func(g *Tensor) []*Tensor {
		return []*Tensor{sumTo(g, a.shape), sumTo(g, b.shape)}
	}, a, b)
	return out
}

// Sub returns a - b with broadcasting.
func Sub(a, b *Tensor) *Tensor {
	out := binary(opSub, a, b)
	record(out, "Sub", func(g *Tensor) []*Tensor {
		var gb *Tensor
		if b.requiresGrad {
			gb = sumTo(MulScalar(g, -1), b.shape)
		}
		return []*Tensor{sumTo(g, a.shape), gb}
	}, a, b)
	return out
}

// Mul returns a * b element-wise with broadcasting.
func Mul(a, b *Tensor) *Tensor {
	out := binary(opMul, a, b)
	record(out, "Mul", func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		if a.requiresGrad {
			ga = sumTo(binary(opMul, g, b), a.shape)
		}
		if b.requiresGrad {
			gb = sumTo(binary(opMul, g, a), b.shape)
		}
		return []*Tensor{ga, gb}
	}, a, b)
	return out
}

// Div returns a / b element-wise with broadcasting.
func Div(a, b *Tensor) *Tensor {
	out := binary(opDiv, a, b)
	record(out, "Div", func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		gOverB := binary(opDiv, g, b)
		if a.requiresGrad {
			ga = sumTo(gOverB, a.shape)
		}
		if b.requiresGrad {
			// d(a/b)/db = -a/b² = -(a/b)/b, written with out to reuse it.
			gb = sumTo(MulScalar(binary(opMul, gOverB, out), -1), b.shape)
		}
		return []*Tensor{ga, gb}
	}, a, b)
	return out
}

// AddScalar returns x + s.
func AddScalar(x *Tensor, s float64) *Tensor {
	mustFloat("AddScalar", x)
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		mapScalar(floats[float32](out), floats[float32](x), 1, float32(s))
	default:
		mapScalar(floats[float64](out), floats[float64](x), 1, s)
	}
	record(out, "AddScalar", func(g *Tensor) []*Tensor { return []*Tensor{g} }, x)
	return out
}

// MulScalar returns x * s.
func MulScalar(x *Tensor, s float64) *Tensor {
	mustFloat("MulScalar", x)
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		mapScalar(floats[float32](out), floats[float32](x), float32(s), 0)
	default:
		mapScalar(floats[float64](out), floats[float64](x), s, 0)
	}
	record(out, "MulScalar", func(g *Tensor) []*Tensor { return []*Tensor{MulScalar(g, s)} }, x)
	return out
}

// mapScalar sets dst = src*mul + add.
func mapScalar[T Float](dst, src []T, mul, add T) {
	parallel.For(len(dst), 1<<16, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] = s[i]*mul + add
		}
	})
}

// BroadcastShapes returns the shape that a and b broadcast to, or an error.
func BroadcastShapes(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db || db == 1:
			out[i] = da
		case da == 1:
			out[i] = db
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dim %d: %d vs %d)", a, b, i-n, da, db)
		}
	}
	return out, nil
}

// broadcastStrides returns the element strides of a tensor of shape `in`
// read as the (broadcast) shape `out`: 0 along stretched dims.
func broadcastStrides(in, out []int) []int {
	st := make([]int, len(out))
	s := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(in) - len(out) + i
		if j >= 0 && in[j] != 1 {
			st[i] = s
		}
		if j >= 0 {
			s *= in[j]
		}
	}
	return st
}

// binary computes a op b into a new tensor without recording.
func binary(op binOp, a, b *Tensor) *Tensor {
	name := binOpNames[op]
	mustFloat(name, a, b)
	shape, err := BroadcastShapes(a.shape, b.shape)
	if err != nil {
		panic(fmt.Sprintf("tensor.%s: %v", name, err))
	}
	out := empty(a.dtype, shape...)
	switch a.dtype {
	case Float32:
		binaryKernel(op, floats[float32](out), floats[float32](a), floats[float32](b), a.shape, b.shape, shape)
	default:
		binaryKernel(op, floats[float64](out), floats[float64](a), floats[float64](b), a.shape, b.shape, shape)
	}
	return out
}

// binaryKernel walks the output row by row (a row is the last dim); within a
// row each operand advances by 1 or stays put (stride 0).
func binaryKernel[T Float](op binOp, out, a, b []T, ashape, bshape, shape []int) {
	if len(out) == 0 {
		return
	}
	if sameShape(ashape, bshape) {
		parallel.For(len(out), 1<<15, func(lo, hi int) {
			binRow(op, out[lo:hi], a[lo:hi], b[lo:hi], 1, 1)
		})
		return
	}
	sa, sb := broadcastStrides(ashape, shape), broadcastStrides(bshape, shape)
	rank := len(shape)
	inner := 1
	var ia, ib int // strides of a and b along the last dim
	if rank > 0 {
		inner = shape[rank-1]
		ia, ib = sa[rank-1], sb[rank-1]
	}
	rows := len(out) / inner
	parallel.For(rows, max(1, (1<<15)/inner), func(lo, hi int) {
		idx := make([]int, rank)
		for r := lo; r < hi; r++ {
			// Decompose the row number into the leading indices.
			offA, offB, rem := 0, 0, r
			for d := rank - 2; d >= 0; d-- {
				idx[d] = rem % shape[d]
				rem /= shape[d]
				offA += idx[d] * sa[d]
				offB += idx[d] * sb[d]
			}
			binRow(op, out[r*inner:(r+1)*inner], a[offA:], b[offB:], ia, ib)
		}
	})
}

// binRow computes one row: out[i] = a[i*ia] op b[i*ib], with ia, ib in {0, 1}.
func binRow[T Float](op binOp, out, a, b []T, ia, ib int) {
	n := len(out)
	switch {
	case ia == 1 && ib == 1:
		a, b = a[:n], b[:n]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = a[i] + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / b[i]
			}
		}
	case ia == 1 && ib == 0:
		a = a[:n]
		bv := b[0]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = a[i] + bv
			}
		case opSub:
			for i := range out {
				out[i] = a[i] - bv
			}
		case opMul:
			for i := range out {
				out[i] = a[i] * bv
			}
		case opDiv:
			for i := range out {
				out[i] = a[i] / bv
			}
		}
	case ia == 0 && ib == 1:
		b = b[:n]
		av := a[0]
		switch op {
		case opAdd:
			for i := range out {
				out[i] = av + b[i]
			}
		case opSub:
			for i := range out {
				out[i] = av - b[i]
			}
		case opMul:
			for i := range out {
				out[i] = av * b[i]
			}
		case opDiv:
			for i := range out {
				out[i] = av / b[i]
			}
		}
	default:
		var v T
		switch op {
		case opAdd:
			v = a[0] + b[0]
		case opSub:
			v = a[0] - b[0]
		case opMul:
			v = a[0] * b[0]
		case opDiv:
			v = a[0] / b[0]
		}
		for i := range out {
			out[i] = v
		}
	}
}

// sumTo sums g (of a broadcast shape) down to shape, the inverse of
// broadcasting; it returns g itself when the shapes already match. It uses
// SumAxes' kernel: parallel, accumulating in float64.
func sumTo(g *Tensor, shape []int) *Tensor {
	if sameShape(g.shape, shape) {
		return g
	}
	lead := len(g.shape) - len(shape)
	var axes []int
	for i := range g.shape {
		if i < lead || (shape[i-lead] == 1 && g.shape[i] != 1) {
			axes = append(axes, i)
		}
	}
	if len(axes) == 0 {
		return view(g, shape) // only size-1 dims differ
	}
	var out *Tensor
	NoGrad(func() { out = SumAxes(g, true, axes...) })
	return view(out, shape)
}

// Sum returns the sum of all elements as a 0-d tensor. Float32 sums
// accumulate in float64, so long reductions stay exact to float32 rounding.
func Sum(x *Tensor) *Tensor {
	mustFloat("Sum", x)
	var s float64
	switch x.dtype {
	case Float32:
		for _, v := range floats[float32](x) {
			s += float64(v)
		}
	default:
		for _, v := range floats[float64](x) {
			s += v
		}
	}
	out := Scalar(x.dtype, s)
	record(out, "Sum", func(g *Tensor) []*Tensor {
		return []*Tensor{expandScalar(g, x.shape)}
	}, x)
	return out
}

// Mean returns the mean of all elements as a 0-d tensor.
func Mean(x *Tensor) *Tensor {
	n := x.NumElems()
	return MulScalar(Sum(x), 1/float64(n))
}

// expandScalar returns a tensor of shape filled with the single value of g.
func expandScalar(g *Tensor, shape []int) *Tensor {
	return Full(g.dtype, g.Item(), shape...)
}
