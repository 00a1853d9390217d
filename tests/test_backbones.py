import os
import shutil
import socket

import numpy as np
import pytest
from conftest import VOCAB
from safetensors.numpy import load_file

import tlnlp_tf as tl
from tlnlp_tf.backbones.loading import default_pooling
from tlnlp_tf.backbones.loading import resolve_spec


def test_load_keras_hub_preset_folder(tiny_preset):
    backbone, preprocessor = tl.load_backbone(tiny_preset)
    assert backbone.num_layers == 2
    out = backbone(preprocessor(["the film was good ."]))
    assert out["sequence_output"].shape[-1] == 16


def test_load_hugging_face_folder_reads_its_weights(tiny_hf_folder):
    backbone, preprocessor = tl.load_backbone(tiny_hf_folder)
    saved = load_file(os.path.join(tiny_hf_folder, "model.safetensors"))
    embeddings = backbone.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_allclose(embeddings, saved["embeddings.word_embeddings.weight"])
    tokens = preprocessor(["the film"])["token_ids"].numpy()[0]
    assert list(tokens[:4]) == [2, VOCAB.index("the"), VOCAB.index("film"), 3]


def test_random_weights_same_architecture_fresh_values(tiny_hf_folder):
    pretrained, _ = tl.load_backbone(tiny_hf_folder)
    scratch, preprocessor = tl.load_backbone(tiny_hf_folder, weights="random")
    architecture = lambda b: {k: v for k, v in b.get_config().items() if k != "name"}
    assert architecture(scratch) == architecture(pretrained)
    assert scratch.count_params() == pretrained.count_params()
    a = pretrained.get_layer("token_embedding").embeddings.numpy()
    b = scratch.get_layer("token_embedding").embeddings.numpy()
    assert not np.allclose(a, b)
    assert preprocessor.tokenizer.vocabulary_size() == len(VOCAB)


def test_minilm_spec_resolves_to_packaged_folder():
    folder = resolve_spec("minilm")
    assert os.path.isfile(os.path.join(folder, "model.safetensors"))
    assert default_pooling("minilm") == "mean"


def test_pooling_follows_sentence_transformers_config(tiny_hf_folder, tmp_path):
    assert default_pooling(tiny_hf_folder) == "mean"
    copy = tmp_path / "cls_model"
    shutil.copytree(tiny_hf_folder, copy)
    (copy / "1_Pooling" / "config.json").write_text(
        '{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}'
    )
    assert default_pooling(str(copy)) == "cls"


@pytest.mark.parametrize("missing", ["vocab.txt", "model.safetensors"])
def test_hugging_face_folder_missing_file_is_named(tiny_hf_folder, tmp_path, missing):
    copy = tmp_path / "broken"
    shutil.copytree(tiny_hf_folder, copy)
    os.remove(copy / missing)
    with pytest.raises(tl.BackboneError, match=f"missing '{missing}'"):
        tl.load_backbone(str(copy))


def test_preset_folder_missing_weights_is_named(tiny_preset, tmp_path):
    copy = tmp_path / "broken"
    shutil.copytree(tiny_preset, copy)
    os.remove(copy / "model.weights.h5")
    with pytest.raises(tl.BackboneError, match="missing 'model.weights.h5'"):
        tl.load_backbone(str(copy))


def test_missing_folder_and_bad_weights_option(tmp_path):
    with pytest.raises(tl.BackboneError, match="does not exist"):
        tl.load_backbone(str(tmp_path / "nowhere"))
    with pytest.raises(tl.BackboneError, match="weights must be one of"):
        tl.load_backbone("minilm", weights="imagenet")


def test_preset_name_offline_says_so_and_shows_local_folder(monkeypatch):
    def no_network(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    with pytest.raises(tl.BackboneError) as error:
        tl.load_backbone("bert_tiny_en_uncased")
    message = str(error.value)
    assert "Could not fetch preset 'bert_tiny_en_uncased'" in message
    assert "local folder" in message and "save_to_preset" in message


def test_unknown_preset_name():
    with pytest.raises(tl.BackboneError, match="Unknown backbone spec 'no_such_model'"):
        tl.load_backbone("no_such_model")
