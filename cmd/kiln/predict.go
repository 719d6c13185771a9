package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/kiln-ml/kiln/data"
	"github.com/kiln-ml/kiln/models/auto"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tokenizer"
	"github.com/kiln-ml/kiln/trainer"
)

const predictUsage = "usage: kiln predict --model DIR --data FILE [--output OUT.jsonl] [--task KIND] [--batch-size N] [--max-length N]"

// runPredict handles `kiln predict --model DIR --data FILE --output OUT.jsonl`:
// the model and head come from DIR/config.json (models/auto; --task
// overrides the head), the tokenizer from DIR, and every input example
// becomes one JSON line with the head's logits for that example. Rows with
// input_ids are used as they are; other rows need "text" (and optionally
// "text_pair"). When the rows carry labels, the example-weighted mean loss is
// reported on stderr and written to OUT.summary.json.
func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kiln predict", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	modelDir := fs.String("model", "", "model `DIR` (config.json, model.safetensors or pytorch_model.bin, tokenizer files)")
	dataPath := fs.String("data", "", "input `FILE` (.jsonl, .json, .csv, .tsv): text/text_pair rows or pre-tokenized input_ids rows")
	output := fs.String("output", "", "output `OUT.jsonl` (default: standard output)")
	taskName := fs.String("task", "", "head `KIND` (sequence_classification, token_classification, question_answering, masked_lm; default: config.json's architectures)")
	batchSize := fs.Int("batch-size", 8, "examples per forward pass `N`")
	maxLen := fs.Int("max-length", 0, "truncate texts to `N` tokens (0: the model's max_position_embeddings)")
	if help, err := parseFlags(fs, args, predictUsage, stdout); help || err != nil {
		return err
	}
	switch {
	case *modelDir == "":
		return usagef("flag --model is required: a directory with config.json, the weights and the tokenizer")
	case *dataPath == "":
		return usagef("flag --data is required: a JSONL/JSON/CSV/TSV file of text or input_ids rows")
	case *batchSize <= 0:
		return usagef("flag --batch-size: %d is not positive", *batchSize)
	case *maxLen < 0:
		return usagef("flag --max-length: %d is negative", *maxLen)
	}
	if *taskName != "" {
		if _, err := task.ParseKind(*taskName); err != nil {
			return usagef("flag --task: %v", err)
		}
	}
	model, rep, err := auto.Load(*modelDir, *taskName, 0)
	if err != nil {
		return fmt.Errorf("flag --model: %w", err)
	}
	if len(rep.Missing) > 0 {
		fmt.Fprintf(stderr, "kiln predict: warning: %d weights are not in the checkpoint and were initialised at random (%s)\n", len(rep.Missing), shortList(rep.Missing))
	}
	kind := model.Kind()
	tok, err := tokenizer.Load(*modelDir)
	if err != nil {
		return fmt.Errorf("flag --model: tokenizer: %w", err)
	}
	cfg := model.Config()
	limit := *maxLen
	if limit == 0 {
		limit = cfg.MaxPositions
	}
	if _, err := os.Stat(*dataPath); err != nil {
		return fmt.Errorf("flag --data: %w", err)
	}
	ds, err := data.ReadFile(*dataPath, data.Options{})
	if err != nil {
		return err
	}
	p := &predictor{model: model, kind: kind, cfg: cfg, tok: tok, maxLen: limit}
	exs, labeled, err := p.examples(ds.Rows)
	if err != nil {
		return err
	}
	if len(exs) == 0 {
		return fmt.Errorf("%s: no rows", *dataPath)
	}

	out := stdout
	var outFile *os.File
	if *output != "" {
		if outFile, err = os.Create(*output); err != nil {
			return fmt.Errorf("flag --output: %w", err)
		}
		out = outFile
	}
	w := bufio.NewWriter(out)
	sum, err := p.run(exs, labeled, *batchSize, w)
	if ferr := w.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("writing output: %w", ferr)
	}
	if outFile != nil {
		if cerr := outFile.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("writing %s: %w", *output, cerr)
		}
	}
	if err != nil {
		return err
	}
	if !labeled {
		fmt.Fprintf(stderr, "kiln predict: %d examples, %s\n", sum.Examples, kind)
		return nil
	}
	js, _ := json.Marshal(sum)
	fmt.Fprintf(stderr, "kiln predict: %s\n", js)
	if *output != "" {
		path := strings.TrimSuffix(*output, ".jsonl") + ".summary.json"
		if err := os.WriteFile(path, append(js, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing summary: %w", err)
		}
	}
	return nil
}

// predictSummary is the summary of a labelled run.
type predictSummary struct {
	Task     task.Kind `json:"task"`
	Examples int       `json:"examples"`
	Batches  int       `json:"batches"`
	// Loss is the mean of the batch losses weighted by their example counts.
	Loss float64 `json:"loss"`
}

// predictor turns rows into examples and examples into output lines.
type predictor struct {
	model  auto.Model
	kind   task.Kind
	cfg    auto.Config
	tok    *tokenizer.Tokenizer
	maxLen int
}

// regression and multiLabel say how a sequence-classification head is read.
func (p *predictor) regression() bool {
	return p.kind == task.SequenceClassification && (p.cfg.ProblemType == string(task.Regression) || p.cfg.ProblemType == "" && p.cfg.NumLabels() == 1)
}

func (p *predictor) multiLabel() bool {
	return p.kind == task.SequenceClassification && p.cfg.ProblemType == string(task.MultiLabel)
}

// examples converts every row; labeled says whether the rows carry labels
// (all of them or none).
func (p *predictor) examples(rows []data.Row) ([]data.Example, bool, error) {
	exs := make([]data.Example, 0, len(rows))
	labeled := false
	for i, r := range rows {
		e, has, err := p.example(r)
		if err != nil {
			return nil, false, err
		}
		if i == 0 {
			labeled = has
		} else if has != labeled {
			field := p.labelField(r)
			if labeled {
				return nil, false, r.Errorf(field, nil, "missing, but the first row (line %d) has labels", rows[0].Line)
			}
			return nil, false, r.Errorf(field, nil, "labels given, but the first row (line %d) has none", rows[0].Line)
		}
		exs = append(exs, e)
	}
	return exs, labeled, nil
}

func (p *predictor) labelField(r data.Row) string {
	switch {
	case p.kind == task.QuestionAnswering:
		return "start_positions"
	case p.kind == task.SequenceClassification && !r.Has("labels"):
		return "label"
	}
	return "labels"
}

// example converts one row and reports whether it has labels.
func (p *predictor) example(r data.Row) (data.Example, bool, error) {
	var e data.Example
	e.Source, e.Line = r.File, r.Line
	if p.kind == task.MultipleChoice {
		return p.choiceExample(r)
	}
	pre := r.Has("input_ids")
	if pre {
		ids, err := r.Ints("input_ids")
		if err != nil {
			return e, false, err
		}
		if len(ids) == 0 {
			return e, false, r.Errorf("input_ids", nil, "empty")
		}
		if p.maxLen > 0 && len(ids) > p.maxLen {
			return e, false, r.Errorf("input_ids", nil, "has %d tokens, more than the maximum length %d", len(ids), p.maxLen)
		}
		for i, id := range ids {
			if id < 0 || id >= p.cfg.VocabSize {
				return e, false, r.Errorf(fmt.Sprintf("input_ids[%d]", i), float64(id), "outside the vocabulary [0, %d)", p.cfg.VocabSize)
			}
		}
		e.InputIDs = ids
		for _, f := range []struct {
			name string
			dst  *[]int
		}{{"attention_mask", &e.AttentionMask}, {"token_type_ids", &e.TokenTypeIDs}} {
			if !r.Has(f.name) {
				continue
			}
			v, err := r.Ints(f.name)
			if err != nil {
				return e, false, err
			}
			if len(v) != len(ids) {
				return e, false, r.Errorf(f.name, nil, "has %d values, input_ids has %d", len(v), len(ids))
			}
			*f.dst = v
		}
	} else {
		text, err := r.Text("text")
		if err != nil {
			return e, false, err
		}
		opts := tokenizer.Options{}
		if p.maxLen > 0 {
			opts.Truncation, opts.MaxLength = tokenizer.LongestFirst, p.maxLen
		}
		var enc *tokenizer.Encoding
		if r.Has("text_pair") {
			pair, perr := r.Text("text_pair")
			if perr != nil {
				return e, false, perr
			}
			enc, err = p.tok.EncodePair(text, pair, opts)
		} else {
			enc, err = p.tok.Encode(text, opts)
		}
		if err != nil {
			return e, false, r.Errorf("text", nil, "%v", err)
		}
		e.InputIDs, e.TokenTypeIDs, e.AttentionMask = enc.IDs, enc.TypeIDs, enc.AttentionMask
	}

	C := p.cfg.NumLabels()
	switch p.kind {
	case task.SequenceClassification:
		field := "labels"
		if !r.Has(field) {
			field = "label"
		}
		if !r.Has(field) {
			return e, false, nil
		}
		switch {
		case p.regression():
			f, err := r.Float(field)
			if err != nil {
				return e, false, err
			}
			e.Target = []float32{float32(f)}
		case p.multiLabel():
			list, ok := r.Fields[field].([]any)
			if !ok || len(list) != C {
				return e, false, r.Errorf(field, r.Fields[field], "must be a list of %d numbers (multi-hot)", C)
			}
			for i, v := range list {
				f, ok := v.(float64)
				if !ok {
					return e, false, r.Errorf(fmt.Sprintf("%s[%d]", field, i), v, "not a number")
				}
				e.Target = append(e.Target, float32(f))
			}
		default:
			id, err := p.classID(r, field)
			if err != nil {
				return e, false, err
			}
			e.Label = id
		}
		return e, true, nil
	case task.TokenClassification, task.MaskedLM:
		if !r.Has("labels") {
			return e, false, nil
		}
		if !pre {
			return e, false, r.Errorf("labels", nil, "token labels need pre-tokenized rows (input_ids)")
		}
		labels, err := r.Ints("labels")
		if err != nil {
			return e, false, err
		}
		if len(labels) != len(e.InputIDs) {
			return e, false, r.Errorf("labels", nil, "has %d values, input_ids has %d", len(labels), len(e.InputIDs))
		}
		hi := C
		if p.kind == task.MaskedLM {
			hi = p.cfg.VocabSize
		}
		for i, l := range labels {
			if l != task.IgnoreIndex && (l < 0 || l >= hi) {
				return e, false, r.Errorf(fmt.Sprintf("labels[%d]", i), float64(l), "not in [0, %d) or %d", hi, task.IgnoreIndex)
			}
		}
		e.Labels = labels
		return e, true, nil
	case task.CausalLM:
		// The tokens are their own targets (run_clm.py's labels =
		// input_ids; the loss shifts them); pre-tokenized rows may give
		// labels with -100 for tokens to leave out.
		if pre && r.Has("labels") {
			labels, err := r.Ints("labels")
			if err != nil {
				return e, false, err
			}
			if len(labels) != len(e.InputIDs) {
				return e, false, r.Errorf("labels", nil, "has %d values, input_ids has %d", len(labels), len(e.InputIDs))
			}
			e.Labels = labels
		} else {
			e.Labels = append([]int(nil), e.InputIDs...)
		}
		return e, true, nil
	case task.QuestionAnswering:
		hasS, hasE := r.Has("start_positions"), r.Has("end_positions")
		if !hasS && !hasE {
			return e, false, nil
		}
		if hasS != hasE {
			missing := "end_positions"
			if !hasS {
				missing = "start_positions"
			}
			return e, false, r.Errorf(missing, nil, "missing (start_positions and end_positions go together)")
		}
		var err error
		if e.Start, err = r.Int("start_positions"); err != nil {
			return e, false, err
		}
		if e.End, err = r.Int("end_positions"); err != nil {
			return e, false, err
		}
		return e, true, nil
	}
	return e, false, nil
}

// choiceExample encodes a multiple-choice row as run_swag.py does: the
// context ("text", or SWAG's sent1/sent2 with --...) paired with each of
// "choices"; "label" is the right choice's index.
func (p *predictor) choiceExample(r data.Row) (data.Example, bool, error) {
	labeled := r.Has("label")
	row := r
	if !labeled {
		// The recipe needs a label; a placeholder is dropped below.
		row.Fields = make(map[string]any, len(r.Fields)+1)
		for k, v := range r.Fields {
			row.Fields[k] = v
		}
		row.Fields["label"] = 0.0
	}
	f, err := data.Preprocess(data.Config{Task: data.MultipleChoice, Tokenizer: p.tok, ContextField: "text", MaxLength: p.maxLen}, []data.Row{row})
	if err != nil {
		return data.Example{}, false, err
	}
	return f.Examples[0], labeled, nil
}

// classID reads a class label: an id2label name, or an id in [0, C).
func (p *predictor) classID(r data.Row, field string) (int, error) {
	C := p.cfg.NumLabels()
	if s, ok := r.Fields[field].(string); ok {
		for id, name := range p.cfg.ID2Label {
			if name == s {
				return id, nil
			}
		}
	}
	id, err := r.Int(field)
	if err != nil || id < 0 || id >= C {
		names := make([]string, C)
		for i := range names {
			names[i] = p.labelName(i)
		}
		return 0, r.Errorf(field, r.Fields[field], "not a label of the model (ids 0..%d or names %q)", C-1, names)
	}
	return id, nil
}

func (p *predictor) labelName(id int) string {
	if n, ok := p.cfg.ID2Label[id]; ok {
		return n
	}
	return fmt.Sprintf("LABEL_%d", id)
}

// collateTask is the data task whose collation carries this head's labels.
func (p *predictor) collateTask(labeled bool) data.Task {
	if p.kind == task.MultipleChoice {
		return data.MultipleChoice // [B, K, T] inputs, labeled or not
	}
	if !labeled {
		return data.Classification // labels ignored
	}
	switch {
	case p.regression():
		return data.Regression
	case p.multiLabel():
		return data.MultiLabel
	}
	switch p.kind {
	case task.TokenClassification:
		return data.TokenClassification
	case task.CausalLM:
		return data.CausalLM
	case task.MultipleChoice:
		return data.MultipleChoice
	case task.MaskedLM:
		return data.CausalLM // labels [B, T] padded with -100, no shift here
	case task.QuestionAnswering:
		return data.QuestionAnswering
	}
	return data.Classification
}

// tensors is a collated batch as model inputs, without labels unless
// labeled.
func (p *predictor) tensors(b *data.Batch, labeled bool) auto.Batch {
	in := trainer.Tensors(b)
	if !labeled {
		in.Labels, in.StartPositions, in.EndPositions = nil, nil, nil
	}
	return in
}

// predRow is one output line.
type predRow struct {
	Logits      any       `json:"logits,omitempty"`
	StartLogits []float32 `json:"start_logits,omitempty"`
	EndLogits   []float32 `json:"end_logits,omitempty"`
	Label       any       `json:"label,omitempty"`
}

// run forwards the examples batch by batch (eval mode, no graph, one arena
// per batch) and writes one line per example.
func (p *predictor) run(exs []data.Example, labeled bool, batchSize int, w io.Writer) (predictSummary, error) {
	p.model.Train(false)
	coll := data.Collator{Task: p.collateTask(labeled), PadID: max(p.cfg.PadTokenID, 0)}
	enc := json.NewEncoder(w)
	sum := predictSummary{Task: p.kind}
	var lossSum float64
	for start := 0; start < len(exs); start += batchSize {
		part := exs[start:min(start+batchSize, len(exs))]
		ptrs := make([]*data.Example, len(part))
		for i := range part {
			ptrs[i] = &part[i]
		}
		b, err := coll.Collate(ptrs)
		if err != nil {
			return sum, fmt.Errorf("%s: lines %d-%d: %v", part[0].Source, part[0].Line, part[len(part)-1].Line, err)
		}
		rows, loss, err := p.forward(b, part, labeled)
		if err != nil {
			return sum, fmt.Errorf("%s: lines %d-%d: %v", part[0].Source, part[0].Line, part[len(part)-1].Line, err)
		}
		for i, r := range rows {
			if err := enc.Encode(r); err != nil {
				return sum, fmt.Errorf("%s:%d: writing output: %v", part[i].Source, part[i].Line, err)
			}
		}
		lossSum += loss * float64(len(part))
		sum.Examples += len(part)
		sum.Batches++
	}
	if sum.Examples > 0 {
		sum.Loss = lossSum / float64(sum.Examples)
	}
	return sum, nil
}

// forward runs one batch inside its own arena and copies out what the lines need.
func (p *predictor) forward(b *data.Batch, part []data.Example, labeled bool) (rows []predRow, loss float64, err error) {
	a := tensor.BeginArena()
	defer a.Release()
	var out auto.Output
	tensor.NoGrad(func() { out, err = p.model.Forward(p.tensors(b, labeled)) })
	if err != nil {
		return nil, 0, err
	}
	if labeled && out.Loss != nil {
		loss = out.Loss.Item()
	}
	B, T := b.InputShape[0], b.InputShape[1]
	rows = make([]predRow, B)
	if p.kind == task.QuestionAnswering {
		s, e := out.StartLogits.Float32s(), out.EndLogits.Float32s()
		for i := range B {
			n := len(part[i].InputIDs)
			rows[i].StartLogits = s[i*T : i*T+n]
			rows[i].EndLogits = e[i*T : i*T+n]
			if !finite(rows[i].StartLogits) || !finite(rows[i].EndLogits) {
				return nil, 0, fmt.Errorf("line %d: logits are not finite", part[i].Line)
			}
		}
		return rows, loss, nil
	}
	logits := out.Logits.Float32s()
	shape := out.Logits.Shape()
	switch len(shape) {
	case 2: // [B, C]
		C := shape[1]
		for i := range B {
			v := logits[i*C : (i+1)*C]
			if !finite(v) {
				return nil, 0, fmt.Errorf("line %d: logits are not finite", part[i].Line)
			}
			rows[i].Logits = v
			switch {
			case p.kind == task.MultipleChoice:
				rows[i].Label = argmax(v) // the chosen choice's index
			case p.regression():
			case p.multiLabel():
				names := []string{}
				for c, x := range v {
					if x > 0 {
						names = append(names, p.labelName(c))
					}
				}
				rows[i].Label = names
			default:
				rows[i].Label = p.labelName(argmax(v))
			}
		}
	case 3: // [B, T, C]
		C := shape[2]
		for i := range B {
			n := len(part[i].InputIDs)
			m := make([][]float32, n)
			var names []string
			for t := range n {
				v := logits[(i*T+t)*C : (i*T+t+1)*C]
				if !finite(v) {
					return nil, 0, fmt.Errorf("line %d: logits are not finite", part[i].Line)
				}
				m[t] = v
				if p.kind == task.TokenClassification {
					names = append(names, p.labelName(argmax(v)))
				}
			}
			rows[i].Logits = m
			if names != nil {
				rows[i].Label = names
			}
		}
	default:
		return nil, 0, fmt.Errorf("logits of shape %v, want 2 or 3 dimensions", shape)
	}
	return rows, loss, nil
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// shortList joins at most 5 names.
func shortList(names []string) string {
	if len(names) > 5 {
		return strings.Join(names[:5], ", ") + fmt.Sprintf(", ... (%d more)", len(names)-5)
	}
	return strings.Join(names, ", ")
}
