//go:build mpi

package dist

// SetMaxCount lowers the per-call element limit for a test and returns the
// function that restores it.
func SetMaxCount(n int) (restore func()) {
	old := maxCount
	maxCount = n
	return func() { maxCount = old }
}
