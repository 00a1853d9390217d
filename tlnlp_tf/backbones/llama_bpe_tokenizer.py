"""`LlamaBPETokenizer`: keras-hub's Llama 3 tokenizer that saves its special tokens.

keras-hub's Hugging Face converter builds a `Llama3Tokenizer` with the
checkpoint's own special tokens (SmolLM2's `<|im_start|>` and `<|im_end|>`),
but `Llama3Tokenizer.get_config` does not save them, so a preset or `.keras`
file written from it reloads with Llama 3's defaults (`<|begin_of_text|>`),
which a SmolLM2 vocabulary lacks. `LlamaBPETokenizer` is that keras-hub
class with those three constructor arguments added to its config, registered
as a Keras serializable: keras-hub builds it through the same converter
(`LlamaBPETokenizer.from_preset`), and presets and `.keras` files written
from it reload as they were saved (`import tlnlp_tf` first, so that Keras
finds the class).

```python
from tlnlp_tf.backbones.llama_bpe_tokenizer import unsplittable_tokens
unsplittable_tokens("<|im_start|>", "<|im_end|>", ["<|endoftext|>"])
```
"""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="tlnlp_tf")
class LlamaBPETokenizer(keras_hub.models.Llama3Tokenizer):
    """keras-hub's `Llama3Tokenizer`, with its special tokens saved in its config.

    `bos_token`, `eos_token` and `misc_special_tokens` are returned by
    `get_config`, so a preset or `.keras` file holding this tokenizer
    reloads with the checkpoint's own special tokens (keras-hub's class
    reloads with Llama 3's). Everything else is keras-hub's.

    Example:

    ```python
    vocabulary = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2,
                  "h": 3, "i": 4, "hi": 5}
    tokenizer = LlamaBPETokenizer(
        vocabulary=vocabulary, merges=["h i"], bos_token="<|im_start|>",
        eos_token="<|im_end|>", misc_special_tokens=["<|endoftext|>"],
    )
    tokenizer("hi")                        # [5]
    tokenizer.get_config()["eos_token"]    # "<|im_end|>"
    ```
    """

    def __init__(
        self,
        vocabulary=None,
        merges=None,
        bos_token="<|begin_of_text|>",
        eos_token="<|end_of_text|>",
        misc_special_tokens=("<|start_header_id|>", "<|end_header_id|>"),
        **kwargs,
    ):
        misc = set(misc_special_tokens or ()) - {bos_token, eos_token}
        self._misc_special_tokens = sorted(misc)
        kwargs.setdefault(
            "unsplittable_tokens",
            unsplittable_tokens(bos_token, eos_token, self._misc_special_tokens),
        )
        super().__init__(
            vocabulary=vocabulary,
            merges=merges,
            bos_token=bos_token,
            eos_token=eos_token,
            misc_special_tokens=set(misc),
            **kwargs,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "bos_token": self.start_token,
                "eos_token": self.end_token,
                "misc_special_tokens": list(self._misc_special_tokens),
            }
        )
        return config


# keras-hub 0.32 swaps each unsplittable token for a placeholder "Ĵ" + the
# digits of its index as letters, and back in index order: with more than 10,
# index 1's "ĴB" is replaced inside index 15's "ĴBF" first, so tokens 10 and
# up come out garbled (SmolLM2 has 17; `<|im_end|>` was one of them).
MAX_UNSPLITTABLE = 10
# Kept whole first: the chat markup of the instruct checkpoints.
_CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def unsplittable_tokens(bos_token, eos_token, misc_special_tokens):
    """The special tokens a text may hold whole: at most `MAX_UNSPLITTABLE`.

    The start and end tokens and the chat markup come first, then the rest in
    sorted order; special tokens past the tenth are still in the vocabulary
    but are split like text when written out in a string.

    ```python
    unsplittable_tokens("<|im_start|>", "<|im_end|>", ["<|endoftext|>", "<a>"])
    # ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<a>"]
    ```
    """
    misc = sorted(misc_special_tokens)
    ordered = [bos_token, eos_token]
    ordered += [t for t in _CHAT_TOKENS if t in misc] + misc
    return list(dict.fromkeys(t for t in ordered if t))[:MAX_UNSPLITTABLE]
