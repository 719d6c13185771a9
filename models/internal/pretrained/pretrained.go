// Package pretrained is the part of from_pretrained and save_pretrained that
// every model family does the same way, so that each family's Load… and Save
// functions say only what is their own: the config reader, the constructor,
// the base prefix and the tied names.
package pretrained

import (
	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/nn"
)

// Load is from_pretrained: it reads dir's configuration with readConfig,
// builds the model with build (seed initialises what the checkpoint lacks)
// and copies dir's weights into it with opts (base prefix, ignore lists).
// The report lists the missing and unexpected names, as HF's warnings do.
func Load[C any, M interface{ Params() *nn.Params }](dir string, seed uint64, readConfig func(string) (C, error),
	build func(C, uint64) (M, error), opts checkpoint.LoadOptions) (M, checkpoint.Report, error) {
	var zero M
	c, err := readConfig(dir)
	if err != nil {
		return zero, checkpoint.Report{}, err
	}
	m, err := build(c, seed)
	if err != nil {
		return zero, checkpoint.Report{}, err
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		return zero, checkpoint.Report{}, err
	}
	rep, err := checkpoint.LoadInto(m.Params().Map(), sd, opts)
	return m, rep, err
}

// Save is save_pretrained: dir/model.safetensors without the tied names (HF's
// _tied_weights_keys), then config.json by writeConfig.
func Save(dir string, p *nn.Params, tied []string, writeConfig func(dir string) error) error {
	if _, err := checkpoint.Save(dir, checkpoint.StateDict(p.Map()), checkpoint.SaveOptions{TiedKeys: tied}); err != nil {
		return err
	}
	return writeConfig(dir)
}
