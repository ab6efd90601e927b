"""Developer tooling: prints the markdown tables of docs/results/defaults.md from the sweep
results (docs/results/sweep.sh's results.tsv files, copied to docs/results/issue12/*.tsv).

  python3 docs/results/sweep_tables.py docs/results/issue12/*.tsv
"""
import sys

COLS = ["0.4", "0.5", "0.6", "0.7", "0.8"]


def load(paths):
    d = {}
    for p in paths:
        for line in open(p):
            c = line.rstrip("\n").split("\t")
            if len(c) >= 8:
                d[(c[0], c[1], c[2])] = c
    return d


def cell(d, m, t, r):
    c = d.get((m, t, r))
    if not c:
        return "-"
    spd = "%.2fx" % float(c[7]) if c[7] else "-"
    return "%.4f (%.1f%%, %ss, %s)" % (float(c[4]), 100 * float(c[5]), c[6], spd)


def table(d, model, rows):
    print("| setting | " + " | ".join(COLS) + " |")
    print("|---|" + "---|" * len(COLS))
    for tag, name in rows:
        print("| %s | " % name + " | ".join(cell(d, model, tag, r) for r in COLS) + " |")
    print()


def main():
    d = load(sys.argv[1:])
    small = [("faithful", "faithful (draw order)"), ("default", "**default**"), ("default-20k", "default, 20k tokens"),
             ("ours", "fisher+per-example+auto-lambda, labels per batch row"),
             ("pe-al", "per-example+auto-lambda"), ("pe", "per-example")]
    for m in ("tiny-bert-sst2", "bert-l4-sst2"):
        print("### %s (100k calibration tokens)\n" % m)
        table(d, m, small)
    print("### minilm-l6-sst2 (20k calibration tokens unless marked)\n")
    table(d, "minilm-l6-sst2", [("faithful-b-20k", "faithful"), ("default-20k", "**default**"),
                                ("fpe-al-20k", "fisher+per-example+auto-lambda, labels per batch row"),
                                ("pe-al-20k", "per-example+auto-lambda"), ("fal-20k", "fisher+auto-lambda"),
                                ("faithful-b", "faithful, 100k tokens"), ("default", "**default**, 100k tokens")])
    print("### minilm-l6-sst2: calibration size (default setting)\n")
    print("| tokens | 0.5 | 0.6 | 0.7 |\n|---|---|---|---|")
    for t, name in [("default-5k", "5k"), ("default-10k", "10k"), ("default-20k", "20k"), ("default-50k", "50k"), ("default", "100k")]:
        print("| %s | %s |" % (name, " | ".join(cell(d, "minilm-l6-sst2", t, r) for r in ("0.5", "0.6", "0.7"))))
    print()
    print("### minilm-l6-sst2 at 80%: calibration seeds (100k tokens; --seed draws another calibration sample)\n")
    seeds = ["0", "1", "2", "3"]
    print("| setting | " + " | ".join("seed " + s for s in seeds) + " | mean of seeds 0, 1, 3 |\n|---|" + "---|" * (len(seeds) + 1))
    for name, tags in [("faithful (draw order)", ["faithful-s0", "faithful-s1", "", "faithful-s3"]),
                       ("faithful, batches grouped by length", ["faithful-b", "", "", ""]),
                       ("**default**", ["default", "default-s1", "default-s2", "default-s3"])]:
        cells = [cell(d, "minilm-l6-sst2", t, "0.8") if t else "-" for t in tags]
        accs = [float(d[("minilm-l6-sst2", tags[k], "0.8")][4]) for k in (0, 1, 3) if tags[k] and ("minilm-l6-sst2", tags[k], "0.8") in d]
        mean = "%.4f" % (sum(accs) / len(accs)) if len(accs) == 3 else "-"
        print("| %s | %s | %s |" % (name, " | ".join(cells), mean))
    print()
    print("### all-MiniLM-L6-v2 sentence embeddings, STS-B dev Spearman (20k calibration tokens; agreement = mean cosine with the original's embeddings; unpruned 0.8672)\n")
    table(d, "out-pooled", [("faithful-b-20k", "faithful, pooled in graph"), ("ours-20k", "**default** (per-example+auto-lambda), pooled in graph")])
    table(d, "out-hidden", [("faithful-b-20k", "faithful, hidden states, mean pooling"), ("default-20k", "**default**, hidden states, mean pooling"),
                            ("default-norm-20k", "default, hidden states, --pooling mean+norm")])


main()
