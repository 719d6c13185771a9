package kernels

// kernelGeneric is the portable micro-kernel for any mr x nr tile: it
// computes the kb-deep product of a packed A micro-panel (kb x mr) and a
// packed B micro-panel (kb x nr), then stores C = alpha*AB + beta*C for the
// mr x nr tile at c with row stride ldc (C is not read when beta == 0).
func kernelGeneric(kb int, a, b, c []float32, ldc int, alpha, beta float32) {
	var acc [mr * nr]float32
	for p := 0; p < kb; p++ {
		ap := a[p*mr : p*mr+mr]
		bp := b[p*nr : p*nr+nr]
		for i, av := range ap {
			row := acc[i*nr : i*nr+nr]
			for j, bv := range bp {
				row[j] += av * bv
			}
		}
	}
	storeTile(acc[:], c, ldc, alpha, beta)
}

// storeTile merges an mr x nr accumulator tile into C.
func storeTile(acc, c []float32, ldc int, alpha, beta float32) {
	for i := 0; i < mr; i++ {
		cr := c[i*ldc : i*ldc+nr]
		ar := acc[i*nr : i*nr+nr]
		if beta == 0 {
			for j, v := range ar {
				cr[j] = alpha * v
			}
		} else {
			for j, v := range ar {
				cr[j] = alpha*v + beta*cr[j]
			}
		}
	}
}
