package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/distilbert"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
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
}

func loadDistilBert(dir string, kind task.Kind, seed uint64) (Model, checkpoint.Report, error) {
	cfg, err := distilbert.ReadConfig(dir)
	if err != nil {
		return nil, checkpoint.Report{}, err
	}
	var (
		head distilbertHead
		rep  checkpoint.Report
	)
	switch kind {
	case task.SequenceClassification:
		head, rep, err = distilbert.LoadForSequenceClassification(dir, seed)
	case task.TokenClassification:
		head, rep, err = distilbert.LoadForTokenClassification(dir, seed)
	case task.QuestionAnswering:
		head, rep, err = distilbert.LoadForQuestionAnswering(dir, seed)
	case task.MultipleChoice:
		head, rep, err = distilbert.LoadForMultipleChoice(dir, seed)
	case task.MaskedLM:
		head, rep, err = distilbert.LoadForMaskedLM(dir, seed)
	default:
		return nil, rep, fmt.Errorf("distilbert has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", kind)
	}
	if err != nil {
		return nil, rep, err
	}
	return &distilbertModel{head: head, kind: kind, cfg: cfg}, rep, nil
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

func (m *distilbertModel) Train(on bool)         { m.head.Train(on) }
func (m *distilbertModel) Save(dir string) error { return m.head.Save(dir) }
func (m *distilbertModel) Params() *nn.Params    { return m.head.Params() }
func (m *distilbertModel) Kind() task.Kind       { return m.kind }

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
