// Package auto builds the right model and head from a Hugging Face model
// directory, as transformers' AutoModelFor… classes do: config.json's
// model_type picks the model family from a registry, and the task (given, or
// read from config.json's architectures) picks the head.
//
//	m, report, err := auto.Load(dir, "", 0) // task from architectures
//	out, err := m.Forward(auto.Batch{InputIDs: ids, AttentionMask: mask})
//
// Families register themselves with Register. To keep the import arrow one
// way (auto -> models/bert, never the reverse), the families kiln ships are
// registered from this package (bert.go here); an outside family can call
// Register from its own init.
package auto

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// Batch is one batch of tokenized input, common to every family. Nil tensors
// are absent inputs.
type Batch struct {
	InputIDs      *tensor.Tensor // [B, T] int64 ([B, K, T] for multiple choice)
	TokenTypeIDs  *tensor.Tensor // [B, T] int64; nil means all 0 (families without segments ignore it)
	AttentionMask *tensor.Tensor // [B, T], 1 for tokens, 0 for padding; nil means no padding
	Labels        *tensor.Tensor // the head's labels (see task.Inputs); nil means no loss

	StartPositions, EndPositions *tensor.Tensor // question answering labels, [B] int64

	// LMPositions asks a masked-LM head for the logits of these flat token
	// indices only ([1, N, V] instead of [B, T, V]); see bert.Batch. A
	// family that does not support it ignores it and returns every token.
	LMPositions *tensor.Tensor
}

// Output is a head's result.
type Output struct {
	Logits      *tensor.Tensor // [B, C] sequence classification, [B, T, C] token classification, [B, K] multiple choice, [B, T, V] LM heads
	StartLogits *tensor.Tensor // question answering: [B, T]
	EndLogits   *tensor.Tensor // question answering: [B, T]
	Loss        *tensor.Tensor // scalar, when labels were given
	Explanation task.Explanation
}

// Config is what every family's configuration tells a caller that does not
// know the family.
type Config struct {
	ModelType     string         // config.json's model_type
	Architectures []string       // config.json's architectures
	ID2Label      map[int]string // id2label; its size is num_labels
	ProblemType   string         // problem_type ("" when unset)
	VocabSize     int            // vocab_size
	MaxPositions  int            // max_position_embeddings (n_positions for GPT-2): the longest input
	PadTokenID    int            // pad_token_id (-1 when the family has none)
}

// NumLabels is len(ID2Label), as in HF.
func (c Config) NumLabels() int { return len(c.ID2Label) }

// Model is a model with one head, whatever its family.
type Model interface {
	// Forward runs the model; with labels in the batch, Output.Loss is set.
	Forward(Batch) (Output, error)
	// Train switches dropout on (true) or off (false: evaluation).
	Train(on bool)
	// Save writes dir as save_pretrained (model.safetensors, config.json).
	Save(dir string) error
	// Params returns every parameter by HF name.
	Params() *nn.Params
	// Kind is the head.
	Kind() task.Kind
	// Config is the model's configuration in family-neutral form.
	Config() Config
	// DropoutRNG is the generator of the model's dropout masks (its state
	// goes into training checkpoints).
	DropoutRNG() *tensor.RNG
}

// Factory loads the model of one family with the head o.Kind from dir
// (config.json and, unless o.RandomInit, the weights). Head weights the
// checkpoint lacks keep their seeded initialisation and are listed in the
// report. A factory returns an error for a kind its family has no head for.
type Factory func(dir string, o Options) (Model, checkpoint.Report, error)

// Options control LoadWith.
type Options struct {
	// Kind is the head.
	Kind task.Kind
	// Seed initialises the weights the checkpoint lacks (and all of them
	// under RandomInit) and the dropout generator.
	Seed uint64
	// Labels, when set, replaces config.json's id2label (fine-tuning a
	// checkpoint on a new label set): the classifier is built for these
	// labels, and a checkpoint classifier of another size is left out and
	// reported in Report.Mismatched, as from_pretrained(...,
	// ignore_mismatched_sizes=True).
	Labels []string
	// ProblemType, when set, replaces config.json's problem_type.
	ProblemType string
	// RandomInit builds the model from config.json alone, with seeded HF
	// initialisation (training from scratch; no weight files needed).
	RandomInit bool
}

var (
	mu        sync.RWMutex
	factories = map[string]Factory{}
)

// Register makes a family loadable under config.json's model_type. Registering
// the same model_type twice panics, as a programming error.
func Register(modelType string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if modelType == "" || f == nil {
		panic("auto.Register: empty model_type or nil factory")
	}
	if _, dup := factories[modelType]; dup {
		panic(fmt.Sprintf("auto.Register: model_type %q registered twice", modelType))
	}
	factories[modelType] = f
}

// ModelTypes lists the registered model types, sorted.
func ModelTypes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(factories))
	for t := range factories {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Info is the part of config.json that chooses the family and the head.
type Info struct {
	Path          string // the config.json read
	ModelType     string
	Architectures []string
}

// ReadInfo reads model_type and architectures from dir/config.json (or from
// the file itself when dir is a file).
func ReadInfo(dir string) (Info, error) {
	path := dir
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		path = filepath.Join(dir, "config.json")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Info{}, err
	}
	var raw struct {
		ModelType     *string  `json:"model_type"`
		Architectures []string `json:"architectures"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return Info{}, fmt.Errorf("%s: %v", path, err)
	}
	if raw.ModelType == nil || *raw.ModelType == "" {
		return Info{}, fmt.Errorf("%s: no model_type (registered: %s)", path, strings.Join(ModelTypes(), ", "))
	}
	return Info{Path: path, ModelType: *raw.ModelType, Architectures: raw.Architectures}, nil
}

// Kind returns the head: override when it is not "" (a kind name such as
// "token_classification" or an HF class name), else the head of the first
// architecture in config.json.
func (in Info) Kind(override string) (task.Kind, error) {
	if override != "" {
		return task.ParseKind(override)
	}
	if len(in.Architectures) == 0 {
		return "", fmt.Errorf("%s: no architectures to take the task from; give the task (e.g. sequence_classification)", in.Path)
	}
	a := in.Architectures[0]
	k, err := task.ParseKind(a)
	if err != nil || a == string(k) {
		// A bare kind name is not an architecture; neither is BertModel.
		return "", fmt.Errorf("%s: architecture %q names no task head (want e.g. BertForSequenceClassification); give the task", in.Path, a)
	}
	return k, nil
}

// Load builds the model registered for dir's model_type with the head of
// kind (from config.json's architectures when kind is ""), loading dir's
// weights. seed initialises the weights the checkpoint lacks.
func Load(dir string, kind string, seed uint64) (Model, checkpoint.Report, error) {
	info, err := ReadInfo(dir)
	if err != nil {
		return nil, checkpoint.Report{}, err
	}
	k, err := info.Kind(kind)
	if err != nil {
		return nil, checkpoint.Report{}, err
	}
	return LoadWith(dir, Options{Kind: k, Seed: seed})
}

// LoadWith is Load with options: a new label set, a problem type, or random
// initialisation from config.json alone. o.Kind "" takes the head from
// config.json's architectures.
func LoadWith(dir string, o Options) (Model, checkpoint.Report, error) {
	info, err := ReadInfo(dir)
	if err != nil {
		return nil, checkpoint.Report{}, err
	}
	if o.Kind == "" {
		if o.Kind, err = info.Kind(""); err != nil {
			return nil, checkpoint.Report{}, err
		}
	}
	mu.RLock()
	f := factories[info.ModelType]
	mu.RUnlock()
	if f == nil {
		return nil, checkpoint.Report{}, fmt.Errorf("%s: model_type %q is not supported (registered: %s)", info.Path, info.ModelType, strings.Join(ModelTypes(), ", "))
	}
	return f(dir, o)
}

// newHead calls a head's constructor and also returns its base model (which
// holds the dropout generator).
func newHead[C, H, B any](ctor func(C, uint64) (H, error), c C, seed uint64, base func(H) B) (H, B, error) {
	h, err := ctor(c, seed)
	var b B
	if err == nil {
		b = base(h)
	}
	return h, b, err
}

// apply puts the options' label set and problem type into a family's
// configuration fields.
func (o Options) apply(id2label *map[int]string, problemType *string) {
	if o.Labels != nil {
		*id2label = labelMap(o.Labels)
	}
	if o.ProblemType != "" {
		*problemType = o.ProblemType
	}
}

// labelMap turns a label list into id2label.
func labelMap(names []string) map[int]string {
	m := make(map[int]string, len(names))
	for i, n := range names {
		m[i] = n
	}
	return m
}

// loadState loads dir's weights into a model built from an overridden
// configuration; opts are the family's load options.
func loadState(dir string, m Model, o Options, opts checkpoint.LoadOptions) (checkpoint.Report, error) {
	if o.RandomInit {
		return checkpoint.Report{}, nil
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		return checkpoint.Report{}, err
	}
	opts.IgnoreMismatchedSizes = o.Labels != nil
	return checkpoint.LoadInto(m.Params().Map(), sd, opts)
}
