package trainer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/kiln-ml/kiln/checkpoint"
	"github.com/kiln-ml/kiln/optim"
	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// File names inside a checkpoint directory. The model files are HF's; the
// optimizer, scheduler and RNG states are kiln's own formats (HF's are
// pickles) under HF-like names.
const (
	TrainerStateName  = "trainer_state.json"
	TrainingArgsName  = "training_args.json"
	OptimizerName     = "optimizer.safetensors"
	OptimizerMetaName = "optimizer.json"
	SchedulerName     = "scheduler.json"
	RNGStateName      = "rng_state.json"
	checkpointPrefix  = "checkpoint-"
)

// tokenizerFiles are the tokenizer files copied from the model directory
// into every checkpoint and the final model, so each is a complete model
// directory for from_pretrained and `kiln predict`.
var tokenizerFiles = []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"vocab.txt", "vocab.json", "merges.txt", "added_tokens.json"}

// rngState is rng_state.json: the dropout generator's position. The data
// order needs no state: it is a pure function of (data seed, epoch).
type rngState struct {
	DropoutSeed    uint64 `json:"dropout_seed"`
	DropoutCounter uint64 `json:"dropout_counter"`
}

var checkpointRE = regexp.MustCompile(`^checkpoint-([0-9]+)$`)

// listCheckpoints returns the checkpoint directories of dir sorted by step.
// Temporary directories of an interrupted save are not listed.
func listCheckpoints(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	type ck struct {
		path string
		step int
	}
	var cks []ck
	for _, e := range ents {
		m := checkpointRE.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, e.Name(), TrainerStateName)); err != nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		cks = append(cks, ck{filepath.Join(dir, e.Name()), n})
	}
	sort.Slice(cks, func(i, j int) bool { return cks[i].step < cks[j].step })
	out := make([]string, len(cks))
	for i, c := range cks {
		out[i] = c.path
	}
	return out, nil
}

// LastCheckpoint returns the newest complete checkpoint in dir, or "" when
// there is none.
func LastCheckpoint(dir string) (string, error) {
	cks, err := listCheckpoints(dir)
	if err != nil || len(cks) == 0 {
		return "", err
	}
	return cks[len(cks)-1], nil
}

// writeDirAtomic builds a directory with fill in a temporary sibling, fsyncs
// every file and the directory, and renames it to dst (replacing an older
// dst), so that a crash leaves either the old directory or the new one,
// never a half-written one under the final name.
func writeDirAtomic(dst string, fill func(tmp string) error) error {
	parent := filepath.Dir(dst)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, ".tmp-"+filepath.Base(dst)+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := fill(tmp); err != nil {
		return err
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := syncPath(filepath.Join(tmp, e.Name())); err != nil {
			return err
		}
	}
	if err := syncPath(tmp); err != nil {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		old := dst + ".old"
		os.RemoveAll(old)
		if err := os.Rename(dst, old); err != nil {
			return err
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return syncPath(parent)
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeFileSync writes a file and fsyncs it.
func writeFileSync(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileSync(path, append(b, '\n'))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// copyFile copies src to dst.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyTokenizer copies the tokenizer files found in src into dst.
func copyTokenizer(src, dst string) error {
	if src == "" {
		return nil
	}
	for _, name := range tokenizerFiles {
		p := filepath.Join(src, name)
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := copyFile(p, filepath.Join(dst, name)); err != nil {
			return fmt.Errorf("copying tokenizer file: %w", err)
		}
	}
	return nil
}

// saveOptimizer writes the optimizer's buffers to a safetensors file
// ("<param>.exp_avg", ...) and its metadata to a JSON file.
func saveOptimizer(dir string, st *optim.State) error {
	ts := map[string]*tensor.Tensor{}
	for _, p := range st.Params {
		for suffix, buf := range map[string][]float32{"exp_avg": p.ExpAvg, "exp_avg_sq": p.ExpAvgSq, "momentum_buffer": p.MomentumBuffer} {
			if buf != nil {
				ts[p.Name+"."+suffix] = tensor.FromFloat32(buf, p.Shape...)
			}
		}
	}
	if err := safetensors.Save(filepath.Join(dir, OptimizerName), ts, nil); err != nil {
		return err
	}
	return writeJSON(filepath.Join(dir, OptimizerMetaName), st)
}

// loadOptimizer reads what saveOptimizer wrote.
func loadOptimizer(dir string) (*optim.State, error) {
	st := &optim.State{}
	if err := readJSON(filepath.Join(dir, OptimizerMetaName), st); err != nil {
		return nil, err
	}
	ts, err := safetensors.Load(filepath.Join(dir, OptimizerName))
	if err != nil {
		return nil, err
	}
	get := func(name string) []float32 {
		if t, ok := ts[name]; ok {
			return t.Float32s()
		}
		return nil
	}
	for i := range st.Params {
		p := &st.Params[i]
		p.ExpAvg, p.ExpAvgSq, p.MomentumBuffer = get(p.Name+".exp_avg"), get(p.Name+".exp_avg_sq"), get(p.Name+".momentum_buffer")
	}
	return st, nil
}

// finiteParams returns the name of the first parameter holding a NaN or an
// infinity, or "".
func (t *Trainer) nonFiniteParam() string {
	ps := t.Model.Params()
	for _, name := range ps.Names() {
		for _, v := range ps.Get(name).F32() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return name
			}
		}
	}
	return ""
}

// saveCheckpoint writes output_dir/checkpoint-<step> atomically and applies
// the retention rule. It refuses to save a model with non-finite weights.
func (t *Trainer) saveCheckpoint() (string, error) {
	if name := t.nonFiniteParam(); name != "" {
		return "", fmt.Errorf("not saving checkpoint-%d: parameter %s holds a NaN or an infinity; the last good checkpoint is kept", t.State.GlobalStep, name)
	}
	dst := filepath.Join(t.Args.OutputDir, fmt.Sprintf("%s%d", checkpointPrefix, t.State.GlobalStep))
	// The best checkpoint is decided before the state is written, so the
	// state inside the checkpoint knows it is the best.
	t.updateBest(dst)
	err := writeDirAtomic(dst, func(tmp string) error {
		if err := t.Model.Save(tmp); err != nil {
			return err
		}
		if err := copyTokenizer(t.TokenizerDir, tmp); err != nil {
			return err
		}
		if err := saveOptimizer(tmp, t.opt.State()); err != nil {
			return err
		}
		if err := writeJSON(filepath.Join(tmp, SchedulerName), t.sched.State()); err != nil {
			return err
		}
		seed, ctr := t.Model.DropoutRNG().State()
		if err := writeJSON(filepath.Join(tmp, RNGStateName), rngState{seed, ctr}); err != nil {
			return err
		}
		if err := t.Args.SaveJSON(filepath.Join(tmp, TrainingArgsName)); err != nil {
			return err
		}
		return t.State.WriteJSON(filepath.Join(tmp, TrainerStateName))
	})
	if err != nil {
		return "", fmt.Errorf("saving %s: %w", dst, err)
	}
	return dst, t.rotateCheckpoints()
}

// updateBest records dst as the best checkpoint when the latest evaluation
// beats the best metric so far (HF's rule: the best is decided at save time
// from the metrics of the evaluation just before).
func (t *Trainer) updateBest(dst string) {
	if !t.Args.TracksBest() || t.lastEval == nil || t.lastEvalStep != t.State.GlobalStep {
		return
	}
	v, ok := t.lastEval[t.Args.BestMetricKey()]
	if !ok || math.IsNaN(v) {
		return
	}
	if t.State.BestMetric == nil || improves(v, *t.State.BestMetric, t.Args.GreaterBetter()) {
		step := t.State.GlobalStep
		t.State.BestMetric, t.State.BestGlobalStep, t.State.BestModelCheckpoint = &v, &step, &dst
	}
}

// rotateCheckpoints deletes the oldest checkpoints beyond save_total_limit.
// The best checkpoint is never deleted: it is kept in addition to the
// newest save_total_limit ones, so at most save_total_limit+1 directories
// remain.
func (t *Trainer) rotateCheckpoints() error {
	limit := t.Args.SaveTotalLimit
	if limit <= 0 {
		return nil
	}
	cks, err := listCheckpoints(t.Args.OutputDir)
	if err != nil {
		return err
	}
	best := ""
	if t.State.BestModelCheckpoint != nil {
		best = filepath.Clean(*t.State.BestModelCheckpoint)
	}
	keep := cks[max(0, len(cks)-limit):]
	for _, c := range cks {
		if slices.Contains(keep, c) || filepath.Clean(c) == best {
			continue
		}
		if err := os.RemoveAll(c); err != nil {
			return fmt.Errorf("save_total_limit: removing %s: %w", c, err)
		}
	}
	return nil
}

// resolveResume turns resume_from_checkpoint into a directory: "" means no
// resume, "true"/"last" the newest checkpoint of output_dir.
func (t *Trainer) resolveResume() (string, error) {
	r := t.Args.ResumeFromCheckpoint
	switch strings.ToLower(r) {
	case "", "false":
		return "", nil
	case "true", "last":
		ck, err := LastCheckpoint(t.Args.OutputDir)
		if err != nil {
			return "", err
		}
		if ck == "" {
			return "", fmt.Errorf("resume_from_checkpoint=%s: no checkpoint-N directory with a %s in output_dir %s", r, TrainerStateName, t.Args.OutputDir)
		}
		return ck, nil
	}
	if _, err := os.Stat(filepath.Join(r, TrainerStateName)); err != nil {
		return "", fmt.Errorf("resume_from_checkpoint=%s: not a checkpoint directory (%v)", r, err)
	}
	return r, nil
}

// loadCheckpoint restores model weights, optimizer, scheduler, RNG and
// trainer state from dir.
func (t *Trainer) loadCheckpoint(dir string) error {
	st, err := ReadState(filepath.Join(dir, TrainerStateName))
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	sd, err := checkpoint.Load(dir)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := loadInto(t.Model, sd); err != nil {
		return fmt.Errorf("resume: %s: %w", dir, err)
	}
	ost, err := loadOptimizer(dir)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := t.opt.LoadState(ost); err != nil {
		return fmt.Errorf("resume: %s: %w", dir, err)
	}
	var sst optim.SchedulerState
	if err := readJSON(filepath.Join(dir, SchedulerName), &sst); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := t.sched.LoadState(sst); err != nil {
		return fmt.Errorf("resume: %s: %w", dir, err)
	}
	var rs rngState
	if err := readJSON(filepath.Join(dir, RNGStateName), &rs); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	t.Model.DropoutRNG().SetState(rs.DropoutSeed, rs.DropoutCounter)
	t.State = st
	return nil
}
