// Package gpt2 is GPT-2 (Radford et al. 2019) as Hugging Face's
// modeling_gpt2.py defines it, all of it in this file, reading top to bottom:
// Conv1D, the pre-LN block (causal self-attention and MLP), GPT2Model (learned
// token and position embeddings, the blocks, the final LayerNorm), then the
// heads: the LM head tied to the token embeddings and sequence classification
// scored on each row's last non-pad token. Every parameter carries its HF
// state_dict name ("transformer.h.0.attn.c_attn.weight"), so an HF checkpoint
// loads with no renaming table and a saved kiln model loads in transformers.
//
// Shapes: B batch, T sequence length, E n_embd, I n_inner (4E by default),
// V vocab_size, C num_labels.
package gpt2

import (
	"fmt"
	"math"
	"regexp"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/internal/pretrained"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

// BasePrefix is GPT2PreTrainedModel.base_model_prefix: head models hold the
// transformer under "transformer.", and checkpoints of either kind load into
// either.
const BasePrefix = "transformer"

// Batch is one batch of tokenized input.
type Batch struct {
	InputIDs      *tensor.Tensor // [B, T] int64
	AttentionMask *tensor.Tensor // [B, T], 1 for tokens, 0 for padding; nil means no padding
	TokenTypeIDs  *tensor.Tensor // [B, T] int64, embedded with wte as HF does; nil means none
	Labels        *tensor.Tensor // the head's labels (see task.Inputs); nil means no loss
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
// Conv1D: HF's pytorch_utils.Conv1D, a Linear whose weight is stored
// transposed, [in, out] (the layout of the original TensorFlow checkpoints).

// Conv1D is x @ Weight + Bias with Weight [in, out], Bias [out].
type Conv1D struct{ Weight, Bias *tensor.Tensor }

// newConv1D adds "<name>.weight" normal(0, initializer_range × scale) and
// "<name>.bias" (zeros).
func newConv1D(b nn.Builder, name string, in, out int, scale float64) Conv1D {
	b = b.PP(name)
	w := b.Normal("weight", in, out)
	if scale != 1 {
		for i, v := range w.F32() {
			w.F32()[i] = float32(float64(v) * scale)
		}
	}
	return Conv1D{Weight: w, Bias: b.Zeros("bias", out)}
}

// matmul is x @ Weight without the bias: [..., in] -> [..., out].
func (l Conv1D) matmul(x *tensor.Tensor) *tensor.Tensor {
	return tensor.MatMulT(x, l.Weight, false, false)
}

// Forward is x @ Weight + Bias: [..., in] -> [..., out].
func (l Conv1D) Forward(x *tensor.Tensor) *tensor.Tensor { return tensor.Add(l.matmul(x), l.Bias) }

// ---------------------------------------------------------------------------
// Block (GPT2Block): pre-LN causal self-attention, then pre-LN MLP.
//
//	h = x + dropout(c_proj(attention(split(c_attn(ln_1(x))))))
//	y = h + dropout(mlp.c_proj(act(mlp.c_fc(ln_2(h)))))

// Block is GPT2Block ("h.N.*"). Field comments give the HF names.
type Block struct {
	Ln1      nn.LayerNorm // ln_1
	CAttn    Conv1D       // attn.c_attn [E, 3E]: fused query, key, value
	AttnProj Conv1D       // attn.c_proj [E, E]
	Ln2      nn.LayerNorm // ln_2
	FC       Conv1D       // mlp.c_fc    [E, I]
	MLPProj  Conv1D       // mlp.c_proj  [I, E]
	index    int          // layer index, for scale_attn_by_inverse_layer_idx
}

func newBlock(c Config, b nn.Builder, index int) Block {
	E, I, eps := c.NEmbd, c.Inner(), c.LayerNormEpsilon
	// GPT2PreTrainedModel._init_weights: every c_proj.weight gets the GPT-2
	// paper's residual scaling, std = initializer_range / sqrt(2 * n_layer).
	proj := 1 / math.Sqrt(2*float64(c.NLayer))
	return Block{
		Ln1:      nn.NewLayerNorm(b, "ln_1", E, eps),
		CAttn:    newConv1D(b.PP("attn"), "c_attn", E, 3*E, 1),
		AttnProj: newConv1D(b.PP("attn"), "c_proj", E, E, proj),
		Ln2:      nn.NewLayerNorm(b, "ln_2", E, eps),
		FC:       newConv1D(b.PP("mlp"), "c_fc", E, I, 1),
		MLPProj:  newConv1D(b.PP("mlp"), "c_proj", I, E, proj),
		index:    index,
	}
}

// forward: x [B, T, E], mask [B, T] or nil -> [B, T, E].
func (l Block) forward(c Config, m *mode, x, mask *tensor.Tensor) *tensor.Tensor {
	E := c.NEmbd
	attnDrop := 0.0
	if m.training {
		attnDrop = c.AttnPdrop
	}
	scale := 1.0
	if c.ScaleAttnWeights {
		scale /= math.Sqrt(float64(E / c.NHead))
	}
	if c.ScaleAttnByInverseLayerIdx {
		scale /= float64(l.index + 1)
	}
	qkv := tensor.Split(l.CAttn.Forward(l.Ln1.Forward(x)), 2, E, E, E) // [B, T, E] each
	ctx := tensor.Attention(qkv[0], qkv[1], qkv[2], c.NHead,
		tensor.AttentionOpts{Causal: true, KeyMask: mask, Scale: scale, DropoutP: attnDrop, RNG: m.rng})
	h := tensor.Add(x, m.dropout(l.AttnProj.Forward(ctx), c.ResidPdrop))

	a := activation(c, l.FC.matmul(l.Ln2.Forward(h)), l.FC.Bias) // [B, T, I]
	return tensor.Add(h, m.dropout(l.MLPProj.Forward(a), c.ResidPdrop))
}

// activation is config.activation_function applied to x + bias.
func activation(c Config, x, bias *tensor.Tensor) *tensor.Tensor {
	if c.ActivationFunction == "relu" {
		return tensor.ReLU(tensor.Add(x, bias))
	}
	return tensor.BiasGELU(x, bias, c.ActivationFunction != "gelu") // gelu_new: the tanh approximation
}

// ---------------------------------------------------------------------------
// GPT2Model: wte + wpe, dropout, n_layer blocks, ln_f.

// Model is GPT2Model.
type Model struct {
	Config Config
	WTE    *tensor.Tensor // wte.weight [V, E]: token embeddings (and the LM head's weight)
	WPE    *tensor.Tensor // wpe.weight [n_positions, E]: learned absolute positions
	Blocks []Block        // h.N.*
	LnF    nn.LayerNorm   // ln_f
	params *nn.Params     // every parameter by HF name, in state_dict order
	mode   *mode
}

func newModel(c Config, b nn.Builder, p *nn.Params, md *mode) *Model {
	m := &Model{Config: c, params: p, mode: md,
		WTE: b.Normal("wte.weight", c.VocabSize, c.NEmbd),
		WPE: b.Normal("wpe.weight", c.NPositions, c.NEmbd)}
	for i := 0; i < c.NLayer; i++ {
		m.Blocks = append(m.Blocks, newBlock(c, b.PP(fmt.Sprintf("h.%d", i)), i))
	}
	m.LnF = nn.NewLayerNorm(b, "ln_f", c.NEmbd, c.LayerNormEpsilon)
	return m
}

// NewModel returns a randomly initialised GPT2Model, seeded.
func NewModel(c Config, seed uint64) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := nn.NewParams()
	return newModel(c, nn.NewBuilder(p, seed, c.InitializerRange), p, newMode(seed)), nil
}

func newMode(seed uint64) *mode { return &mode{rng: tensor.NewRNG(seed ^ 0x9e3779b97f4a7c15)} }

// Params returns every parameter by HF name.
func (m *Model) Params() *nn.Params { return m.params }

// Train switches dropout on (true) or off (false, the default: evaluation).
func (m *Model) Train(on bool) { m.mode.training = on }

// DropoutRNG is the generator of every dropout mask of the model and its
// head; a trainer stores its state in checkpoints so that a resumed run
// draws the same masks.
func (m *Model) DropoutRNG() *tensor.RNG { return m.mode.rng }

// Save writes dir/model.safetensors and dir/config.json as save_pretrained.
func (m *Model) Save(dir string) error { return save(dir, m.Config, m.params, "GPT2Model", nil) }

// LoadModel builds a GPT2Model from dir/config.json and loads dir's weights;
// a checkpoint with a head loads too (its "transformer." prefix is stripped
// and the head's keys are reported unexpected, as HF does).
func LoadModel(dir string, seed uint64) (*Model, checkpoint.Report, error) {
	return load(dir, seed, NewModel)
}

// Forward returns the last hidden states [B, T, E] (after ln_f).
func (m *Model) Forward(in Batch) (*tensor.Tensor, error) {
	if err := m.check(in); err != nil {
		return nil, err
	}
	c := m.Config
	T := in.InputIDs.Dim(1)
	pos := make([]int64, T) // positions 0..T-1 for every row, as HF without position_ids
	for i := range pos {
		pos[i] = int64(i)
	}
	x := tensor.Add(tensor.Embedding(m.WTE, in.InputIDs), tensor.Embedding(m.WPE, tensor.FromInt64(pos, T))) // [T, E] broadcasts over B
	if in.TokenTypeIDs != nil {
		x = tensor.Add(x, tensor.Embedding(m.WTE, in.TokenTypeIDs))
	}
	h := m.mode.dropout(x, c.EmbdPdrop)
	for _, l := range m.Blocks {
		h = l.forward(c, m.mode, h, in.AttentionMask)
	}
	return m.LnF.Forward(h), nil
}

// check validates user input (ids in range, shapes agree) so that no tensor
// panic escapes.
func (m *Model) check(in Batch) error {
	c := m.Config
	ids := in.InputIDs
	if ids == nil || ids.Rank() != 2 || ids.DType() != tensor.Int64 {
		return fmt.Errorf("gpt2: input_ids must be an int64 [batch, seq] tensor")
	}
	B, T := ids.Dim(0), ids.Dim(1)
	if T > c.NPositions {
		return fmt.Errorf("gpt2: sequence length %d exceeds n_positions %d", T, c.NPositions)
	}
	if err := checkIDs("input_ids", ids.Int64s(), T, c.VocabSize); err != nil {
		return err
	}
	if tt := in.TokenTypeIDs; tt != nil {
		if tt.DType() != tensor.Int64 || !sameShape(tt.Shape(), B, T) {
			return fmt.Errorf("gpt2: token_type_ids %v must be int64 [%d %d]", tt.Shape(), B, T)
		}
		if err := checkIDs("token_type_ids", tt.Int64s(), T, c.VocabSize); err != nil {
			return err
		}
	}
	if am := in.AttentionMask; am != nil && !sameShape(am.Shape(), B, T) {
		return fmt.Errorf("gpt2: attention_mask %v must be [%d %d]", am.Shape(), B, T)
	}
	return nil
}

func checkIDs(what string, ids []int64, T, n int) error {
	for i, id := range ids {
		if id < 0 || id >= int64(n) {
			return fmt.Errorf("gpt2: %s[%d][%d] = %d outside [0, %d)", what, i/T, i%T, id, n)
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

// newHead builds the transformer of a head model under "transformer." and
// returns the builder for the head's own parameters (same seeded stream).
func newHead(c Config, seed uint64) (*Model, nn.Builder) {
	p := nn.NewParams()
	b := nn.NewBuilder(p, seed, c.InitializerRange)
	return newModel(c, b.PP(BasePrefix), p, newMode(seed)), b
}

// Output is a head's result.
type Output struct {
	Logits      *tensor.Tensor   // [B, T, V] LM head, [B, C] sequence classification
	Loss        *tensor.Tensor   // scalar, when labels were given
	Explanation task.Explanation // why this loss (problem type, shift, reduction), when labels were given
}

// lossFor runs task.Compute and fills out's loss and explanation.
func lossFor(spec task.Spec, in task.Inputs, out Output) (Output, error) {
	res, err := task.Compute(spec, in)
	if err != nil {
		return Output{}, err
	}
	out.Loss, out.Explanation = res.Loss, res.Explanation
	return out, nil
}

// LMHeadModel is GPT2LMHeadModel: logits = ln_f(h) @ wteᵀ, the LM head's
// weight being the token embedding matrix (tied, no bias).
type LMHeadModel struct {
	Transformer *Model // transformer.*; lm_head.weight is Transformer.WTE
	// Spec is the causal LM loss: task.Compute shifts the labels (position t
	// predicts token t+1; -100 ignored), as HF's ForCausalLMLoss.
	Spec task.Spec
}

// lmTied is GPT2LMHeadModel._tied_weights_keys, left out on save.
var lmTied = []string{"lm_head.weight"}

// NewLMHeadModel returns a randomly initialised model, seeded.
func NewLMHeadModel(c Config, seed uint64) (*LMHeadModel, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tr, b := newHead(c, seed)
	b.Tie("lm_head.weight", tr.WTE)
	return &LMHeadModel{Transformer: tr, Spec: task.Spec{Kind: task.CausalLM}}, nil
}

// Params returns every parameter by HF name (wte under both names).
func (m *LMHeadModel) Params() *nn.Params { return m.Transformer.params }

// Train switches dropout on or off.
func (m *LMHeadModel) Train(on bool) { m.Transformer.Train(on) }

// Forward returns logits [B, T, V] and, with Labels [B, T] (usually the
// input ids, -100 at padding), the causal LM loss.
func (m *LMHeadModel) Forward(in Batch) (Output, error) {
	h, err := m.Transformer.Forward(in)
	if err != nil {
		return Output{}, err
	}
	out := Output{Logits: tensor.Linear(h, m.Transformer.WTE, nil)}
	if in.Labels == nil {
		return out, nil
	}
	return lossFor(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels}, out)
}

// Save writes dir as save_pretrained (the tied lm_head.weight left out).
func (m *LMHeadModel) Save(dir string) error {
	return save(dir, m.Transformer.Config, m.Params(), "GPT2LMHeadModel", lmTied)
}

// LoadLMHeadModel builds the model from dir/config.json and loads dir's
// weights; a GPT2Model checkpoint (no "transformer." prefix) loads too, and
// the head, being wte, is complete.
func LoadLMHeadModel(dir string, seed uint64) (*LMHeadModel, checkpoint.Report, error) {
	return load(dir, seed, NewLMHeadModel)
}

// ForSequenceClassification is GPT2ForSequenceClassification: score every
// token, keep each row's score at its last non-pad token (the last token
// that is not pad_token_id; position 0 when a row is all padding), as HF.
// Without a pad_token_id the last position is used, and only for batch size 1.
type ForSequenceClassification struct {
	Transformer *Model         // transformer.*
	Score       *tensor.Tensor // score.weight [C, E], no bias
	// Spec chooses the loss; it starts from config's num_labels and
	// problem_type, as HF does, and a trainer may set a loss override.
	Spec task.Spec
}

// NewForSequenceClassification returns a randomly initialised model, seeded.
func NewForSequenceClassification(c Config, seed uint64) (*ForSequenceClassification, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	tr, b := newHead(c, seed)
	return &ForSequenceClassification{
		Transformer: tr,
		Score:       b.Normal("score.weight", c.NumLabels(), c.NEmbd),
		Spec: task.Spec{Kind: task.SequenceClassification, NumLabels: c.NumLabels(),
			ProblemType: task.ProblemType(c.ProblemType)},
	}, nil
}

// Params returns every parameter by HF name.
func (m *ForSequenceClassification) Params() *nn.Params { return m.Transformer.params }

// Train switches dropout on or off.
func (m *ForSequenceClassification) Train(on bool) { m.Transformer.Train(on) }

// lastTokens returns, for each row, the flat index b*T + t of the token the
// row is scored on.
func lastTokens(ids *tensor.Tensor, pad *int) ([]int64, error) {
	B, T := ids.Dim(0), ids.Dim(1)
	if pad == nil && B != 1 {
		return nil, fmt.Errorf("gpt2: cannot handle batch sizes > 1 if no padding token is defined (pad_token_id is unset)")
	}
	idx := make([]int64, B)
	v := ids.Int64s()
	for b := range idx {
		last := T - 1
		if pad != nil {
			last = 0 // HF's argmax over (arange * non_pad) is 0 for an all-pad row
			for t := T - 1; t >= 0; t-- {
				if v[b*T+t] != int64(*pad) {
					last = t
					break
				}
			}
		}
		idx[b] = int64(b*T + last)
	}
	return idx, nil
}

// Forward returns logits [B, C] and, when in.Labels is set, the loss.
func (m *ForSequenceClassification) Forward(in Batch) (Output, error) {
	if err := m.Transformer.check(in); err != nil {
		return Output{}, err
	}
	idx, err := lastTokens(in.InputIDs, m.Transformer.Config.PadTokenID)
	if err != nil {
		return Output{}, err
	}
	h, err := m.Transformer.Forward(in)
	if err != nil {
		return Output{}, err
	}
	B, T, E := h.Dim(0), h.Dim(1), h.Dim(2)
	// Scoring only the picked tokens equals HF's score-all-then-pick.
	pooled := tensor.IndexSelect(tensor.Reshape(h, B*T, E), 0, tensor.FromInt64(idx, B)) // [B, E]
	out := Output{Logits: tensor.Linear(pooled, m.Score, nil)}
	if in.Labels == nil {
		return out, nil
	}
	return lossFor(m.Spec, task.Inputs{Logits: out.Logits, Labels: in.Labels}, out)
}

// Save writes dir as save_pretrained.
func (m *ForSequenceClassification) Save(dir string) error {
	return save(dir, m.Transformer.Config, m.Params(), "GPT2ForSequenceClassification", nil)
}

// LoadForSequenceClassification builds the model from dir/config.json and
// loads dir's weights. A GPT2Model or LM checkpoint loads too: score.weight
// keeps its seeded initialisation and is listed in the report's Missing.
func LoadForSequenceClassification(dir string, seed uint64) (*ForSequenceClassification, checkpoint.Report, error) {
	return load(dir, seed, NewForSequenceClassification)
}

// ---------------------------------------------------------------------------
// Checkpoints.

// ignoreUnexpected: old checkpoints carry the causal-mask buffers
// "h.N.attn.bias" and "h.N.attn.masked_bias" (not "attn.c_attn.bias").
var ignoreUnexpected = []*regexp.Regexp{regexp.MustCompile(`(^|\.)h\.\d+\.attn\.(masked_)?bias$`)}

var loadOptions = checkpoint.LoadOptions{BasePrefix: BasePrefix, IgnoreUnexpected: ignoreUnexpected}

// load builds a model from dir/config.json with build and loads dir's weights.
func load[M interface{ Params() *nn.Params }](dir string, seed uint64, build func(Config, uint64) (M, error)) (M, checkpoint.Report, error) {
	return pretrained.Load(dir, seed, ReadConfig, build, loadOptions)
}

// LoadState copies a state dict into a model's parameters with GPT-2's base
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
