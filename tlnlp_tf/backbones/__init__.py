"""Backbones: load from any spec, freeze, adapt (LoRA), attention dropout, precision.

```python
import tlnlp_tf as tl

backbone, preprocessor = tl.backbones.load_backbone("minilm")
tl.backbones.apply_freeze(backbone, "bottom-2")
print(tl.backbones.describe_freezing(backbone))
```
"""

from tlnlp_tf.backbones.attention import attention_dropout
from tlnlp_tf.backbones.attention import set_attention_dropout
from tlnlp_tf.backbones.causal_lm import SMOLLM2
from tlnlp_tf.backbones.causal_lm import load_causal_lm
from tlnlp_tf.backbones.causal_lm import load_seq2seq_lm
from tlnlp_tf.backbones.freezing import apply_freeze
from tlnlp_tf.backbones.freezing import describe_freezing
from tlnlp_tf.backbones.freezing import layer_groups
from tlnlp_tf.backbones.freezing import lora_layers
from tlnlp_tf.backbones.freezing import parameter_counts
from tlnlp_tf.backbones.gguf import complete_backbone_config
from tlnlp_tf.backbones.gguf import convert_gguf
from tlnlp_tf.backbones.llama_bpe_tokenizer import LlamaBPETokenizer
from tlnlp_tf.backbones.loading import MINILM
from tlnlp_tf.backbones.loading import WEIGHTS
from tlnlp_tf.backbones.loading import default_pooling
from tlnlp_tf.backbones.loading import load_backbone
from tlnlp_tf.backbones.loading import resolve_spec
from tlnlp_tf.backbones.lora import load_adapters
from tlnlp_tf.backbones.lora import merge_adapters
from tlnlp_tf.backbones.lora import save_adapters
from tlnlp_tf.backbones.mpnet_backbone import MPNetBackbone
from tlnlp_tf.backbones.mpnet_checkpoint import load_mpnet_folder
from tlnlp_tf.backbones.mpnet_preprocessing import MPNetTextClassifierPreprocessor
from tlnlp_tf.backbones.mpnet_preprocessing import MPNetTokenizer
from tlnlp_tf.backbones.precision import resolve_precision
