package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/bert"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/task"
)

func init() { Register("bert", loadBert) }

// bertHead is what every BERT head has.
type bertHead interface {
	Forward(bert.Batch) (bert.Output, error)
	Train(bool)
	Save(string) error
	Params() *nn.Params
}

// bertModel adapts a BERT head to Model.
type bertModel struct {
	head bertHead
	kind task.Kind
	cfg  bert.Config
}

// WrapBert adapts a BERT head (*bert.ForSequenceClassification, ...) built by
// hand to Model; kind must be the head's kind.
func WrapBert(head any, kind task.Kind) (Model, error) {
	h, ok := head.(bertHead)
	if !ok {
		return nil, fmt.Errorf("auto.WrapBert: %T is not a BERT head", head)
	}
	var cfg bert.Config
	switch m := head.(type) {
	case *bert.ForSequenceClassification:
		cfg = m.Bert.Config
	case *bert.ForTokenClassification:
		cfg = m.Bert.Config
	case *bert.ForQuestionAnswering:
		cfg = m.Bert.Config
	case *bert.ForMultipleChoice:
		cfg = m.Bert.Config
	case *bert.ForMaskedLM:
		cfg = m.Bert.Config
	default:
		return nil, fmt.Errorf("auto.WrapBert: %T is not a BERT head", head)
	}
	return &bertModel{head: h, kind: kind, cfg: cfg}, nil
}

func loadBert(dir string, kind task.Kind, seed uint64) (Model, checkpoint.Report, error) {
	var (
		head any
		rep  checkpoint.Report
		err  error
	)
	switch kind {
	case task.SequenceClassification:
		head, rep, err = bert.LoadForSequenceClassification(dir, seed)
	case task.TokenClassification:
		head, rep, err = bert.LoadForTokenClassification(dir, seed)
	case task.QuestionAnswering:
		head, rep, err = bert.LoadForQuestionAnswering(dir, seed)
	case task.MultipleChoice:
		head, rep, err = bert.LoadForMultipleChoice(dir, seed)
	case task.MaskedLM:
		head, rep, err = bert.LoadForMaskedLM(dir, seed)
	default:
		return nil, rep, fmt.Errorf("bert has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", kind)
	}
	if err != nil {
		return nil, rep, err
	}
	m, err := WrapBert(head, kind)
	return m, rep, err
}

func (m *bertModel) Forward(b Batch) (Output, error) {
	out, err := m.head.Forward(bert.Batch{
		InputIDs: b.InputIDs, TokenTypeIDs: b.TokenTypeIDs, AttentionMask: b.AttentionMask,
		Labels: b.Labels, StartPositions: b.StartPositions, EndPositions: b.EndPositions,
	})
	if err != nil {
		return Output{}, err
	}
	return Output{Logits: out.Logits, StartLogits: out.StartLogits, EndLogits: out.EndLogits,
		Loss: out.Loss, Explanation: out.Explanation}, nil
}

func (m *bertModel) Train(on bool)         { m.head.Train(on) }
func (m *bertModel) Save(dir string) error { return m.head.Save(dir) }
func (m *bertModel) Params() *nn.Params    { return m.head.Params() }
func (m *bertModel) Kind() task.Kind       { return m.kind }

func (m *bertModel) Config() Config {
	c := m.cfg
	id2label := make(map[int]string, len(c.ID2Label))
	for k, v := range c.ID2Label {
		id2label[k] = v
	}
	modelType := c.ModelType
	if modelType == "" {
		modelType = "bert"
	}
	return Config{
		ModelType: modelType, Architectures: append([]string(nil), c.Architectures...),
		ID2Label: id2label, ProblemType: c.ProblemType, VocabSize: c.VocabSize,
		MaxPositions: c.MaxPositionEmbeddings, PadTokenID: c.PadTokenID,
	}
}

// Unwrap returns the family's own model (*bert.ForSequenceClassification, ...).
func (m *bertModel) Unwrap() any { return m.head }
