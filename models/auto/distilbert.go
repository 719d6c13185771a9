package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/distilbert"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
	"github.com/kiln-ml/kiln/tensor"
)

func init() { Register("distilbert", loadDistilBert) }

// distilbertHead is what every DistilBERT head has.
type distilbertHead interface {
	Forward(distilbert.Batch) (distilbert.Output, error)
	Train(bool)
	Save(string) error
	Params() *nn.Params
}

// distilbertModel adapts a DistilBERT head to Model.
type distilbertModel struct {
	head distilbertHead
	kind task.Kind
	cfg  distilbert.Config
	base *distilbert.Model
}

func loadDistilBert(dir string, o Options) (Model, checkpoint.Report, error) {
	var rep checkpoint.Report
	cfg, err := distilbert.ReadConfig(dir)
	if err != nil {
		return nil, rep, err
	}
	o.apply(&cfg.ID2Label, &cfg.ProblemType)
	var (
		head distilbertHead
		base *distilbert.Model
	)
	switch o.Kind {
	case task.SequenceClassification:
		head, base, err = newHead(distilbert.NewForSequenceClassification, cfg, o.Seed, func(h *distilbert.ForSequenceClassification) *distilbert.Model { return h.DistilBert })
	case task.TokenClassification:
		head, base, err = newHead(distilbert.NewForTokenClassification, cfg, o.Seed, func(h *distilbert.ForTokenClassification) *distilbert.Model { return h.DistilBert })
	case task.QuestionAnswering:
		head, base, err = newHead(distilbert.NewForQuestionAnswering, cfg, o.Seed, func(h *distilbert.ForQuestionAnswering) *distilbert.Model { return h.DistilBert })
	case task.MultipleChoice:
		head, base, err = newHead(distilbert.NewForMultipleChoice, cfg, o.Seed, func(h *distilbert.ForMultipleChoice) *distilbert.Model { return h.DistilBert })
	case task.MaskedLM:
		head, base, err = newHead(distilbert.NewForMaskedLM, cfg, o.Seed, func(h *distilbert.ForMaskedLM) *distilbert.Model { return h.DistilBert })
	default:
		return nil, rep, fmt.Errorf("distilbert has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", o.Kind)
	}
	if err != nil {
		return nil, rep, err
	}
	m := &distilbertModel{head: head, kind: o.Kind, cfg: cfg, base: base}
	rep, err = loadState(dir, m, o, distilbert.StateLoadOptions())
	return m, rep, err
}

// Forward runs the head; DistilBERT has no token types, so TokenTypeIDs is
// not used (its tokenizer does not make them).
func (m *distilbertModel) Forward(b Batch) (Output, error) {
	out, err := m.head.Forward(distilbert.Batch{InputIDs: b.InputIDs, AttentionMask: b.AttentionMask,
		Labels: b.Labels, StartPositions: b.StartPositions, EndPositions: b.EndPositions})
	if err != nil {
		return Output{}, err
	}
	return Output{Logits: out.Logits, StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		Loss: out.Loss, Explanation: out.Explanation}, nil
}

func (m *distilbertModel) Train(on bool)           { m.head.Train(on) }
func (m *distilbertModel) Save(dir string) error   { return m.head.Save(dir) }
func (m *distilbertModel) Params() *nn.Params      { return m.head.Params() }
func (m *distilbertModel) Kind() task.Kind         { return m.kind }
func (m *distilbertModel) DropoutRNG() *tensor.RNG { return m.base.DropoutRNG() }

func (m *distilbertModel) Config() Config {
	c := m.cfg
	id2label := make(map[int]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id2label[k] = v
	}
	return Config{
		ModelType: "distilbert", Architectures: append([]string(nil), c.Architectures...),
		ID2Label: id2label, ProblemType: c.ProblemType, VocabSize: c.VocabSize,
		MaxPositions: c.MaxPositionEmbeddings, PadTokenID: c.PadTokenID,
	}
}

// Unwrap returns the family's own model (*distilbert.ForSequenceClassification, ...).
func (m *distilbertModel) Unwrap() any { return m.head }
