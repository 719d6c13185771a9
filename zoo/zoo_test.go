package zoo

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
)

// recipe maps each model to its directory in tools/pretrain.
var recipe = map[string]string{
	"kiln-bert-mini": "../tools/pretrain/bert",
	"kiln-gpt2-mini": "../tools/pretrain/gpt2",
}

func TestNames(t *testing.T) {
	if got := Names(); !slices.Equal(got, []string{"kiln-bert-mini", "kiln-gpt2-mini"}) {
		t.Fatalf("Names() = %q", got)
	}
}

// copyOut writes a model's embedded files (whatever they are) to a
// temporary directory, for loaders that read directories.
func copyOut(t *testing.T, name string) string {
	t.Helper()
	sub, files, err := model(root, name)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, f := range files {
		if err := copyFile(sub, f, filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestInfo(t *testing.T) {
	want := map[string]struct {
		typ, arch string
	}{
		"kiln-bert-mini": {"bert", "BertForMaskedLM"},
		"kiln-gpt2-mini": {"gpt2", "GPT2LMHeadModel"},
	}
	for _, name := range Names() {
		c, err := Info(name)
		if err != nil {
			t.Fatal(err)
		}
		w := want[name]
		if c.Name != name || c.ModelType != w.typ || !slices.Equal(c.Architectures, []string{w.arch}) || c.MaxPositions != 128 {
			t.Errorf("%s: %+v", name, c)
		}
		for _, f := range []string{"config.json", "README.md", "tokenizer_config.json", "special_tokens_map.json"} {
			if !slices.Contains(c.Files, f) {
				t.Errorf("%s lacks %s (has %q)", name, f, c.Files)
			}
		}
		if c.HasWeights != slices.Contains(c.Files, weightsFile) || c.HasWeights != (c.Params > 0) || c.HasWeights != (c.WeightBytes > 0) {
			t.Errorf("%s: HasWeights %v, Params %d, WeightBytes %d", name, c.HasWeights, c.Params, c.WeightBytes)
		}
		if len(c.Digest) != 64 {
			t.Errorf("%s: digest %q", name, c.Digest)
		}
		tok, err := tokenizer.Load(copyOut(t, name))
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != c.VocabSize {
			t.Errorf("%s: vocab_size %d, tokenizer %d", name, c.VocabSize, tok.VocabSize())
		}
		// The model card: HF front matter, and placeholders filled once
		// the weights are in.
		if !strings.HasPrefix(c.README, "---\nlicense: mit\nlanguage:\n- en\n") || !strings.Contains(c.README, "\n  - kiln\n") && !strings.Contains(c.README, "\n- kiln\n") {
			t.Errorf("%s: README.md front matter:\n%.200s", name, c.README)
		}
		if c.HasWeights && strings.Contains(c.README, "{{") {
			t.Errorf("%s has weights but README.md still has placeholders", name)
		}
	}
	if _, err := Info("bert-base-uncased"); err == nil || !strings.Contains(err.Error(), "kiln-bert-mini") {
		t.Errorf("unknown model: %v", err)
	}
}

// TestMatchesRecipe checks that the embedded files are the ones
// tools/pretrain trains with: the same tokenizer files, and a config.json
// that agrees on every key the recipe's sets (torch_dtype and
// architectures aside).
func TestMatchesRecipe(t *testing.T) {
	for name, dir := range recipe {
		sub, files, err := model(root, name)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if f == "config.json" || f == "README.md" || f == weightsFile {
				continue
			}
			a, _ := fs.ReadFile(sub, f)
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s/%s differs from %s/%s (%v)", name, f, dir, f, err)
			}
		}
		var got, want map[string]any
		b, _ := fs.ReadFile(sub, "config.json")
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		b, _ = os.ReadFile(filepath.Join(dir, "config.json"))
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatal(err)
		}
		for k, v := range want {
			if k == "torch_dtype" || k == "architectures" || k == "transformers_version" {
				continue
			}
			x, _ := json.Marshal(got[k])
			y, _ := json.Marshal(v)
			if !bytes.Equal(x, y) {
				t.Errorf("%s/config.json: %s = %s, recipe %s", name, k, x, y)
			}
		}
	}
}

func TestExtractWithoutWeights(t *testing.T) {
	for _, name := range Names() {
		c, _ := Info(name)
		if c.HasWeights {
			continue
		}
		dir := filepath.Join(t.TempDir(), name)
		err := Extract(name, dir)
		if !errors.Is(err, ErrNoWeights) || !strings.Contains(err.Error(), name+" has no weights yet") {
			t.Errorf("Extract(%s) = %v", name, err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s was created", dir)
		}
	}
}

// TestExtractWithWeights loads an extracted model with kiln; it runs once
// the weights are committed.
func TestExtractWithWeights(t *testing.T) {
	ran := false
	for _, name := range Names() {
		c, _ := Info(name)
		if !c.HasWeights {
			continue
		}
		ran = true
		dir := filepath.Join(t.TempDir(), name)
		if err := Extract(name, dir); err != nil {
			t.Fatal(err)
		}
		m, rep, err := auto.Load(dir, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Missing)+len(rep.Unexpected) > 0 {
			t.Errorf("%s: %s", name, rep)
		}
		tok, err := tokenizer.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := tok.Encode("Call me Ishmael.", tokenizer.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]int64, len(enc.IDs))
		for i, id := range enc.IDs {
			ids[i] = int64(id)
		}
		m.Train(false)
		var out auto.Output
		tensor.NoGrad(func() {
			out, err = m.Forward(auto.Batch{InputIDs: tensor.FromInt64(ids, 1, len(ids))})
		})
		if err != nil {
			t.Fatal(err)
		}
		if s := out.Logits.Shape(); !slices.Equal(s, []int{1, len(ids), c.VocabSize}) {
			t.Errorf("%s: logits %v", name, s)
		}
	}
	if !ran {
		t.Skip("no embedded model has weights yet")
	}
}

// fakeWeights is a safetensors file with 3 + 2x2 parameters.
func fakeWeights() []byte {
	raw := map[string]safetensors.Raw{}
	for name, t := range map[string]*tensor.Tensor{
		"a": tensor.FromFloat32([]float32{1, 2, 3}, 3),
		"b": tensor.FromFloat32([]float32{1, 2, 3, 4}, 2, 2),
	} {
		r, err := safetensors.Encode(t, safetensors.F16)
		if err != nil {
			panic(err)
		}
		raw[name] = r
	}
	var b bytes.Buffer
	if err := safetensors.Write(&b, raw, map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// fake is a model tree with weights, for the extraction mechanics.
var fake = fstest.MapFS{
	"m/config.json":       {Data: []byte(`{"model_type": "bert", "vocab_size": 3}`)},
	"m/model.safetensors": {Data: fakeWeights()},
	"m/sub/extra.txt":     {Data: []byte("x")},
	"noweights/vocab.txt": {Data: []byte("[PAD]\n")},
}

func sameTree(t *testing.T, dir string) {
	t.Helper()
	for p, f := range fake {
		if !strings.HasPrefix(p, "m/") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, strings.TrimPrefix(p, "m/")))
		if err != nil || !bytes.Equal(b, f.Data) {
			t.Errorf("%s: %q, %v", p, b, err)
		}
	}
}

// noLeftovers checks that no temporary directory is left in parent.
func noLeftovers(t *testing.T, parent string) {
	t.Helper()
	ents, _ := os.ReadDir(parent)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("leftover %s", e.Name())
		}
	}
}

func TestExtractMechanics(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "m")
	if err := extract(fake, "m", dir); err != nil {
		t.Fatal(err)
	}
	sameTree(t, dir)
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o755 {
		t.Errorf("mode %v", st.Mode())
	}
	// Idempotent: a second call leaves the files alone.
	before, _ := os.Stat(filepath.Join(dir, "config.json"))
	if err := extract(fake, "m", dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(dir, "config.json"))
	if !os.SameFile(before, after) || !before.ModTime().Equal(after.ModTime()) {
		t.Error("second Extract rewrote the files")
	}
	noLeftovers(t, filepath.Join(parent, "a"))

	// An empty directory is filled.
	empty := filepath.Join(parent, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := extract(fake, "m", empty); err != nil {
		t.Fatal(err)
	}
	sameTree(t, empty)

	// A directory with other content, or a file, is left alone.
	other := filepath.Join(parent, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "config.json"), []byte("mine"), 0o644)
	if err := extract(fake, "m", other); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("extract into a full directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "config.json")); string(b) != "mine" {
		t.Error("user file overwritten")
	}
	file := filepath.Join(parent, "file")
	os.WriteFile(file, nil, 0o644)
	if err := extract(fake, "m", file); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("extract onto a file: %v", err)
	}
	noLeftovers(t, parent)

	// Errors: no weights, unknown or malformed names.
	if err := extract(fake, "noweights", filepath.Join(parent, "nw")); !errors.Is(err, ErrNoWeights) {
		t.Errorf("no weights: %v", err)
	}
	for _, bad := range []string{"", ".", "..", "m/sub", "x"} {
		if err := extract(fake, bad, filepath.Join(parent, "bad")); err == nil || !strings.Contains(err.Error(), "no model") {
			t.Errorf("extract(%q): %v", bad, err)
		}
	}
}

func TestExtractConcurrent(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "m")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = extract(fake, "m", dir)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("extract %d: %v", i, err)
		}
	}
	sameTree(t, dir)
	noLeftovers(t, parent)
}

func TestInfoOfFake(t *testing.T) {
	c, err := info(fake, "m")
	if err != nil {
		t.Fatal(err)
	}
	if !c.HasWeights || c.Params != 7 || c.WeightBytes != int64(len(fake["m/model.safetensors"].Data)) {
		t.Errorf("weights: %+v", c)
	}
	if c.ModelType != "bert" || c.VocabSize != 3 || !slices.Equal(c.Files, []string{"config.json", "model.safetensors", "sub/extra.txt"}) {
		t.Errorf("%+v", c)
	}
	if !slices.Equal(names(fake), []string{"m", "noweights"}) {
		t.Errorf("names %q", names(fake))
	}
}
