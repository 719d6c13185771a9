package checkpoint

import (
	"os"
	"testing"
)

// FuzzPickle runs the restricted unpickler on arbitrary data.pkl bytes (seeds
// in testdata/fuzz/FuzzPickle: the fixture's real pickle and hostile ones,
// written by tools/ckptref/gen.py), with storages served by fakeStorages. It
// must never panic or allocate past its budget, and any state dict it
// accepts must hold tensors whose data match their shapes.
func FuzzPickle(f *testing.F) {
	f.Add(fixturePickle(f))
	f.Add([]byte("\x80\x02}q\x00."))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		sd, err := decodeStateDict(pkl, fakeStorages, 1<<20)
		if err != nil {
			return
		}
		for name, ts := range sd {
			if ts == nil {
				t.Fatalf("%q: nil tensor", name)
			}
			n := 1
			for _, d := range ts.Shape() {
				n *= d
			}
			if n != ts.NumElems() {
				t.Fatalf("%q: shape %v but %d elements", name, ts.Shape(), ts.NumElems())
			}
		}
	})
}

// FuzzTorchZip runs the whole pytorch_model.bin reader (zip layer included)
// on arbitrary bytes, seeded with the fixture.
func FuzzTorchZip(f *testing.F) {
	if b, err := os.ReadFile("testdata/pytorch_model.bin"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTorch(b) // must not panic; sizes are bounded by len(b)
	})
}
