package data

import "math/bits"

// rng is SplitMix64 (Steele, Lea and Flood 2014): a tiny generator whose
// output is fixed by its seed on every machine and every Go release, which
// math/rand does not promise for its helpers. Shuffles, splits and masking
// all draw from it so that they are pure functions of their seeds.
type rng struct{ s uint64 }

func newRNG(keys ...uint64) *rng {
	r := &rng{s: 0x6a09e667f3bcc909}
	for _, k := range keys {
		r.s ^= k
		r.s = r.next()
	}
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a uniform integer in [0, n) by Lemire's multiply-shift with
// rejection, so there is no modulo bias.
func (r *rng) intn(n int) int {
	if n <= 0 {
		panic("data: intn of a non-positive bound")
	}
	bound := uint64(n)
	for {
		x := r.next()
		hi, lo := bits.Mul64(x, bound)
		if lo >= bound || lo >= (-bound)%bound {
			return int(hi)
		}
	}
}

// float returns a uniform float64 in [0, 1) with 53 random bits.
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// permutation returns a Fisher-Yates shuffle of 0..n-1 drawn from r.
func (r *rng) permutation(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.intn(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
