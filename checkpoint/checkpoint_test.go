package checkpoint

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"

	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// Fixtures: testdata/pytorch_model.bin is torch.save of the state dict that
// tools/ckptref/gen.py also writes to ../safetensors/testdata (with a tied
// duplicate, a transposed view, a sliced view and a Parameter only in the
// .bin); ../safetensors/testdata/expected.json holds the exact values.

type expTensor struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	F32Bits []uint32 `json:"f32bits"`
	F64Bits []uint64 `json:"f64bits"`
	Ints    []int64  `json:"ints"`
	Bools   []bool   `json:"bools"`
}

func readExpected(t *testing.T) (map[string]expTensor, map[string]string) {
	t.Helper()
	b, err := os.ReadFile("../safetensors/testdata/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Tensors map[string]expTensor `json:"tensors"`
		Tied    map[string]string    `json:"tied"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e.Tensors, e.Tied
}

func checkTensor(t *testing.T, name string, got *tensor.Tensor, want expTensor) {
	t.Helper()
	if !slices.Equal(got.Shape(), want.Shape) {
		t.Errorf("%s: shape %v, want %v", name, got.Shape(), want.Shape)
		return
	}
	switch {
	case want.F32Bits != nil:
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

func TestLoadTorchFixture(t *testing.T) {
	exp, _ := readExpected(t)
	sd, err := LoadTorch("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	if len(sd) != len(exp) {
		t.Errorf("%d tensors, want %d", len(sd), len(exp))
	}
	for name, want := range exp {
		got, ok := sd[name]
		if !ok {
			t.Errorf("missing %s", name)
			continue
		}
		checkTensor(t, name, got, want)
	}
}

// TestTorchMatchesSafetensors: the two formats give the same tensors.
func TestTorchMatchesSafetensors(t *testing.T) {
	bin, err := Load("testdata") // only pytorch_model.bin there
	if err != nil {
		t.Fatal(err)
	}
	st, err := Load("../safetensors/testdata") // model.safetensors wins
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range st {
		if !sameBits(bin[name], s) {
			t.Errorf("%s differs between pytorch_model.bin and model.safetensors", name)
		}
	}
}

// TestGopickleAgrees cross-checks the float tensors against gopickle's
// (unrestricted) reader of the same file.
func TestGopickleAgrees(t *testing.T) {
	sd, err := LoadTorch("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	// gopickle v0.2.0 lacks _rebuild_parameter; supply it (it returns its
	// first argument, the tensor).
	v, err := pytorch.LoadWithUnpickler("testdata/pytorch_model.bin", func(r io.Reader) pickle.Unpickler {
		u := pickle.NewUnpickler(r)
		u.FindClass = func(module, name string) (any, error) {
			if module == "torch._utils" && name == "_rebuild_parameter" {
				return firstArg{}, nil
			}
			return nil, fmt.Errorf("unexpected global %s.%s", module, name)
		}
		return u
	})
	if err != nil {
		t.Fatal(err)
	}
	od := v.(*types.OrderedDict)
	checked := 0
	for name, ours := range sd {
		e, ok := od.Get(name)
		if !ok {
			t.Errorf("gopickle lacks %s", name)
			continue
		}
		pt := e.(*pytorch.Tensor)
		var data []float32
		half := false
		switch s := pt.Source.(type) {
		case *pytorch.FloatStorage:
			data = s.Data
		case *pytorch.HalfStorage:
			data, half = s.Data, true
		case *pytorch.BFloat16Storage:
			data = s.Data
		default:
			continue
		}
		// Walk the strided view.
		idx := make([]int, len(pt.Size))
		for i, got := range ours.F32() {
			at := pt.StorageOffset
			for d := range idx {
				at += idx[d] * pt.Stride[d]
			}
			// gopickle v0.2.0 decodes half zeros, subnormals, infinities
			// and NaNs wrongly (-0 as -2^-15, inf as 65536); ours match
			// torch's values in expected.json, so compare normals only.
			g := math.Abs(float64(got))
			skip := half && (g < 6.103515625e-05 || math.IsInf(g, 0) || g != g)
			if !skip && math.Float32bits(data[at]) != math.Float32bits(got) {
				t.Errorf("%s[%d]: gopickle %v, ours %v", name, i, data[at], got)
			}
			for d := len(idx) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < pt.Size[d] {
					break
				}
				idx[d] = 0
			}
		}
		checked++
	}
	if checked < 10 {
		t.Errorf("only %d float tensors compared", checked)
	}
}

type firstArg struct{}

func (firstArg) Call(args ...any) (any, error) { return args[0], nil }

func sameBits(a, b *tensor.Tensor) bool {
	if a == nil || b == nil || a.DType() != b.DType() || !slices.Equal(a.Shape(), b.Shape()) {
		return false
	}
	dt := map[tensor.DType]safetensors.DType{tensor.Float32: safetensors.F32, tensor.Float64: safetensors.F64, tensor.Int64: safetensors.I64, tensor.Bool: safetensors.BOOL}[a.DType()]
	ra, err1 := safetensors.Encode(a, dt)
	rb, err2 := safetensors.Encode(b, dt)
	return err1 == nil && err2 == nil && bytes.Equal(ra.Data, rb.Data)
}

// pickleOf returns the fixture's data.pkl and a loader for its storages.
func fixturePickle(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	// data.pkl is stored uncompressed; find it by its known first bytes.
	i := bytes.Index(b, []byte("\x80\x02ccollections\nOrderedDict\n"))
	j := bytes.Index(b[i:], []byte("PK"))
	if i < 0 || j < 0 {
		t.Fatal("no data.pkl in the fixture")
	}
	return b[i : i+j]
}

func TestHostilePickles(t *testing.T) {
	pkl := fixturePickle(t)
	load := fakeStorages
	cases := []struct {
		name string
		pkl  []byte
		want string
	}{
		{"os.system", []byte("cos\nsystem\n(S'echo pwned'\ntR."), `global "os.system" is not allowed`},
		{"builtins.eval via STACK_GLOBAL", []byte("\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R."), `global "builtins.eval" is not allowed`},
		{"torch.load itself", []byte("\x80\x02ctorch\nload\nq\x00."), `global "torch.load" is not allowed`},
		{"copy_reg reconstructor", []byte("\x80\x02ccopy_reg\n_reconstructor\n."), `global "copy_reg._reconstructor"`},
		{"huge bytes length", []byte("\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f"), "asks for"},
		{"huge frame", []byte("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\x7f."), "frame of"},
		{"unsupported opcode", []byte("\x80\x02c__builtin__\nset\n."), "not allowed"},
		{"INST opcode", []byte("(i os\nsystem\n."), "refused"},
		{"not a dict", []byte("\x80\x02K\x01."), "not a state dict"},
		{"view past storage", bytes.Replace(pkl, []byte("K\x0bK\x06\x86"), []byte("K\x0cK\x06\x86"), 1), `tensor "bert.embeddings.word_embeddings.weight": size [12 6]`},
		{"negative stride", bytes.Replace(pkl, []byte("K\x06K\x01\x86"), []byte("J\xff\xff\xff\xffK\x01\x86"), 1), "negative size or stride"},
		{"truncated", pkl[:len(pkl)/2], "only 0 left"},
		{"stack underflow", []byte("\x80\x02t."), "no MARK"},
	}
	for _, c := range cases {
		_, err := decodeStateDict(c.pkl, load, 1<<20)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q, want %q", c.name, err, c.want)
		}
	}
	// The budget stops many views of one storage from ballooning.
	if _, err := decodeStateDict(pkl, load, 100); err == nil || !strings.Contains(err.Error(), "more data than the file") {
		t.Errorf("budget: got %v", err)
	}
}

// fakeStorages serves any storage of up to 64 KiB as a patterned buffer.
func fakeStorages(key string, nbytes int64) ([]byte, error) {
	if nbytes > 1<<16 {
		return nil, os.ErrInvalid
	}
	b := make([]byte, nbytes)
	for i := range b {
		b[i] = byte(i*7 + len(key))
	}
	return b, nil
}

func TestTorchArchiveChecks(t *testing.T) {
	if _, err := ParseTorch([]byte("\x80\x02}q\x00.")); err == nil || !strings.Contains(err.Error(), "legacy") {
		t.Errorf("legacy format: %v", err)
	}
	if _, err := ParseTorch([]byte("hello")); err == nil {
		t.Error("non-zip accepted")
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "pytorch_model.bin")
	os.WriteFile(p, []byte("PK\x03\x04garbage"), 0o644)
	if _, err := LoadTorch(p); err == nil || !strings.Contains(err.Error(), p) {
		t.Errorf("bad zip: %v (want the file named)", err)
	}
}

// model builds tensors of the given shapes, all filled with v.
func model(v float32, shapes map[string][]int) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for name, s := range shapes {
		out[name] = tensor.Full(tensor.Float32, float64(v), s...)
	}
	return out
}

func TestLoadIntoPrefix(t *testing.T) {
	base := StateDict(model(1, map[string][]int{
		"embeddings.word_embeddings.weight": {4, 2},
		"pooler.dense.weight":               {2, 2},
	}))
	// BertModel checkpoint into BertForSequenceClassification.
	cls := model(0, map[string][]int{
		"bert.embeddings.word_embeddings.weight": {4, 2},
		"bert.pooler.dense.weight":               {2, 2},
		"classifier.weight":                      {3, 2},
		"classifier.bias":                        {3},
	})
	rep, err := LoadInto(cls, base, LoadOptions{BasePrefix: "bert"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rep.Missing, []string{"classifier.bias", "classifier.weight"}) || len(rep.Unexpected) != 0 {
		t.Errorf("report %+v", rep)
	}
	if cls["bert.pooler.dense.weight"].F32()[0] != 1 || cls["classifier.weight"].F32()[0] != 0 {
		t.Error("base weights not loaded, or head overwritten")
	}
	// BertForMaskedLM checkpoint (prefixed, with a head) into BertModel.
	mlm := StateDict(model(2, map[string][]int{
		"bert.embeddings.word_embeddings.weight": {4, 2},
		"bert.pooler.dense.weight":               {2, 2},
		"cls.predictions.bias":                   {4},
	}))
	bm := model(0, map[string][]int{"embeddings.word_embeddings.weight": {4, 2}, "pooler.dense.weight": {2, 2}})
	rep, err = LoadInto(bm, mlm, LoadOptions{BasePrefix: "bert"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Missing) != 0 || !slices.Equal(rep.Unexpected, []string{"cls.predictions.bias"}) || bm["pooler.dense.weight"].F32()[3] != 2 {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.String(), "not used when initializing the model: ['cls.predictions.bias']") {
		t.Errorf("report text %q", rep.String())
	}
	// A head weight without the base prefix means a broken checkpoint.
	bad := StateDict(model(1, map[string][]int{"embeddings.word_embeddings.weight": {4, 2}, "classifier.bias": {3}}))
	if _, err := LoadInto(model(0, map[string][]int{"bert.embeddings.word_embeddings.weight": {4, 2}, "classifier.bias": {3}}), bad, LoadOptions{BasePrefix: "bert"}); err == nil {
		t.Error("inconsistent checkpoint accepted")
	}
	// Same naming on both sides, no prefix option: plain matching.
	m, err := MapKeys([]string{"a.x", "b"}, []string{"a.x"}, "")
	if err != nil || m["a.x"] != "a.x" || m["b"] != "b" {
		t.Errorf("MapKeys identity: %v %v", m, err)
	}
}

func TestLoadIntoErrorsAndTies(t *testing.T) {
	sd := StateDict(model(3, map[string][]int{"w": {2, 3}, "v": {4}, "LayerNorm.gamma": {2}, "pos": {1}}))
	sd["pos"] = tensor.FromInt64([]int64{7}, 1)
	params := model(0, map[string][]int{"w": {3, 2}, "v": {5}, "LayerNorm.weight": {2}})
	_, err := LoadInto(params, sd, LoadOptions{})
	if err == nil {
		t.Fatal("shape mismatch accepted")
	}
	for _, want := range []string{"size mismatch for w: copying a param with shape [2 3] from checkpoint, the shape in current model is [3 2]", "size mismatch for v"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if params["LayerNorm.weight"].F32()[0] != 0 {
		t.Error("a failed load wrote a parameter")
	}
	rep, err := LoadInto(params, sd, LoadOptions{IgnoreMismatchedSizes: true, IgnoreUnexpected: []*regexp.Regexp{regexp.MustCompile(`^pos$`)}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Mismatched) != 2 || len(rep.Missing) != 0 || len(rep.Unexpected) != 0 || params["LayerNorm.weight"].F32()[1] != 3 {
		t.Errorf("report %+v", rep)
	}
	// Tied parameters: the decoder shares the embedding tensor, so loading
	// the embedding fills it and it is not reported missing.
	emb := tensor.Zeros(tensor.Float32, 4, 2)
	tied := map[string]*tensor.Tensor{"bert.embeddings.word_embeddings.weight": emb, "cls.predictions.decoder.weight": emb}
	rep, err = LoadInto(tied, StateDict(model(5, map[string][]int{"bert.embeddings.word_embeddings.weight": {4, 2}})), LoadOptions{BasePrefix: "bert"})
	if err != nil || len(rep.Missing) != 0 || emb.F32()[7] != 5 {
		t.Errorf("tied load: %+v %v", rep, err)
	}
	// Dtype: a float checkpoint cannot fill an int64 buffer.
	_, err = LoadInto(map[string]*tensor.Tensor{"pos": tensor.Zeros(tensor.Int64, 1)}, StateDict{"pos": tensor.FromFloat32([]float32{1}, 1)}, LoadOptions{})
	if err == nil || !strings.Contains(err.Error(), "dtype mismatch for pos") {
		t.Errorf("dtype mismatch: %v", err)
	}
}

func TestFixKey(t *testing.T) {
	for in, want := range map[string]string{
		"bert.embeddings.LayerNorm.gamma": "bert.embeddings.LayerNorm.weight",
		"bert.embeddings.LayerNorm.beta":  "bert.embeddings.LayerNorm.bias",
		"classifier.weight":               "classifier.weight",
	} {
		if got := FixKey(in); got != want {
			t.Errorf("FixKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSaveRoundTrip: load the .bin, save as HF does (tied duplicate dropped),
// load again: bit-identical tensors, in one file and in shards.
func TestSaveRoundTrip(t *testing.T) {
	sd, err := LoadTorch("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	// Tie the decoder to the embedding, as a model does.
	sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
	for _, shard := range []int64{0, 300} {
		dir := t.TempDir()
		files, err := Save(dir, sd, SaveOptions{MaxShardSize: shard})
		if err != nil {
			t.Fatal(err)
		}
		if shard == 0 && !slices.Equal(files, []string{SafeWeightsName}) || shard > 0 && len(files) < 3 {
			t.Errorf("shard %d: wrote %v", shard, files)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := back["cls.predictions.decoder.weight"]; ok || len(back) != len(sd)-1 {
			t.Errorf("shard %d: tied duplicate stored, or tensors lost (%d of %d)", shard, len(back), len(sd))
		}
		for name, got := range back {
			if !sameBits(got, sd[name]) {
				t.Errorf("shard %d: %s changed", shard, name)
			}
		}
		// Saving again into the same directory is deterministic and leaves
		// no stale files of the other layout.
		again, _ := Save(dir, sd, SaveOptions{MaxShardSize: shard})
		entries, _ := os.ReadDir(dir)
		if len(entries) != len(again) {
			t.Errorf("shard %d: %d files in dir after re-save, want %d", shard, len(entries), len(again))
		}
	}
	// GPT-2 style: lm_head.weight declared tied keeps transformer.wte.weight,
	// although "lm_head" sorts first.
	wte := tensor.FromFloat32([]float32{1, 2}, 1, 2)
	dir := t.TempDir()
	if _, err := Save(dir, StateDict{"lm_head.weight": wte, "transformer.wte.weight": wte}, SaveOptions{TiedKeys: []string{"lm_head.weight"}}); err != nil {
		t.Fatal(err)
	}
	back, _ := Load(dir)
	if _, ok := back["transformer.wte.weight"]; !ok || len(back) != 1 {
		t.Errorf("GPT-2 tie: saved %v", back.Names())
	}
}

// TestWriteInterop writes Go-saved checkpoints for tools/ckptref/verify.py
// when KILN_CKPT_INTEROP_DIR is set (a manual check; CI never runs Python).
func TestWriteInterop(t *testing.T) {
	out := os.Getenv("KILN_CKPT_INTEROP_DIR")
	if out == "" {
		t.Skip("set KILN_CKPT_INTEROP_DIR to write files for tools/ckptref/verify.py")
	}
	sd, err := LoadTorch("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
	for sub, opts := range map[string]SaveOptions{
		"f32":     {},
		"bf16":    {DType: safetensors.BF16},
		"f16":     {DType: safetensors.F16},
		"sharded": {MaxShardSize: 300},
	} {
		if _, err := Save(filepath.Join(out, sub), sd, opts); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLoadTorchSharded: pytorch_model.bin.index.json and its shards.
func TestLoadTorchSharded(t *testing.T) {
	want, err := LoadTorch("testdata/pytorch_model.bin")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	data, _ := os.ReadFile("testdata/pytorch_model.bin")
	os.WriteFile(filepath.Join(dir, "pytorch_model-00001-of-00001.bin"), data, 0o644)
	wm := map[string]string{}
	for name := range want {
		wm[name] = "pytorch_model-00001-of-00001.bin"
	}
	idx, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
	os.WriteFile(filepath.Join(dir, WeightsIndexName), idx, 0o644)
	got, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if !sameBits(got[name], w) {
			t.Errorf("%s differs", name)
		}
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "has none of") {
		t.Errorf("empty dir: %v", err)
	}
}
