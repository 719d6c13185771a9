package dist

import (
	"os"
	"testing"
)

// unsetenv removes k for the rest of the test; call t.Setenv(k, ...) first so
// the testing package restores the original value afterwards.
func unsetenv(t *testing.T, k string) {
	t.Helper()
	if err := os.Unsetenv(k); err != nil {
		t.Fatal(err)
	}
}
