package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/models/gpt2"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
)

const vocabTxt = "../../tokenizer/testdata/bert-base-uncased-vocab/vocab.txt"

// tinyConfig is a BERT small enough to run in milliseconds with the real
// bert-base-uncased vocabulary.
func tinyConfig(labels ...string) bert.Config {
	c := bert.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 16, 1, 2, 32
	c.MaxPositionEmbeddings = 64
	c.ID2Label = map[int]string{}
	for i, l := range labels {
		c.ID2Label[i] = l
	}
	return c
}

// saveWithVocab saves a model and copies the vocabulary next to it.
func saveWithVocab(t *testing.T, save func(string) error) string {
	t.Helper()
	dir := t.TempDir()
	if err := save(dir); err != nil {
		t.Fatal(err)
	}
	v, err := os.ReadFile(vocabTxt)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "vocab.txt"), v, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

type outRow struct {
	Logits json.RawMessage `json:"logits"`
	Label  json.RawMessage `json:"label"`
}

func readRows(t *testing.T, path string) []outRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []outRow
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r outRow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		rows = append(rows, r)
	}
	return rows
}

// directBatch tokenizes and pads exactly as predict does.
func directBatch(t *testing.T, dir string, exs []data.Example, labels []int64) bert.Batch {
	t.Helper()
	ptrs := make([]*data.Example, len(exs))
	for i := range exs {
		ptrs[i] = &exs[i]
	}
	b, err := data.Collator{Task: data.Classification}.Collate(ptrs)
	if err != nil {
		t.Fatal(err)
	}
	in := bert.Batch{InputIDs: tensor.FromInt64(b.InputIDs, b.InputShape...), AttentionMask: tensor.FromInt64(b.AttentionMask, b.InputShape...)}
	if b.TokenTypeIDs != nil {
		in.TokenTypeIDs = tensor.FromInt64(b.TokenTypeIDs, b.InputShape...)
	}
	if labels != nil {
		in.Labels = tensor.FromInt64(labels, len(labels))
	}
	return in
}

func TestPredictSequenceClassification(t *testing.T) {
	m, err := bert.NewForSequenceClassification(tinyConfig("neg", "pos", "neutral"), 7)
	if err != nil {
		t.Fatal(err)
	}
	dir := saveWithVocab(t, m.Save)
	tmp := t.TempDir()
	in := writeFile(t, tmp, "in.jsonl", `{"text": "a fine film", "label": "pos"}
{"text": "dull", "text_pair": "and long", "label": 0}
{"text": "it was ok i guess", "label": "neutral"}
`)
	out := filepath.Join(tmp, "out.jsonl")
	code, _, errs := runArgs("predict", "--model", dir, "--data", in, "--output", out, "--batch-size", "2")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	rows := readRows(t, out)
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3", len(rows))
	}

	// The same examples through the model directly, as one batch.
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var exs []data.Example
	for _, p := range [][2]string{{"a fine film", ""}, {"dull", "and long"}, {"it was ok i guess", ""}} {
		var e *tokenizer.Encoding
		if p[1] != "" {
			e, err = tok.EncodePair(p[0], p[1], tokenizer.Options{})
		} else {
			e, err = tok.Encode(p[0], tokenizer.Options{})
		}
		if err != nil {
			t.Fatal(err)
		}
		exs = append(exs, data.Example{InputIDs: e.IDs, TokenTypeIDs: e.TypeIDs, AttentionMask: e.AttentionMask})
	}
	loaded, _, err := bert.LoadForSequenceClassification(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var direct bert.Output
	tensor.NoGrad(func() { direct, err = loaded.Forward(directBatch(t, dir, exs, []int64{1, 0, 2})) })
	if err != nil {
		t.Fatal(err)
	}
	want := direct.Logits.Float32s()
	for i, r := range rows {
		var got []float32
		if err := json.Unmarshal(r.Logits, &got); err != nil || len(got) != 3 {
			t.Fatalf("row %d logits %s: %v", i, r.Logits, err)
		}
		best := 0
		for c := range 3 {
			// Padding differs (batches of 2 and 1 vs one of 3); the
			// mask makes it irrelevant up to summation order.
			if d := math.Abs(float64(got[c] - want[i*3+c])); d > 1e-5 {
				t.Errorf("row %d logit %d = %v, direct %v", i, c, got[c], want[i*3+c])
			}
			if got[c] > got[best] {
				best = c
			}
		}
		if wantLabel := `"` + []string{"neg", "pos", "neutral"}[best] + `"`; string(r.Label) != wantLabel {
			t.Errorf("row %d label %s, want %s", i, r.Label, wantLabel)
		}
	}
	var sum predictSummary
	b, err := os.ReadFile(filepath.Join(tmp, "out.summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	// Batches of 2 and 1, example-weighted: the mean over all 3.
	if sum.Examples != 3 || sum.Batches != 2 || math.Abs(sum.Loss-direct.Loss.Item()) > 1e-5 {
		t.Errorf("summary %+v, want 3 examples, 2 batches, loss %v", sum, direct.Loss.Item())
	}
	if !strings.Contains(errs, `"loss"`) {
		t.Errorf("stderr lacks the summary: %s", errs)
	}

	// Pre-tokenized rows are used as they are; one batch, so bit-equal.
	pre := writeFile(t, tmp, "pre.jsonl", `{"input_ids": [101, 2023, 102], "token_type_ids": [0, 0, 0]}
{"input_ids": [101, 2204, 3185, 999, 102], "attention_mask": [1, 1, 1, 1, 0]}
`)
	out2 := filepath.Join(tmp, "pre_out.jsonl")
	code, _, errs = runArgs("predict", "--model", dir, "--data", pre, "--output", out2, "--task", "sequence_classification")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(tmp, "pre_out.summary.json")); err == nil {
		t.Error("summary written without labels")
	}
	exs = []data.Example{{InputIDs: []int{101, 2023, 102}, TokenTypeIDs: []int{0, 0, 0}}, {InputIDs: []int{101, 2204, 3185, 999, 102}, AttentionMask: []int{1, 1, 1, 1, 0}}}
	tensor.NoGrad(func() { direct, err = loaded.Forward(directBatch(t, dir, exs, nil)) })
	if err != nil {
		t.Fatal(err)
	}
	want = direct.Logits.Float32s()
	for i, r := range readRows(t, out2) {
		var got []float32
		json.Unmarshal(r.Logits, &got)
		for c := range 3 {
			if got[c] != want[i*3+c] {
				t.Errorf("pre-tokenized row %d logit %d = %v, direct %v", i, c, got[c], want[i*3+c])
			}
		}
	}
}

func TestPredictTokenClassificationTrims(t *testing.T) {
	m, err := bert.NewForTokenClassification(tinyConfig("O", "B-PER", "I-PER", "B-LOC", "I-LOC"), 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := saveWithVocab(t, m.Save)
	tmp := t.TempDir()
	pre := writeFile(t, tmp, "pre.jsonl", `{"input_ids": [101, 2198, 102], "labels": [-100, 1, -100]}
{"input_ids": [101, 2198, 2003, 1999, 3000, 102], "labels": [-100, 1, 0, 0, 3, -100]}
`)
	out := filepath.Join(tmp, "out.jsonl")
	code, _, errs := runArgs("predict", "--model", dir, "--data", pre, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	exs := []data.Example{{InputIDs: []int{101, 2198, 102}}, {InputIDs: []int{101, 2198, 2003, 1999, 3000, 102}}}
	in := directBatch(t, dir, exs, nil)
	in.Labels = tensor.FromInt64([]int64{-100, 1, -100, -100, -100, -100, -100, 1, 0, 0, 3, -100}, 2, 6)
	loaded, _, err := bert.LoadForTokenClassification(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	var direct bert.Output
	tensor.NoGrad(func() { direct, err = loaded.Forward(in) })
	if err != nil {
		t.Fatal(err)
	}
	want := direct.Logits.Float32s() // [2, 6, 5]
	for i, r := range readRows(t, out) {
		var got [][]float32
		var labels []string
		if err := json.Unmarshal(r.Logits, &got); err != nil {
			t.Fatal(err)
		}
		json.Unmarshal(r.Label, &labels)
		if n := len(exs[i].InputIDs); len(got) != n || len(labels) != n {
			t.Fatalf("row %d: %d logit rows, %d labels, want %d (trimmed)", i, len(got), len(labels), n)
		}
		for tk, v := range got {
			if len(v) != 5 {
				t.Fatalf("row %d token %d: %d logits, want 5", i, tk, len(v))
			}
			for c := range 5 {
				if v[c] != want[(i*6+tk)*5+c] {
					t.Errorf("row %d token %d logit %d = %v, direct %v", i, tk, c, v[c], want[(i*6+tk)*5+c])
				}
			}
		}
	}
	b, err := os.ReadFile(filepath.Join(tmp, "out.summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sum predictSummary
	json.Unmarshal(b, &sum)
	if sum.Examples != 2 || sum.Loss != direct.Loss.Item() {
		t.Errorf("summary %+v, want loss %v", sum, direct.Loss.Item())
	}
}

func TestPredictErrors(t *testing.T) {
	m, err := bert.NewForSequenceClassification(tinyConfig("neg", "pos"), 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := saveWithVocab(t, m.Save)
	tmp := t.TempDir()
	good := writeFile(t, tmp, "good.jsonl", `{"text": "hi"}`+"\n")
	unknown := t.TempDir()
	writeFile(t, unknown, "config.json", `{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}`)
	bareArch := t.TempDir()
	writeFile(t, bareArch, "config.json", `{"model_type": "bert", "architectures": ["BertModel"]}`)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no model", []string{"--data", good}, 2, "--model is required"},
		{"no data", []string{"--model", dir}, 2, "--data is required"},
		{"bad batch", []string{"--model", dir, "--data", good, "--batch-size", "0"}, 2, "--batch-size"},
		{"bad task", []string{"--model", dir, "--data", good, "--task", "summarize"}, 2, "--task"},
		{"bad flag", []string{"--model", dir, "--data", good, "--nope"}, 2, "nope"},
		{"missing data", []string{"--model", dir, "--data", filepath.Join(tmp, "none.jsonl")}, 1, "none.jsonl"},
		{"missing model", []string{"--model", filepath.Join(tmp, "nomodel"), "--data", good}, 1, "nomodel"},
		{"unknown model_type", []string{"--model", unknown, "--data", good}, 1, `model_type "llama"`},
		{"bare architecture", []string{"--model", bareArch, "--data", good}, 1, `"BertModel"`},
		{"no head", []string{"--model", dir, "--data", good, "--task", "causal_lm"}, 1, "no causal_lm head"},
		{"bad json", []string{"--model", dir, "--data", writeFile(t, tmp, "b.jsonl", `{"text": "ok"}`+"\n{nope\n")}, 1, "line 2"},
		{"missing text", []string{"--model", dir, "--data", writeFile(t, tmp, "c.jsonl", `{"text": "ok"}`+"\n"+`{"txt": "x"}`+"\n")}, 1, `line 2, field "text"`},
		{"bad label", []string{"--model", dir, "--data", writeFile(t, tmp, "d.jsonl", `{"text": "ok", "label": "maybe"}`+"\n")}, 1, `line 1, field "label" = "maybe"`},
		{"label missing later", []string{"--model", dir, "--data", writeFile(t, tmp, "e.jsonl", `{"text": "ok", "label": 1}`+"\n"+`{"text": "no"}`+"\n")}, 1, `line 2, field "label"`},
		{"mask length", []string{"--model", dir, "--data", writeFile(t, tmp, "f.jsonl", `{"input_ids": [101, 102], "attention_mask": [1]}`+"\n")}, 1, `line 1, field "attention_mask"`},
		{"id outside vocab", []string{"--model", dir, "--data", writeFile(t, tmp, "g.jsonl", `{"input_ids": [101, 99999, 102]}`+"\n")}, 1, `field "input_ids[1]"`},
		{"too long", []string{"--model", dir, "--data", writeFile(t, tmp, "h.jsonl", `{"input_ids": [101, 2023, 2023, 102]}`+"\n"), "--max-length", "3"}, 1, "maximum length 3"},
	} {
		code, _, errs := runArgs(append([]string{"predict"}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) || strings.Contains(errs, "goroutine") {
			t.Errorf("%s: exit %d, stderr %q; want exit %d mentioning %q", c.name, code, errs, c.code, c.want)
		}
	}
}

// Causal LM: logits [seq_len][vocab] per example, the loss of the text
// against itself (shifted), equal to the model's own loss on the batch.
func TestPredictCausalLM(t *testing.T) {
	c := gpt2.DefaultConfig()
	c.NEmbd, c.NLayer, c.NHead, c.NPositions = 16, 1, 2, 32
	m, err := gpt2.NewLMHeadModel(c, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"vocab.json", "merges.txt"} {
		b, err := os.ReadFile(filepath.Join("../../tokenizer/testdata/gpt2", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, f, string(b))
	}
	tmp := t.TempDir()
	in := writeFile(t, tmp, "in.jsonl", `{"text": "It is a truth universally acknowledged"}`+"\n")
	out := filepath.Join(tmp, "out.jsonl")
	code, _, errs := runArgs("predict", "--model", dir, "--data", in, "--output", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var row struct {
		Logits [][]float32 `json:"logits"`
	}
	b, _ := os.ReadFile(out)
	if err := json.Unmarshal(b, &row); err != nil {
		t.Fatal(err)
	}
	if len(row.Logits) != 6 || len(row.Logits[0]) != 50257 {
		t.Fatalf("logits %d x %d, want 6 tokens x 50257", len(row.Logits), len(row.Logits[0]))
	}
	var sum struct{ Loss float64 }
	sb, err := os.ReadFile(filepath.Join(tmp, "out.summary.json"))
	if err != nil || json.Unmarshal(sb, &sum) != nil || !(sum.Loss > 5 && sum.Loss < 20) {
		t.Fatalf("summary %s (%v): want the LM loss of a random model (about ln 50257 = 10.8)", sb, err)
	}
}

// Multiple choice: one score per choice and the chosen index.
func TestPredictMultipleChoice(t *testing.T) {
	m, err := bert.NewForMultipleChoice(tinyConfig(), 5)
	if err != nil {
		t.Fatal(err)
	}
	dir := saveWithVocab(t, m.Save)
	tmp := t.TempDir()
	in := writeFile(t, tmp, "in.jsonl", `{"text": "The cat sat", "choices": ["on the mat", "in the sky", "under water"], "label": 0}
{"text": "Rain falls", "choices": ["down", "up", "sideways"]}
`)
	out := filepath.Join(tmp, "out.jsonl")
	code, _, errs := runArgs("predict", "--model", dir, "--data", in, "--output", out, "--task", "multiple_choice")
	if code == 0 || !strings.Contains(errs, "label") {
		// Rows must all carry labels or none.
		t.Fatalf("mixed labels: exit %d: %s", code, errs)
	}
	in = writeFile(t, tmp, "in2.jsonl", `{"text": "The cat sat", "choices": ["on the mat", "in the sky", "under water"]}
{"text": "Rain falls", "choices": ["down", "up", "sideways"]}
`)
	code, _, errs = runArgs("predict", "--model", dir, "--data", in, "--output", out, "--task", "multiple_choice")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, line := range strings.Split(strings.TrimSpace(readFile(t, out)), "\n") {
		var row struct {
			Logits []float32 `json:"logits"`
			Label  *int      `json:"label"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil || len(row.Logits) != 3 || row.Label == nil || *row.Label != argmax(row.Logits) {
			t.Fatalf("row %s: want 3 choice scores and the argmax", line)
		}
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
