// Package distilbert is DistilBERT (Sanh et al. 2019) as Hugging Face's
// modeling_distilbert.py defines it, all of it in this file, reading top to
// bottom: embeddings, the transformer block, DistilBertModel, then the task
// heads. Every parameter carries its HF state_dict name
// ("distilbert.transformer.layer.0.attention.q_lin.weight").
//
// DistilBERT is BERT with half the layers and its own names, and with these
// differences that change the numbers: no token type embeddings and no
// pooler; every layer norm has eps 1e-12 whatever the config says; no
// dropout after the attention output projection; the classification heads
// put pre_classifier + ReLU on [CLS] and have their own dropouts
// (seq_classif_dropout, qa_dropout).
//
// Shapes: B batch, T sequence length, D dim, F hidden_dim, C num_labels,
// V vocab_size.
package distilbert

import (
	"fmt"
	"regexp"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/internal/pretrained"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// BasePrefix is DistilBertPreTrainedModel.base_model_prefix: head models hold
// the encoder under "distilbert.".
const BasePrefix = "distilbert"

// layerNormEps is DistilBERT's, fixed in the modeling file.
const layerNormEps = 1e-12

// Batch is one batch of tokenized input (DistilBERT has no token types).
type Batch struct {
	InputIDs      *tensor.Tensor // [B, T] int64 ([B, K, T] for multiple choice)
	AttentionMask *tensor.Tensor // [B, T], 1 for tokens, 0 for padding; nil means no padding
	Labels        *tensor.Tensor // the head's labels (see task.Inputs); nil means no loss

	StartPositions, EndPositions *tensor.Tensor // question answering labels, [B] int64
}

// Output is a head's result.
type Output struct {
	Logits      *tensor.Tensor   // [B, C] sequence classification, [B, T, C] token classification, [B, K] multiple choice, [B, T, V] masked LM
	StartLogits *tensor.Tensor   // question answering: [B, T]
	EndLogits   *tensor.Tensor   // question answering: [B, T]
	Loss        *tensor.Tensor   // scalar, when labels were given
	Explanation task.Explanation // why this loss, when labels were given
}

// withLoss returns o with the loss and its explanation from task.Compute
// when the batch has labels (question answering: start and end positions),
// else o as it is.
func (o Output) withLoss(spec task.Spec, in task.Inputs) (Output, error) {
	if in.Labels == nil && (in.StartPositions == nil || in.EndPositions == nil) {
		return o, nil
	}
	res, err := task.Compute(spec, in)
	o.Loss, o.Explanation = res.Loss, res.Explanation
	return o, err
}

// mode is the dropout state shared by a model and its head: on only in
// training, masks from a seeded stream.
type mode struct {
	training bool
	rng      *tensor.RNG
}

func (m *mode) dropout(x *tensor.Tensor, p float64) *tensor.Tensor {
	return tensor.Dropout(x, p, m.rng, m.training)
}

// ---------------------------------------------------------------------------
// Embeddings: word + learned position, then LayerNorm and dropout.

// Embeddings is DistilBERT's Embeddings ("embeddings.*").
type Embeddings struct {
	WordEmbeddings     *tensor.Tensor // word_embeddings.weight [V, D]; row pad_token_id gets no gradient
	PositionEmbeddings *tensor.Tensor // position_embeddings.weight [max_position_embeddings, D]
	LayerNorm          nn.LayerNorm   // LayerNorm
}

func newEmbeddings(c Config, b nn.Builder) Embeddings {
	e := Embeddings{
		WordEmbeddings:     b.Normal("word_embeddings.weight", c.VocabSize, c.Dim),
		PositionEmbeddings: b.Normal("position_embeddings.weight", c.MaxPositionEmbeddings, c.Dim),
		LayerNorm:          nn.NewLayerNorm(b, "LayerNorm", c.Dim, layerNormEps),
	}
	clear(e.WordEmbeddings.F32()[c.PadTokenID*c.Dim : (c.PadTokenID+1)*c.Dim]) // HF's _init_weights zeroes padding_idx
	return e
}

// forward: ids [B, T] int64 -> [B, T, D].
func (e Embeddings) forward(c Config, m *mode, ids *tensor.Tensor) *tensor.Tensor {
	T := ids.Dim(1)
	pos := make([]int64, T) // 0..T-1, shared by every row
	for i := range pos {
		pos[i] = int64(i)
	}
	x := tensor.EmbeddingPadded(e.WordEmbeddings, ids, c.PadTokenID)
	x = tensor.Add(x, tensor.Embedding(e.PositionEmbeddings, tensor.FromInt64(pos, T))) // [T, D] broadcasts over B
	return m.dropout(e.LayerNorm.Forward(x), c.Dropout)
}

// ---------------------------------------------------------------------------
// TransformerBlock: post-LN self-attention (no dropout on its output), then
// post-LN feed-forward.
//
//	h = sa_layer_norm(x + out_lin(attention(q_lin(x), k_lin(x), v_lin(x))))
//	y = output_layer_norm(h + dropout(lin2(act(lin1(h)))))

// Layer is TransformerBlock ("transformer.layer.N.*").
type Layer struct {
	QLin, KLin, VLin, OutLin nn.Linear    // attention.{q_lin,k_lin,v_lin,out_lin} [D, D]
	SALayerNorm              nn.LayerNorm // sa_layer_norm
	Lin1                     nn.Linear    // ffn.lin1 [F, D]
	Lin2                     nn.Linear    // ffn.lin2 [D, F]
	OutputLayerNorm          nn.LayerNorm // output_layer_norm
}

func newLayer(c Config, b nn.Builder) Layer {
	D, att, ffn := c.Dim, b.PP("attention"), b.PP("ffn")
	return Layer{
		QLin: nn.NewLinear(att, "q_lin", D, D), KLin: nn.NewLinear(att, "k_lin", D, D),
		VLin: nn.NewLinear(att, "v_lin", D, D), OutLin: nn.NewLinear(att, "out_lin", D, D),
		SALayerNorm:     nn.NewLayerNorm(b, "sa_layer_norm", D, layerNormEps),
		Lin1:            nn.NewLinear(ffn, "lin1", D, c.HiddenDim),
		Lin2:            nn.NewLinear(ffn, "lin2", c.HiddenDim, D),
		OutputLayerNorm: nn.NewLayerNorm(b, "output_layer_norm", D, layerNormEps),
	}
}

// forward: x [B, T, D], mask [B, T] or nil -> [B, T, D].
func (l Layer) forward(c Config, m *mode, x, mask *tensor.Tensor) *tensor.Tensor {
	attnDrop := 0.0
	if m.training {
		attnDrop = c.AttentionDropout
	}
	// Masked keys get a score of -inf where HF fills finfo.min: the same
	// probabilities unless a row has no key at all.
	ctx := tensor.Attention(l.QLin.Forward(x), l.KLin.Forward(x), l.VLin.Forward(x), c.NHeads,
		tensor.AttentionOpts{KeyMask: mask, DropoutP: attnDrop, RNG: m.rng})
	h := l.SALayerNorm.Forward(tensor.Add(l.OutLin.Forward(ctx), x))

	a := activation(c, tensor.Linear(h, l.Lin1.Weight, nil), l.Lin1.Bias) // [B, T, F]
	return l.OutputLayerNorm.Forward(tensor.Add(m.dropout(l.Lin2.Forward(a), c.Dropout), h))
}

// activation is config.activation applied to x + bias: [..., n] -> [..., n].
func activation(c Config, x, bias *tensor.Tensor) *tensor.Tensor {
	if c.Activation == "relu" {
		return tensor.ReLU(tensor.Add(x, bias))
	}
	return tensor.BiasGELU(x, bias, c.Activation == "gelu_new")
}

// ---------------------------------------------------------------------------
// DistilBertModel: embeddings and n_layers transformer blocks.

// Model is DistilBertModel.
type Model struct {
	Config     Config
	Embeddings Embeddings // embeddings.*
	Layers     []Layer    // transformer.layer.N.*
	params     *nn.Params // every parameter by HF name, in state_dict order
	mode       *mode
}

// newBase builds the encoder under prefix ("" for the bare model) and returns
// the builder for a head's own parameters (same seeded stream).
func newBase(c Config, seed uint64, prefix string) (*Model, nn.Builder, error) {
	if err := c.Validate(); err != nil {
		return nil, nn.Builder{}, err
	}
	p := nn.NewParams()
	b := nn.NewBuilder(p, seed, c.InitializerRange)
	e := b.PP(prefix)
	m := &Model{Config: c, Embeddings: newEmbeddings(c, e.PP("embeddings")), params: p,
		mode: &mode{rng: tensor.NewRNG(seed ^ 0x9e3779b97f4a7c15)}}
	for i := 0; i < c.NLayers; i++ {
		m.Layers = append(m.Layers, newLayer(c, e.PP(fmt.Sprintf("transformer.layer.%d", i))))
	}
	return m, b, nil
}

// NewModel returns a randomly initialised DistilBertModel, seeded.
func NewModel(c Config, seed uint64) (*Model, error) {
	m, _, err := newBase(c, seed, "")
	return m, err
}

// LoadModel builds a DistilBertModel from dir/config.json and loads dir's
// weights; a checkpoint with a head loads too (its "distilbert." prefix is
// stripped and the head's keys are reported unexpected, as HF does).
func LoadModel(dir string, seed uint64) (*Model, checkpoint.Report, error) {
	return load(dir, seed, NewModel)
}

// Params returns every parameter by HF name.
func (m *Model) Params() *nn.Params { return m.params }

// Train switches dropout on (true) or off (false, the default: evaluation).
func (m *Model) Train(on bool) { m.mode.training = on }

// DropoutRNG is the generator of every dropout mask of the model and its
// head; a trainer stores its state in checkpoints so that a resumed run
// draws the same masks.
func (m *Model) DropoutRNG() *tensor.RNG { return m.mode.rng }

// Save writes dir/model.safetensors and dir/config.json as save_pretrained.
func (m *Model) Save(dir string) error { return save(dir, m.Config, m.params, "DistilBertModel", nil) }

// Forward returns the last hidden states [B, T, D].
func (m *Model) Forward(in Batch) (*tensor.Tensor, error) {
	if err := m.check(in); err != nil {
		return nil, err
	}
	h := m.Embeddings.forward(m.Config, m.mode, in.InputIDs)
	for _, l := range m.Layers {
		h = l.forward(m.Config, m.mode, h, in.AttentionMask)
	}
	return h, nil
}

// check validates user input (ids in range, shapes agree) so that no tensor
// panic escapes.
func (m *Model) check(in Batch) error {
	c, ids := m.Config, in.InputIDs
	if ids == nil || ids.Rank() != 2 || ids.DType() != tensor.Int64 {
		return fmt.Errorf("distilbert: input_ids must be an int64 [batch, seq] tensor")
	}
	B, T := ids.Dim(0), ids.Dim(1)
	if T > c.MaxPositionEmbeddings {
		return fmt.Errorf("distilbert: sequence length %d exceeds max_position_embeddings %d", T, c.MaxPositionEmbeddings)
	}
	for i, id := range ids.Int64s() {
		if id < 0 || id >= int64(c.VocabSize) {
			return fmt.Errorf("distilbert: input_ids[%d][%d] = %d outside [0, vocab_size %d)", i/T, i%T, id, c.VocabSize)
		}
	}
	if am := in.AttentionMask; am != nil && (am.Rank() != 2 || am.Dim(0) != B || am.Dim(1) != T) {
		return fmt.Errorf("distilbert: attention_mask %v must be [%d %d]", am.Shape(), B, T)
	}
	return nil
}

// first is the hidden state of each row's first token, [CLS]: [B, T, D] -> [B, D].
func first(h *tensor.Tensor) *tensor.Tensor {
	return tensor.Reshape(tensor.Slice(h, 1, 0, 1), h.Dim(0), h.Dim(2))
}

// ---------------------------------------------------------------------------
// Heads.

// classifyCLS is the head of DistilBertForSequenceClassification and
// DistilBertForMultipleChoice, on [CLS], with seq_classif_dropout:
//
//	logits = classifier(dropout(relu(pre_classifier(h[:, 0]))))
//
// h [B, T, D] -> [B, n] for a classifier [n, D].
func classifyCLS(m *Model, pre, cls nn.Linear, h *tensor.Tensor) *tensor.Tensor {
	x := tensor.ReLU(pre.Forward(first(h)))
	return cls.Forward(m.mode.dropout(x, m.Config.SeqClassifDropout))
}

// ForSequenceClassification is DistilBertForSequenceClassification (see
// classifyCLS).
type ForSequenceClassification struct {
	DistilBert    *Model    // distilbert.*
	PreClassifier nn.Linear // pre_classifier [D, D]
	Classifier    nn.Linear // classifier [C, D]
	// Spec chooses the loss; it starts from config's num_labels and
	// problem_type, as HF does, and a trainer may set a loss override.
	Spec task.Spec
}

// NewForSequenceClassification returns a randomly initialised model, seeded.
func NewForSequenceClassification(c Config, seed uint64) (*ForSequenceClassification, error) {
	d, b, err := newBase(c, seed, BasePrefix)
	if err != nil {
		return nil, err
	}
	return &ForSequenceClassification{DistilBert: d, PreClassifier: nn.NewLinear(b, "pre_classifier", c.Dim, c.Dim),
		Classifier: nn.NewLinear(b, "classifier", c.Dim, c.NumLabels()),
		Spec:       task.Spec{Kind: task.SequenceClassification, NumLabels: c.NumLabels(), ProblemType: task.ProblemType(c.ProblemType)}}, nil
}

// Params returns every parameter by HF name.
func (m *ForSequenceClassification) Params() *nn.Params { return m.DistilBert.params }

// Train switches dropout on or off.
func (m *ForSequenceClassification) Train(on bool) { m.DistilBert.Train(on) }

// Forward returns logits [B, C] and, when in.Labels is set, the loss.
func (m *ForSequenceClassification) Forward(in Batch) (Output, error) {
	h, err := m.DistilBert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	out := Output{Logits: classifyCLS(m.DistilBert, m.PreClassifier, m.Classifier, h)}
	return out.withLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForSequenceClassification) Save(dir string) error {
	return save(dir, m.DistilBert.Config, m.Params(), "DistilBertForSequenceClassification", nil)
}

// LoadForSequenceClassification builds the model from dir/config.json and
// loads dir's weights (model.safetensors or pytorch_model.bin). A
// DistilBertModel checkpoint loads too: the head keeps its seeded
// initialisation and is listed in the report's Missing.
func LoadForSequenceClassification(dir string, seed uint64) (*ForSequenceClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForSequenceClassification)
}

// ForTokenClassification is DistilBertForTokenClassification:
// logits = classifier(dropout(hidden)) with config.dropout.
type ForTokenClassification struct {
	DistilBert *Model    // distilbert.*
	Classifier nn.Linear // classifier [C, D]
	Spec       task.Spec
}

// NewForTokenClassification returns a randomly initialised model, seeded.
func NewForTokenClassification(c Config, seed uint64) (*ForTokenClassification, error) {
	d, b, err := newBase(c, seed, BasePrefix)
	if err != nil {
		return nil, err
	}
	return &ForTokenClassification{DistilBert: d, Classifier: nn.NewLinear(b, "classifier", c.Dim, c.NumLabels()),
		Spec: task.Spec{Kind: task.TokenClassification, NumLabels: c.NumLabels()}}, nil
}

// Params returns every parameter by HF name.
func (m *ForTokenClassification) Params() *nn.Params { return m.DistilBert.params }

// Train switches dropout on or off.
func (m *ForTokenClassification) Train(on bool) { m.DistilBert.Train(on) }

// Forward returns logits [B, T, C] and, with Labels [B, T] (-100 ignored), the loss.
func (m *ForTokenClassification) Forward(in Batch) (Output, error) {
	h, err := m.DistilBert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	out := Output{Logits: m.Classifier.Forward(m.DistilBert.mode.dropout(h, m.DistilBert.Config.Dropout))}
	return out.withLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForTokenClassification) Save(dir string) error {
	return save(dir, m.DistilBert.Config, m.Params(), "DistilBertForTokenClassification", nil)
}

// LoadForTokenClassification builds the model from dir and loads its weights.
func LoadForTokenClassification(dir string, seed uint64) (*ForTokenClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForTokenClassification)
}

// ForQuestionAnswering is DistilBertForQuestionAnswering: qa_outputs maps
// each token, after qa_dropout, to a start and an end score.
type ForQuestionAnswering struct {
	DistilBert *Model    // distilbert.*
	QAOutputs  nn.Linear // qa_outputs [2, D]
	Spec       task.Spec
}

// NewForQuestionAnswering returns a randomly initialised model, seeded. As in
// HF, qa_outputs has num_labels outputs, which must be 2.
func NewForQuestionAnswering(c Config, seed uint64) (*ForQuestionAnswering, error) {
	if c.NumLabels() != 2 {
		return nil, fmt.Errorf("distilbert: question answering needs num_labels 2 (a start and an end score), config has %d", c.NumLabels())
	}
	d, b, err := newBase(c, seed, BasePrefix)
	if err != nil {
		return nil, err
	}
	return &ForQuestionAnswering{DistilBert: d, QAOutputs: nn.NewLinear(b, "qa_outputs", c.Dim, 2),
		Spec: task.Spec{Kind: task.QuestionAnswering}}, nil
}

// Params returns every parameter by HF name.
func (m *ForQuestionAnswering) Params() *nn.Params { return m.DistilBert.params }

// Train switches dropout on or off.
func (m *ForQuestionAnswering) Train(on bool) { m.DistilBert.Train(on) }

// Forward returns start and end logits [B, T] and, with StartPositions and
// EndPositions [B], the loss (mean of the two cross-entropies).
func (m *ForQuestionAnswering) Forward(in Batch) (Output, error) {
	h, err := m.DistilBert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	B, T := h.Dim(0), h.Dim(1)
	h = m.DistilBert.mode.dropout(h, m.DistilBert.Config.QADropout)
	se := tensor.Split(m.QAOutputs.Forward(h), 2, 1, 1) // [B, T, 1] each
	out := Output{StartLogits: tensor.Reshape(se[0], B, T), EndLogits: tensor.Reshape(se[1], B, T)}
	return out.withLoss(m.Spec, task.Inputs{StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		StartPositions: in.StartPositions, EndPositions: in.EndPositions})
}

// Save writes dir as save_pretrained.
func (m *ForQuestionAnswering) Save(dir string) error {
	return save(dir, m.DistilBert.Config, m.Params(), "DistilBertForQuestionAnswering", nil)
}

// LoadForQuestionAnswering builds the model from dir and loads its weights.
func LoadForQuestionAnswering(dir string, seed uint64) (*ForQuestionAnswering, checkpoint.Report, error) {
	return load(dir, seed, NewForQuestionAnswering)
}

// ForMultipleChoice is DistilBertForMultipleChoice: each of K (context,
// choice) sequences is encoded on its own, its [CLS] scored as in sequence
// classification with one output (classifyCLS), and the K scores compared by
// cross-entropy.
type ForMultipleChoice struct {
	DistilBert    *Model    // distilbert.*
	PreClassifier nn.Linear // pre_classifier [D, D]
	Classifier    nn.Linear // classifier [1, D]
	Spec          task.Spec
}

// NewForMultipleChoice returns a randomly initialised model, seeded.
func NewForMultipleChoice(c Config, seed uint64) (*ForMultipleChoice, error) {
	d, b, err := newBase(c, seed, BasePrefix)
	if err != nil {
		return nil, err
	}
	return &ForMultipleChoice{DistilBert: d, PreClassifier: nn.NewLinear(b, "pre_classifier", c.Dim, c.Dim),
		Classifier: nn.NewLinear(b, "classifier", c.Dim, 1), Spec: task.Spec{Kind: task.MultipleChoice}}, nil
}

// Params returns every parameter by HF name.
func (m *ForMultipleChoice) Params() *nn.Params { return m.DistilBert.params }

// Train switches dropout on or off.
func (m *ForMultipleChoice) Train(on bool) { m.DistilBert.Train(on) }

// Forward takes InputIDs (and AttentionMask) [B, K, T] and returns logits
// [B, K] and, with Labels [B] (the right choice), the loss.
func (m *ForMultipleChoice) Forward(in Batch) (Output, error) {
	ids, am := in.InputIDs, in.AttentionMask
	if ids == nil || ids.Rank() != 3 {
		return Output{}, fmt.Errorf("distilbert: multiple choice input_ids must be [batch, choices, seq]")
	}
	B, K, T := ids.Dim(0), ids.Dim(1), ids.Dim(2)
	flat := Batch{InputIDs: tensor.Reshape(ids, B*K, T)}
	if am != nil {
		if am.Rank() != 3 || am.Dim(0) != B || am.Dim(1) != K || am.Dim(2) != T {
			return Output{}, fmt.Errorf("distilbert: multiple choice attention_mask %v must be [%d %d %d]", am.Shape(), B, K, T)
		}
		flat.AttentionMask = tensor.Reshape(am, B*K, T)
	}
	h, err := m.DistilBert.Forward(flat)
	if err != nil {
		return Output{}, err
	}
	out := Output{Logits: tensor.Reshape(classifyCLS(m.DistilBert, m.PreClassifier, m.Classifier, h), B, K)}
	spec := m.Spec
	spec.NumChoices = K
	return out.withLoss(spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForMultipleChoice) Save(dir string) error {
	return save(dir, m.DistilBert.Config, m.Params(), "DistilBertForMultipleChoice", nil)
}

// LoadForMultipleChoice builds the model from dir and loads its weights.
func LoadForMultipleChoice(dir string, seed uint64) (*ForMultipleChoice, checkpoint.Report, error) {
	return load(dir, seed, NewForMultipleChoice)
}

// ForMaskedLM is DistilBertForMaskedLM: vocab_transform, config.activation
// and vocab_layer_norm, then vocab_projector, whose weight is the word
// embedding matrix (tied) and whose bias is its own.
//
//	logits = vocab_layer_norm(act(vocab_transform(h))) @ word_embeddingsᵀ + vocab_projector.bias
type ForMaskedLM struct {
	DistilBert     *Model       // distilbert.*
	VocabTransform nn.Linear    // vocab_transform [D, D]
	VocabLayerNorm nn.LayerNorm // vocab_layer_norm
	VocabProjector nn.Linear    // vocab_projector [V, D]: Weight is the word embeddings
	Spec           task.Spec
}

// mlmTied is the name that shares the word embeddings' tensor, left out on
// save as HF's _tied_weights_keys.
var mlmTied = []string{"vocab_projector.weight"}

// NewForMaskedLM returns a randomly initialised model, seeded.
func NewForMaskedLM(c Config, seed uint64) (*ForMaskedLM, error) {
	d, b, err := newBase(c, seed, BasePrefix)
	if err != nil {
		return nil, err
	}
	return &ForMaskedLM{DistilBert: d,
		VocabTransform: nn.NewLinear(b, "vocab_transform", c.Dim, c.Dim),
		VocabLayerNorm: nn.NewLayerNorm(b, "vocab_layer_norm", c.Dim, layerNormEps),
		VocabProjector: nn.Linear{Weight: b.Tie("vocab_projector.weight", d.Embeddings.WordEmbeddings),
			Bias: b.Zeros("vocab_projector.bias", c.VocabSize)},
		Spec: task.Spec{Kind: task.MaskedLM}}, nil
}

// Params returns every parameter by HF name (the tied weight under both names).
func (m *ForMaskedLM) Params() *nn.Params { return m.DistilBert.params }

// Train switches dropout on or off.
func (m *ForMaskedLM) Train(on bool) { m.DistilBert.Train(on) }

// Forward returns logits [B, T, V] and, with Labels [B, T] (-100 for tokens
// that were not masked), the loss.
func (m *ForMaskedLM) Forward(in Batch) (Output, error) {
	h, err := m.DistilBert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	x := activation(m.DistilBert.Config, tensor.Linear(h, m.VocabTransform.Weight, nil), m.VocabTransform.Bias)
	out := Output{Logits: m.VocabProjector.Forward(m.VocabLayerNorm.Forward(x))}
	return out.withLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained (the tied projector weight left out).
func (m *ForMaskedLM) Save(dir string) error {
	return save(dir, m.DistilBert.Config, m.Params(), "DistilBertForMaskedLM", mlmTied)
}

// LoadForMaskedLM builds the model from dir and loads its weights.
func LoadForMaskedLM(dir string, seed uint64) (*ForMaskedLM, checkpoint.Report, error) {
	return load(dir, seed, NewForMaskedLM)
}

// ---------------------------------------------------------------------------
// Checkpoints.

// loadOptions: the base prefix, and HF's ignore list (older checkpoints carry
// the position_ids buffer).
var loadOptions = checkpoint.LoadOptions{BasePrefix: BasePrefix,
	IgnoreUnexpected: []*regexp.Regexp{regexp.MustCompile(`position_ids`)}}

// load builds a model from dir/config.json with build and loads dir's weights.
func load[M interface{ Params() *nn.Params }](dir string, seed uint64, build func(Config, uint64) (M, error)) (M, checkpoint.Report, error) {
	return pretrained.Load(dir, seed, ReadConfig, build, loadOptions)
}

// LoadState copies a state dict into a model's parameters with DistilBERT's
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
