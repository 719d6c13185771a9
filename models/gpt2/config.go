package gpt2

import (
	"encoding/json"
	"fmt"
	"github.com/kiln-ml/kiln/models/hflabels"
)

// Config is HF's GPT2Config, read from and written to config.json. Defaults
// are GPT2Config's (gpt2, the 124M model).
type Config struct {
	VocabSize          int     // vocab_size, 50257
	NPositions         int     // n_positions, 1024: longest sequence (learned positions)
	NEmbd              int     // n_embd, 768: width of every token vector
	NLayer             int     // n_layer, 12
	NHead              int     // n_head, 12; must divide NEmbd
	NInner             *int    // n_inner: feed-forward width; nil means 4*NEmbd
	ActivationFunction string  // activation_function: "gelu_new" (tanh approx.), "gelu_pytorch_tanh" (same), "gelu" (erf) or "relu"
	ResidPdrop         float64 // resid_pdrop, 0.1: after each sublayer's c_proj
	EmbdPdrop          float64 // embd_pdrop, 0.1: after wte + wpe
	AttnPdrop          float64 // attn_pdrop, 0.1: attention probabilities
	LayerNormEpsilon   float64 // layer_norm_epsilon, 1e-5
	InitializerRange   float64 // initializer_range, 0.02: std of normal init
	ScaleAttnWeights   bool    // scale_attn_weights, true: divide scores by sqrt(head dim)
	// ScaleAttnByInverseLayerIdx is scale_attn_by_inverse_layer_idx (false):
	// layer i's scores are further divided by i+1.
	ScaleAttnByInverseLayerIdx bool

	PadTokenID *int // pad_token_id, nil: sequence classification pools the last non-pad token; without one only batch size 1 works
	BOSTokenID *int // bos_token_id, 50256
	EOSTokenID *int // eos_token_id, 50256

	ID2Label      map[int]string // id2label; its size is num_labels (default 2 labels, LABEL_0, LABEL_1)
	ProblemType   string         // problem_type: "", "regression", "single_label_classification", "multi_label_classification"
	Architectures []string       // architectures, e.g. ["GPT2LMHeadModel"]

	// Extra keeps every other key of the file (summary_*, use_cache,
	// reorder_and_upcast_attn, transformers_version, task_specific_params,
	// ...) so that saving writes it back unchanged.
	Extra map[string]json.RawMessage
}

func intp(v int) *int { return &v }

// DefaultConfig returns GPT2Config() with its defaults.
func DefaultConfig() Config {
	return Config{
		VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12,
		ActivationFunction: "gelu_new", ResidPdrop: 0.1, EmbdPdrop: 0.1, AttnPdrop: 0.1,
		LayerNormEpsilon: 1e-5, InitializerRange: 0.02, ScaleAttnWeights: true,
		BOSTokenID: intp(50256), EOSTokenID: intp(50256),
		ID2Label: map[int]string{0: "LABEL_0", 1: "LABEL_1"},
	}
}

// Inner is the feed-forward width: n_inner, or 4*n_embd when unset.
func (c Config) Inner() int {
	if c.NInner != nil {
		return *c.NInner
	}
	return 4 * c.NEmbd
}

// NumLabels is the classifier width, len(id2label) as in HF.
func (c Config) NumLabels() int { return len(c.ID2Label) }

// SetNumLabels replaces id2label with LABEL_0 ... LABEL_{n-1}, as HF's
// num_labels setter does.
func (c *Config) SetNumLabels(n int) { c.ID2Label = hflabels.Default(n) }

// Validate reports a configuration this implementation cannot build.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0, c.NPositions <= 0, c.NEmbd <= 0, c.NLayer < 0, c.NHead <= 0, c.Inner() <= 0:
		return fmt.Errorf("gpt2: sizes must be positive (vocab_size %d, n_positions %d, n_embd %d, n_layer %d, n_head %d, n_inner %d)",
			c.VocabSize, c.NPositions, c.NEmbd, c.NLayer, c.NHead, c.Inner())
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("gpt2: n_embd %d is not a multiple of n_head %d", c.NEmbd, c.NHead)
	case c.PadTokenID != nil && (*c.PadTokenID < 0 || *c.PadTokenID >= c.VocabSize):
		return fmt.Errorf("gpt2: pad_token_id %d outside [0, vocab_size %d)", *c.PadTokenID, c.VocabSize)
	}
	switch c.ActivationFunction {
	case "gelu_new", "gelu_pytorch_tanh", "gelu", "relu":
	default:
		return fmt.Errorf("gpt2: activation_function %q is not supported (gelu_new, gelu_pytorch_tanh, gelu, relu)", c.ActivationFunction)
	}
	switch c.ProblemType {
	case "", "regression", "single_label_classification", "multi_label_classification":
	default:
		return fmt.Errorf("gpt2: problem_type %q is not one of regression, single_label_classification, multi_label_classification", c.ProblemType)
	}
	return nil
}

// ReadConfig reads dir/config.json (or the file itself if path is a file).
// model_type must be "gpt2"; missing keys take GPT2Config's defaults.
func ReadConfig(path string) (Config, error) { return hflabels.ReadConfig(path, ParseConfig) }

// nullable are the keys whose JSON null means "unset" (nil), as in HF.
var nullable = map[string]bool{"n_inner": true, "pad_token_id": true, "bos_token_id": true, "eos_token_id": true,
	"problem_type": true, "architectures": true}

// ParseConfig decodes the JSON of a config.json.
func ParseConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	fields := map[string]any{
		"vocab_size": &c.VocabSize, "n_positions": &c.NPositions,
		"n_embd": &c.NEmbd, "n_layer": &c.NLayer, "n_head": &c.NHead, "n_inner": &c.NInner,
		"activation_function": &c.ActivationFunction, "resid_pdrop": &c.ResidPdrop,
		"embd_pdrop": &c.EmbdPdrop, "attn_pdrop": &c.AttnPdrop, "layer_norm_epsilon": &c.LayerNormEpsilon,
		"initializer_range": &c.InitializerRange, "scale_attn_weights": &c.ScaleAttnWeights,
		"scale_attn_by_inverse_layer_idx": &c.ScaleAttnByInverseLayerIdx, "pad_token_id": &c.PadTokenID,
		"bos_token_id": &c.BOSTokenID, "eos_token_id": &c.EOSTokenID,
		"problem_type": &c.ProblemType, "architectures": &c.Architectures,
	}
	labels, extra, err := hflabels.DecodeConfig(b, "gpt2", fields, nullable)
	if err != nil {
		return Config{}, err
	}
	c.Extra = extra
	if labels != nil {
		c.ID2Label = labels
	}
	return c, c.Validate()
}

// MarshalJSON writes the config as PretrainedConfig.to_json_string does:
// sorted keys, id2label/label2id (not num_labels), null for unset ids and
// n_inner, Extra keys kept.
func (c Config) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"vocab_size": c.VocabSize, "n_positions": c.NPositions,
		"n_embd": c.NEmbd, "n_layer": c.NLayer, "n_head": c.NHead, "n_inner": c.NInner,
		"activation_function": c.ActivationFunction, "resid_pdrop": c.ResidPdrop,
		"embd_pdrop": c.EmbdPdrop, "attn_pdrop": c.AttnPdrop, "layer_norm_epsilon": c.LayerNormEpsilon,
		"initializer_range": c.InitializerRange, "scale_attn_weights": c.ScaleAttnWeights,
		"scale_attn_by_inverse_layer_idx": c.ScaleAttnByInverseLayerIdx, "pad_token_id": c.PadTokenID,
		"bos_token_id": c.BOSTokenID, "eos_token_id": c.EOSTokenID,
	}
	if c.ProblemType != "" {
		m["problem_type"] = c.ProblemType
	}
	if len(c.Architectures) > 0 {
		m["architectures"] = c.Architectures
	}
	return hflabels.EncodeConfig("gpt2", m, c.ID2Label, c.Extra)
}

// WriteConfig writes dir/config.json.
func WriteConfig(dir string, c Config) error { return hflabels.WriteConfig(dir, c) }
