package safetensors

import (
	"bytes"
	"testing"
)

// FuzzSafetensorsHeader feeds whole files (seeds in
// testdata/fuzz/FuzzSafetensorsHeader, written by tools/ckptref/gen.py) to
// the parser. It must never panic, and whatever it accepts must read back,
// re-encode losslessly and rewrite to a file that parses to the same tensors.
func FuzzSafetensorsHeader(f *testing.F) {
	f.Add(file(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, 4))
	f.Add(file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := Parse("fuzz", bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		raws := map[string]Raw{}
		for _, name := range st.Names() {
			r, err := st.Raw(name)
			if err != nil {
				t.Fatalf("validated file fails to read %q: %v", name, err)
			}
			if _, err := r.Decode(); err != nil && r.DType != U64 {
				t.Fatalf("validated tensor %q fails to decode: %v", name, err)
			}
			raws[name] = r
		}
		var buf bytes.Buffer
		if err := Write(&buf, raws, st.Metadata); err != nil {
			t.Fatalf("rewrite: %v", err)
		}
		back, err := Parse("rewritten", bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		for _, name := range st.Names() {
			r, _ := back.Raw(name)
			if !bytes.Equal(r.Data, raws[name].Data) || r.DType != raws[name].DType {
				t.Fatalf("tensor %q changed in the rewrite", name)
			}
		}
	})
}
