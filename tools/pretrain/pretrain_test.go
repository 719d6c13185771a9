package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/models/gpt2"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
)

const root = "../.."

func rootSources() []string {
	var out []string
	for _, s := range lmSources {
		out = append(out, filepath.Join(root, s))
	}
	return out
}

func TestCorpusSplit(t *testing.T) {
	train, valid, err := buildCorpus(rootSources(), 0.02, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Sizes per source: round(2%) held out, nothing lost or duplicated.
	want := map[string][2]int{"moby_dick": {176, 4}, "austen": {527, 11}, "sotu_paragraphs": {1142, 23}}
	got := map[string][2]int{}
	seen := map[string]bool{}
	for i, part := range [][]corpusRow{train, valid} {
		for _, r := range part {
			c := got[r.Source]
			c[i]++
			got[r.Source] = c
			if !strings.HasSuffix(r.Text, paragraphEnd) || strings.HasSuffix(r.Text, " "+paragraphEnd) {
				t.Fatalf("text does not end with one paragraph break: %q", r.Text[max(0, len(r.Text)-20):])
			}
			if seen[r.Text] {
				t.Errorf("%s paragraph twice: %.60q", r.Source, r.Text)
			}
			seen[r.Text] = true
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows per source (train, validation) %v, want %v", got, want)
	}
	// Deterministic, and another seed gives another split.
	t2, v2, _ := buildCorpus(rootSources(), 0.02, 42, nil)
	if !reflect.DeepEqual(train, t2) || !reflect.DeepEqual(valid, v2) {
		t.Error("same seed, different corpus")
	}
	if _, v3, _ := buildCorpus(rootSources(), 0.02, 7, nil); reflect.DeepEqual(valid, v3) {
		t.Error("seed ignored")
	}
	// The command writes readable JSONL.
	dir := t.TempDir()
	args := []string{"corpus", "-out", dir}
	for _, s := range rootSources() {
		args = append(args, "-input", s)
	}
	var out bytes.Buffer
	if err := run(args, &out, &out); err != nil {
		t.Fatal(err)
	}
	rows := readJSONL(t, filepath.Join(dir, "validation.jsonl"))
	if !reflect.DeepEqual(rows, valid) {
		t.Error("validation.jsonl differs from buildCorpus")
	}
	t.Log(out.String())
}

func readJSONL(t *testing.T, path string) []corpusRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []corpusRow
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r corpusRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestCorpusTokenizesAsFull encodes the whole corpus, as the trainer will
// see it, with the trimmed and the full tokenizers.
func TestCorpusTokenizesAsFull(t *testing.T) {
	train, valid, err := buildCorpus(rootSources(), 0.02, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ trimmed, full string }{
		{"bert", filepath.Join(root, "tokenizer/testdata/bert-base-uncased-vocab")},
		{"gpt2", filepath.Join(root, "tokenizer/testdata/gpt2")},
	} {
		trimmed, err := tokenizer.Load(c.trimmed)
		if err != nil {
			t.Fatal(err)
		}
		full, err := tokenizer.Load(c.full)
		if err != nil {
			t.Fatal(err)
		}
		for name, part := range map[string][]corpusRow{"train": train, "validation": valid} {
			n := 0
			for _, r := range part {
				a, err := full.Encode(r.Text, tokenizer.Options{})
				if err != nil {
					t.Fatal(err)
				}
				b, err := trimmed.Encode(r.Text, tokenizer.Options{})
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(a.Tokens, b.Tokens) {
					t.Fatalf("%s: %.80q: full %q, trimmed %q", c.trimmed, r.Text, a.Tokens, b.Tokens)
				}
				n += b.Len()
			}
			t.Logf("%s %s: %d tokens, %d blocks of 128", c.trimmed, name, n, n/128)
		}
	}
}

// uniqueParams counts parameters, a tied tensor once.
func uniqueParams(p *nn.Params) int {
	seen := map[*tensor.Tensor]bool{}
	n := 0
	for _, name := range p.Names() {
		if t := p.Get(name); !seen[t] {
			seen[t] = true
			n += t.NumElems()
		}
	}
	return n
}

// maxF16Bytes bounds each model's float16 weights (the brief: about 5 MB).
const maxF16Bytes = 5_200_000

func modelMaxLength(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ModelMaxLength int `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.ModelMaxLength
}

// canonical checks that dir/config.json is what kiln's WriteConfig writes
// for it, so that a trained model's config differs only where training
// changed something.
func canonical(t *testing.T, dir string, write func(string) error) {
	t.Helper()
	tmp := t.TempDir()
	if err := write(tmp); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	b, _ := os.ReadFile(filepath.Join(tmp, "config.json"))
	if !bytes.Equal(a, b) {
		t.Errorf("%s/config.json is not in kiln's canonical form:\n%s", dir, b)
	}
}

func TestBertConfig(t *testing.T) {
	c, err := bert.ReadConfig("bert")
	if err != nil {
		t.Fatal(err)
	}
	canonical(t, "bert", func(d string) error { return bert.WriteConfig(d, c) })
	tok, err := tokenizer.Load("bert")
	if err != nil {
		t.Fatal(err)
	}
	pad, _ := tok.TokenToID("[PAD]")
	switch {
	case c.VocabSize != tok.VocabSize():
		t.Errorf("vocab_size %d, tokenizer %d", c.VocabSize, tok.VocabSize())
	case c.PadTokenID != pad || tok.PadID() != pad:
		t.Errorf("pad_token_id %d, [PAD] %d, tokenizer pads with %d", c.PadTokenID, pad, tok.PadID())
	case c.MaxPositionEmbeddings != modelMaxLength(t, "bert"):
		t.Errorf("max_position_embeddings %d, model_max_length %d", c.MaxPositionEmbeddings, modelMaxLength(t, "bert"))
	case !slices.Equal(c.Architectures, []string{"BertForMaskedLM"}):
		t.Errorf("architectures %q", c.Architectures)
	}
	m, err := bert.NewForMaskedLM(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := uniqueParams(m.Params())
	t.Logf("kiln-bert-mini: %d parameters, %d bytes in float16", n, 2*n)
	if 2*n > maxF16Bytes {
		t.Errorf("%d parameters: %d bytes in float16, more than %d", n, 2*n, maxF16Bytes)
	}
}

func TestGPT2Config(t *testing.T) {
	c, err := gpt2.ReadConfig("gpt2")
	if err != nil {
		t.Fatal(err)
	}
	canonical(t, "gpt2", func(d string) error { return gpt2.WriteConfig(d, c) })
	tok, err := tokenizer.Load("gpt2")
	if err != nil {
		t.Fatal(err)
	}
	eot, _ := tok.TokenToID(endOfText)
	switch {
	case c.VocabSize != tok.VocabSize():
		t.Errorf("vocab_size %d, tokenizer %d", c.VocabSize, tok.VocabSize())
	case c.BOSTokenID == nil || *c.BOSTokenID != eot || c.EOSTokenID == nil || *c.EOSTokenID != eot:
		t.Errorf("bos/eos %v %v, %s is %d", c.BOSTokenID, c.EOSTokenID, endOfText, eot)
	case c.NPositions != modelMaxLength(t, "gpt2"):
		t.Errorf("n_positions %d, model_max_length %d", c.NPositions, modelMaxLength(t, "gpt2"))
	case !slices.Equal(c.Architectures, []string{"GPT2LMHeadModel"}):
		t.Errorf("architectures %q", c.Architectures)
	}
	m, err := gpt2.NewLMHeadModel(c, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := uniqueParams(m.Params())
	t.Logf("kiln-gpt2-mini: %d parameters, %d bytes in float16", n, 2*n)
	if 2*n > maxF16Bytes {
		t.Errorf("%d parameters: %d bytes in float16, more than %d", n, 2*n, maxF16Bytes)
	}
}

const endOfText = "<|endoftext|>"

// TestTrainYAML checks that the training configs use only keys the
// trainer knows (trainer.Args's yaml names) and set the recipe's values.
func TestTrainYAML(t *testing.T) {
	for _, c := range []struct{ file, out string }{
		{"bert/train.yaml", "runs/kiln-bert-mini"},
		{"gpt2/train.yaml", "runs/kiln-gpt2-mini"},
	} {
		a, warns, err := trainer.LoadArgs(c.file)
		if err != nil || len(warns) > 0 {
			t.Fatalf("%s: %v %v", c.file, err, warns)
		}
		if err := a.Validate(); err != nil {
			t.Errorf("%s: %v", c.file, err)
		}
		if a.OutputDir != c.out || a.MaxSteps <= 0 {
			t.Errorf("%s: output_dir %q (want %q), max_steps %d", c.file, a.OutputDir, c.out, a.MaxSteps)
		}
	}
}

// corpusDir runs the corpus command on the shipped sources into a temporary
// directory.
func corpusDir(t *testing.T) string {
	t.Helper()
	corpus := t.TempDir()
	args := []string{"corpus", "-out", corpus}
	for _, s := range rootSources() {
		args = append(args, "-input", s)
	}
	var out bytes.Buffer
	if err := run(args, &out, &out); err != nil {
		t.Fatal(err)
	}
	return corpus
}

func TestExport(t *testing.T) {
	corpus := corpusDir(t)
	for _, model := range []string{"bert", "gpt2"} {
		t.Run(model, func(t *testing.T) {
			runDir, zooDir := t.TempDir(), filepath.Join(t.TempDir(), "kiln-"+model+"-mini")
			var err error
			if model == "bert" {
				c, _ := bert.ReadConfig(model)
				var m *bert.ForMaskedLM
				if m, err = bert.NewForMaskedLM(c, 3); err == nil {
					err = m.Save(runDir)
				}
			} else {
				c, _ := gpt2.ReadConfig(model)
				var m *gpt2.LMHeadModel
				if m, err = gpt2.NewLMHeadModel(c, 3); err == nil {
					err = m.Save(runDir)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err = run([]string{"export", "-from", runDir, "-model", model, "-to", zooDir,
				"-validation", filepath.Join(corpus, "validation.jsonl")}, &out, &out)
			t.Log(out.String())
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.Open(filepath.Join(zooDir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for _, n := range f.Names() {
				if info, _ := f.Info(n); info.DType != safetensors.F16 {
					t.Errorf("%s stored as %s", n, info.DType)
				}
			}
			st, _ := os.Stat(filepath.Join(zooDir, "model.safetensors"))
			if st.Size() > maxF16Bytes+100_000 {
				t.Errorf("model.safetensors is %d bytes", st.Size())
			}
			files, _ := os.ReadDir(model)
			for _, e := range files {
				if slices.Contains(tokenizerFiles, e.Name()) {
					a, _ := os.ReadFile(filepath.Join(model, e.Name()))
					b, _ := os.ReadFile(filepath.Join(zooDir, e.Name()))
					if !bytes.Equal(a, b) {
						t.Errorf("%s not copied", e.Name())
					}
				}
			}
			cfg, _ := os.ReadFile(filepath.Join(zooDir, "config.json"))
			if !bytes.Contains(cfg, []byte(`"torch_dtype": "float16"`)) {
				t.Errorf("config.json:\n%s", cfg)
			}
			if !strings.Contains(out.String(), "eval on ") {
				t.Error("no loss check")
			}
			if !strings.Contains(out.String(), "word order: loss ") {
				t.Error("no word-order check")
			}
		})
	}
}

// TestShuffleRows: every per-token slice of a row moves by the same
// permutation, the row keeps its tokens (a multiset), the order changes, rows
// get different permutations and the same seed gives the same ones.
func TestShuffleRows(t *testing.T) {
	const B, T = 3, 40
	mk := func() *data.Batch {
		b := &data.Batch{InputShape: []int{B, T}, LabelShape: []int{B, T}}
		for i := range B * T {
			b.InputIDs = append(b.InputIDs, int64(i))
			b.AttentionMask = append(b.AttentionMask, int64(i+1000))
			b.Labels = append(b.Labels, int64(i+2000))
		}
		return b
	}
	b, again := mk(), mk()
	shuffleRows(b, rand.New(rand.NewPCG(42, 0)))
	shuffleRows(again, rand.New(rand.NewPCG(42, 0)))
	if !slices.Equal(b.InputIDs, again.InputIDs) {
		t.Error("the same seed gave another order")
	}
	var offsets [][]int64
	for i := range B {
		row := b.InputIDs[i*T : (i+1)*T]
		want := mk().InputIDs[i*T : (i+1)*T]
		if slices.Equal(row, want) {
			t.Errorf("row %d not shuffled", i)
		}
		if !slices.Equal(slices.Sorted(slices.Values(row)), want) {
			t.Errorf("row %d: tokens changed: %v", i, row)
		}
		for t2, id := range row {
			if b.AttentionMask[i*T+t2] != id+1000 || b.Labels[i*T+t2] != id+2000 {
				t.Fatalf("row %d position %d: id %d with mask %d, label %d", i, t2, id, b.AttentionMask[i*T+t2], b.Labels[i*T+t2])
			}
		}
		off := make([]int64, T)
		for t2, id := range row {
			off[t2] = id - int64(i*T)
		}
		offsets = append(offsets, off)
	}
	if slices.Equal(offsets[0], offsets[1]) {
		t.Error("rows 0 and 1 got the same permutation")
	}
}

// TestWordOrderCheck: the shipped causal LM has learnt word order, so
// shuffling each block's tokens must cost it a lot (it loses ~3 nats).
func TestWordOrderCheck(t *testing.T) {
	corpus := corpusDir(t)
	dir := filepath.Join(root, "zoo", "models", "kiln-gpt2-mini")
	m, _, err := auto.Load(dir, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	val := filepath.Join(corpus, "validation.jsonl")
	inOrder, n, err := evalLoss(m, tok, val, 16, false)
	if err != nil {
		t.Fatal(err)
	}
	shuffled, _, err := evalLoss(m, tok, val, 16, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d blocks: loss %.4f in order, %.4f shuffled", n, inOrder, shuffled)
	if shuffled-inOrder < 1 {
		t.Errorf("shuffling costs kiln-gpt2-mini only %.4f (loss %.4f in order, %.4f shuffled)", shuffled-inOrder, inOrder, shuffled)
	}
}

func TestExportRejectsAnotherConfig(t *testing.T) {
	runDir := t.TempDir()
	c, _ := bert.ReadConfig("bert")
	c.NumHiddenLayers = 1
	m, err := bert.NewForMaskedLM(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(runDir); err != nil {
		t.Fatal(err)
	}
	err = run([]string{"export", "-from", runDir, "-model", "bert", "-to", t.TempDir()}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "num_hidden_layers") {
		t.Errorf("err = %v", err)
	}
}

// lrgrid's usage errors name the flag and the value.
func TestLRGridUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"lrgrid"}, "flag -model is required"},
		{[]string{"lrgrid", "-model", "bert", "-lrs", "1e-4,x"}, `flag -lrs: "x" is not a positive number`},
		{[]string{"lrgrid", "-model", "bert", "-seeds", "-1"}, `flag -seeds: "-1"`},
		{[]string{"lrgrid", "-model", "bert", "-init", "scratch"}, `flag -init: "scratch" is neither pretrained nor random`},
		{[]string{"lrgrid", "-model", "bert", "extra"}, `unexpected argument "extra"`},
	} {
		var out, errOut bytes.Buffer
		err := run(c.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

// With -lrgrid-holdout the corpus holds none of the reviews lrgrid scores
// on, and every other review.
func TestCorpusLeavesOutGridHoldout(t *testing.T) {
	held, err := gridHeldTexts()
	if err != nil {
		t.Fatal(err)
	}
	if len(held) < 490 || len(held) > 500 {
		t.Fatalf("%d held-out texts, want 500 less duplicates", len(held))
	}
	trimmed := map[string]bool{} // as the corpus writes them
	for t := range held {
		trimmed[strings.TrimSpace(t)] = true
	}
	in := []string{filepath.Join(root, "datasets", gridFile) + ":review"}
	train, valid, err := buildCorpus(in, 0.02, 42, held)
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := buildCorpus(in, 0, 42, nil)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, r := range all {
		if !trimmed[strings.TrimSpace(r.Text)] {
			kept++
		}
	}
	if n := len(train) + len(valid); n != kept || n < 3490 {
		t.Errorf("%d reviews in the corpus, want the %d not held out", n, kept)
	}
	for _, r := range append(train, valid...) {
		if trimmed[strings.TrimSpace(r.Text)] {
			t.Fatalf("held-out review in the corpus: %.60q", r.Text)
		}
	}
	// The flag without the reviews among the inputs is a mistake, not a no-op.
	var out bytes.Buffer
	err = run([]string{"corpus", "-out", t.TempDir(), "-lrgrid-holdout", "-input", rootSources()[0]}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-lrgrid-holdout") {
		t.Errorf("-lrgrid-holdout without %s: error %v", gridFile, err)
	}
}
