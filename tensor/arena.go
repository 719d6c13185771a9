package tensor

import (
	"math/bits"
	"sync"
)

// Arena reuses float32 buffers between training steps. While an arena is
// active, every float32 tensor that an op makes takes its buffer from a pool
// and is registered with the arena; Release returns those buffers to the pool
// and marks the tensors released, so a later use of one panics instead of
// reading recycled memory. A steady training step then allocates almost no
// tensor memory:
//
//	for step := range steps {
//		a := tensor.BeginArena()
//		loss := model.Loss(batch)
//		loss.Backward()           // leaf gradients are heap memory, not the arena's
//		lossValue := loss.Item()  // read what you need before Release
//		a.Release()
//	}
//
// Parameters, their gradients and anything created outside an arena are
// ordinary garbage-collected memory.
//
// Shapes may change from step to step (dynamic padding, masked LM's
// varying count of masked tokens): buffers are pooled by size class (eight
// classes per power of two, so a buffer is at most 12.5% longer than asked
// for), and the pool never holds more than the most memory arenas ever had
// in use at once; a buffer beyond that goes to the garbage collector. Memory
// stays within about twice a step's peak, whatever the shapes. Arenas nest; like NoGrad, the active
// arena is process-wide, so only one goroutine should build graphs at a time.
type Arena struct {
	tensors []*Tensor
	parent  *Arena
	done    bool
}

var (
	arenaMu sync.Mutex
	current *Arena
	pool    = map[int][][]float32{} // free buffers by size class (their capacity)
	// pooled is the number of float32s in pool; inUse those handed out to
	// live arena tensors, peak the most inUse has been.
	pooled, inUse, peak int
)

// sizeClass rounds n up to its class: a multiple of 64 up to 1024, then one
// of eight evenly spaced lengths in each [2^k, 2^(k+1)).
func sizeClass(n int) int {
	if n <= 1024 {
		return (n + 63) &^ 63
	}
	step := 1 << (bits.Len(uint(n)) - 4)
	return (n + step - 1) / step * step
}

// floorClass is the largest class <= n.
func floorClass(n int) int {
	if n < 1024 {
		return n &^ 63
	}
	step := 1 << (bits.Len(uint(n)) - 4)
	return n / step * step
}

// BeginArena makes a new arena the active one and returns it.
func BeginArena() *Arena {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	a := &Arena{parent: current}
	current = a
	return a
}

// Keep takes t out of its arena, so Release leaves it alone; it returns t.
// Use it for results that must outlive the step (a metric's logits, say).
func Keep(t *Tensor) *Tensor {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	if t.arena != nil && !t.owner {
		// A view: its storage belongs to another arena tensor, so give it
		// a copy of its own.
		src := t.live().data.([]float32)
		t.data = append([]float32(nil), src...)
	} else if t.arena != nil {
		inUse -= cap(t.data.([]float32)) // leaves the arena's accounting
	}
	t.arena = nil
	return t
}

// Release ends the arena (and any arena begun inside it that is still
// active), returning the buffers of its tensors to the pool.
func (a *Arena) Release() {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	if a.done {
		return
	}
	for c := current; c != nil; c = c.parent {
		if c == a {
			current = a.parent
			break
		}
	}
	for _, t := range a.tensors {
		if t.arena != a || t.data == nil {
			continue // kept, or a view already released
		}
		if d, ok := t.data.([]float32); ok && t.owner {
			inUse -= cap(d)
			if c := floorClass(cap(d)); c > 0 && pooled+c <= peak {
				pool[c] = append(pool[c], d[:c:c])
				pooled += c
			}
		}
		t.data = nil
		t.node = nil
		t.pending = nil
	}
	a.tensors = nil
	a.done = true
}

// allocF32 returns a float32 buffer of length n for t: pooled and registered
// with the active arena if there is one, else fresh. Its contents are
// unspecified.
func allocF32(t *Tensor, n int) []float32 {
	arenaMu.Lock()
	defer arenaMu.Unlock()
	if current == nil {
		return make([]float32, n)
	}
	t.arena = current
	t.owner = true
	current.tensors = append(current.tensors, t)
	c := sizeClass(n)
	inUse += c
	peak = max(peak, inUse)
	if free := pool[c]; len(free) > 0 {
		buf := free[len(free)-1]
		pool[c] = free[:len(free)-1]
		pooled -= c
		return buf[:n]
	}
	return make([]float32, n, c)
}

// alias returns a tensor of another shape that shares t's storage (a view).
// A view of an arena tensor is registered with the same arena so that it is
// marked released together with its storage.
func alias(t *Tensor, shape []int) *Tensor {
	v := newTensor(t.dtype, t.live().data, shape)
	if t.arena != nil {
		arenaMu.Lock()
		v.arena = t.arena
		t.arena.tensors = append(t.arena.tensors, v)
		arenaMu.Unlock()
	}
	return v
}
