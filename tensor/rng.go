package tensor

import (
	"math"

	"github.com/kiln-ml/kiln/internal/parallel"
)

// RNG is a counter-based random generator: element i of a draw is a hash of
// (seed, counter+i), so results are the same whatever the number of threads
// that fill a tensor, and a run is reproducible from its seed alone. Each draw
// advances the counter by the number of values it used, and State/SetState
// let a resumed run continue the exact stream.
type RNG struct {
	seed    uint64
	counter uint64
}

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) *RNG { return &RNG{seed: seed} }

// State returns the generator's position, for checkpoints.
func (r *RNG) State() (seed, counter uint64) { return r.seed, r.counter }

// SetState restores a position returned by State.
func (r *RNG) SetState(seed, counter uint64) { r.seed, r.counter = seed, counter }

// take reserves n consecutive counters and returns the first.
func (r *RNG) take(n int) uint64 {
	c := r.counter
	r.counter += uint64(n)
	return c
}

// mix64 is the SplitMix64 finaliser: a bijective hash with good avalanche.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// uniformAt returns a float64 in [0, 1) for counter c: bitsAt(c) / 2^53.
func (r *RNG) uniformAt(c uint64) float64 { return float64(r.bitsAt(c)) / (1 << 53) }

// bitsAt returns the 53 random bits behind uniformAt(c).
func (r *RNG) bitsAt(c uint64) uint64 { return mix64(r.seed*0x9e3779b97f4a7c15+c) >> 11 }

// dropper decides dropout for consecutive counters without floating point:
// uniformAt(c) < p exactly when bitsAt(c) < ceil(p·2^53), since p·2^53 is
// exact (a power-of-two scaling) and bitsAt is an integer below 2^53.
type dropper struct {
	key, threshold uint64
}

func (r *RNG) dropper(p float64) dropper {
	return dropper{key: r.seed * 0x9e3779b97f4a7c15, threshold: uint64(math.Ceil(p * (1 << 53)))}
}

// dropped reports whether counter c is dropped.
func (d dropper) dropped(c uint64) bool { return mix64(d.key+c)>>11 < d.threshold }

// Uint64 returns the next raw 64-bit value (for shuffles and other
// host-side randomness that must follow the same seed).
func (r *RNG) Uint64() uint64 { return mix64(r.seed*0x9e3779b97f4a7c15 + r.take(1)) }

// Float64 returns the next value in [0, 1).
func (r *RNG) Float64() float64 { return r.uniformAt(r.take(1)) }

// Uniform returns a tensor of values drawn uniformly from [lo, hi).
func Uniform(r *RNG, dtype DType, lo, hi float64, shape ...int) *Tensor {
	out := empty(dtype, shape...)
	n := out.NumElems()
	base := r.take(n)
	fill := func(i int) float64 { return lo + (hi-lo)*r.uniformAt(base+uint64(i)) }
	fillFloat(out, fill)
	return out
}

// RandN returns a tensor of normal values with mean 0 and standard deviation
// std (Box-Muller on two counters per value).
func RandN(r *RNG, dtype DType, std float64, shape ...int) *Tensor {
	out := empty(dtype, shape...)
	n := out.NumElems()
	base := r.take(2 * n)
	fill := func(i int) float64 {
		u1 := r.uniformAt(base + 2*uint64(i))
		u2 := r.uniformAt(base + 2*uint64(i) + 1)
		return std * math.Sqrt(-2*math.Log(1-u1)) * math.Cos(2*math.Pi*u2)
	}
	fillFloat(out, fill)
	return out
}

// fillFloat sets every element of a float tensor to f(index), in parallel.
func fillFloat(t *Tensor, f func(i int) float64) {
	mustFloat("fill", t)
	switch d := t.data.(type) {
	case []float32:
		parallel.For(len(d), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = float32(f(i))
			}
		})
	case []float64:
		parallel.For(len(d), 1<<14, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				d[i] = f(i)
			}
		})
	}
}
