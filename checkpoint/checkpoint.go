// Package checkpoint reads and writes model weights as Hugging Face
// transformers does: a StateDict maps HF parameter names to tensors; Load
// finds the weights in a model directory (model.safetensors, a sharded
// model.safetensors.index.json, or pytorch_model.bin and its sharded index,
// in from_pretrained's order of preference); Save writes what
// save_pretrained writes (model.safetensors with {"format": "pt"} metadata,
// tied duplicates dropped, sharded with an index past a size limit);
// LoadInto copies a StateDict into a model's parameters, reporting missing
// and unexpected keys and mapping the base-model prefix as from_pretrained
// does.
//
// pytorch_model.bin files are read without executing anything (see
// LoadTorch). All files are treated as untrusted.
//
//	sd, err := checkpoint.Load("bert-tiny/")
//	report, err := checkpoint.LoadInto(model.Params(), sd, checkpoint.LoadOptions{BasePrefix: "bert"})
//	// report.Missing: freshly initialised head weights, as HF's warning lists them
package checkpoint

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kiln-ml/kiln/safetensors"
	"github.com/kiln-ml/kiln/tensor"
)

// StateDict maps parameter names ("bert.encoder.layer.0.attention.self.query.weight")
// to tensors, as PyTorch's state_dict does.
type StateDict map[string]*tensor.Tensor

// Names returns the keys, sorted.
func (sd StateDict) Names() []string {
	out := make([]string, 0, len(sd))
	for k := range sd {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The file names transformers uses.
const (
	SafeWeightsName      = "model.safetensors"
	SafeWeightsIndexName = "model.safetensors.index.json"
	WeightsName          = "pytorch_model.bin"
	WeightsIndexName     = "pytorch_model.bin.index.json"
)

// Load reads the weights of the model directory dir, trying
// model.safetensors, model.safetensors.index.json, pytorch_model.bin and
// pytorch_model.bin.index.json in that order (from_pretrained's order).
func Load(dir string) (StateDict, error) {
	for _, name := range []string{SafeWeightsName, SafeWeightsIndexName, WeightsName, WeightsIndexName} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return LoadFile(p)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
	}
	return nil, fmt.Errorf("checkpoint: %s has none of %s, %s, %s, %s", dir, SafeWeightsName, SafeWeightsIndexName, WeightsName, WeightsIndexName)
}

// LoadFile reads one weights file, chosen by its name: *.safetensors,
// *.index.json (a sharded checkpoint of either format), anything else as a
// zip-format torch.save file.
func LoadFile(path string) (StateDict, error) {
	switch {
	case strings.HasSuffix(path, ".safetensors"):
		return safetensors.Load(path)
	case strings.HasSuffix(path, ".safetensors.index.json"):
		return safetensors.LoadSharded(path)
	case strings.HasSuffix(path, ".index.json"):
		return loadTorchSharded(path)
	}
	return LoadTorch(path)
}

// loadTorchSharded reads pytorch_model.bin.index.json and its shards, with
// the checks of safetensors.LoadSharded.
func loadTorchSharded(indexPath string) (StateDict, error) {
	idx, err := safetensors.ReadIndex(indexPath)
	if err != nil {
		return nil, err
	}
	out, from := StateDict{}, map[string]string{}
	for _, shard := range idx.Shards() {
		sd, err := LoadTorch(filepath.Join(filepath.Dir(indexPath), shard))
		if err != nil {
			return nil, err
		}
		for name, t := range sd {
			if other, dup := from[name]; dup {
				return nil, fmt.Errorf("checkpoint: %s: tensor %q is in both %s and %s", indexPath, name, other, shard)
			}
			from[name], out[name] = shard, t
		}
	}
	for name, shard := range idx.WeightMap {
		if from[name] != shard {
			return nil, fmt.Errorf("checkpoint: %s: tensor %q: the index puts it in %s, which does not hold it", indexPath, name, shard)
		}
	}
	return out, nil
}

// SaveOptions controls Save.
type SaveOptions struct {
	// DType stores float tensors as F32 (default), F16, BF16 or F64.
	DType safetensors.DType
	// TiedKeys are names left out because they share their tensor with
	// another parameter, as HF's _tied_weights_keys (for example
	// "cls.predictions.decoder.weight" for BERT's masked-LM head,
	// "lm_head.weight" for GPT-2). Any other group of names sharing one
	// tensor keeps only its alphabetically first name, as save_pretrained
	// does when it finds shared tensors it was not told about.
	TiedKeys []string
	// MaxShardSize splits the weights into shards of at most this many bytes
	// (a single tensor larger than it gets a shard of its own), named
	// model-00001-of-0000N.safetensors with model.safetensors.index.json.
	// 0 means no limit; a checkpoint that fits in one shard is always
	// written as model.safetensors.
	MaxShardSize int64
}

// Save writes sd into dir as save_pretrained does and returns the names of
// the files it wrote. Stale weight files of the other layout (a
// model.safetensors next to a new sharded index, or old shards) are removed
// so that Load cannot pick up an outdated file.
func Save(dir string, sd StateDict, opts SaveOptions) ([]string, error) {
	keep := dropTied(sd, opts.TiedKeys)
	raws, err := safetensors.EncodeAll(keep, &safetensors.SaveOptions{DType: opts.DType})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	meta := map[string]string{"format": "pt"}
	shards := splitShards(raws, opts.MaxShardSize)
	if len(shards) <= 1 {
		if err := safetensors.WriteFile(filepath.Join(dir, SafeWeightsName), raws, meta); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		return removeStale(dir, []string{SafeWeightsName})
	}
	var files []string
	weightMap := map[string]string{}
	var total int64
	for i, names := range shards {
		fn := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		part := map[string]safetensors.Raw{}
		for _, n := range names {
			part[n] = raws[n]
			weightMap[n] = fn
			total += int64(len(raws[n].Data))
		}
		if err := safetensors.WriteFile(filepath.Join(dir, fn), part, meta); err != nil {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
		files = append(files, fn)
	}
	if err := safetensors.WriteIndex(filepath.Join(dir, SafeWeightsIndexName), total, weightMap); err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	return removeStale(dir, append(files, SafeWeightsIndexName))
}

// dropTied returns sd without the tied duplicates (see SaveOptions.TiedKeys).
func dropTied(sd StateDict, tied []string) StateDict {
	skip := map[string]bool{}
	for _, k := range tied {
		skip[k] = true
	}
	out := StateDict{}
	seen := map[*tensor.Tensor]bool{}
	// First the names that are not declared tied, alphabetically, so the
	// first name of each sharing group is the one kept.
	for _, pass := range []bool{false, true} {
		for _, name := range sd.Names() {
			t := sd[name]
			if skip[name] != pass || seen[t] {
				continue // a declared tied key is written only if nothing else holds its tensor
			}
			seen[t] = true
			out[name] = t
		}
	}
	return out
}

// splitShards groups names (sorted) greedily into shards of at most max bytes.
func splitShards(raws map[string]safetensors.Raw, max int64) [][]string {
	names := make([]string, 0, len(raws))
	for n := range raws {
		names = append(names, n)
	}
	sort.Strings(names)
	if max <= 0 {
		return [][]string{names}
	}
	var shards [][]string
	var cur []string
	var size int64
	for _, n := range names {
		b := int64(len(raws[n].Data))
		if len(cur) > 0 && size+b > max {
			shards = append(shards, cur)
			cur, size = nil, 0
		}
		cur = append(cur, n)
		size += b
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	return shards
}

// removeStale deletes the safetensors weight files in dir that a previous
// Save may have left and that are not among written; it returns written.
func removeStale(dir string, written []string) ([]string, error) {
	keep := map[string]bool{}
	for _, f := range written {
		keep[f] = true
	}
	old, _ := filepath.Glob(filepath.Join(dir, "model-*-of-*.safetensors"))
	old = append(old, filepath.Join(dir, SafeWeightsName), filepath.Join(dir, SafeWeightsIndexName))
	for _, p := range old {
		if keep[filepath.Base(p)] {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("checkpoint: %w", err)
		}
	}
	return written, nil
}
