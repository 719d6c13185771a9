package distilbert

import (
	"encoding/json"
	"fmt"

	"github.com/kiln-ml/kiln/models/hflabels"
)

// Config is HF's DistilBertConfig, read from and written to config.json.
// Defaults are DistilBertConfig's (distilbert-base-uncased). HF's
// hidden_size, num_attention_heads and num_hidden_layers are aliases of dim,
// n_heads and n_layers; config.json files carry the latter.
type Config struct {
	VocabSize             int     // vocab_size, 30522
	Dim                   int     // dim, 768: width of every token vector
	NLayers               int     // n_layers, 6
	NHeads                int     // n_heads, 12; must divide Dim
	HiddenDim             int     // hidden_dim, 3072: feed-forward width
	Activation            string  // activation: "gelu" (erf), "gelu_new" (tanh approx.) or "relu"
	Dropout               float64 // dropout, 0.1: embeddings, feed-forward output, token classification
	AttentionDropout      float64 // attention_dropout, 0.1: attention probabilities
	SeqClassifDropout     float64 // seq_classif_dropout, 0.2: sequence classification and multiple choice
	QADropout             float64 // qa_dropout, 0.1: question answering
	MaxPositionEmbeddings int     // max_position_embeddings, 512: longest sequence
	SinusoidalPosEmbds    bool    // sinusoidal_pos_embds: only false (learned positions) is supported
	InitializerRange      float64 // initializer_range, 0.02: std of normal init
	PadTokenID            int     // pad_token_id, 0: its word-embedding row is zero and gets no gradient

	ID2Label      map[int]string // id2label; its size is num_labels (default 2 labels, LABEL_0, LABEL_1)
	ProblemType   string         // problem_type: "", "regression", "single_label_classification", "multi_label_classification"
	Architectures []string       // architectures, e.g. ["DistilBertForSequenceClassification"]

	// Extra keeps every other key of the file (tie_weights_, output_past,
	// transformers_version, ...) so that saving writes it back unchanged.
	Extra map[string]json.RawMessage
}

// DefaultConfig returns DistilBertConfig() with its defaults.
func DefaultConfig() Config {
	return Config{
		VocabSize: 30522, Dim: 768, NLayers: 6, NHeads: 12, HiddenDim: 3072, Activation: "gelu",
		Dropout: 0.1, AttentionDropout: 0.1, SeqClassifDropout: 0.2, QADropout: 0.1,
		MaxPositionEmbeddings: 512, InitializerRange: 0.02,
		ID2Label: map[int]string{0: "LABEL_0", 1: "LABEL_1"},
	}
}

// NumLabels is the classifier width, len(id2label) as in HF.
func (c Config) NumLabels() int { return len(c.ID2Label) }

// SetNumLabels replaces id2label with LABEL_0 ... LABEL_{n-1}, as HF's
// num_labels setter does.
func (c *Config) SetNumLabels(n int) { c.ID2Label = hflabels.Default(n) }

// Validate reports a configuration this implementation cannot build.
func (c Config) Validate() error {
	switch {
	case c.VocabSize <= 0, c.Dim <= 0, c.NLayers < 0, c.NHeads <= 0, c.HiddenDim <= 0, c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("distilbert: sizes must be positive (vocab_size %d, dim %d, n_layers %d, n_heads %d, hidden_dim %d, max_position_embeddings %d)",
			c.VocabSize, c.Dim, c.NLayers, c.NHeads, c.HiddenDim, c.MaxPositionEmbeddings)
	case c.Dim%c.NHeads != 0:
		return fmt.Errorf("distilbert: dim %d is not a multiple of n_heads %d", c.Dim, c.NHeads)
	case c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize:
		return fmt.Errorf("distilbert: pad_token_id %d outside [0, vocab_size %d)", c.PadTokenID, c.VocabSize)
	case c.SinusoidalPosEmbds:
		return fmt.Errorf("distilbert: sinusoidal_pos_embds true is not supported (only learned position embeddings, false)")
	}
	switch c.Activation {
	case "gelu", "gelu_new", "relu":
	default:
		return fmt.Errorf("distilbert: activation %q is not supported (gelu, gelu_new, relu)", c.Activation)
	}
	switch c.ProblemType {
	case "", "regression", "single_label_classification", "multi_label_classification":
	default:
		return fmt.Errorf("distilbert: problem_type %q is not one of regression, single_label_classification, multi_label_classification", c.ProblemType)
	}
	return nil
}

// ReadConfig reads dir/config.json (or the file itself if path is a file).
// model_type must be "distilbert"; missing keys take DistilBertConfig's
// defaults.
func ReadConfig(path string) (Config, error) { return hflabels.ReadConfig(path, ParseConfig) }

// ParseConfig decodes the JSON of a config.json.
func ParseConfig(b []byte) (Config, error) {
	c := DefaultConfig()
	labels, extra, err := hflabels.DecodeConfig(b, "distilbert", c.fields(), map[string]bool{"problem_type": true, "architectures": true})
	if err != nil {
		return Config{}, err
	}
	c.Extra = extra
	if labels != nil {
		c.ID2Label = labels
	}
	return c, c.Validate()
}

// fields maps config.json's keys to c's fields.
func (c *Config) fields() map[string]any {
	return map[string]any{
		"vocab_size": &c.VocabSize, "dim": &c.Dim, "n_layers": &c.NLayers, "n_heads": &c.NHeads,
		"hidden_dim": &c.HiddenDim, "activation": &c.Activation, "dropout": &c.Dropout,
		"attention_dropout": &c.AttentionDropout, "seq_classif_dropout": &c.SeqClassifDropout,
		"qa_dropout": &c.QADropout, "max_position_embeddings": &c.MaxPositionEmbeddings,
		"sinusoidal_pos_embds": &c.SinusoidalPosEmbds, "initializer_range": &c.InitializerRange,
		"pad_token_id": &c.PadTokenID, "problem_type": &c.ProblemType, "architectures": &c.Architectures,
	}
}

// MarshalJSON writes the config as PretrainedConfig.to_json_string does:
// sorted keys, id2label/label2id (not num_labels), Extra keys kept.
func (c Config) MarshalJSON() ([]byte, error) {
	m := c.fields() // pointers into this copy: they marshal as the values
	if c.ProblemType == "" {
		delete(m, "problem_type")
	}
	if len(c.Architectures) == 0 {
		delete(m, "architectures")
	}
	return hflabels.EncodeConfig("distilbert", m, c.ID2Label, c.Extra)
}

// WriteConfig writes dir/config.json.
func WriteConfig(dir string, c Config) error { return hflabels.WriteConfig(dir, c) }
