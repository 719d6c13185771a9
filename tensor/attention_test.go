package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func init() {
	refOps["attention"] = func(in []*Tensor, a attrs) *Tensor {
		o := AttentionOpts{Causal: a.bool("causal")}
		if a.has("masked") {
			o.KeyMask = in[3]
		}
		return Attention(in[0], in[1], in[2], a.int("heads"), o)
	}
	att := func(B, Tq, Tk, H, D int, mask []int64, causal bool, p float64) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			in := []*Tensor{randT64(r, B, Tq, H*D), randT64(r, B, Tk, H*D), randT64(r, B, Tk, H*D)}
			var km *Tensor
			if mask != nil {
				km = FromInt64(mask, B, Tk)
			}
			return gradCase{inputs: in, fn: func(in []*Tensor) *Tensor {
				// A fresh RNG per call: the dropout mask is the same in
				// every evaluation, so finite differences see one function.
				return Attention(in[0], in[1], in[2], H, AttentionOpts{KeyMask: km, Causal: causal, DropoutP: p, RNG: NewRNG(5)})
			}}
		}
	}
	// Relative keys: P = 6 positions (an 11-row table) at T = 4, so the
	// window is an inner part of the table; with padding, dropout and
	// relative_key_query.
	attRel := func(B, T, H, D int, mask []int64, kq bool, p float64) func(r *rand.Rand) gradCase {
		return func(r *rand.Rand) gradCase {
			in := []*Tensor{randT64(r, B, T, H*D), randT64(r, B, T, H*D), randT64(r, B, T, H*D), randT64(r, 11, D)}
			var km *Tensor
			if mask != nil {
				km = FromInt64(mask, B, T)
			}
			return gradCase{inputs: in, fn: func(in []*Tensor) *Tensor {
				return Attention(in[0], in[1], in[2], H, AttentionOpts{KeyMask: km, DropoutP: p, RNG: NewRNG(5), RelKey: in[3], RelKeyQuery: kq})
			}}
		}
	}
	gradChecks["attention_relative"] = []func(r *rand.Rand) gradCase{
		attRel(2, 4, 2, 3, nil, false, 0),
		attRel(2, 4, 2, 3, []int64{1, 1, 1, 0, 1, 1, 1, 1}, true, 0),
		attRel(1, 6, 2, 2, nil, true, 0.3),
	}
	gradChecks["attention"] = []func(r *rand.Rand) gradCase{
		att(2, 4, 4, 2, 3, nil, false, 0),
		att(2, 4, 4, 2, 2, []int64{1, 1, 0, 0, 1, 1, 1, 1}, false, 0),
		att(1, 5, 5, 2, 2, nil, true, 0),
		att(2, 3, 3, 1, 2, []int64{0, 1, 1, 1, 1, 1}, true, 0),
		att(1, 3, 5, 2, 2, []int64{1, 1, 1, 0, 1}, false, 0),
		att(2, 4, 4, 2, 3, []int64{1, 1, 1, 0, 1, 1, 1, 1}, false, 0.3),
	}
}

// TestAttentionDropout checks that dropout is reproducible from the seed,
// drops about p of the probabilities and keeps rows' expected value.
func TestAttentionDropout(t *testing.T) {
	q := RandN(NewRNG(1), Float32, 1, 2, 64, 32)
	k := RandN(NewRNG(2), Float32, 1, 2, 64, 32)
	ones := Ones(Float32, 2, 64, 32) // v = 1: each output = Σ kept probabilities
	run := func(seed uint64, p float64) []float32 {
		return Attention(q, k, ones, 4, AttentionOpts{DropoutP: p, RNG: NewRNG(seed)}).Float32s()
	}
	a, b := run(9, 0.25), run(9, 0.25)
	var mean float64
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("same seed, different dropout")
		}
		mean += float64(a[i])
	}
	mean /= float64(len(a))
	if math.Abs(mean-1) > 0.05 {
		t.Fatalf("mean output %v, want ≈1 (inverted dropout keeps the expectation)", mean)
	}
	if c := run(10, 0.25); c[0] == a[0] && c[1] == a[1] && c[2] == a[2] {
		t.Fatal("different seeds gave the same dropout")
	}
}

func BenchmarkAttention(b *testing.B) {
	// BERT-base-like: batch 16, 12 heads of 64, sequence 128.
	B, T, H, D := 16, 128, 12, 64
	q := RandN(NewRNG(1), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	k := RandN(NewRNG(2), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	v := RandN(NewRNG(3), Float32, 1, B, T, H*D).SetRequiresGrad(true)
	mask := Ones(Int64, B, T)
	flops := float64(4 * B * H * T * T * D)
	b.Run("forward", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			NoGrad(func() { Attention(q, k, v, H, AttentionOpts{KeyMask: mask}) })
			a.Release()
		}
		b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
	b.Run("forward+backward", func(b *testing.B) {
		b.ReportAllocs()
		g := Ones(Float32, B, T, H*D)
		for i := 0; i < b.N; i++ {
			a := BeginArena()
			out := Attention(q, k, v, H, AttentionOpts{KeyMask: mask, DropoutP: 0.1, RNG: NewRNG(uint64(i))})
			out.BackwardWith(g)
			a.Release()
		}
		b.ReportMetric(3*flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	})
}

// TestAttentionRelativeKey checks the relative-key scores against a direct
// computation: softmax((q_i·k_j + q_i·E[i-j+P-1] (+ k_j·E[i-j+P-1])) /
// sqrt(D)) v, one head at a time.
func TestAttentionRelativeKey(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const B, T, H, D, P = 2, 5, 2, 3, 7
	q, k, v, E := randT64(r, B, T, H*D), randT64(r, B, T, H*D), randT64(r, B, T, H*D), randT64(r, 2*P-1, D)
	for _, kq := range []bool{false, true} {
		got := Attention(q, k, v, H, AttentionOpts{RelKey: E, RelKeyQuery: kq}).Float64s()
		qs, ks, vs, es := q.Float64s(), k.Float64s(), v.Float64s(), E.Float64s()
		for b := range B {
			for h := range H {
				for i := range T {
					s := make([]float64, T)
					mx := math.Inf(-1)
					for j := range T {
						e := es[(i-j+P-1)*D:]
						for d := range D {
							qd, kd := qs[(b*T+i)*H*D+h*D+d], ks[(b*T+j)*H*D+h*D+d]
							s[j] += qd*kd + qd*e[d]
							if kq {
								s[j] += kd * e[d]
							}
						}
						s[j] /= math.Sqrt(D)
						mx = math.Max(mx, s[j])
					}
					var sum float64
					for j := range s {
						s[j] = math.Exp(s[j] - mx)
						sum += s[j]
					}
					for d := range D {
						var want float64
						for j := range T {
							want += s[j] / sum * vs[(b*T+j)*H*D+h*D+d]
						}
						if g := got[(b*T+i)*H*D+h*D+d]; math.Abs(g-want) > 1e-12 {
							t.Fatalf("key_query %v: out[%d,%d,%d,%d] = %v, want %v", kq, b, i, h, d, g, want)
						}
					}
				}
			}
		}
	}
	// float32 agrees with float64.
	f32 := func(x *Tensor) *Tensor {
		v := make([]float32, len(x.Float64s()))
		for i, f := range x.Float64s() {
			v[i] = float32(f)
		}
		return FromFloat32(v, x.Shape()...)
	}
	got32 := Attention(f32(q), f32(k), f32(v), H, AttentionOpts{RelKey: f32(E), RelKeyQuery: true}).Float64s()
	want := Attention(q, k, v, H, AttentionOpts{RelKey: E, RelKeyQuery: true}).Float64s()
	for i := range want {
		if math.Abs(got32[i]-want[i]) > 1e-5 {
			t.Fatalf("float32 out[%d] = %v, float64 %v", i, got32[i], want[i])
		}
	}
}
