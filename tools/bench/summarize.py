"""Median tables for the README from benchmark logs.

  python3 tools/bench/summarize.py gemm LOG   # go test -tags openblas -bench Sgemm -cpu 1,2 -count 5 ./internal/kernels/
  python3 tools/bench/summarize.py bert LOG   # output of tools/bench/ab_bert.sh
"""
import collections
import json
import re
import statistics
import sys


def gemm(path):
    d = collections.defaultdict(list)
    for line in open(path):
        m = re.match(r'(Benchmark\S+?)(-2)?\s+\d+\s+[\d.]+ ns/op\s+([\d.]+) GFLOP/s', line)
        if m:
            d[(m.group(1), 2 if m.group(2) else 1)].append(float(m.group(3)))
    rows = collections.OrderedDict()
    for (name, cpu), v in d.items():
        lib = 'openblas' if 'OpenBLAS' in name else 'kiln'
        rows.setdefault(name.replace('BenchmarkOpenBLAS', 'Benchmark'), {})[(lib, cpu)] = statistics.median(v)
    print("| shape (M x K x N) | kiln 1 core | OpenBLAS 1 core | kiln 2 cores | OpenBLAS 2 cores |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        f = lambda k: ("%.1f" % r[k]) if k in r else "-"
        label = name.replace('BenchmarkSgemmBatched/', 'batched ').replace('BenchmarkSgemm/', '')
        print("| %s | %s | %s | %s | %s |" % (label, f(('kiln', 1)), f(('openblas', 1)), f(('kiln', 2)), f(('openblas', 2))))


def bert(path):
    # JSON lines from torch_bert.py (tag "torch") and `kiln bench` (tag "kiln").
    t, k = collections.defaultdict(list), collections.defaultdict(list)
    for line in open(path):
        if line.startswith('{'):
            d = json.loads(line)
            into = k if d.get('tag') == 'kiln' else t
            for step in ('train', 'infer'):
                into[(d['config'], d['threads'], step)].append(d[step + '_tok_s'])
    print("| config | step | threads | PyTorch tok/s | kiln tok/s | kiln / PyTorch |")
    print("|---|---|---|---|---|---|")
    for cfg in ('tiny', 'mini', 'small', 'base'):
        for step in ('train', 'infer'):
            for th in (1, 2):
                if (cfg, th, step) in t and (cfg, th, step) in k:
                    a, b = statistics.median(t[(cfg, th, step)]), statistics.median(k[(cfg, th, step)])
                    print("| %s | %s | %d | %s | %s | %.2fx |" % (cfg, step, th, f"{a:,.0f}", f"{b:,.0f}", b / a))


{"gemm": gemm, "bert": bert}[sys.argv[1]](sys.argv[2])
