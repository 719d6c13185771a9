package tensor

import (
	"cmp"
	"fmt"
)

// Selection by masks (Where, MaskedFill) and the comparisons and logical ops
// that make masks. Masks are Bool tensors; all of these broadcast like the
// arithmetic ops. Comparisons and logical ops have no gradient.

// Where returns a where cond is true and b elsewhere, broadcasting all three
// (cond is Bool; a and b share a float dtype). The gradient goes to a where
// cond holds and to b elsewhere, summed back over broadcast dims.
// cond, a, b: broadcastable -> their broadcast shape.
func Where(cond, a, b *Tensor) *Tensor {
	mustBool("Where", cond)
	mustFloat("Where", a, b)
	shape := broadcast3("Where", cond.shape, a.shape, b.shape)
	out := empty(a.dtype, shape...)
	switch a.dtype {
	case Float32:
		whereKernel(floats[float32](out), cond.B(), floats[float32](a), floats[float32](b), shape, cond.shape, a.shape, b.shape)
	default:
		whereKernel(floats[float64](out), cond.B(), floats[float64](a), floats[float64](b), shape, cond.shape, a.shape, b.shape)
	}
	record(out, "Where", func(g *Tensor) []*Tensor {
		var ga, gb *Tensor
		if a.requiresGrad {
			ga = sumTo(maskKeep(g, cond, true, 0), a.shape)
		}
		if b.requiresGrad {
			gb = sumTo(maskKeep(g, cond, false, 0), b.shape)
		}
		return []*Tensor{nil, ga, gb}
	}, cond, a, b)
	return out
}

// MaskedFill returns x with value written where mask is true (mask is Bool
// and broadcasts to x's shape; x is not broadcast), as torch.masked_fill. The
// gradient is zero where filled. Filling attention scores with math.Inf(-1)
// before Softmax is the usual use. x: any shape, mask broadcastable -> x's shape.
func MaskedFill(x, mask *Tensor, value float64) *Tensor {
	mustBool("MaskedFill", mask)
	mustFloat("MaskedFill", x)
	if s, err := BroadcastShapes(x.shape, mask.shape); err != nil || !sameShape(s, x.shape) {
		panic(fmt.Sprintf("tensor.MaskedFill: mask of shape %v does not broadcast to x's shape %v", mask.shape, x.shape))
	}
	out := maskKeep(x, mask, false, value)
	record(out, "MaskedFill", func(g *Tensor) []*Tensor {
		return []*Tensor{maskKeep(g, mask, false, 0), nil}
	}, x, mask)
	return out
}

// mustBool panics unless t is a Bool tensor.
func mustBool(op string, t *Tensor) {
	if t.live().dtype != Bool {
		panic(fmt.Sprintf("tensor.%s: needs a bool mask, got %v of shape %v", op, t.dtype, t.shape))
	}
}

// broadcast3 returns the broadcast shape of three operands.
func broadcast3(op string, a, b, c []int) []int {
	ab, err := BroadcastShapes(a, b)
	if err == nil {
		var abc []int
		if abc, err = BroadcastShapes(ab, c); err == nil {
			return abc
		}
	}
	panic(fmt.Sprintf("tensor.%s: shapes %v, %v and %v do not broadcast", op, a, b, c))
}

func whereKernel[T Float](out []T, cond []bool, a, b []T, shape, sc, sa, sb []int) {
	l := newBcastLayout(shape, sc, sa, sb)
	ic, ia, ib := l.rowStride(0), l.rowStride(1), l.rowStride(2)
	inner := l.inner
	parallelRows(l, func(r int, offs []int) {
		d := out[r*inner : (r+1)*inner]
		c, av, bv := cond[offs[0]:], a[offs[1]:], b[offs[2]:]
		if ic == 1 && ia == 1 && ib == 1 {
			c, av, bv = c[:len(d)], av[:len(d)], bv[:len(d)]
			for i := range d {
				if c[i] {
					d[i] = av[i]
				} else {
					d[i] = bv[i]
				}
			}
			return
		}
		for i := range d {
			if c[i*ic] {
				d[i] = av[i*ia]
			} else {
				d[i] = bv[i*ib]
			}
		}
	})
}

// maskKeep returns x (float, of the output shape) where mask == keep and
// fill elsewhere; mask broadcasts to x's shape. It records nothing.
func maskKeep(x, mask *Tensor, keep bool, fill float64) *Tensor {
	out := empty(x.dtype, x.shape...)
	switch x.dtype {
	case Float32:
		maskKernel(floats[float32](out), floats[float32](x), mask.B(), x.shape, mask.shape, keep, float32(fill))
	default:
		maskKernel(floats[float64](out), floats[float64](x), mask.B(), x.shape, mask.shape, keep, fill)
	}
	return out
}

func maskKernel[T Float](out, x []T, mask []bool, shape, mshape []int, keep bool, fill T) {
	l := newBcastLayout(shape, mshape)
	im := l.rowStride(0)
	inner := l.inner
	parallelRows(l, func(r int, offs []int) {
		d, s := out[r*inner:(r+1)*inner], x[r*inner:(r+1)*inner]
		if im == 0 {
			if mask[offs[0]] == keep {
				copy(d, s)
			} else {
				for i := range d {
					d[i] = fill
				}
			}
			return
		}
		m := mask[offs[0] : offs[0]+inner]
		for i, v := range s {
			if m[i] == keep {
				d[i] = v
			} else {
				d[i] = fill
			}
		}
	})
}

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpNe
	cmpGt
	cmpGe
	cmpLt
	cmpLe
	cmpAnd
	cmpOr
)

var cmpNames = [...]string{"Eq", "Ne", "Gt", "Ge", "Lt", "Le", "LogicalAnd", "LogicalOr"}

// Eq returns a == b element-wise as a Bool tensor, with broadcasting; a and b
// must share a dtype (any dtype). NaN equals nothing.
// a, b: broadcastable -> broadcast shape (Bool).
func Eq(a, b *Tensor) *Tensor { return compare(cmpEq, a, b) }

// Ne returns a != b element-wise as a Bool tensor, like Eq.
func Ne(a, b *Tensor) *Tensor { return compare(cmpNe, a, b) }

// Gt returns a > b element-wise as a Bool tensor, with broadcasting; a and b
// share a float or Int64 dtype. a, b: broadcastable -> broadcast shape (Bool).
func Gt(a, b *Tensor) *Tensor { return compare(cmpGt, a, b) }

// Ge returns a >= b element-wise as a Bool tensor, like Gt.
func Ge(a, b *Tensor) *Tensor { return compare(cmpGe, a, b) }

// Lt returns a < b element-wise as a Bool tensor, like Gt.
func Lt(a, b *Tensor) *Tensor { return compare(cmpLt, a, b) }

// Le returns a <= b element-wise as a Bool tensor, like Gt.
func Le(a, b *Tensor) *Tensor { return compare(cmpLe, a, b) }

// LogicalAnd returns a && b for Bool tensors, with broadcasting.
func LogicalAnd(a, b *Tensor) *Tensor { return compare(cmpAnd, a, b) }

// LogicalOr returns a || b for Bool tensors, with broadcasting.
func LogicalOr(a, b *Tensor) *Tensor { return compare(cmpOr, a, b) }

// LogicalNot returns !x for a Bool tensor. x: any shape -> same shape (Bool).
func LogicalNot(x *Tensor) *Tensor {
	mustBool("LogicalNot", x)
	out := empty(Bool, x.shape...)
	d := out.B()
	for i, v := range x.B() {
		d[i] = !v
	}
	return out
}

// EqScalar returns x == v element-wise as a Bool tensor. As in PyTorch, v is
// converted to x's dtype when x is float and x is compared as a float when it
// is Int64 or Bool. x: any shape -> same shape (Bool).
func EqScalar(x *Tensor, v float64) *Tensor { return compareScalar(cmpEq, x, v) }

// GtScalar returns x > v element-wise as a Bool tensor, like EqScalar.
func GtScalar(x *Tensor, v float64) *Tensor { return compareScalar(cmpGt, x, v) }

// LtScalar returns x < v element-wise as a Bool tensor, like EqScalar.
func LtScalar(x *Tensor, v float64) *Tensor { return compareScalar(cmpLt, x, v) }

func compare(op cmpOp, a, b *Tensor) *Tensor {
	name := cmpNames[op]
	a.live()
	b.live()
	if a.dtype != b.dtype {
		panic(fmt.Sprintf("tensor.%s: mixed dtypes %v and %v", name, a.dtype, b.dtype))
	}
	switch {
	case op >= cmpAnd && a.dtype != Bool:
		panic(fmt.Sprintf("tensor.%s: needs bool tensors, got %v", name, a.dtype))
	case op >= cmpGt && op <= cmpLe && a.dtype == Bool:
		panic(fmt.Sprintf("tensor.%s: bool tensors are not ordered", name))
	}
	shape, err := BroadcastShapes(a.shape, b.shape)
	if err != nil {
		panic(fmt.Sprintf("tensor.%s: %v", name, err))
	}
	out := empty(Bool, shape...)
	o := out.B()
	switch a.dtype {
	case Float32:
		cmpKernel(op, o, floats[float32](a), floats[float32](b), shape, a.shape, b.shape)
	case Float64:
		cmpKernel(op, o, floats[float64](a), floats[float64](b), shape, a.shape, b.shape)
	case Int64:
		cmpKernel(op, o, a.I64(), b.I64(), shape, a.shape, b.shape)
	case Bool:
		boolKernel(op, o, a.B(), b.B(), shape, a.shape, b.shape)
	}
	return out
}

func cmpKernel[E cmp.Ordered](op cmpOp, out []bool, a, b []E, shape, sa, sb []int) {
	l := newBcastLayout(shape, sa, sb)
	ia, ib := l.rowStride(0), l.rowStride(1)
	inner := l.inner
	parallelRows(l, func(r int, offs []int) {
		d := out[r*inner : (r+1)*inner]
		av, bv := a[offs[0]:], b[offs[1]:]
		switch op {
		case cmpEq:
			for i := range d {
				d[i] = av[i*ia] == bv[i*ib]
			}
		case cmpNe:
			for i := range d {
				d[i] = av[i*ia] != bv[i*ib]
			}
		case cmpGt:
			for i := range d {
				d[i] = av[i*ia] > bv[i*ib]
			}
		case cmpGe:
			for i := range d {
				d[i] = av[i*ia] >= bv[i*ib]
			}
		case cmpLt:
			for i := range d {
				d[i] = av[i*ia] < bv[i*ib]
			}
		case cmpLe:
			for i := range d {
				d[i] = av[i*ia] <= bv[i*ib]
			}
		}
	})
}

func boolKernel(op cmpOp, out []bool, a, b []bool, shape, sa, sb []int) {
	l := newBcastLayout(shape, sa, sb)
	ia, ib := l.rowStride(0), l.rowStride(1)
	inner := l.inner
	parallelRows(l, func(r int, offs []int) {
		d := out[r*inner : (r+1)*inner]
		av, bv := a[offs[0]:], b[offs[1]:]
		for i := range d {
			x, y := av[i*ia], bv[i*ib]
			switch op {
			case cmpEq:
				d[i] = x == y
			case cmpNe:
				d[i] = x != y
			case cmpAnd:
				d[i] = x && y
			case cmpOr:
				d[i] = x || y
			}
		}
	})
}

func compareScalar(op cmpOp, x *Tensor, v float64) *Tensor {
	x.live()
	out := empty(Bool, x.shape...)
	o := out.B()
	switch x.dtype {
	case Float32:
		cmpScalarKernel(op, o, floats[float32](x), float32(v))
	case Float64:
		cmpScalarKernel(op, o, floats[float64](x), v)
	default:
		cmpScalarKernel(op, o, x.Float64s(), v)
	}
	return out
}

func cmpScalarKernel[E cmp.Ordered](op cmpOp, out []bool, x []E, v E) {
	switch op {
	case cmpEq:
		for i, a := range x {
			out[i] = a == v
		}
	case cmpGt:
		for i, a := range x {
			out[i] = a > v
		}
	case cmpLt:
		for i, a := range x {
			out[i] = a < v
		}
	}
}
