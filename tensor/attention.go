package tensor

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/internal/kernels"
	"github.com/kiln-ml/kiln/internal/parallel"
)

// AttentionOpts configures Attention.
type AttentionOpts struct {
	// KeyMask, if set, is [B, Tk] of any dtype: non-zero (or true) keys are
	// attended to, zero keys are padding. This is HF's attention_mask.
	KeyMask *Tensor
	// Causal lets query i attend only to keys j <= i (GPT-2).
	Causal bool
	// Scale multiplies the scores; 0 means 1/sqrt(head dim).
	Scale float64
	// DropoutP drops attention probabilities in training (BERT's
	// attention_probs_dropout_prob); it needs RNG.
	DropoutP float64
	RNG      *RNG
	// RelKey, if set, is HF BERT's distance_embedding.weight [2P-1, D]
	// (position_embedding_type "relative_key", Shaw et al. 2018): the score
	// of query i and key j gains q_i · RelKey[i-j+P-1] before the scaling,
	// the same table for every head. It needs Tq == Tk <= P.
	RelKey *Tensor
	// RelKeyQuery also adds k_j · RelKey[i-j+P-1] ("relative_key_query").
	RelKeyQuery bool
}

// Attention is fused multi-head scaled-dot-product attention:
//
//	out_h = dropout(softmax(scale * q_h k_hᵀ + mask)) v_h   for every head h
//
// q is [B, Tq, H*D] and k, v are [B, Tk, H*D]: the layout that the query, key
// and value projections produce, read in place (head h is columns h*D ...
// (h+1)*D), so no permute to [B, H, T, D] and back is needed. The result is
// [B, Tq, H*D], ready for the output projection.
//
// Masked scores get no probability. A query whose keys are all masked (left
// padding under a causal mask, say) attends uniformly to the keys the causal
// mask allows (all keys without one), as HF's eager attention ends up doing
// with its finfo.min masks; such a row's output does not depend on the
// scores, so no gradient flows into q and k from it (PyTorch's autograd
// differentiates through finfo.min + score and gets a different, meaningless
// gradient there). Such positions are ignored by the losses anyway.
//
// The probabilities are saved for backward ([B, H, Tq, Tk]); the dropout mask
// is not saved but recomputed from the counter-based RNG.
func Attention(q, k, v *Tensor, heads int, o AttentionOpts) *Tensor {
	mustFloat("Attention", q, k, v)
	if q.Rank() != 3 || k.Rank() != 3 || v.Rank() != 3 {
		panic(fmt.Sprintf("tensor.Attention: q, k, v must be [B, T, H*D], got %v, %v, %v", q.shape, k.shape, v.shape))
	}
	B, Tq, HD := q.shape[0], q.shape[1], q.shape[2]
	Tk := k.shape[1]
	if heads <= 0 || HD%heads != 0 {
		panic(fmt.Sprintf("tensor.Attention: width %d is not divisible by %d heads", HD, heads))
	}
	if !sameShape(k.shape, v.shape) || k.shape[0] != B || k.shape[2] != HD {
		panic(fmt.Sprintf("tensor.Attention: shapes q %v, k %v, v %v do not match", q.shape, k.shape, v.shape))
	}
	if o.Causal && Tq != Tk {
		panic(fmt.Sprintf("tensor.Attention: causal mask needs Tq == Tk, got %d and %d", Tq, Tk))
	}
	var keep []bool
	if o.KeyMask != nil {
		if !sameShape(o.KeyMask.shape, []int{B, Tk}) {
			panic(fmt.Sprintf("tensor.Attention: key mask shape %v, want [%d %d]", o.KeyMask.shape, B, Tk))
		}
		keep = o.KeyMask.Bools()
	}
	var rel *Tensor
	if o.RelKey != nil {
		rel = o.RelKey
		if rel.Rank() != 2 || rel.shape[1] != HD/heads || rel.shape[0]%2 != 1 || Tq != Tk || Tq > (rel.shape[0]+1)/2 || rel.dtype != q.dtype {
			panic(fmt.Sprintf("tensor.Attention: relative key table %v %v needs [2P-1, %d] of %v with Tq == Tk <= P, got Tq %d, Tk %d",
				rel.shape, rel.dtype, HD/heads, q.dtype, Tq, Tk))
		}
	} else if o.RelKeyQuery {
		panic("tensor.Attention: RelKeyQuery needs RelKey")
	}
	if o.DropoutP < 0 || o.DropoutP >= 1 {
		panic(fmt.Sprintf("tensor.Attention: dropout probability %v outside [0, 1)", o.DropoutP))
	}
	a := &attn{B: B, H: heads, Tq: Tq, Tk: Tk, D: HD / heads, keep: keep, causal: o.Causal, p: o.DropoutP, relKQ: o.RelKeyQuery}
	if rel != nil {
		// The 2T-1 rows that distances -(T-1) .. T-1 use: row r of the
		// window is distance r-(T-1).
		a.relP = (rel.shape[0] + 1) / 2
		a.relOff = a.relP - Tq
	}
	a.scale = o.Scale
	if a.scale == 0 {
		a.scale = 1 / math.Sqrt(float64(a.D))
	}
	if a.p > 0 {
		if o.RNG == nil {
			panic("tensor.Attention: DropoutP > 0 needs an RNG")
		}
		a.drop = o.RNG.dropper(a.p)
		a.base = o.RNG.take(B * heads * Tq * Tk)
	}
	out := empty(q.dtype, B, Tq, HD)
	probs := empty(q.dtype, B, heads, Tq, Tk)
	switch q.dtype {
	case Float32:
		attnForward(a, gemm32, floats[float32](q), floats[float32](k), floats[float32](v), relWindow[float32](a, rel), floats[float32](probs), floats[float32](out))
	default:
		attnForward(a, gemm64a, floats[float64](q), floats[float64](k), floats[float64](v), relWindow[float64](a, rel), floats[float64](probs), floats[float64](out))
	}
	inputs := []*Tensor{q, k, v}
	if rel != nil {
		inputs = append(inputs, rel)
	}
	record(out, "Attention", func(g *Tensor) []*Tensor {
		dq, dk, dv := empty(q.dtype, q.shape...), empty(q.dtype, k.shape...), empty(q.dtype, v.shape...)
		var drel *Tensor
		if rel != nil {
			drel = Zeros(rel.dtype, rel.shape...)
		}
		switch q.dtype {
		case Float32:
			attnBackward(a, gemm32, floats[float32](q), floats[float32](k), floats[float32](v), relWindow[float32](a, rel), floats[float32](probs),
				floats[float32](g), floats[float32](dq), floats[float32](dk), floats[float32](dv), relWindow[float32](a, drel))
		default:
			attnBackward(a, gemm64a, floats[float64](q), floats[float64](k), floats[float64](v), relWindow[float64](a, rel), floats[float64](probs),
				floats[float64](g), floats[float64](dq), floats[float64](dk), floats[float64](dv), relWindow[float64](a, drel))
		}
		if rel != nil {
			return []*Tensor{dq, dk, dv, drel}
		}
		return []*Tensor{dq, dk, dv}
	}, inputs...)
	return out
}

// relWindow is the [2T-1, D] part of the relative key table (or of its
// gradient) that a length-T attention uses, or nil.
func relWindow[T Float](a *attn, rel *Tensor) []T {
	if rel == nil {
		return nil
	}
	return floats[T](rel)[a.relOff*a.D : (a.relOff+2*a.Tq-1)*a.D]
}

// attn holds the sizes and options of one Attention call.
type attn struct {
	B, H, Tq, Tk, D int
	keep            []bool // [B*Tk] or nil
	causal          bool
	relP, relOff    int  // relative keys: P, and the first table row a length-T call uses
	relKQ           bool // relative_key_query: keys get the distance term too
	scale           float64
	p               float64
	drop            dropper // decides dropout from (seed, counter)
	base            uint64
}

// gemmFn computes C = alpha * op(A) op(B) (C overwritten), row-major with
// leading dimensions.
type gemmFn[T Float] func(transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, c []T, ldc int)

func gemm32(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
}

func gemm64a(transA, transB bool, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	kernels.GemmRef(transA, transB, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
}

// dropped reports whether probability (bh, i, j) is dropped.
func (a *attn) dropped(bh, i, j int) bool {
	return a.drop.dropped(a.base + uint64((bh*a.Tq+i)*a.Tk+j))
}

// rowDead reports whether query i of batch b has no visible key.
func (a *attn) rowDead(b, i int) bool {
	n := a.Tk
	if a.causal {
		n = i + 1
	}
	if a.keep == nil {
		return n == 0
	}
	for _, k := range a.keep[b*a.Tk : b*a.Tk+n] {
		if k {
			return false
		}
	}
	return true
}

// visible reports whether query i of batch b may attend to key j.
func (a *attn) visible(b, i, j int) bool {
	if a.causal && j > i {
		return false
	}
	return a.keep == nil || a.keep[b*a.Tk+j]
}

// attnForward fills probs [B,H,Tq,Tk] and out [B,Tq,H*D], one head per task.
func attnForward[T Float](a *attn, gemm gemmFn[T], q, k, v, rel, probs, out []T) {
	HD := a.H * a.D
	// A few chunks per worker: the per-chunk scratch is allocated once per chunk.
	parallel.For(a.B*a.H, parallel.Split(a.B*a.H, 1, 4), func(lo, hi int) {
		var scratch, relS []T
		if a.p > 0 {
			scratch = make([]T, a.Tq*a.Tk)
		}
		if rel != nil {
			relS = make([]T, a.Tq*(2*a.Tq-1))
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.H, bh%a.H
			qh := q[b*a.Tq*HD+h*a.D:]
			kh := k[b*a.Tk*HD+h*a.D:]
			vh := v[b*a.Tk*HD+h*a.D:]
			p := probs[bh*a.Tq*a.Tk : (bh+1)*a.Tq*a.Tk]
			// S = scale * q_h k_hᵀ, [Tq, Tk].
			gemm(false, true, a.Tq, a.Tk, a.D, T(a.scale), qh, HD, kh, HD, p, a.Tk)
			if rel != nil {
				// S_ij += scale q_i·E_(i-j): G = scale q_h Eᵀ [T, 2T-1], then
				// row i takes G[i, i-j+T-1]; the same with k_j for
				// relative_key_query.
				W := 2*a.Tq - 1
				gemm(false, true, a.Tq, W, a.D, T(a.scale), qh, HD, rel, a.D, relS, W)
				for i := 0; i < a.Tq; i++ {
					row, g := p[i*a.Tk:(i+1)*a.Tk], relS[i*W:]
					for j := range row {
						row[j] += g[i-j+a.Tq-1]
					}
				}
				if a.relKQ {
					gemm(false, true, a.Tk, W, a.D, T(a.scale), kh, HD, rel, a.D, relS, W)
					for i := 0; i < a.Tq; i++ {
						row := p[i*a.Tk : (i+1)*a.Tk]
						for j := range row {
							row[j] += relS[j*W+i-j+a.Tq-1]
						}
					}
				}
			}
			for i := 0; i < a.Tq; i++ {
				maskedSoftmaxRow(a, b, i, p[i*a.Tk:(i+1)*a.Tk])
			}
			pd := p
			if a.p > 0 {
				dropProbs(a, bh, scratch, p)
				pd = scratch
			}
			// out_h = pd v_h, [Tq, D], written into columns h*D.. of out.
			gemm(false, false, a.Tq, a.D, a.Tk, 1, pd, a.Tk, vh, HD, out[b*a.Tq*HD+h*a.D:], HD)
		}
	})
}

// dropProbs writes head bh's probabilities p [Tq, Tk] after inverted
// dropout into dst: dropped entries 0, kept ones scaled by 1/(1-p). Forward
// and backward call it with the same counters, so the mask is never stored.
func dropProbs[T Float](a *attn, bh int, dst, p []T) {
	inv := T(1 / (1 - a.p))
	c := a.base + uint64(bh*a.Tq*a.Tk) // the counter of (bh, 0, 0); rows follow on
	dst = dst[:len(p)]
	for k, x := range p {
		if a.drop.dropped(c + uint64(k)) {
			dst[k] = 0
		} else {
			dst[k] = x * inv
		}
	}
}

// maskedSoftmaxRow turns row i's scores into probabilities in place.
func maskedSoftmaxRow[T Float](a *attn, b, i int, row []T) {
	if isF32[T]() && !a.rowDead(b, i) {
		// Masked keys become -Inf and the causal tail is cut off, then the
		// AVX2 softmax kernel does the row.
		r := f32s(row)
		n := len(r)
		if a.causal {
			n = i + 1
		}
		if a.keep != nil {
			keep := a.keep[b*a.Tk : b*a.Tk+n]
			for j, k := range keep {
				if !k {
					r[j] = float32(math.Inf(-1))
				}
			}
		}
		kernels.SoftmaxF32(r[:n], r[:n])
		clear(r[n:])
		return
	}
	mx := math.Inf(-1)
	any := false
	for j, s := range row {
		if a.visible(b, i, j) {
			any = true
			mx = math.Max(mx, float64(s))
		}
	}
	if !any {
		// Uniform over the keys the causal mask allows (all keys without
		// one), as HF's eager attention ends up computing.
		n := len(row)
		if a.causal {
			n = i + 1
		}
		u := T(1 / float64(n))
		for j := range row {
			row[j] = 0
			if j < n {
				row[j] = u
			}
		}
		return
	}
	var sum float64
	for j, s := range row {
		if a.visible(b, i, j) {
			e := math.Exp(float64(s) - mx)
			row[j] = T(e)
			sum += e
		} else {
			row[j] = 0
		}
	}
	inv := 1 / sum
	for j := range row {
		row[j] = T(float64(row[j]) * inv)
	}
}

// attnBackward computes dq, dk, dv from g = d out, one head per task. Heads
// write disjoint columns, so tasks never touch the same memory.
func attnBackward[T Float](a *attn, gemm gemmFn[T], q, k, v, rel, probs, g, dq, dk, dv, drel []T) {
	HD := a.H * a.D
	W := 2*a.Tq - 1
	// Each (batch, head) writes its relative-table gradient to its own
	// slot, summed in a fixed order afterwards: deterministic results.
	var drelParts []T
	if rel != nil {
		drelParts = make([]T, a.B*a.H*W*a.D)
	}
	// A few chunks per worker: the per-chunk scratch is allocated once per chunk.
	parallel.For(a.B*a.H, parallel.Split(a.B*a.H, 1, 4), func(lo, hi int) {
		dp := make([]T, a.Tq*a.Tk)
		var dG, acc []T
		if rel != nil {
			dG = make([]T, a.Tq*W)
			acc = make([]T, W*a.D) // gemmAcc's scratch, the largest product
		}
		var pd []T
		if a.p > 0 {
			pd = make([]T, a.Tq*a.Tk)
		}
		inv := T(1 / (1 - a.p))
		for bh := lo; bh < hi; bh++ {
			b, h := bh/a.H, bh%a.H
			qOff, kOff := b*a.Tq*HD+h*a.D, b*a.Tk*HD+h*a.D
			p := probs[bh*a.Tq*a.Tk : (bh+1)*a.Tq*a.Tk]
			used := p
			if a.p > 0 {
				dropProbs(a, bh, pd, p)
				used = pd
			}
			// dv_h = usedᵀ g_h, [Tk, D].
			gemm(true, false, a.Tk, a.D, a.Tq, 1, used, a.Tk, g[qOff:], HD, dv[kOff:], HD)
			// d used = g_h v_hᵀ, [Tq, Tk].
			gemm(false, true, a.Tq, a.Tk, a.D, 1, g[qOff:], HD, v[kOff:], HD, dp, a.Tk)
			for i := 0; i < a.Tq; i++ {
				row, pr := dp[i*a.Tk:(i+1)*a.Tk], p[i*a.Tk:(i+1)*a.Tk]
				if a.p > 0 {
					for j := range row {
						if a.dropped(bh, i, j) {
							row[j] = 0
						} else {
							row[j] *= inv
						}
					}
				}
				// Softmax backward: dS = P ⊙ (dP - Σ_j dP P). A fully
				// masked row's uniform output does not depend on the
				// scores, so its gradient is zero.
				if a.rowDead(b, i) {
					clear(row)
					continue
				}
				if isF32[T]() {
					kernels.SoftmaxBackwardF32(f32s(row), f32s(pr), f32s(row))
					continue
				}
				var dot float64
				for j, x := range row {
					dot += float64(x) * float64(pr[j])
				}
				for j, x := range row {
					row[j] = pr[j] * (x - T(dot))
				}
			}
			// dq_h = scale * dS k_h, [Tq, D]; dk_h = scale * dSᵀ q_h, [Tk, D].
			gemm(false, false, a.Tq, a.D, a.Tk, T(a.scale), dp, a.Tk, k[kOff:], HD, dq[qOff:], HD)
			gemm(true, false, a.Tk, a.D, a.Tq, T(a.scale), dp, a.Tk, q[qOff:], HD, dk[kOff:], HD)
			if rel != nil {
				// dG[i, i-j+T-1] = dS_ij; dq_h += scale dG E, dE += scale dGᵀ q_h
				// (and the same with k for relative_key_query, dH[j, i-j+T-1]).
				part := drelParts[bh*W*a.D : (bh+1)*W*a.D]
				clear(dG)
				for i := 0; i < a.Tq; i++ {
					row, d := dp[i*a.Tk:(i+1)*a.Tk], dG[i*W:]
					for j, x := range row {
						d[i-j+a.Tq-1] = x
					}
				}
				gemmAcc(gemm, a.Tq, a.D, W, T(a.scale), dG, W, rel, a.D, dq[qOff:], HD, false, acc)
				gemmAcc(gemm, W, a.D, a.Tq, T(a.scale), dG, W, q[qOff:], HD, part, a.D, true, acc)
				if a.relKQ {
					clear(dG)
					for i := 0; i < a.Tq; i++ {
						row := dp[i*a.Tk : (i+1)*a.Tk]
						for j, x := range row {
							dG[j*W+i-j+a.Tq-1] = x
						}
					}
					gemmAcc(gemm, a.Tk, a.D, W, T(a.scale), dG, W, rel, a.D, dk[kOff:], HD, false, acc)
					gemmAcc(gemm, W, a.D, a.Tk, T(a.scale), dG, W, k[kOff:], HD, part, a.D, true, acc)
				}
			}
		}
	})
	for bh := 0; bh < a.B*a.H && rel != nil; bh++ {
		for i, x := range drelParts[bh*W*a.D : (bh+1)*W*a.D] {
			drel[i] += x
		}
	}
}

// gemmAcc adds alpha op(A) B to the [m, n] matrix C (leading dimension ldc):
// A is [m, k] (lda), or with transA its [k, m] transpose is read; B is [k,
// n] (ldb). gemmFn overwrites its output, so the product goes through a
// scratch (at least m*n long).
func gemmAcc[T Float](gemm gemmFn[T], m, n, k int, alpha T, a []T, lda int, b []T, ldb int, c []T, ldc int, transA bool, scratch []T) {
	tmp := scratch[:m*n]
	gemm(transA, false, m, n, k, alpha, a, lda, b, ldb, tmp, n)
	for i := 0; i < m; i++ {
		row, t := c[i*ldc:i*ldc+n], tmp[i*n:(i+1)*n]
		for j, x := range t {
			row[j] += x
		}
	}
}
