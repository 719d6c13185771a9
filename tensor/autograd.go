package tensor

import (
	"fmt"
	"sync/atomic"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// node records how a tensor was made: the op's name, its inputs, and the
// backward function that maps the output's gradient to the inputs' gradients
// (nil entries for inputs that need none). Backward functions run with
// recording off and may use any op.
type node struct {
	op       string
	inputs   []*Tensor
	backward func(g *Tensor) []*Tensor
}

// noGradDepth > 0 turns recording off process-wide (see NoGrad).
var noGradDepth atomic.Int32

// GradEnabled reports whether ops currently record the graph.
func GradEnabled() bool { return noGradDepth.Load() == 0 }

// NoGrad runs fn with graph recording off, as torch.no_grad(): results of ops
// inside fn do not require grad and keep nothing alive for backward. The
// switch is process-wide, so do not train in another goroutine meanwhile.
func NoGrad(fn func()) {
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	fn()
}

// SetRequiresGrad marks a leaf tensor as one whose gradient Backward should
// accumulate, and returns it.
func (t *Tensor) SetRequiresGrad(on bool) *Tensor {
	if t.node != nil {
		panic(fmt.Sprintf("tensor.SetRequiresGrad: tensor made by %s is not a leaf; use Detach first", t.node.op))
	}
	if on && !t.dtype.IsFloat() {
		panic(fmt.Sprintf("tensor.SetRequiresGrad: %v tensors cannot require grad", t.dtype))
	}
	t.requiresGrad = on
	return t
}

// RequiresGrad reports whether the tensor is a leaf that requires grad or
// the result of an op recorded for backward.
func (t *Tensor) RequiresGrad() bool { return t.requiresGrad }

// Grad returns the gradient accumulated by Backward, or nil.
func (t *Tensor) Grad() *Tensor { return t.grad }

// SetGrad replaces the accumulated gradient with a copy of g (same shape
// and dtype as t), as assigning p.grad in PyTorch; nil drops it. The copy is
// heap memory, so it outlives any arena.
func (t *Tensor) SetGrad(g *Tensor) {
	if g == nil {
		t.ZeroGrad()
		return
	}
	if !sameShape(g.shape, t.shape) || g.dtype != t.dtype {
		panic(fmt.Sprintf("tensor.SetGrad: gradient %v %v does not match tensor %v %v", g.shape, g.dtype, t.shape, t.dtype))
	}
	t.grad = nil
	accumulateLeaf(t, g)
}

// ZeroGrad drops the accumulated gradient: Grad returns nil until the next
// Backward starts afresh. The next Backward writes into the dropped
// gradient's buffer, so a tensor returned by Grad before ZeroGrad changes
// then (as with PyTorch's zero_grad(set_to_none=False)); clone it to keep it.
func (t *Tensor) ZeroGrad() {
	if t.grad != nil {
		t.spareGrad = t.grad
	}
	t.grad = nil
}

// IsLeaf reports whether t was made by the user rather than by a recorded op.
func (t *Tensor) IsLeaf() bool { return t.node == nil }

// record attaches the backward function to out when recording is on and any
// input requires grad.
func record(out *Tensor, op string, backward func(g *Tensor) []*Tensor, inputs ...*Tensor) {
	if !GradEnabled() {
		return
	}
	for _, in := range inputs {
		if in != nil && in.requiresGrad {
			out.requiresGrad = true
			out.node = &node{op: op, inputs: inputs, backward: backward}
			return
		}
	}
}

// Backward computes the gradient of the scalar t with respect to every leaf
// that requires grad, adding it to the leaf's Grad. The graph is released
// afterwards, as PyTorch does without retain_graph.
func (t *Tensor) Backward() {
	if t.NumElems() != 1 {
		panic(fmt.Sprintf("tensor.Backward: called on a tensor of shape %v; it needs a scalar (or use BackwardWith)", t.shape))
	}
	t.BackwardWith(Ones(t.dtype, t.shape...))
}

// BackwardWith is Backward for a non-scalar t, with g = d(objective)/dt.
func (t *Tensor) BackwardWith(g *Tensor) {
	if !t.requiresGrad {
		panic("tensor.Backward: tensor does not require grad (no input of the graph requires grad)")
	}
	if !sameShape(g.shape, t.shape) || g.dtype != t.dtype {
		panic(fmt.Sprintf("tensor.Backward: gradient %v %v does not match tensor %v %v", g.shape, g.dtype, t.shape, t.dtype))
	}
	order := topoOrder(t)
	noGradDepth.Add(1)
	defer noGradDepth.Add(-1)
	t.pending = g
	for i := len(order) - 1; i >= 0; i-- {
		cur := order[i]
		g := cur.pending
		cur.pending = nil
		if g == nil {
			continue
		}
		if cur.node == nil {
			if cur.requiresGrad {
				accumulateLeaf(cur, g)
			}
			continue
		}
		grads := cur.node.backward(g)
		for j, in := range cur.node.inputs {
			gi := grads[j]
			if in == nil || gi == nil || !in.requiresGrad {
				continue
			}
			if !sameShape(gi.shape, in.shape) {
				panic(fmt.Sprintf("tensor.Backward: %s produced a gradient of shape %v for an input of shape %v", cur.node.op, gi.shape, in.shape))
			}
			if in.pending == nil {
				in.pending = gi
			} else {
				// Backward functions may return g itself or one tensor for
				// two inputs, so a pending gradient may be shared: sum into
				// a fresh buffer rather than in place.
				in.pending = sumNew(in.pending, gi)
			}
		}
		// Release the graph: the node's closures hold the saved activations.
		cur.node = nil
		cur.requiresGrad = false
	}
}

// accumulateLeaf adds g into leaf.grad. The gradient buffer is a plain heap
// allocation, never an arena's, so it outlives the step that made it.
func accumulateLeaf(leaf, g *Tensor) {
	if leaf.grad == nil && leaf.spareGrad != nil {
		leaf.grad, leaf.spareGrad = leaf.spareGrad, nil
		copyData(leaf.grad, g)
		return
	}
	if leaf.grad == nil {
		// First gradient: copy rather than zero-then-add (one pass, not two).
		switch leaf.dtype {
		case Float32:
			leaf.grad = newTensor(Float32, make([]float32, leaf.NumElems()), leaf.shape)
		default:
			leaf.grad = newTensor(Float64, make([]float64, leaf.NumElems()), leaf.shape)
		}
		copyData(leaf.grad, g)
		return
	}
	addInto(leaf.grad, g)
}

// sumNew returns a + b in a new tensor.
func sumNew(a, b *Tensor) *Tensor {
	out := empty(a.dtype, a.shape...)
	copyData(out, a)
	addInto(out, b)
	return out
}

// topoOrder returns the tensors reachable from root that require grad, each
// after all of its inputs (so walking it backwards visits consumers first).
func topoOrder(root *Tensor) []*Tensor {
	var order []*Tensor
	visited := map[*Tensor]bool{}
	type frame struct {
		t    *Tensor
		next int
	}
	stack := []frame{{t: root}}
	visited[root] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.t.node != nil && f.next < len(f.t.node.inputs) {
			in := f.t.node.inputs[f.next]
			f.next++
			if in != nil && in.requiresGrad && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{t: in})
			}
			continue
		}
		order = append(order, f.t)
		stack = stack[:len(stack)-1]
	}
	return order
}

// addInto adds src into dst element-wise (same shape and float dtype).
func addInto(dst, src *Tensor) {
	switch d := dst.data.(type) {
	case []float32:
		addSlices(d, src.data.([]float32))
	case []float64:
		addSlices(d, src.data.([]float64))
	}
}

// addSlices sets dst += src, split across the worker pool when large.
func addSlices[T Float](dst, src []T) {
	parallel.For(len(dst), 1<<16, func(lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
