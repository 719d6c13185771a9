//go:build amd64 && !purego

package kernels

import (
	"math/rand"
	"testing"
)

// TestSgemmGenericKernel covers the portable 6x16 kernel that CPUs without
// AVX2+FMA fall back to.
func TestSgemmGenericKernel(t *testing.T) {
	saved := useAsm
	useAsm = false
	defer func() { useAsm = saved }()
	r := rand.New(rand.NewSource(6))
	i := 0
	for _, tr := range transCombos {
		for _, sh := range [][3]int{{1, 1, 1}, {7, 17, 5}, {13, 33, 300}, {64, 70, 64}} {
			s := scalars[i%len(scalars)]
			check(t, r, gemmCase{tr[0], tr[1], sh[0], sh[1], sh[2], s.alpha, s.beta, i % 2, s.nanC}, Sgemm)
			i++
		}
	}
}
