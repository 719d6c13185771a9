package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
)

// tokenizerFiles are the tokenizer files a model directory may hold.
var tokenizerFiles = []string{"vocab.txt", "vocab.json", "merges.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}

// tiedKeys are the names HF leaves out on save because they share another
// parameter's tensor (_tied_weights_keys of BertForMaskedLM and
// GPT2LMHeadModel).
var tiedKeys = []string{"cls.predictions.decoder.weight", "cls.predictions.decoder.bias", "lm_head.weight"}

// ignoredConfigKeys may differ between the recipe's config.json and a run's.
var ignoredConfigKeys = map[string]bool{"architectures": true, "torch_dtype": true, "transformers_version": true}

func runExport(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pretrain export", flag.ContinueOnError)
	from := fs.String("from", "", "`RUN_DIR`: the trained model (output_dir or a checkpoint-N directory)")
	model := fs.String("model", "", "`CONFIG_DIR`: the recipe's model directory (tools/pretrain/bert or tools/pretrain/gpt2)")
	to := fs.String("to", "", "`ZOO_DIR`: the zoo model directory to write (zoo/models/kiln-bert-mini, ...)")
	validation := fs.String("validation", "", "validation `FILE` (validation.jsonl from the corpus command) for the float32/float16 loss check")
	blocks := fs.Int("eval-blocks", 64, "number of validation blocks the loss check uses")
	maxDiff := fs.Float64("max-loss-diff", 0.01, "largest accepted |loss(float16) - loss(float32)|")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("export: unexpected argument %q", fs.Arg(0))
	}
	if *from == "" || *model == "" || *to == "" {
		return errors.New("export: flags -from, -model and -to are required")
	}
	return export(*from, *model, *to, *validation, *blocks, *maxDiff, stdout)
}

func export(from, model, to, validation string, blocks int, maxDiff float64, stdout io.Writer) error {
	if err := sameConfig(from, model); err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		a, errA := os.ReadFile(filepath.Join(from, f))
		b, errB := os.ReadFile(filepath.Join(model, f))
		if errA == nil && (errB != nil || !bytes.Equal(a, b)) {
			return fmt.Errorf("export: %s differs from %s: the run used another tokenizer", filepath.Join(from, f), filepath.Join(model, f))
		}
	}
	m32, rep, err := auto.Load(from, "", 0)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(rep.Missing) > 0 || len(rep.Unexpected) > 0 || len(rep.Mismatched) > 0 {
		return fmt.Errorf("export: %s does not match its config.json: %s", from, rep)
	}
	sd, err := checkpoint.Load(from)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	for _, k := range tiedKeys {
		delete(sd, k)
	}
	if err := os.MkdirAll(to, 0o755); err != nil {
		return err
	}
	if _, err := checkpoint.Save(to, sd, checkpoint.SaveOptions{DType: safetensors.F16}); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := writeConfig(filepath.Join(from, "config.json"), filepath.Join(to, "config.json")); err != nil {
		return err
	}
	for _, f := range tokenizerFiles {
		if b, err := os.ReadFile(filepath.Join(model, f)); err == nil {
			if err := os.WriteFile(filepath.Join(to, f), b, 0o644); err != nil {
				return err
			}
		}
	}
	m16, rep, err := auto.Load(to, "", 0)
	if err != nil {
		return fmt.Errorf("export: reloading %s: %w", to, err)
	}
	if len(rep.Missing) > 0 || len(rep.Unexpected) > 0 {
		return fmt.Errorf("export: reloading %s: %s", to, rep)
	}
	st, err := os.Stat(filepath.Join(to, "model.safetensors"))
	if err != nil {
		return err
	}
	cfg := m16.Config()
	fmt.Fprintf(stdout, "wrote %s: %s, %d parameters, model.safetensors %d bytes (float16)\n",
		to, cfg.ModelType, countParams(sd), st.Size())
	if s := trainerState(from); s != "" {
		fmt.Fprintf(stdout, "trainer_state.json: %s\n", s)
	}
	if validation == "" {
		return nil
	}
	tok, err := tokenizer.Load(to)
	if err != nil {
		return err
	}
	l32, n, err := evalLoss(m32, tok, validation, blocks, false)
	if err != nil {
		return err
	}
	l16, _, err := evalLoss(m16, tok, validation, blocks, false)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "eval on %d blocks of %s: loss float32 %.4f, float16 %.4f (perplexity %.2f)\n", n, validation, l32, l16, math.Exp(l16))
	if d := math.Abs(l16 - l32); d > maxDiff || math.IsNaN(d) {
		return fmt.Errorf("export: float16 weights change the loss by %.4f (more than -max-loss-diff %g)", d, maxDiff)
	}
	shuffled, _, err := evalLoss(m16, tok, validation, blocks, true)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "word order: loss %.4f in order, %.4f with each block's tokens shuffled (order is worth %.4f)\n", l16, shuffled, shuffled-l16)
	return nil
}

// sameConfig checks that the run's config.json agrees with the recipe's on
// every key the recipe sets (architectures, torch_dtype and
// transformers_version aside).
func sameConfig(run, recipe string) error {
	read := func(dir string) (map[string]json.RawMessage, error) {
		b, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
		}
		return m, nil
	}
	a, err := read(run)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	b, err := read(recipe)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	var diff []string
	for k, want := range b {
		if ignoredConfigKeys[k] {
			continue
		}
		var x, y any
		_ = json.Unmarshal(a[k], &x)
		_ = json.Unmarshal(want, &y)
		if got, ok := a[k]; !ok || !jsonEqual(x, y) {
			diff = append(diff, fmt.Sprintf("%s: run %s, recipe %s", k, orMissing(got, ok), want))
		}
	}
	if len(diff) > 0 {
		sort.Strings(diff)
		return fmt.Errorf("export: %s/config.json differs from %s/config.json: %v", run, recipe, diff)
	}
	return nil
}

func orMissing(v json.RawMessage, ok bool) string {
	if !ok {
		return "missing"
	}
	return string(v)
}

func jsonEqual(x, y any) bool {
	a, _ := json.Marshal(x)
	b, _ := json.Marshal(y)
	return bytes.Equal(a, b)
}

// writeConfig copies config.json with "torch_dtype": "float16" (keys sorted,
// two-space indent, as PretrainedConfig writes it).
func writeConfig(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	m["torch_dtype"] = json.RawMessage(`"float16"`)
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(dst, append(out, '\n'), 0o644)
}

// countParams counts the elements of a state dict (tied copies left out).
func countParams(sd checkpoint.StateDict) int {
	n := 0
	for _, t := range sd {
		n += t.NumElems()
	}
	return n
}

// trainerState summarises an HF-style trainer_state.json (global_step and
// the last eval_loss of log_history), or returns "" when there is none.
func trainerState(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		return ""
	}
	var s struct {
		GlobalStep int              `json:"global_step"`
		LogHistory []map[string]any `json:"log_history"`
	}
	if json.Unmarshal(b, &s) != nil {
		return "unreadable"
	}
	out := fmt.Sprintf("global_step %d", s.GlobalStep)
	for _, e := range slices.Backward(s.LogHistory) {
		if l, ok := e["eval_loss"].(float64); ok {
			out += fmt.Sprintf(", last eval_loss %.4f (step %v, perplexity %.2f)", l, e["step"], math.Exp(l))
			break
		}
	}
	return out
}

// evalLoss is the mean loss of m over the first maxBlocks blocks of the
// validation file, prepared as the trainer prepares masked/causal LM data
// (blocks of max_position_embeddings tokens; masking with a fixed seed).
//
// With shuffle, each block's tokens are put in a random order (fixed seed)
// after masking: the same tokens and targets with the word order gone. A
// model that uses word order loses clearly; one that has only learnt which
// words occur together (a bag of words, the small-BERT plateau) does not.
func evalLoss(m auto.Model, tok *tokenizer.Tokenizer, path string, maxBlocks int, shuffle bool) (float64, int, error) {
	kind := m.Kind()
	var dt data.Task
	switch kind {
	case task.MaskedLM:
		dt = data.MaskedLM
	case task.CausalLM:
		dt = data.CausalLM
	default:
		return 0, 0, fmt.Errorf("export: the %s head has no LM loss check", kind)
	}
	ds, err := data.ReadFile(path, data.Options{Text: []string{"text"}})
	if err != nil {
		return 0, 0, err
	}
	feats, err := data.Preprocess(data.Config{Task: dt, Tokenizer: tok, BlockSize: m.Config().MaxPositions}, ds.Rows)
	if err != nil {
		return 0, 0, err
	}
	exs := feats.Examples
	if len(exs) > maxBlocks {
		exs = exs[:maxBlocks]
	}
	if len(exs) == 0 {
		return 0, 0, fmt.Errorf("export: %s gives no full block of %d tokens", path, m.Config().MaxPositions)
	}
	rng := rand.New(rand.NewPCG(42, 0))
	var masker *data.Masker
	if dt == data.MaskedLM {
		if masker, err = data.NewMasker(tok, 0); err != nil {
			return 0, 0, err
		}
	}
	m.Train(false)
	coll := data.Collator{Task: dt, PadID: max(m.Config().PadTokenID, 0)}
	const batch = 16
	var sum float64
	var batches int
	for start := 0; start < len(exs); start += batch {
		ptrs := make([]*data.Example, 0, batch)
		for i := start; i < min(start+batch, len(exs)); i++ {
			ptrs = append(ptrs, &exs[i])
		}
		b, err := coll.Collate(ptrs)
		if err != nil {
			return 0, 0, err
		}
		if masker != nil {
			b.Indices = nil // the masking of an example depends on its index, as in the trainer
			for i := start; i < start+len(ptrs); i++ {
				b.Indices = append(b.Indices, i)
			}
			masker.Mask(b, 0)
		}
		if shuffle {
			shuffleRows(b, rng)
		}
		in := auto.Batch{
			InputIDs:      tensor.FromInt64(b.InputIDs, b.InputShape...),
			AttentionMask: tensor.FromInt64(b.AttentionMask, b.InputShape...),
			Labels:        tensor.FromInt64(b.Labels, b.LabelShape...),
		}
		if b.TokenTypeIDs != nil {
			in.TokenTypeIDs = tensor.FromInt64(b.TokenTypeIDs, b.InputShape...)
		}
		var out auto.Output
		tensor.NoGrad(func() {
			arena := tensor.BeginArena()
			defer arena.Release()
			out, err = m.Forward(in)
			if err == nil {
				sum += out.Loss.Item()
			}
		})
		if err != nil {
			return 0, 0, err
		}
		batches++
	}
	return sum / float64(batches), len(exs), nil
}

// shuffleRows puts the tokens of each row of b, a [B, T] batch, in a random
// order drawn from rng: input ids and every other per-token slice (labels
// included) move together, so the model is asked for the same targets,
// masked the same way, with the word order gone.
func shuffleRows(b *data.Batch, rng *rand.Rand) {
	B, T := b.InputShape[0], b.InputShape[1]
	for i := range B {
		perm := rng.Perm(T)
		for _, f := range [][]int64{b.InputIDs, b.AttentionMask, b.TokenTypeIDs, b.SpecialTokensMask, b.Labels} {
			if len(f) != B*T {
				continue
			}
			row := f[i*T : (i+1)*T]
			old := slices.Clone(row)
			for t, j := range perm {
				row[t] = old[j]
			}
		}
	}
}
