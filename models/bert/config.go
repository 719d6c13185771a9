package bert

import (
	"encoding/json"
	"fmt"
	"github.com/kiln-ml/kiln/models/hflabels"
)

// Config is HF's BertConfig, read from and written to config.json. Defaults
// are BertConfig's (bert-base-uncased).
type Config struct {
	ModelType                 string   // model_type: "bert"; RoBERTa's "roberta" has the same keys (models/roberta)
	VocabSize                 int      // vocab_size, 30522
	HiddenSize                int      // hidden_size, 768: width of every token vector
	NumHiddenLayers           int      // num_hidden_layers, 12
	NumAttentionHeads         int      // num_attention_heads, 12; must divide HiddenSize
	IntermediateSize          int      // intermediate_size, 3072: feed-forward width
	HiddenAct                 string   // hidden_act: "gelu" (erf), "gelu_new" (tanh approx.) or "relu"
	HiddenDropoutProb         float64  // hidden_dropout_prob, 0.1: embeddings, sublayer outputs
	AttentionProbsDropoutProb float64  // attention_probs_dropout_prob, 0.1
	ClassifierDropout         *float64 // classifier_dropout; nil means HiddenDropoutProb
	MaxPositionEmbeddings     int      // max_position_embeddings, 512: longest sequence
	TypeVocabSize             int      // type_vocab_size, 2: segment ids 0 and 1
	InitializerRange          float64  // initializer_range, 0.02: std of normal init
	LayerNormEps              float64  // layer_norm_eps, 1e-12
	PadTokenID                int      // pad_token_id, 0: its word-embedding row is zero and gets no gradient
	PositionEmbeddingType     string   // position_embedding_type: absolute, relative_key or relative_key_query

	ID2Label      map[int]string // id2label; its size is num_labels (default 2 labels, LABEL_0, LABEL_1)
	ProblemType   string         // problem_type: "", "regression", "single_label_classification", "multi_label_classification"
	Architectures []string       // architectures, e.g. ["BertForSequenceClassification"]

	// Extra keeps every other key of the file (transformers_version,
	// torch_dtype, use_cache, ...) so that saving writes it back unchanged.
	Extra map[string]json.RawMessage
}

// DefaultConfig returns BertConfig() with its defaults.
func DefaultConfig() Config {
	return Config{
		ModelType: "bert", VocabSize: 30522, HiddenSize: 768, NumHiddenLayers: 12, NumAttentionHeads: 12,
		IntermediateSize: 3072, HiddenAct: "gelu", HiddenDropoutProb: 0.1,
		AttentionProbsDropoutProb: 0.1, MaxPositionEmbeddings: 512, TypeVocabSize: 2,
		InitializerRange: 0.02, LayerNormEps: 1e-12, PositionEmbeddingType: "absolute",
		ID2Label: map[int]string{0: "LABEL_0", 1: "LABEL_1"},
	}
}

// NumLabels is the classifier width, len(id2label) as in HF.
func (c Config) NumLabels() int { return len(c.ID2Label) }

// SetNumLabels replaces id2label with LABEL_0 ... LABEL_{n-1}, as HF's
// num_labels setter does.
func (c *Config) SetNumLabels(n int) { c.ID2Label = hflabels.Default(n) }

// ClassifierDropoutProb is classifier_dropout, or hidden_dropout_prob when
// unset: the dropout HF's heads put before their classifier.
func (c Config) ClassifierDropoutProb() float64 {
	if c.ClassifierDropout != nil {
		return *c.ClassifierDropout
	}
	return c.HiddenDropoutProb
}

// family is model_type, the prefix of every error ("bert" when unset).
func (c Config) family() string {
	if c.ModelType == "" {
		return "bert"
	}
	return c.ModelType
}

// Validate reports a configuration this implementation cannot build.
func (c Config) Validate() error {
	f := c.family()
	switch {
	case c.VocabSize <= 0, c.HiddenSize <= 0, c.NumHiddenLayers < 0, c.NumAttentionHeads <= 0,
		c.IntermediateSize <= 0, c.MaxPositionEmbeddings <= 0, c.TypeVocabSize <= 0:
		return fmt.Errorf("%s: sizes must be positive (vocab_size %d, hidden_size %d, num_hidden_layers %d, num_attention_heads %d, intermediate_size %d, max_position_embeddings %d, type_vocab_size %d)",
			f, c.VocabSize, c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize, c.MaxPositionEmbeddings, c.TypeVocabSize)
	case c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("%s: hidden_size %d is not a multiple of num_attention_heads %d", f, c.HiddenSize, c.NumAttentionHeads)
	case c.PadTokenID < 0 || c.PadTokenID >= c.VocabSize:
		return fmt.Errorf("%s: pad_token_id %d outside [0, vocab_size %d)", f, c.PadTokenID, c.VocabSize)
	case c.PositionEmbeddingType != "absolute" && c.PositionEmbeddingType != "relative_key" && c.PositionEmbeddingType != "relative_key_query":
		return fmt.Errorf("%s: position_embedding_type %q is not supported (absolute, relative_key, relative_key_query)", f, c.PositionEmbeddingType)
	}
	switch c.HiddenAct {
	case "gelu", "gelu_new", "relu":
	default:
		return fmt.Errorf("%s: hidden_act %q is not supported (gelu, gelu_new, relu)", f, c.HiddenAct)
	}
	switch c.ProblemType {
	case "", "regression", "single_label_classification", "multi_label_classification":
	default:
		return fmt.Errorf("%s: problem_type %q is not one of regression, single_label_classification, multi_label_classification", f, c.ProblemType)
	}
	return nil
}

// ReadConfig reads dir/config.json (or the file itself if path is a file).
// model_type must be "bert"; missing keys take BertConfig's defaults.
func ReadConfig(path string) (Config, error) { return ReadConfigAs(path, DefaultConfig()) }

// ReadConfigAs is ReadConfig for a family that shares BertConfig's keys
// (RoBERTa): model_type must be defaults.ModelType and missing keys take
// defaults' values.
func ReadConfigAs(path string, defaults Config) (Config, error) {
	return hflabels.ReadConfig(path, func(b []byte) (Config, error) { return ParseConfigAs(b, defaults) })
}

// ParseConfig decodes the JSON of a config.json.
func ParseConfig(b []byte) (Config, error) { return ParseConfigAs(b, DefaultConfig()) }

// ParseConfigAs is ParseConfig with another family's defaults and model_type
// (see ReadConfigAs).
func ParseConfigAs(b []byte, defaults Config) (Config, error) {
	c := defaults
	fields := map[string]any{
		"vocab_size": &c.VocabSize, "hidden_size": &c.HiddenSize,
		"num_hidden_layers": &c.NumHiddenLayers, "num_attention_heads": &c.NumAttentionHeads,
		"intermediate_size": &c.IntermediateSize, "hidden_act": &c.HiddenAct,
		"hidden_dropout_prob": &c.HiddenDropoutProb, "attention_probs_dropout_prob": &c.AttentionProbsDropoutProb,
		"classifier_dropout": &c.ClassifierDropout, "max_position_embeddings": &c.MaxPositionEmbeddings,
		"type_vocab_size": &c.TypeVocabSize, "initializer_range": &c.InitializerRange,
		"layer_norm_eps": &c.LayerNormEps, "pad_token_id": &c.PadTokenID,
		"position_embedding_type": &c.PositionEmbeddingType, "problem_type": &c.ProblemType,
		"architectures": &c.Architectures,
	}
	labels, extra, err := hflabels.DecodeConfig(b, c.family(), fields, nullable)
	if err != nil {
		return Config{}, err
	}
	c.Extra = extra
	if labels != nil {
		c.ID2Label = labels
	}
	return c, c.Validate()
}

// nullable are the keys whose JSON null means "unset", as in HF; a null
// elsewhere keeps the default.
var nullable = map[string]bool{"classifier_dropout": true, "problem_type": true, "architectures": true}

// MarshalJSON writes the config as PretrainedConfig.to_json_string does:
// sorted keys, id2label/label2id (not num_labels), Extra keys kept.
func (c Config) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"vocab_size": c.VocabSize, "hidden_size": c.HiddenSize,
		"num_hidden_layers": c.NumHiddenLayers, "num_attention_heads": c.NumAttentionHeads,
		"intermediate_size": c.IntermediateSize, "hidden_act": c.HiddenAct,
		"hidden_dropout_prob": c.HiddenDropoutProb, "attention_probs_dropout_prob": c.AttentionProbsDropoutProb,
		"classifier_dropout": c.ClassifierDropout, "max_position_embeddings": c.MaxPositionEmbeddings,
		"type_vocab_size": c.TypeVocabSize, "initializer_range": c.InitializerRange,
		"layer_norm_eps": c.LayerNormEps, "pad_token_id": c.PadTokenID,
		"position_embedding_type": c.PositionEmbeddingType,
	}
	if c.ProblemType != "" {
		m["problem_type"] = c.ProblemType
	}
	if len(c.Architectures) > 0 {
		m["architectures"] = c.Architectures
	}
	return hflabels.EncodeConfig(c.family(), m, c.ID2Label, c.Extra)
}

// WriteConfig writes dir/config.json.
func WriteConfig(dir string, c Config) error { return hflabels.WriteConfig(dir, c) }
