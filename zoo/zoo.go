// Package zoo ships kiln's own small pretrained models inside the binary:
// Hugging Face model directories (config.json, model.safetensors in float16,
// tokenizer files, a model card README.md) embedded from zoo/models/<name>/.
//
//	kiln-bert-mini  BertForMaskedLM, 3 layers x 128, WordPiece (bert-base-uncased trimmed to 14 606 tokens)
//	kiln-gpt2-mini  GPT2LMHeadModel, 3 layers x 128, byte-level BPE (GPT-2 trimmed to 15 074 tokens)
//
// Both were pretrained by kiln's own trainer on public-domain texts (the
// complete works behind the excerpts in datasets; tools/pretrain/README.md is the recipe; NOTICE.md the
// provenance). Use a model by extracting it to a directory, then load that
// directory like any Hugging Face one:
//
//	if err := zoo.Extract("kiln-bert-mini", dir); err != nil { ... }
//	tok, err := tokenizer.Load(dir)
//	model, report, err := auto.Load(dir, "sequence_classification", seed)
//
// Until a model's weights are committed, Extract fails with an error that
// matches ErrNoWeights, and Info reports HasWeights false.
package zoo

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kiln-ml/kiln/safetensors"
)

//go:embed models
var embedded embed.FS

// root is the embedded tree: one directory per model.
var root fs.FS = mustSub(embedded, "models")

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// weightsFile is the file a model without weights lacks.
const weightsFile = "model.safetensors"

// ErrNoWeights is matched (errors.Is) by the error Extract returns for a
// model whose weights have not been committed yet.
var ErrNoWeights = errors.New("zoo: model has no weights yet")

type noWeightsError struct{ name string }

func (e noWeightsError) Error() string {
	return "zoo: " + e.name + " has no weights yet (no " + weightsFile + " is embedded; pretrain it with the recipe in tools/pretrain/README.md)"
}

func (e noWeightsError) Is(target error) bool { return target == ErrNoWeights }

// Names returns the names of the embedded models, sorted.
func Names() []string { return names(root) }

func names(fsys fs.FS) []string {
	ents, _ := fs.ReadDir(fsys, ".")
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}

// Card describes an embedded model.
type Card struct {
	Name          string
	ModelType     string   // config.json's model_type: "bert", "gpt2"
	Architectures []string // config.json's architectures, e.g. ["BertForMaskedLM"]
	VocabSize     int      // vocab_size
	MaxPositions  int      // max_position_embeddings (n_positions for GPT-2)
	Files         []string // the embedded files, sorted
	HasWeights    bool     // model.safetensors is embedded
	WeightBytes   int64    // size of model.safetensors (0 without weights)
	Params        int      // parameters stored in model.safetensors (0 without weights)
	// Digest is the SHA-256 of the file names and contents, a cache key
	// for extracted copies.
	Digest string
	// README is the model card (Hugging Face style: YAML front matter, then
	// Markdown).
	README string
}

// Info describes the embedded model name.
func Info(name string) (Card, error) { return info(root, name) }

func info(fsys fs.FS, name string) (Card, error) {
	sub, files, err := model(fsys, name)
	if err != nil {
		return Card{}, err
	}
	c := Card{Name: name, Files: files}
	b, err := fs.ReadFile(sub, "config.json")
	if err != nil {
		return Card{}, fmt.Errorf("zoo: %s: %w", name, err)
	}
	var cfg struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
		VocabSize     int      `json:"vocab_size"`
		MaxPos        int      `json:"max_position_embeddings"`
		NPositions    int      `json:"n_positions"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return Card{}, fmt.Errorf("zoo: %s/config.json: %w", name, err)
	}
	c.ModelType, c.Architectures, c.VocabSize = cfg.ModelType, cfg.Architectures, cfg.VocabSize
	c.MaxPositions = max(cfg.MaxPos, cfg.NPositions)
	if readme, err := fs.ReadFile(sub, "README.md"); err == nil {
		c.README = string(readme)
	}
	h := sha256.New()
	for _, f := range files {
		b, err := fs.ReadFile(sub, f)
		if err != nil {
			return Card{}, fmt.Errorf("zoo: %s: %w", name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
		if f == weightsFile {
			c.HasWeights, c.WeightBytes = true, int64(len(b))
			st, err := safetensors.Parse(name+"/"+f, bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return Card{}, fmt.Errorf("zoo: %w", err)
			}
			for _, n := range st.Names() {
				inf, _ := st.Info(n)
				p := 1
				for _, d := range inf.Shape {
					p *= d
				}
				c.Params += p
			}
		}
	}
	c.Digest = hex.EncodeToString(h.Sum(nil))
	return c, nil
}

// model returns the model's tree and its files (slash-separated, sorted).
func model(fsys fs.FS, name string) (fs.FS, []string, error) {
	if name == "" || name == "." || strings.ContainsAny(name, `/\`) || !slices.Contains(names(fsys), name) {
		return nil, nil, fmt.Errorf("zoo: no model %q (have %s)", name, strings.Join(names(fsys), ", "))
	}
	sub, err := fs.Sub(fsys, name)
	if err != nil {
		return nil, nil, err
	}
	var files []string
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	slices.Sort(files)
	return sub, files, nil
}

// Extract writes the embedded model name into dir, which must not exist,
// be empty, or already hold this model: then Extract does nothing, so it
// can be called on every start. The files are written to a temporary
// directory next to dir and renamed into place, so dir never holds half a
// model. A model without weights is an error matching ErrNoWeights.
func Extract(name, dir string) error { return extract(root, name, dir) }

func extract(fsys fs.FS, name, dir string) error {
	sub, files, err := model(fsys, name)
	if err != nil {
		return err
	}
	if !slices.Contains(files, weightsFile) {
		return noWeightsError{name}
	}
	dir = filepath.Clean(dir)
	switch same, err := holds(sub, files, dir); {
	case err != nil:
		return err
	case same:
		return nil
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("zoo: %w", err)
	}
	for _, f := range files {
		if err := copyFile(sub, f, filepath.Join(tmp, filepath.FromSlash(f))); err != nil {
			return fmt.Errorf("zoo: extracting %s: %w", name, err)
		}
	}
	// dir is missing or empty (holds said so): remove it, so that the rename
	// works everywhere, and move the new tree in.
	err = os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		err = os.Rename(tmp, dir)
	}
	if err != nil {
		// Another process may have extracted the same model meanwhile.
		if same, herr := holds(sub, files, dir); herr == nil && same {
			return nil
		}
		return fmt.Errorf("zoo: extracting %s: %w", name, err)
	}
	return nil
}

// holds reports whether dir already holds every file of the model with the
// same content. A missing or empty dir gives false and no error; a dir with
// other content is an error, as Extract never overwrites files.
func holds(sub fs.FS, files []string, dir string) (bool, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("zoo: %w", err)
	}
	if !st.IsDir() {
		return false, fmt.Errorf("zoo: %s exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false, fmt.Errorf("zoo: %w", err)
	}
	if len(ents) == 0 {
		return false, nil
	}
	for _, f := range files {
		want, err := fs.ReadFile(sub, f)
		if err != nil {
			return false, err
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil || !bytes.Equal(got, want) {
			return false, fmt.Errorf("zoo: %s is not empty and does not hold this model (%s is missing or differs); remove it or choose another directory", dir, f)
		}
	}
	return true, nil
}

// copyFile writes the embedded file f to dst, creating its directory, and
// syncs it.
func copyFile(sub fs.FS, f, dst string) error {
	b, err := fs.ReadFile(sub, f)
	if err != nil {
		return err
	}
	if d := path.Dir(f); d != "." {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := out.Write(b); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
