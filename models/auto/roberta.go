package auto

import (
	"fmt"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/models/roberta"
	"github.com/kiln-ml/kiln/task"
)

func init() { Register("roberta", loadRoberta) }

// robertaModel adapts a RoBERTa head to Model. RoBERTa's heads take BERT's
// Batch and give BERT's Output, so BERT's adapter serves; only the longest
// input differs.
type robertaModel struct{ *bertModel }

func loadRoberta(dir string, o Options) (Model, checkpoint.Report, error) {
	var rep checkpoint.Report
	cfg, err := roberta.ReadConfig(dir)
	if err != nil {
		return nil, rep, err
	}
	o.apply(&cfg.ID2Label, &cfg.ProblemType)
	var (
		head bertHead
		base *roberta.Model
	)
	switch o.Kind {
	case task.SequenceClassification:
		head, base, err = newHead(roberta.NewForSequenceClassification, cfg, o.Seed, func(h *roberta.ForSequenceClassification) *roberta.Model { return h.Roberta })
	case task.TokenClassification:
		head, base, err = newHead(roberta.NewForTokenClassification, cfg, o.Seed, func(h *roberta.ForTokenClassification) *roberta.Model { return h.Roberta })
	case task.QuestionAnswering:
		head, base, err = newHead(roberta.NewForQuestionAnswering, cfg, o.Seed, func(h *roberta.ForQuestionAnswering) *roberta.Model { return h.Roberta })
	case task.MultipleChoice:
		head, base, err = newHead(roberta.NewForMultipleChoice, cfg, o.Seed, func(h *roberta.ForMultipleChoice) *roberta.Model { return h.Roberta })
	case task.MaskedLM:
		head, base, err = newHead(roberta.NewForMaskedLM, cfg, o.Seed, func(h *roberta.ForMaskedLM) *roberta.Model { return h.Roberta })
	default:
		return nil, rep, fmt.Errorf("roberta has no %s head (heads: sequence_classification, token_classification, question_answering, multiple_choice, masked_lm)", o.Kind)
	}
	if err != nil {
		return nil, rep, err
	}
	m := robertaModel{&bertModel{head: head, kind: o.Kind, cfg: cfg, base: base.Model}}
	rep, err = loadState(dir, m, o, roberta.StateLoadOptions())
	return m, rep, err
}

// Config reports max_position_embeddings less pad_token_id + 1 as the
// longest input: RoBERTa's positions start after the padding index.
func (m robertaModel) Config() Config {
	c := m.bertModel.Config()
	c.MaxPositions -= c.PadTokenID + 1
	return c
}
