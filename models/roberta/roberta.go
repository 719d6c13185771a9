// Package roberta is RoBERTa (Liu et al. 2019) as Hugging Face's
// modeling_roberta.py defines it. RoBERTa's encoder is BERT's, layer for
// layer and name for name, so this package builds on models/bert (its
// BertModel, its configuration class, Batch, Output, and the token
// classification, question answering and multiple choice heads) and holds
// only what RoBERTa does differently, reading top to bottom:
//
//   - position ids count from pad_token_id+1 over the non-pad tokens
//     (create_position_ids_from_input_ids), and position_embeddings has a
//     padding row, so max_position_embeddings is 514 for 512 tokens: a
//     bert.Model whose Embeddings.PositionPaddingIdx is pad_token_id;
//   - parameters live under "roberta." and config.json says
//     model_type "roberta";
//   - the heads: the sequence classifier is RobertaClassificationHead
//     (dense, tanh, out_proj on <s>) and the masked LM head is lm_head
//     (dense, gelu, layer_norm, decoder tied to the word embeddings); only
//     multiple choice uses the pooler, and its dropout is
//     hidden_dropout_prob.
//
// Shapes: B batch, T sequence length, H hidden_size, C num_labels,
// V vocab_size.
package roberta

import (
	"fmt"
	"regexp"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/models/internal/pretrained"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// BasePrefix is RobertaPreTrainedModel.base_model_prefix: head models hold
// the encoder under "roberta.".
const BasePrefix = "roberta"

// Config is RobertaConfig: BertConfig's keys, with model_type "roberta".
type Config = bert.Config

// Batch is one batch of tokenized input, as BERT's. PositionIDs nil means
// RoBERTa's own (bert.PositionIDsFromInputIDs); token_type_ids are all 0
// for RoBERTa's tokenizer.
type Batch = bert.Batch

// Output is a head's result, as BERT's.
type Output = bert.Output

// DefaultConfig returns RobertaConfig() with its defaults: BertConfig's, with
// vocab_size 50265 and pad_token_id 1. (roberta-base's config.json sets
// max_position_embeddings 514, type_vocab_size 1 and layer_norm_eps 1e-5.)
func DefaultConfig() Config {
	c := bert.DefaultConfig()
	c.ModelType, c.VocabSize, c.PadTokenID = "roberta", 50265, 1
	return c
}

// ReadConfig reads dir/config.json (or the file itself if path is a file).
// model_type must be "roberta"; missing keys take RobertaConfig's defaults.
func ReadConfig(path string) (Config, error) { return bert.ReadConfigAs(path, DefaultConfig()) }

// ParseConfig decodes the JSON of a config.json.
func ParseConfig(b []byte) (Config, error) { return bert.ParseConfigAs(b, DefaultConfig()) }

// WriteConfig writes dir/config.json.
func WriteConfig(dir string, c Config) error { return bert.WriteConfig(dir, c) }

// validate adds RoBERTa's own rules to BertConfig's.
func validate(c Config) error {
	if c.ModelType != "roberta" {
		return fmt.Errorf("roberta: model_type %q, want \"roberta\" (start from roberta.DefaultConfig)", c.ModelType)
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.PadTokenID+1 >= c.MaxPositionEmbeddings {
		return fmt.Errorf("roberta: max_position_embeddings %d leaves no position after pad_token_id %d", c.MaxPositionEmbeddings, c.PadTokenID)
	}
	return nil
}

// ---------------------------------------------------------------------------
// RobertaModel: BertModel with RoBERTa's positions.

// Model is RobertaModel: embeddings.*, encoder.layer.N.*, pooler.* exactly as
// BertModel, whose Forward it is; the embeddings' padding row makes the
// positions RoBERTa's.
type Model struct{ *bert.Model }

// newBase builds the encoder under prefix and returns the builder for a
// head's own parameters (same seeded stream).
func newBase(c Config, seed uint64, prefix string, pooler bool) (*Model, nn.Builder, error) {
	if err := validate(c); err != nil {
		return nil, nn.Builder{}, err
	}
	bm, b, err := bert.NewBase(c, seed, prefix, pooler)
	if err != nil {
		return nil, b, err
	}
	e, pad, H := &bm.Embeddings, c.PadTokenID, c.HiddenSize
	e.PositionPaddingIdx = pad
	clear(e.PositionEmbeddings.F32()[pad*H : (pad+1)*H]) // HF's _init_weights zeroes padding_idx rows
	return &Model{bm}, b, nil
}

// NewModel returns a randomly initialised RobertaModel (with pooler), seeded.
func NewModel(c Config, seed uint64) (*Model, error) {
	m, _, err := newBase(c, seed, "", true)
	return m, err
}

// LoadModel builds a RobertaModel from dir/config.json and loads dir's
// weights; a checkpoint with a head loads too (its "roberta." prefix is
// stripped and the head's keys are reported unexpected, as HF does).
func LoadModel(dir string, seed uint64) (*Model, checkpoint.Report, error) {
	return load(dir, seed, NewModel)
}

// Save writes dir/model.safetensors and dir/config.json as save_pretrained.
func (m *Model) Save(dir string) error { return save(dir, m.Config, m.Params(), "RobertaModel", nil) }

// ---------------------------------------------------------------------------
// Heads.

// ClassificationHead is RobertaClassificationHead ("classifier.*"), on the
// first token <s>, with classifier_dropout (or hidden_dropout_prob) twice:
//
//	logits = out_proj(dropout(tanh(dense(dropout(h[:, 0])))))
type ClassificationHead struct {
	Dense   nn.Linear // classifier.dense    [H, H]
	OutProj nn.Linear // classifier.out_proj [C, H]
}

// ForSequenceClassification is RobertaForSequenceClassification (no pooler:
// the classification head has its own dense layer).
type ForSequenceClassification struct {
	Roberta    *Model // roberta.*
	Classifier ClassificationHead
	// Spec chooses the loss; it starts from config's num_labels and
	// problem_type, as HF does, and a trainer may set a loss override.
	Spec task.Spec
}

// NewForSequenceClassification returns a randomly initialised model, seeded.
func NewForSequenceClassification(c Config, seed uint64) (*ForSequenceClassification, error) {
	r, b, err := newBase(c, seed, BasePrefix, false)
	if err != nil {
		return nil, err
	}
	cls := b.PP("classifier")
	return &ForSequenceClassification{Roberta: r,
		Classifier: ClassificationHead{Dense: nn.NewLinear(cls, "dense", c.HiddenSize, c.HiddenSize),
			OutProj: nn.NewLinear(cls, "out_proj", c.HiddenSize, c.NumLabels())},
		Spec: task.Spec{Kind: task.SequenceClassification, NumLabels: c.NumLabels(),
			ProblemType: task.ProblemType(c.ProblemType)},
	}, nil
}

// Params returns every parameter by HF name.
func (m *ForSequenceClassification) Params() *nn.Params { return m.Roberta.Params() }

// Train switches dropout on or off.
func (m *ForSequenceClassification) Train(on bool) { m.Roberta.Train(on) }

// Forward returns logits [B, C] and, when in.Labels is set, the loss.
func (m *ForSequenceClassification) Forward(in Batch) (Output, error) {
	h, _, err := m.Roberta.Forward(in)
	if err != nil {
		return Output{}, err
	}
	B, H, p := h.Dim(0), h.Dim(2), m.Roberta.Config.ClassifierDropoutProb()
	x := m.Roberta.Dropout(tensor.Reshape(tensor.Slice(h, 1, 0, 1), B, H), p) // <s>, the first token
	x = m.Roberta.Dropout(tensor.Tanh(m.Classifier.Dense.Forward(x)), p)
	out := Output{Logits: m.Classifier.OutProj.Forward(x)}
	if in.Labels == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForSequenceClassification) Save(dir string) error {
	return save(dir, m.Roberta.Config, m.Params(), "RobertaForSequenceClassification", nil)
}

// LoadForSequenceClassification builds the model from dir/config.json and
// loads dir's weights. A RobertaModel checkpoint (or roberta-base with its MLM
// head) loads too: the classifier keeps its seeded initialisation and is
// listed in the report's Missing, as from_pretrained's warning lists it.
func LoadForSequenceClassification(dir string, seed uint64) (*ForSequenceClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForSequenceClassification)
}

// ForTokenClassification is RobertaForTokenClassification:
// logits = classifier(dropout(hidden)), no pooler.
type ForTokenClassification struct {
	Roberta    *Model    // roberta.*
	Classifier nn.Linear // classifier [C, H]
	Spec       task.Spec
}

// NewForTokenClassification returns a randomly initialised model, seeded.
func NewForTokenClassification(c Config, seed uint64) (*ForTokenClassification, error) {
	r, b, err := newBase(c, seed, BasePrefix, false)
	if err != nil {
		return nil, err
	}
	return &ForTokenClassification{Roberta: r, Classifier: nn.NewLinear(b, "classifier", c.HiddenSize, c.NumLabels()),
		Spec: task.Spec{Kind: task.TokenClassification, NumLabels: c.NumLabels()}}, nil
}

// Params returns every parameter by HF name.
func (m *ForTokenClassification) Params() *nn.Params { return m.Roberta.Params() }

// Train switches dropout on or off.
func (m *ForTokenClassification) Train(on bool) { m.Roberta.Train(on) }

// Forward returns logits [B, T, C] and, with Labels [B, T] (-100 ignored),
// the loss: BertForTokenClassification's forward on these tensors.
func (m *ForTokenClassification) Forward(in Batch) (Output, error) {
	return (&bert.ForTokenClassification{Bert: m.Roberta.Model, Classifier: m.Classifier, Spec: m.Spec}).Forward(in)
}

// Save writes dir as save_pretrained.
func (m *ForTokenClassification) Save(dir string) error {
	return save(dir, m.Roberta.Config, m.Params(), "RobertaForTokenClassification", nil)
}

// LoadForTokenClassification builds the model from dir and loads its weights.
func LoadForTokenClassification(dir string, seed uint64) (*ForTokenClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForTokenClassification)
}

// ForQuestionAnswering is RobertaForQuestionAnswering: qa_outputs maps each
// token to a start and an end score (no dropout, no pooler).
type ForQuestionAnswering struct {
	Roberta   *Model    // roberta.*
	QAOutputs nn.Linear // qa_outputs [2, H]
	Spec      task.Spec
}

// NewForQuestionAnswering returns a randomly initialised model, seeded.
func NewForQuestionAnswering(c Config, seed uint64) (*ForQuestionAnswering, error) {
	r, b, err := newBase(c, seed, BasePrefix, false)
	if err != nil {
		return nil, err
	}
	return &ForQuestionAnswering{Roberta: r, QAOutputs: nn.NewLinear(b, "qa_outputs", c.HiddenSize, 2),
		Spec: task.Spec{Kind: task.QuestionAnswering}}, nil
}

// Params returns every parameter by HF name.
func (m *ForQuestionAnswering) Params() *nn.Params { return m.Roberta.Params() }

// Train switches dropout on or off.
func (m *ForQuestionAnswering) Train(on bool) { m.Roberta.Train(on) }

// Forward returns start and end logits [B, T] and, with StartPositions and
// EndPositions [B], the loss (mean of the two cross-entropies):
// BertForQuestionAnswering's forward on these tensors.
func (m *ForQuestionAnswering) Forward(in Batch) (Output, error) {
	return (&bert.ForQuestionAnswering{Bert: m.Roberta.Model, QAOutputs: m.QAOutputs, Spec: m.Spec}).Forward(in)
}

// Save writes dir as save_pretrained.
func (m *ForQuestionAnswering) Save(dir string) error {
	return save(dir, m.Roberta.Config, m.Params(), "RobertaForQuestionAnswering", nil)
}

// LoadForQuestionAnswering builds the model from dir and loads its weights.
func LoadForQuestionAnswering(dir string, seed uint64) (*ForQuestionAnswering, checkpoint.Report, error) {
	return load(dir, seed, NewForQuestionAnswering)
}

// ForMultipleChoice is RobertaForMultipleChoice, the one head with the
// pooler: each of K (context, choice) sequences is encoded on its own, its
// pooled <s> scored by a one-output classifier after hidden_dropout_prob
// dropout, and the K scores compared by cross-entropy.
type ForMultipleChoice struct {
	Roberta    *Model    // roberta.*, with pooler
	Classifier nn.Linear // classifier [1, H]
	Spec       task.Spec
}

// NewForMultipleChoice returns a randomly initialised model, seeded.
func NewForMultipleChoice(c Config, seed uint64) (*ForMultipleChoice, error) {
	r, b, err := newBase(c, seed, BasePrefix, true)
	if err != nil {
		return nil, err
	}
	return &ForMultipleChoice{Roberta: r, Classifier: nn.NewLinear(b, "classifier", c.HiddenSize, 1),
		Spec: task.Spec{Kind: task.MultipleChoice}}, nil
}

// Params returns every parameter by HF name.
func (m *ForMultipleChoice) Params() *nn.Params { return m.Roberta.Params() }

// Train switches dropout on or off.
func (m *ForMultipleChoice) Train(on bool) { m.Roberta.Train(on) }

// Forward takes InputIDs (and AttentionMask, TokenTypeIDs, PositionIDs)
// [B, K, T] and returns logits [B, K] and, with Labels [B] (the right
// choice), the loss: BertForMultipleChoice's forward on these tensors, its
// classifier dropout hidden_dropout_prob as RoBERTa's.
func (m *ForMultipleChoice) Forward(in Batch) (Output, error) {
	enc := *m.Roberta.Model // the same tensors and dropout stream
	p := enc.Config.HiddenDropoutProb
	enc.Config.ClassifierDropout = &p
	return (&bert.ForMultipleChoice{Bert: &enc, Classifier: m.Classifier, Spec: m.Spec}).Forward(in)
}

// Save writes dir as save_pretrained.
func (m *ForMultipleChoice) Save(dir string) error {
	return save(dir, m.Roberta.Config, m.Params(), "RobertaForMultipleChoice", nil)
}

// LoadForMultipleChoice builds the model from dir and loads its weights.
func LoadForMultipleChoice(dir string, seed uint64) (*ForMultipleChoice, checkpoint.Report, error) {
	return load(dir, seed, NewForMultipleChoice)
}

// LMHead is RobertaLMHead ("lm_head.*"): GELU (erf) whatever hidden_act
// says, then the decoder, whose weight is the word embedding matrix (tied)
// and whose bias is lm_head.bias.
//
//	logits = layer_norm(gelu(dense(h))) @ word_embeddingsᵀ + bias
type LMHead struct {
	Dense     nn.Linear      // lm_head.dense [H, H]
	LayerNorm nn.LayerNorm   // lm_head.layer_norm
	Bias      *tensor.Tensor // lm_head.bias [V] (= lm_head.decoder.bias)
}

// ForMaskedLM is RobertaForMaskedLM (no pooler).
type ForMaskedLM struct {
	Roberta *Model // roberta.*
	LMHead  LMHead // lm_head.*
	Spec    task.Spec
}

// mlmTied are the names that share another parameter's tensor, left out on
// save as HF's _tied_weights_keys.
var mlmTied = []string{"lm_head.decoder.weight", "lm_head.decoder.bias"}

// NewForMaskedLM returns a randomly initialised model, seeded.
func NewForMaskedLM(c Config, seed uint64) (*ForMaskedLM, error) {
	r, b, err := newBase(c, seed, BasePrefix, false)
	if err != nil {
		return nil, err
	}
	p := b.PP("lm_head")
	m := &ForMaskedLM{Roberta: r, LMHead: LMHead{
		Dense:     nn.NewLinear(p, "dense", c.HiddenSize, c.HiddenSize),
		LayerNorm: nn.NewLayerNorm(p, "layer_norm", c.HiddenSize, c.LayerNormEps),
		Bias:      p.Zeros("bias", c.VocabSize),
	}, Spec: task.Spec{Kind: task.MaskedLM}}
	p.Tie("decoder.weight", r.Embeddings.WordEmbeddings)
	p.Tie("decoder.bias", m.LMHead.Bias)
	return m, nil
}

// Params returns every parameter by HF name (tied tensors under both names).
func (m *ForMaskedLM) Params() *nn.Params { return m.Roberta.Params() }

// Train switches dropout on or off.
func (m *ForMaskedLM) Train(on bool) { m.Roberta.Train(on) }

// Forward returns logits [B, T, V] and, with Labels [B, T] (-100 for tokens
// that were not masked), the loss.
func (m *ForMaskedLM) Forward(in Batch) (Output, error) {
	h, _, err := m.Roberta.Forward(in)
	if err != nil {
		return Output{}, err
	}
	l := m.LMHead
	x := l.LayerNorm.Forward(tensor.BiasGELU(tensor.Linear(h, l.Dense.Weight, nil), l.Dense.Bias, false))
	out := Output{Logits: tensor.Linear(x, m.Roberta.Embeddings.WordEmbeddings, l.Bias)}
	if in.Labels == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained (the tied decoder left out).
func (m *ForMaskedLM) Save(dir string) error {
	return save(dir, m.Roberta.Config, m.Params(), "RobertaForMaskedLM", mlmTied)
}

// LoadForMaskedLM builds the model from dir and loads its weights.
func LoadForMaskedLM(dir string, seed uint64) (*ForMaskedLM, checkpoint.Report, error) {
	return load(dir, seed, NewForMaskedLM)
}

// ---------------------------------------------------------------------------
// Checkpoints.

// loadOptions: the base prefix, and HF's ignore list (old checkpoints carry
// the position_ids buffer).
var loadOptions = checkpoint.LoadOptions{BasePrefix: BasePrefix,
	IgnoreUnexpected: []*regexp.Regexp{regexp.MustCompile(`position_ids`)}}

// load builds a model from dir/config.json with build and loads dir's weights.
func load[M interface{ Params() *nn.Params }](dir string, seed uint64, build func(Config, uint64) (M, error)) (M, checkpoint.Report, error) {
	return pretrained.Load(dir, seed, ReadConfig, build, loadOptions)
}

// LoadState copies a state dict into a model's parameters with RoBERTa's
// base prefix mapping and HF's ignore list.
func LoadState(p *nn.Params, sd checkpoint.StateDict) (checkpoint.Report, error) {
	return checkpoint.LoadInto(p.Map(), sd, loadOptions)
}

// StateLoadOptions are the checkpoint options LoadState uses (base prefix
// and HF's ignore list), for callers that add their own (a new label set).
func StateLoadOptions() checkpoint.LoadOptions { return loadOptions }

// save writes dir as save_pretrained, with config.json's architectures [arch].
func save(dir string, c Config, p *nn.Params, arch string, tied []string) error {
	c.Architectures = []string{arch}
	return pretrained.Save(dir, p, tied, func(dir string) error { return WriteConfig(dir, c) })
}
