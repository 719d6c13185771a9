package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// The fixtures come from tools/ckptref/gen.py (torch 1.13): model.safetensors
// and sharded/ written the way the Rust crate writes, expected.json with
// every tensor's exact values, half.json with torch's f16/bf16 rounding.

type expTensor struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	F32Bits []uint32 `json:"f32bits"`
	Bits16  []uint16 `json:"bits16"`
	F64Bits []uint64 `json:"f64bits"`
	Ints    []int64  `json:"ints"`
	Bools   []bool   `json:"bools"`
}

type expected struct {
	Tensors map[string]expTensor `json:"tensors"`
	Tied    map[string]string    `json:"tied"`
}

func readExpected(t *testing.T) expected {
	t.Helper()
	b, err := os.ReadFile("testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e expected
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// checkTensor compares a loaded tensor with the expected values bit for bit.
func checkTensor(t *testing.T, name string, got *tensor.Tensor, want expTensor) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape(), want.Shape)
		return
	}
	switch {
	case want.F32Bits != nil:
		if got.DType() != tensor.Float32 {
			t.Errorf("%s: dtype %v, want float32", name, got.DType())
			return
		}
		for i, v := range got.F32() {
			if math.Float32bits(v) != want.F32Bits[i] {
				t.Errorf("%s[%d] = %08x, want %08x", name, i, math.Float32bits(v), want.F32Bits[i])
				return
			}
		}
	case want.F64Bits != nil:
		for i, v := range got.F64() {
			if math.Float64bits(v) != want.F64Bits[i] {
				t.Errorf("%s[%d] = %v, want bits %x", name, i, v, want.F64Bits[i])
				return
			}
		}
	case want.Bools != nil:
		if !slices.Equal(got.B(), want.Bools) {
			t.Errorf("%s = %v, want %v", name, got.B(), want.Bools)
		}
	default:
		if !slices.Equal(got.I64(), want.Ints) {
			t.Errorf("%s = %v, want %v", name, got.I64(), want.Ints)
		}
	}
}

func TestLoadFixture(t *testing.T) {
	exp := readExpected(t)
	f, err := Open("testdata/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v, want format pt", f.Metadata)
	}
	ts, err := f.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	// Every tensor but the tied duplicate, which HF does not store.
	if len(ts) != len(exp.Tensors)-len(exp.Tied) {
		t.Errorf("%d tensors, want %d", len(ts), len(exp.Tensors)-len(exp.Tied))
	}
	for name, want := range exp.Tensors {
		if _, tied := exp.Tied[name]; tied {
			continue
		}
		got, ok := ts[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		checkTensor(t, name, got, want)
		info, _ := f.Info(name)
		if info.DType != want.DType {
			t.Errorf("%s: stored as %s, want %s", name, info.DType, want.DType)
		}
		if want.Bits16 != nil { // the stored half bits, and their round trip
			raw, _ := f.Raw(name)
			for i, w := range want.Bits16 {
				h := binary.LittleEndian.Uint16(raw.Data[2*i:])
				if h != w {
					t.Fatalf("%s[%d]: stored %04x, want %04x", name, i, h, w)
				}
				back := F32ToF16(got.F32()[i])
				if want.DType == BF16 {
					back = F32ToBF16(got.F32()[i])
				}
				if back != h && !math.IsNaN(float64(got.F32()[i])) {
					t.Errorf("%s[%d]: %04x widens and narrows to %04x", name, i, h, back)
				}
			}
		}
	}
}

func TestLoadSharded(t *testing.T) {
	whole, err := Load("testdata/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	sharded, err := LoadSharded("testdata/sharded/model.safetensors.index.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(sharded) != len(whole) {
		t.Fatalf("%d tensors, want %d", len(sharded), len(whole))
	}
	for name, w := range whole {
		if !sameBits(sharded[name], w) {
			t.Errorf("%s differs between sharded and single file", name)
		}
	}
}

// sameBits compares dtype, shape and stored bits (so NaNs compare equal).
func sameBits(a, b *tensor.Tensor) bool {
	if a == nil || b == nil || a.DType() != b.DType() || !slices.Equal(a.Shape(), b.Shape()) {
		return false
	}
	ra, err1 := Encode(a, storeAs(a))
	rb, err2 := Encode(b, storeAs(b))
	return err1 == nil && err2 == nil && bytes.Equal(ra.Data, rb.Data)
}

func storeAs(t *tensor.Tensor) DType {
	return map[tensor.DType]DType{tensor.Float32: F32, tensor.Float64: F64, tensor.Int64: I64, tensor.Bool: BOOL}[t.DType()]
}

// TestWriteMatchesPython rewrites the fixture's raw tensors and expects the
// very bytes the Python (Rust-crate layout) writer produced.
func TestWriteMatchesPython(t *testing.T) {
	for _, path := range []string{
		"testdata/model.safetensors",
		"testdata/sharded/model-00001-of-00002.safetensors",
		"testdata/sharded/model-00002-of-00002.safetensors",
	} {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(path, bytes.NewReader(want), int64(len(want)))
		if err != nil {
			t.Fatal(err)
		}
		raws := map[string]Raw{}
		for _, n := range f.Names() {
			if raws[n], err = f.Raw(n); err != nil {
				t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, raws, f.Metadata); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s: Go writes %d bytes that differ from Python's %d", path, buf.Len(), len(want))
		}
	}
}

// TestWriteRustVectors checks the byte layouts from the Rust crate's own
// tests (test_serialization, test_empty, test_serialization_forced_alignement).
func TestWriteRustVectors(t *testing.T) {
	f32s := func(v ...float32) []byte {
		b := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b
	}
	data := f32s(0, 1, 2, 3, 4, 5)
	cases := []struct {
		tensors map[string]Raw
		meta    map[string]string
		header  string
	}{
		{map[string]Raw{"attn.0": {F32, []int{1, 2, 3}, data}}, nil,
			`{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`},
		{map[string]Raw{"attn0": {F32, []int{1, 1, 2, 3}, data}}, nil,
			`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `},
		{map[string]Raw{}, nil, `{}      `},
		{map[string]Raw{}, map[string]string{"framework": "pt"}, `{"__metadata__":{"framework":"pt"}}     `},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		if err := Write(&buf, c.tensors, c.meta); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		binary.Write(&want, binary.LittleEndian, uint64(len(c.header)))
		want.WriteString(c.header)
		for _, r := range c.tensors {
			want.Write(r.Data)
		}
		if !bytes.Equal(buf.Bytes(), want.Bytes()) {
			t.Errorf("got %q\nwant %q", buf.Bytes(), want.Bytes())
		}
	}
}

// TestHalfMatchesTorch compares the narrowing conversions with torch's
// .half() and .bfloat16() on random bit patterns and boundary values.
func TestHalfMatchesTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/half.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		F32  []uint32 `json:"f32bits"`
		F16  []uint16 `json:"f16bits"`
		BF16 []uint16 `json:"bf16bits"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	for i, bits := range c.F32 {
		f := math.Float32frombits(bits)
		isNaN := f != f
		if got := F32ToF16(f); got != c.F16[i] && !(isNaN && F16ToF32(got) != F16ToF32(got)) {
			t.Errorf("F32ToF16(%g = %08x) = %04x, torch %04x", f, bits, got, c.F16[i])
		}
		if got := F32ToBF16(f); got != c.BF16[i] && !(isNaN && BF16ToF32(got) != BF16ToF32(got)) {
			t.Errorf("F32ToBF16(%g = %08x) = %04x, torch %04x", f, bits, got, c.BF16[i])
		}
	}
}

// TestHalfRoundTrip: every half and bfloat16 value widens exactly and
// narrows back to itself (NaNs stay NaN).
func TestHalfRoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToF32(uint16(h))
		if f != f {
			if g := F32ToF16(f); F16ToF32(g) == F16ToF32(g) {
				t.Fatalf("f16 NaN %04x came back as %04x", h, g)
			}
			continue
		}
		if g := F32ToF16(f); g != uint16(h) {
			t.Fatalf("f16 %04x -> %g -> %04x", h, f, g)
		}
		if float64(f) != f16Exact(uint16(h)) {
			t.Fatalf("f16 %04x widens to %g, want %g", h, f, f16Exact(uint16(h)))
		}
		fb := BF16ToF32(uint16(h))
		if fb == fb && F32ToBF16(fb) != uint16(h) {
			t.Fatalf("bf16 %04x -> %g -> %04x", h, fb, F32ToBF16(fb))
		}
	}
}

// f16Exact evaluates a half from its definition in float64.
func f16Exact(h uint16) float64 {
	s := 1.0
	if h&0x8000 != 0 {
		s = -1
	}
	e, m := int(h>>10&0x1f), float64(h&0x3ff)
	switch e {
	case 0x1f:
		if m != 0 {
			return math.NaN()
		}
		return s * math.Inf(1)
	case 0:
		return s * m * math.Ldexp(1, -24)
	}
	return s * (1 + m/1024) * math.Ldexp(1, e-15)
}

func TestDecodeOtherDTypes(t *testing.T) {
	// E5M2 0x3c = 1.0, E4M3FN 0x38 = 1.0, 0x7f = NaN, 0x01 = 2^-9.
	r := Raw{F8E5M2, []int{2}, []byte{0x3c, 0xc0}}
	got, err := r.Decode()
	if err != nil || got.F32()[0] != 1 || got.F32()[1] != -2 {
		t.Errorf("F8_E5M2: %v %v", got, err)
	}
	r = Raw{F8E4M3, []int{3}, []byte{0x38, 0x7f, 0x01}}
	got, err = r.Decode()
	if err != nil || got.F32()[0] != 1 || got.F32()[1] == got.F32()[1] || got.F32()[2] != float32(math.Ldexp(1, -9)) {
		t.Errorf("F8_E4M3: %v %v", got, err)
	}
	r = Raw{U64, []int{1}, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	if _, err := r.Decode(); err == nil {
		t.Error("U64 past int64 decoded without error")
	}
	r = Raw{U32, []int{1}, []byte{0xff, 0xff, 0xff, 0xff}}
	if got, err := r.Decode(); err != nil || got.I64()[0] != math.MaxUint32 {
		t.Errorf("U32: %v %v", got, err)
	}
}

// TestRoundTrip: load, save, load gives bit-identical tensors, for each
// stored float dtype that can hold the values exactly.
func TestRoundTrip(t *testing.T) {
	ts, err := Load("testdata/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, dt := range []DType{F32, F64} {
		p := filepath.Join(dir, string(dt)+".safetensors")
		if err := Save(p, ts, &SaveOptions{DType: dt}); err != nil {
			t.Fatal(err)
		}
		back, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		for name, want := range ts {
			got := back[name]
			if dt == F64 && want.DType() == tensor.Float32 {
				got = tensor.To(got, tensor.Float32)
			}
			if !sameBits(got, want) {
				t.Errorf("%s: %s round trip changed the tensor", dt, name)
			}
		}
	}
	// Saving the bf16-stored tensors as BF16 reproduces their stored bits.
	f, _ := Open("testdata/model.safetensors")
	defer f.Close()
	name := "bert.encoder.layer.0.output.dense.weight"
	raw, _ := f.Raw(name)
	enc, err := Encode(ts[name], BF16)
	if err != nil || !bytes.Equal(enc.Data, raw.Data) {
		t.Errorf("BF16 re-encoding of %s differs from the file", name)
	}
	// Save is deterministic.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	Save(a, ts, nil)
	Save(b, ts, nil)
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Error("two saves of the same tensors differ")
	}
}

func TestSaveRefusesSharedTensor(t *testing.T) {
	w := tensor.FromFloat32([]float32{1, 2}, 2)
	err := Save(filepath.Join(t.TempDir(), "x"), map[string]*tensor.Tensor{"a": w, "b": w}, nil)
	if err == nil || !strings.Contains(err.Error(), `"a" and "b"`) {
		t.Errorf("got %v, want an error naming both tensors", err)
	}
}

// file builds a safetensors file from a header string and a data length.
func file(header string, data int) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(header)))
	b.WriteString(header)
	b.Write(make([]byte, data))
	return b.Bytes()
}

func TestHostileHeaders(t *testing.T) {
	huge := make([]byte, 8)
	binary.LittleEndian.PutUint64(huge, 1<<62)
	long := make([]byte, 16)
	binary.LittleEndian.PutUint64(long, 200)
	cases := []struct {
		name string
		data []byte
		want string // substring of the error
	}{
		{"short", []byte{1, 2, 3}, "shorter than"},
		{"absurd header length", append(huge, "{}"...), "exceeds the"},
		{"header past end", long, "runs past the end"},
		{"not JSON", file(`{"a":`, 0), "header JSON"},
		{"not an object", file(`[1,2]   `, 0), "does not start with"},
		{"invalid utf8", file("{\"\xff\":1}", 0), "UTF-8"},
		{"trailing data", file(`{} {}`, 0), "trailing data"},
		{"overlap", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `tensor "b": data_offsets [4, 8] overlap tensor "a"`},
		{"past end of file", file(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, 8), `tensor "a": data_offsets [0, 16] run past the end`},
		{"gap", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), `tensor "a": data_offsets [4, 8] leave bytes [0, 4)`},
		{"tail not covered", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 8), "cover only 4"},
		{"size mismatch", file(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, 8), `tensor "a": data_offsets [0, 8] hold 8 bytes but F32[3] needs 12`},
		{"element count overflow", file(`{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}`, 8), `tensor "a": shape [4294967296 4294967296]: byte size overflows`},
		{"huge offsets", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[18446744073709551614,18446744073709551615]}}`, 8), `tensor "a"`},
		{"offsets reversed", file(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}}`, 8), "increasing"},
		{"negative dim", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,0]}}`, 0), `tensor "a": shape`},
		{"unknown dtype", file(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1), `tensor "a": unknown dtype "Q4"`},
		{"missing field", file(`{"a":{"dtype":"U8","shape":[1]}}`, 1), `tensor "a": missing "data_offsets"`},
		{"duplicate name", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), `tensor "a": name appears twice`},
		{"bad metadata", file(`{"__metadata__":{"format":1}}`, 0), "__metadata__"},
	}
	for _, c := range cases {
		_, err := Parse("evil.safetensors", bytes.NewReader(c.data), int64(len(c.data)))
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "evil.safetensors") {
			t.Errorf("%s: error %q, want it to name the file and contain %q", c.name, err, c.want)
		}
	}
	// Valid edge cases: zero-size tensors, a 0-d tensor, no tensors.
	ok := file(`{"e":{"dtype":"F32","shape":[0,3],"data_offsets":[0,0]},"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, 4)
	f, err := Parse("ok", bytes.NewReader(ok), int64(len(ok)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := f.Tensor("s")
	if err != nil || s.Rank() != 0 {
		t.Errorf("0-d tensor: %v %v", s, err)
	}
}

func TestIndexRejectsPaths(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "model.safetensors.index.json")
	os.WriteFile(p, []byte(`{"weight_map":{"a":"../../etc/passwd"}}`), 0o644)
	if _, err := LoadSharded(p); err == nil || !strings.Contains(err.Error(), "plain file name") {
		t.Errorf("got %v", err)
	}
	os.WriteFile(p, []byte(`{"weight_map":{"zzz":"model-00001-of-00002.safetensors"}}`), 0o644)
	data, _ := os.ReadFile("testdata/sharded/model-00001-of-00002.safetensors")
	os.WriteFile(filepath.Join(dir, "model-00001-of-00002.safetensors"), data, 0o644)
	if _, err := LoadSharded(p); err == nil || !strings.Contains(err.Error(), `"zzz"`) {
		t.Errorf("got %v, want an error naming the tensor missing from its shard", err)
	}
}
