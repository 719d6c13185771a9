// Package bert is BERT (Devlin et al. 2018) as Hugging Face's modeling_bert.py
// defines it, all of it in this file, reading top to bottom: embeddings, the
// post-LN encoder layer, the encoder and pooler (BertModel), then the task
// heads. Every parameter carries its HF state_dict name
// ("bert.encoder.layer.0.attention.self.query.weight"), so an HF checkpoint
// loads with no renaming table and a saved kiln model loads in transformers.
// models/roberta builds RoBERTa on this file's BertModel and heads: its one
// change to the encoder is a padding row in the position embeddings
// (Embeddings.PositionPaddingIdx), which also gives RoBERTa's positions.
//
// Shapes: B batch, T sequence length, H hidden_size, I intermediate_size,
// C num_labels.
package bert

import (
	"fmt"
	"regexp"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/internal/pretrained"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// BasePrefix is BertPreTrainedModel.base_model_prefix: head models hold the
// encoder under "bert.", and checkpoints of either kind load into either.
const BasePrefix = "bert"

// Batch is one batch of tokenized input.
type Batch struct {
	InputIDs      *tensor.Tensor // [B, T] int64
	TokenTypeIDs  *tensor.Tensor // [B, T] int64 segment ids; nil means all 0
	AttentionMask *tensor.Tensor // [B, T], 1 for tokens, 0 for padding; nil means no padding
	PositionIDs   *tensor.Tensor // [B, T] int64 position_ids; nil means 0..T-1 (RoBERTa: see Embeddings)
	Labels        *tensor.Tensor // the head's labels (see task.Inputs); nil means no loss

	StartPositions, EndPositions *tensor.Tensor // question answering labels, [B] int64

	// LMPositions, for the masked-LM head only, are flat indices (int64)
	// into the B·T tokens at which the vocabulary logits are wanted: the
	// masked tokens in training. Only those rows go through the prediction
	// head and the [H, V] decoder, which is most of the cost of a small
	// model's MLM step; the loss is the same, since the other tokens carry
	// no label. Logits are then [1, N, V] and Labels may be [B, T] (gathered
	// here) or already [1, N]. nil: every token, logits [B, T, V], as HF.
	LMPositions *tensor.Tensor
}

// mode is the dropout state shared by a model and its head.
type mode struct {
	training bool
	rng      *tensor.RNG // dropout masks; seeded, so a training run is reproducible
}

// dropout is HF's nn.Dropout: active only in training.
func (m *mode) dropout(x *tensor.Tensor, p float64) *tensor.Tensor {
	return tensor.Dropout(x, p, m.rng, m.training)
}

// ---------------------------------------------------------------------------
// Embeddings: word + position + token type, then LayerNorm and dropout.

// Embeddings is BertEmbeddings ("embeddings.*").
type Embeddings struct {
	WordEmbeddings      *tensor.Tensor // word_embeddings.weight [vocab_size, H]; row pad_token_id gets no gradient
	PositionEmbeddings  *tensor.Tensor // position_embeddings.weight [max_position_embeddings, H]
	TokenTypeEmbeddings *tensor.Tensor // token_type_embeddings.weight [type_vocab_size, H]
	LayerNorm           nn.LayerNorm   // LayerNorm (HF's capitalisation, from the TF checkpoints)
	// PositionPaddingIdx is position_embeddings' padding_idx: -1 (none) for
	// BERT, whose positions are 0..T-1. RoBERTa's is pad_token_id: a zero row
	// that gets no gradient, and positions that count from it over the
	// non-pad tokens (PositionIDsFromInputIDs).
	PositionPaddingIdx int
}

func newEmbeddings(c Config, b nn.Builder) Embeddings {
	e := Embeddings{
		WordEmbeddings:      b.Normal("word_embeddings.weight", c.VocabSize, c.HiddenSize),
		PositionEmbeddings:  b.Normal("position_embeddings.weight", c.MaxPositionEmbeddings, c.HiddenSize),
		TokenTypeEmbeddings: b.Normal("token_type_embeddings.weight", c.TypeVocabSize, c.HiddenSize),
		LayerNorm:           nn.NewLayerNorm(b, "LayerNorm", c.HiddenSize, c.LayerNormEps),
		PositionPaddingIdx:  -1,
	}
	pad := e.WordEmbeddings.F32()[c.PadTokenID*c.HiddenSize : (c.PadTokenID+1)*c.HiddenSize]
	clear(pad) // HF's _init_weights zeroes the padding_idx row
	return e
}

// forward: ids, types [B, T] int64, pos [B, T] int64 or nil -> [B, T, H].
func (e Embeddings) forward(c Config, m *mode, ids, types, pos *tensor.Tensor) *tensor.Tensor {
	if pos == nil && e.PositionPaddingIdx >= 0 {
		pos = PositionIDsFromInputIDs(ids, e.PositionPaddingIdx)
	} else if pos == nil {
		T := ids.Dim(1)
		p := make([]int64, T) // absolute positions 0..T-1, shared by every row
		for i := range p {
			p[i] = int64(i)
		}
		pos = tensor.FromInt64(p, T) // its [T, H] embeddings broadcast over B
	}
	x := tensor.EmbeddingPadded(e.WordEmbeddings, ids, c.PadTokenID)
	x = tensor.Add(x, tensor.Embedding(e.TokenTypeEmbeddings, types))
	switch {
	case c.PositionEmbeddingType != "absolute":
		// Relative positions live in the attention scores; HF keeps (and
		// saves) position_embeddings but does not add them.
	case e.PositionPaddingIdx >= 0:
		x = tensor.Add(x, tensor.EmbeddingPadded(e.PositionEmbeddings, pos, e.PositionPaddingIdx))
	default:
		x = tensor.Add(x, tensor.Embedding(e.PositionEmbeddings, pos))
	}
	return m.dropout(e.LayerNorm.Forward(x), c.HiddenDropoutProb)
}

// PositionIDsFromInputIDs is RoBERTa's create_position_ids_from_input_ids
// (fairseq's make_positions): the n-th non-pad token of a row is at position
// pad+n and every pad token at pad itself, so padding on the left does not
// shift the tokens after it. ids [B, T] int64 -> [B, T] int64.
func PositionIDsFromInputIDs(ids *tensor.Tensor, pad int) *tensor.Tensor {
	B, T := ids.Dim(0), ids.Dim(1)
	src, out := ids.Int64s(), make([]int64, B*T)
	for b := 0; b < B; b++ {
		n := int64(pad)
		for t := b * T; t < (b+1)*T; t++ {
			if src[t] == int64(pad) {
				out[t] = int64(pad)
				continue
			}
			n++
			out[t] = n
		}
	}
	return tensor.FromInt64(out, B, T)
}

// ---------------------------------------------------------------------------
// Encoder layer (BertLayer): post-LN self-attention, then post-LN feed-forward.
//
//	h = LayerNorm(x + dropout(dense(attention(query(x), key(x), value(x)))))
//	y = LayerNorm(h + dropout(dense(act(intermediate(h)))))

// Layer is BertLayer ("encoder.layer.N.*"). Field comments give the HF names.
type Layer struct {
	Query, Key, Value nn.Linear // attention.self.{query,key,value}  [H, H]
	// DistanceEmbedding is attention.self.distance_embedding.weight
	// [2*max_position_embeddings-1, H/heads] with position_embedding_type
	// relative_key or relative_key_query (nil with absolute): one vector per
	// distance i-j, shared by the heads, that the scores take in.
	DistanceEmbedding *tensor.Tensor
	AttentionOut      nn.Linear    // attention.output.dense            [H, H]
	AttentionNorm     nn.LayerNorm // attention.output.LayerNorm
	Intermediate      nn.Linear    // intermediate.dense                [I, H]
	Output            nn.Linear    // output.dense                      [H, I]
	OutputNorm        nn.LayerNorm // output.LayerNorm
}

func newLayer(c Config, b nn.Builder) Layer {
	H, I, eps := c.HiddenSize, c.IntermediateSize, c.LayerNormEps
	att := b.PP("attention")
	var dist *tensor.Tensor
	if c.PositionEmbeddingType != "absolute" {
		dist = att.PP("self").Normal("distance_embedding.weight", 2*c.MaxPositionEmbeddings-1, H/c.NumAttentionHeads)
	}
	return Layer{
		DistanceEmbedding: dist,
		Query:             nn.NewLinear(att.PP("self"), "query", H, H),
		Key:               nn.NewLinear(att.PP("self"), "key", H, H),
		Value:             nn.NewLinear(att.PP("self"), "value", H, H),
		AttentionOut:      nn.NewLinear(att.PP("output"), "dense", H, H),
		AttentionNorm:     nn.NewLayerNorm(att.PP("output"), "LayerNorm", H, eps),
		Intermediate:      nn.NewLinear(b.PP("intermediate"), "dense", H, I),
		Output:            nn.NewLinear(b.PP("output"), "dense", I, H),
		OutputNorm:        nn.NewLayerNorm(b.PP("output"), "LayerNorm", H, eps),
	}
}

// forward: x [B, T, H], mask [B, T] or nil -> [B, T, H].
func (l Layer) forward(c Config, m *mode, x, mask *tensor.Tensor) *tensor.Tensor {
	attnDrop := 0.0
	if m.training {
		attnDrop = c.AttentionProbsDropoutProb
	}
	// Fused attention reads the heads straight out of the [B, T, H] projections.
	ctx := tensor.Attention(l.Query.Forward(x), l.Key.Forward(x), l.Value.Forward(x), c.NumAttentionHeads,
		tensor.AttentionOpts{KeyMask: mask, DropoutP: attnDrop, RNG: m.rng,
			RelKey: l.DistanceEmbedding, RelKeyQuery: c.PositionEmbeddingType == "relative_key_query"})
	h := l.AttentionNorm.Forward(tensor.Add(m.dropout(l.AttentionOut.Forward(ctx), c.HiddenDropoutProb), x))

	a := activation(c, tensor.Linear(h, l.Intermediate.Weight, nil), l.Intermediate.Bias) // [B, T, I]
	return l.OutputNorm.Forward(tensor.Add(m.dropout(l.Output.Forward(a), c.HiddenDropoutProb), h))
}

// ---------------------------------------------------------------------------
// BertModel: embeddings, num_hidden_layers encoder layers, tanh pooler.

// Model is BertModel.
type Model struct {
	Config     Config
	Embeddings Embeddings // embeddings.*
	Layers     []Layer    // encoder.layer.N.*
	Pooler     *nn.Linear // pooler.dense: tanh(dense(h[:, 0])); nil without a pooling layer
	params     *nn.Params // every parameter by HF name, in state_dict order
	mode       *mode
}

// newModel builds a BertModel under b's prefix. HF builds the token
// classification, question answering and masked LM heads without the pooler
// (add_pooling_layer=False).
func newModel(c Config, b nn.Builder, p *nn.Params, md *mode, pooler bool) *Model {
	m := &Model{Config: c, Embeddings: newEmbeddings(c, b.PP("embeddings")), params: p, mode: md}
	for i := 0; i < c.NumHiddenLayers; i++ {
		m.Layers = append(m.Layers, newLayer(c, b.PP(fmt.Sprintf("encoder.layer.%d", i))))
	}
	if pooler {
		d := nn.NewLinear(b.PP("pooler"), "dense", c.HiddenSize, c.HiddenSize)
		m.Pooler = &d
	}
	return m
}

// NewModel returns a randomly initialised BertModel (with pooler), seeded.
func NewModel(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams()
	return newModel(c, nn.NewBuilder(p, seed, c.InitializerRange), p, newMode(seed), true), nil
}

func newMode(seed uint64) *mode { return &mode{rng: tensor.NewRNG(seed ^ 0x9e3779b97f4a7c15)} }

// NewBase builds a BertModel whose parameters are named under prefix, the
// encoder of a head model, and returns the builder for the head's own
// parameters, which continue the same seeded stream. It is how a family built
// from BERT's layers makes its models (RoBERTa: prefix "roberta", or "" for
// the bare model).
func NewBase(c Config, seed uint64, prefix string, pooler bool) (*Model, nn.Builder, error) {
	if err := c.Validate(); err != nil {
		return nil, nn.Builder{}, err
	}
	m, b := newBase(c, seed, prefix, pooler)
	return m, b, nil
}

func newBase(c Config, seed uint64, prefix string, pooler bool) (*Model, nn.Builder) {
	p := nn.NewParams()
	b := nn.NewBuilder(p, seed, c.InitializerRange)
	return newModel(c, b.PP(prefix), p, newMode(seed), pooler), b
}

// Params returns every parameter by HF name.
func (m *Model) Params() *nn.Params { return m.params }

// Train switches dropout on (true) or off (false, the default: evaluation).
func (m *Model) Train(on bool) { m.mode.training = on }

// DropoutRNG is the generator of every dropout mask of the model and its
// head; a trainer stores its state in checkpoints so that a resumed run
// draws the same masks.
func (m *Model) DropoutRNG() *tensor.RNG { return m.mode.rng }

// Dropout is nn.Dropout(p) for a head on this model: active only in
// training, masks from the model's seeded stream.
func (m *Model) Dropout(x *tensor.Tensor, p float64) *tensor.Tensor { return m.mode.dropout(x, p) }

// Save writes dir/model.safetensors and dir/config.json as save_pretrained.
func (m *Model) Save(dir string) error { return save(dir, m.Config, m.params, "BertModel", nil) }

// LoadModel builds a BertModel from dir/config.json and loads dir's weights;
// a checkpoint with a head loads too (its "bert." prefix is stripped and the
// head's keys are reported unexpected, as HF does).
func LoadModel(dir string, seed uint64) (*Model, checkpoint.Report, error) {
	return load(dir, seed, NewModel)
}

// Forward returns the last hidden states [B, T, H] and the pooled [CLS]
// vector [B, H] (nil without a pooler).
func (m *Model) Forward(in Batch) (hidden, pooled *tensor.Tensor, err error) {
	types, err := m.check(in)
	if err != nil {
		return nil, nil, err
	}
	h := m.Embeddings.forward(m.Config, m.mode, in.InputIDs, types, in.PositionIDs)
	for _, l := range m.Layers {
		h = l.forward(m.Config, m.mode, h, in.AttentionMask)
	}
	if m.Pooler != nil {
		B, H := h.Dim(0), h.Dim(2)
		cls := tensor.Reshape(tensor.Slice(h, 1, 0, 1), B, H) // the first token, [CLS]
		pooled = tensor.Tanh(m.Pooler.Forward(cls))
	}
	return h, pooled, nil
}

// check validates user input (ids in range, shapes agree) so that no tensor
// panic escapes, and returns the token type ids (zeros when not given).
func (m *Model) check(in Batch) (*tensor.Tensor, error) {
	c, f := m.Config, m.Config.family()
	ids := in.InputIDs
	if ids == nil || ids.Rank() != 2 || ids.DType() != tensor.Int64 {
		return nil, fmt.Errorf("%s: input_ids must be an int64 [batch, seq] tensor", f)
	}
	B, T := ids.Dim(0), ids.Dim(1)
	if pos := in.PositionIDs; pos != nil {
		if pos.DType() != tensor.Int64 || !sameShape(pos.Shape(), B, T) {
			return nil, fmt.Errorf("%s: position_ids %v must be int64 [%d %d]", f, pos.Shape(), B, T)
		} else if err := checkIDs(f, "position_ids", pos.Int64s(), T, c.MaxPositionEmbeddings); err != nil {
			return nil, err
		}
	} else if pad := m.Embeddings.PositionPaddingIdx; pad >= 0 && T > c.MaxPositionEmbeddings-pad-1 {
		return nil, fmt.Errorf("%s: sequence length %d exceeds %d (max_position_embeddings %d less padding_idx %d + 1: positions start after the padding index)",
			f, T, c.MaxPositionEmbeddings-pad-1, c.MaxPositionEmbeddings, pad)
	} else if T > c.MaxPositionEmbeddings {
		return nil, fmt.Errorf("%s: sequence length %d exceeds max_position_embeddings %d", f, T, c.MaxPositionEmbeddings)
	}
	if err := checkIDs(f, "input_ids", ids.Int64s(), T, c.VocabSize); err != nil {
		return nil, err
	}
	types := in.TokenTypeIDs
	if types == nil {
		types = tensor.Zeros(tensor.Int64, B, T)
	} else if types.DType() != tensor.Int64 || !sameShape(types.Shape(), B, T) {
		return nil, fmt.Errorf("%s: token_type_ids %v must be int64 [%d %d]", f, types.Shape(), B, T)
	} else if err := checkIDs(f, "token_type_ids", types.Int64s(), T, c.TypeVocabSize); err != nil {
		return nil, err
	}
	if am := in.AttentionMask; am != nil && !sameShape(am.Shape(), B, T) {
		return nil, fmt.Errorf("%s: attention_mask %v must be [%d %d]", f, am.Shape(), B, T)
	}
	return types, nil
}

func checkIDs(family, what string, ids []int64, T, n int) error {
	for i, id := range ids {
		if id < 0 || id >= int64(n) {
			return fmt.Errorf("%s: %s[%d][%d] = %d outside [0, %d)", family, what, i/T, i%T, id, n)
		}
	}
	return nil
}

func sameShape(s []int, dims ...int) bool {
	if len(s) != len(dims) {
		return false
	}
	for i := range s {
		if s[i] != dims[i] {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// Heads.

// newHead builds the encoder of a head model under "bert." and returns the
// builder for the head's own parameters (same seeded stream).
func newHead(c Config, seed uint64, pooler bool) (*Model, nn.Builder) {
	return newBase(c, seed, BasePrefix, pooler)
}

// activation is config.hidden_act applied to x + bias: [..., n] -> [..., n].
func activation(c Config, x, bias *tensor.Tensor) *tensor.Tensor {
	if c.HiddenAct == "relu" {
		return tensor.ReLU(tensor.Add(x, bias))
	}
	return tensor.BiasGELU(x, bias, c.HiddenAct == "gelu_new") // bias add and GELU in one pass
}

// Output is a head's result.
type Output struct {
	Logits      *tensor.Tensor   // the head's scores: [B, C] sequence classification, [B, T, C] token classification, [B, K] multiple choice, [B, T, V] masked LM
	StartLogits *tensor.Tensor   // question answering: [B, T]
	EndLogits   *tensor.Tensor   // question answering: [B, T]
	Loss        *tensor.Tensor   // scalar, when labels were given
	Explanation task.Explanation // why this loss (problem type, reduction), when labels were given
}

// WithLoss returns o with the loss and its explanation from
// task.Compute(spec, in): how every head finishes once it has labels.
func (o Output) WithLoss(spec task.Spec, in task.Inputs) (Output, error) {
	res, err := task.Compute(spec, in)
	if err != nil {
		return Output{}, err
	}
	o.Loss, o.Explanation = res.Loss, res.Explanation
	return o, nil
}

// ForSequenceClassification is BertForSequenceClassification:
// logits = classifier(dropout(pooled [CLS])).
type ForSequenceClassification struct {
	Bert       *Model    // bert.*
	Classifier nn.Linear // classifier [C, H]
	// Spec chooses the loss; it starts from config's num_labels and
	// problem_type, as HF does, and a trainer may set a loss override.
	Spec task.Spec
}

// NewForSequenceClassification returns a randomly initialised model, seeded.
func NewForSequenceClassification(c Config, seed uint64) (*ForSequenceClassification, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bert, b := newHead(c, seed, true)
	return &ForSequenceClassification{
		Bert:       bert,
		Classifier: nn.NewLinear(b, "classifier", c.HiddenSize, c.NumLabels()),
		Spec: task.Spec{Kind: task.SequenceClassification, NumLabels: c.NumLabels(),
			ProblemType: task.ProblemType(c.ProblemType)},
	}, nil
}

// Params returns every parameter by HF name.
func (m *ForSequenceClassification) Params() *nn.Params { return m.Bert.params }

// Train switches dropout on or off.
func (m *ForSequenceClassification) Train(on bool) { m.Bert.Train(on) }

// Forward returns logits [B, C] and, when in.Labels is set, the loss.
func (m *ForSequenceClassification) Forward(in Batch) (Output, error) {
	_, pooled, err := m.Bert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	pooled = m.Bert.mode.dropout(pooled, m.Bert.Config.ClassifierDropoutProb())
	out := Output{Logits: m.Classifier.Forward(pooled)}
	if in.Labels == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir/model.safetensors and dir/config.json as save_pretrained.
func (m *ForSequenceClassification) Save(dir string) error {
	return save(dir, m.Bert.Config, m.Params(), "BertForSequenceClassification", nil)
}

// LoadForSequenceClassification builds the model from dir/config.json and
// loads dir's weights. A BertModel checkpoint (no "bert." prefix, no
// classifier) loads too: the classifier keeps its seeded initialisation and
// is listed in the report's Missing, as from_pretrained's warning lists it.
func LoadForSequenceClassification(dir string, seed uint64) (*ForSequenceClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForSequenceClassification)
}

// ForTokenClassification is BertForTokenClassification:
// logits = classifier(dropout(hidden)), one score vector per token. HF builds
// it without the pooler.
type ForTokenClassification struct {
	Bert       *Model    // bert.*
	Classifier nn.Linear // classifier [C, H]
	Spec       task.Spec
}

// NewForTokenClassification returns a randomly initialised model, seeded.
func NewForTokenClassification(c Config, seed uint64) (*ForTokenClassification, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bert, b := newHead(c, seed, false)
	return &ForTokenClassification{Bert: bert, Classifier: nn.NewLinear(b, "classifier", c.HiddenSize, c.NumLabels()),
		Spec: task.Spec{Kind: task.TokenClassification, NumLabels: c.NumLabels()}}, nil
}

// Params returns every parameter by HF name.
func (m *ForTokenClassification) Params() *nn.Params { return m.Bert.params }

// Train switches dropout on or off.
func (m *ForTokenClassification) Train(on bool) { m.Bert.Train(on) }

// Forward returns logits [B, T, C] and, with Labels [B, T] (-100 ignored), the loss.
func (m *ForTokenClassification) Forward(in Batch) (Output, error) {
	h, _, err := m.Bert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	out := Output{Logits: m.Classifier.Forward(m.Bert.mode.dropout(h, m.Bert.Config.ClassifierDropoutProb()))}
	if in.Labels == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForTokenClassification) Save(dir string) error {
	return save(dir, m.Bert.Config, m.Params(), "BertForTokenClassification", nil)
}

// LoadForTokenClassification builds the model from dir and loads its weights.
func LoadForTokenClassification(dir string, seed uint64) (*ForTokenClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForTokenClassification)
}

// ForQuestionAnswering is BertForQuestionAnswering: qa_outputs maps each
// token to a start and an end score (no dropout, no pooler).
type ForQuestionAnswering struct {
	Bert      *Model    // bert.*
	QAOutputs nn.Linear // qa_outputs [2, H]
	Spec      task.Spec
}

// NewForQuestionAnswering returns a randomly initialised model, seeded.
func NewForQuestionAnswering(c Config, seed uint64) (*ForQuestionAnswering, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bert, b := newHead(c, seed, false)
	return &ForQuestionAnswering{Bert: bert, QAOutputs: nn.NewLinear(b, "qa_outputs", c.HiddenSize, 2),
		Spec: task.Spec{Kind: task.QuestionAnswering}}, nil
}

// Params returns every parameter by HF name.
func (m *ForQuestionAnswering) Params() *nn.Params { return m.Bert.params }

// Train switches dropout on or off.
func (m *ForQuestionAnswering) Train(on bool) { m.Bert.Train(on) }

// Forward returns start and end logits [B, T] and, with StartPositions and
// EndPositions [B], the loss (mean of the two cross-entropies).
func (m *ForQuestionAnswering) Forward(in Batch) (Output, error) {
	h, _, err := m.Bert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	B, T := h.Dim(0), h.Dim(1)
	se := tensor.Split(m.QAOutputs.Forward(h), 2, 1, 1) // [B, T, 1] each
	out := Output{StartLogits: tensor.Reshape(se[0], B, T), EndLogits: tensor.Reshape(se[1], B, T)}
	if in.StartPositions == nil || in.EndPositions == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		StartPositions: in.StartPositions, EndPositions: in.EndPositions})
}

// Save writes dir as save_pretrained.
func (m *ForQuestionAnswering) Save(dir string) error {
	return save(dir, m.Bert.Config, m.Params(), "BertForQuestionAnswering", nil)
}

// LoadForQuestionAnswering builds the model from dir and loads its weights.
func LoadForQuestionAnswering(dir string, seed uint64) (*ForQuestionAnswering, checkpoint.Report, error) {
	return load(dir, seed, NewForQuestionAnswering)
}

// ForMultipleChoice is BertForMultipleChoice: each of K (context, choice)
// pairs is encoded as its own sequence, its pooled [CLS] scored by a
// one-output classifier, and the K scores compared by cross-entropy.
type ForMultipleChoice struct {
	Bert       *Model    // bert.*
	Classifier nn.Linear // classifier [1, H]
	Spec       task.Spec
}

// NewForMultipleChoice returns a randomly initialised model, seeded.
func NewForMultipleChoice(c Config, seed uint64) (*ForMultipleChoice, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bert, b := newHead(c, seed, true)
	return &ForMultipleChoice{Bert: bert, Classifier: nn.NewLinear(b, "classifier", c.HiddenSize, 1),
		Spec: task.Spec{Kind: task.MultipleChoice}}, nil
}

// Params returns every parameter by HF name.
func (m *ForMultipleChoice) Params() *nn.Params { return m.Bert.params }

// Train switches dropout on or off.
func (m *ForMultipleChoice) Train(on bool) { m.Bert.Train(on) }

// Forward takes InputIDs (and TokenTypeIDs, AttentionMask) [B, K, T] and
// returns logits [B, K] and, with Labels [B] (the right choice), the loss.
func (m *ForMultipleChoice) Forward(in Batch) (Output, error) {
	f := m.Bert.Config.family()
	if in.InputIDs == nil || in.InputIDs.Rank() != 3 {
		return Output{}, fmt.Errorf("%s: multiple choice input_ids must be [batch, choices, seq]", f)
	}
	B, K, T := in.InputIDs.Dim(0), in.InputIDs.Dim(1), in.InputIDs.Dim(2)
	flat := Batch{InputIDs: tensor.Reshape(in.InputIDs, B*K, T)}
	for _, x := range []struct{ src, dst **tensor.Tensor }{{&in.TokenTypeIDs, &flat.TokenTypeIDs},
		{&in.AttentionMask, &flat.AttentionMask}, {&in.PositionIDs, &flat.PositionIDs}} {
		if *x.src != nil {
			if !sameShape((*x.src).Shape(), B, K, T) {
				return Output{}, fmt.Errorf("%s: multiple choice token_type_ids/attention_mask/position_ids %v must be [%d %d %d]", f, (*x.src).Shape(), B, K, T)
			}
			*x.dst = tensor.Reshape(*x.src, B*K, T)
		}
	}
	_, pooled, err := m.Bert.Forward(flat)
	if err != nil {
		return Output{}, err
	}
	pooled = m.Bert.mode.dropout(pooled, m.Bert.Config.ClassifierDropoutProb())
	out := Output{Logits: tensor.Reshape(m.Classifier.Forward(pooled), B, K)}
	if in.Labels == nil {
		return out, nil
	}
	spec := m.Spec
	spec.NumChoices = K
	return out.WithLoss(spec, task.Inputs{Logits: out.Logits, Labels: in.Labels})
}

// Save writes dir as save_pretrained.
func (m *ForMultipleChoice) Save(dir string) error {
	return save(dir, m.Bert.Config, m.Params(), "BertForMultipleChoice", nil)
}

// LoadForMultipleChoice builds the model from dir and loads its weights.
func LoadForMultipleChoice(dir string, seed uint64) (*ForMultipleChoice, checkpoint.Report, error) {
	return load(dir, seed, NewForMultipleChoice)
}

// ForMaskedLM is BertForMaskedLM ("cls.predictions.*"): a transform
// (dense, hidden_act, LayerNorm) then the decoder, whose weight is the word
// embedding matrix (tied) and whose bias is the head's own. No pooler.
//
//	logits = LayerNorm(act(dense(hidden))) @ word_embeddingsᵀ + bias
type ForMaskedLM struct {
	Bert      *Model         // bert.*
	Transform nn.Linear      // cls.predictions.transform.dense [H, H]
	Norm      nn.LayerNorm   // cls.predictions.transform.LayerNorm
	Bias      *tensor.Tensor // cls.predictions.bias [V] (= cls.predictions.decoder.bias)
	Spec      task.Spec
}

// mlmTied are the names that share another parameter's tensor, left out on
// save as HF's _tied_weights_keys.
var mlmTied = []string{"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}

// NewForMaskedLM returns a randomly initialised model, seeded.
func NewForMaskedLM(c Config, seed uint64) (*ForMaskedLM, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	bert, b := newHead(c, seed, false)
	p := b.PP("cls.predictions")
	m := &ForMaskedLM{Bert: bert,
		Transform: nn.NewLinear(p.PP("transform"), "dense", c.HiddenSize, c.HiddenSize),
		Norm:      nn.NewLayerNorm(p.PP("transform"), "LayerNorm", c.HiddenSize, c.LayerNormEps),
		Bias:      p.Zeros("bias", c.VocabSize),
		Spec:      task.Spec{Kind: task.MaskedLM}}
	p.Tie("decoder.weight", bert.Embeddings.WordEmbeddings)
	p.Tie("decoder.bias", m.Bias)
	return m, nil
}

// Params returns every parameter by HF name (tied tensors under both names).
func (m *ForMaskedLM) Params() *nn.Params { return m.Bert.params }

// Train switches dropout on or off.
func (m *ForMaskedLM) Train(on bool) { m.Bert.Train(on) }

// Forward returns logits [B, T, V] and, with Labels [B, T] (-100 for tokens
// that were not masked), the loss.
func (m *ForMaskedLM) Forward(in Batch) (Output, error) {
	h, _, err := m.Bert.Forward(in)
	if err != nil {
		return Output{}, err
	}
	labels := in.Labels
	if p := in.LMPositions; p != nil {
		// [B, T, H] -> the N wanted rows [1, N, H]; labels likewise.
		B, T, H := h.Dim(0), h.Dim(1), h.Dim(2)
		n := p.NumElems()
		h = tensor.Reshape(tensor.IndexSelect(tensor.Reshape(h, B*T, H), 0, p), 1, n, H)
		if labels != nil && labels.Rank() == 2 && labels.Dim(0) == B {
			labels = tensor.Reshape(tensor.IndexSelect(tensor.Reshape(labels, B*T), 0, p), 1, n)
		}
	}
	t := m.Norm.Forward(activation(m.Bert.Config, tensor.Linear(h, m.Transform.Weight, nil), m.Transform.Bias))
	out := Output{Logits: tensor.Linear(t, m.Bert.Embeddings.WordEmbeddings, m.Bias)}
	if labels == nil {
		return out, nil
	}
	return out.WithLoss(m.Spec, task.Inputs{Logits: out.Logits, Labels: labels})
}

// Save writes dir as save_pretrained (the tied decoder left out).
func (m *ForMaskedLM) Save(dir string) error {
	return save(dir, m.Bert.Config, m.Params(), "BertForMaskedLM", mlmTied)
}

// LoadForMaskedLM builds the model from dir and loads its weights.
func LoadForMaskedLM(dir string, seed uint64) (*ForMaskedLM, checkpoint.Report, error) {
	return load(dir, seed, NewForMaskedLM)
}

// ---------------------------------------------------------------------------
// Checkpoints.

// ignoreUnexpected are HF's _keys_to_ignore_on_load_unexpected: old
// checkpoints carry the position_ids buffer.
var ignoreUnexpected = []*regexp.Regexp{regexp.MustCompile(`position_ids`)}

var loadOptions = checkpoint.LoadOptions{BasePrefix: BasePrefix, IgnoreUnexpected: ignoreUnexpected}

// load builds a model from dir/config.json with build and loads dir's weights.
func load[M interface{ Params() *nn.Params }](dir string, seed uint64, build func(Config, uint64) (M, error)) (M, checkpoint.Report, error) {
	return pretrained.Load(dir, seed, ReadConfig, build, loadOptions)
}

// LoadState copies a state dict into a model's parameters with BERT's base
// prefix mapping and HF's ignore list.
func LoadState(p *nn.Params, sd checkpoint.StateDict) (checkpoint.Report, error) {
	return checkpoint.LoadInto(p.Map(), sd, StateLoadOptions())
}

// StateLoadOptions are the checkpoint options LoadState uses (base prefix
// and HF's ignore list), for callers that add their own (a new label set).
func StateLoadOptions() checkpoint.LoadOptions {
	return loadOptions
}

// save writes dir as save_pretrained, with config.json's architectures [arch].
func save(dir string, c Config, p *nn.Params, arch string, tied []string) error {
	c.Architectures = []string{arch}
	return pretrained.Save(dir, p, tied, func(dir string) error { return WriteConfig(dir, c) })
}
