#!/usr/bin/env python3
"""Reference quantization with onnxruntime's own Python tools (developer tooling only).

kprune never needs Python: this script produces the golden reference that kprune's quantizer
(package quantize) is compared with, and the models that `kprune bench` and `kprune eval` measure
side by side with kprune's own output.

Needs: onnxruntime (the Python wheel of the version kprune runs, 1.30.0) and onnx, e.g.

    python3 -m venv /tmp/qvenv
    /tmp/qvenv/bin/pip install onnxruntime==1.30.0 onnx

Commands:

    # onnxruntime's quantize_dynamic with its defaults (QInt8 symmetric weights, per-tensor,
    # uint8 asymmetric activations quantized at run time, MatMul and Gather (embeddings) quantized)
    quantize_reference.py dynamic --model IN.onnx --out OUT.onnx [--per-channel] [--reduce-range]
        [--op-types MatMul,Gather] [--exclude NODE,NODE]

    # regenerate the golden files of quantize/testdata (the gzipped inputs there are written by
    # `go test ./quantize -run TestGoldenInputs -update`)
    quantize_reference.py golden [--dir quantize/testdata]

The golden files are onnxruntime's own quantized models of two tiny encoders (gzipped, 5-8 KB each);
kprune's tests compare its output with them structurally (op sequence, int8 weights, scales, zero
points) without Python.
"""

import argparse
import gzip
import json
import logging
import os
import sys
import tempfile

import onnx
import onnxruntime
from onnxruntime.quantization import QuantType, quantize_dynamic


def run_dynamic(model, out, per_channel=False, reduce_range=False, op_types=None, exclude=None):
    quantize_dynamic(
        model,
        out,
        op_types_to_quantize=op_types or None,
        per_channel=per_channel,
        reduce_range=reduce_range,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=exclude or None,
    )


# The golden cases: input model (in --dir), output file, quantize_dynamic arguments, and what
# kprune's test must pass to quantize.Dynamic to produce the same model.
GOLDEN = [
    # Span head (MatMul+Add everywhere): onnxruntime's defaults, which quantize the embedding tables
    # (Gather) and every MatMul with a constant weight. kprune: Embeddings and Head on.
    dict(model="tiny-span.onnx", out="tiny-span.ort-dynamic.onnx", per_channel=False,
         kprune=dict(embeddings=True, head=True)),
    dict(model="tiny-span.onnx", out="tiny-span.ort-dynamic-perchannel.onnx", per_channel=True,
         kprune=dict(embeddings=True, head=True, per_channel=True)),
    dict(model="tiny-span.onnx", out="tiny-span.ort-dynamic-reducerange.onnx", per_channel=True, reduce_range=True,
         kprune=dict(embeddings=True, head=True, per_channel=True, reduce_range=True)),
    # Classification head with Gemm pooler and classifier (quantize_dynamic rewrites a Gemm as
    # MatMul + Add first), MatMul only: kprune with Head on (by default it keeps the classifier
    # in float) and embeddings left float, its default.
    dict(model="tiny-cls.onnx", out="tiny-cls.ort-dynamic-matmul.onnx", per_channel=False, op_types=["MatMul"],
         kprune=dict(head=True)),
    dict(model="tiny-cls.onnx", out="tiny-cls.ort-dynamic-matmul-perchannel.onnx", per_channel=True,
         op_types=["MatMul"], kprune=dict(head=True, per_channel=True)),
]


def golden(d):
    """Quantizes the gzipped tiny models of d and writes onnxruntime's outputs next to them
    (gzipped, without shape inference's value_info, which takes no part in the comparison)."""
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for g in GOLDEN:
            src = os.path.join(d, g["model"] + ".gz")
            if not os.path.exists(src):
                sys.exit(f"{src} is missing: run `go test ./quantize -run TestGoldenInputs -update` first")
            with gzip.open(src, "rb") as f:
                model = onnx.load_model_from_string(f.read())
            out = os.path.join(tmp, g["out"])
            run_dynamic(model, out, per_channel=g["per_channel"], reduce_range=g.get("reduce_range", False),
                        op_types=g.get("op_types"))
            m = onnx.load(out)
            del m.graph.value_info[:]
            for n in m.graph.node:
                n.doc_string = ""
            dst = os.path.join(d, g["out"] + ".gz")
            # mtime=0: the same model gives the same bytes.
            with open(dst, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0, filename="") as f:
                f.write(m.SerializeToString())
            print(f"{dst}: {os.path.getsize(dst)} bytes, {len(m.graph.node)} nodes")
            cases.append(dict(model=g["model"] + ".gz", golden=g["out"] + ".gz", kprune=g["kprune"]))
    meta = dict(onnxruntime=onnxruntime.__version__, onnx=onnx.__version__, cases=cases)
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")


def main():
    logging.getLogger().setLevel(logging.ERROR)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dynamic", help="onnxruntime quantize_dynamic of one model")
    d.add_argument("--model", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--per-channel", action="store_true")
    d.add_argument("--reduce-range", action="store_true")
    d.add_argument("--op-types", default="", help="comma-separated op types (default: quantize_dynamic's)")
    d.add_argument("--exclude", default="", help="comma-separated node names left float")
    g = sub.add_parser("golden", help="regenerate quantize/testdata golden models")
    g.add_argument("--dir", default=os.path.join(os.path.dirname(__file__), "..", "quantize", "testdata"))
    a = p.parse_args()
    if a.cmd == "dynamic":
        if os.path.abspath(a.model) == os.path.abspath(a.out):
            sys.exit("--out must differ from --model")
        run_dynamic(a.model, a.out, a.per_channel, a.reduce_range,
                    [s for s in a.op_types.split(",") if s], [s for s in a.exclude.split(",") if s])
        print(f"wrote {a.out} ({os.path.getsize(a.out)} bytes) with onnxruntime {onnxruntime.__version__}")
    else:
        golden(a.dir)


if __name__ == "__main__":
    main()
